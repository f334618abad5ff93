"""The learning-rate range test and early stopping in a real JupyterLab: the button runs the test in the
background, its curve draws, "Use it" fills the learning-rate control; a run that stops early marks its best epoch."""

from .test_lab import field, open_lab

PANEL = ".convlab-lr-range"
# A hundred training images overfit within ten epochs at this learning rate: the run stops early.
OVERFITTING_RUN = ("run = lab.train(epochs=40, train_subset=100, batch_size=20, learning_rate=0.01, seed=0, "
                   "early_stopping=dict(monitor='val_loss', patience=3), wait=True)")


def test_find_learning_rate_draws_its_curve_and_use_it_sets_the_control(notebook):
    nb = notebook
    open_lab(nb)
    nb.page.locator(f"{PANEL} button:has-text('Find learning rate')").click()
    nb.page.wait_for_function(f"() => document.querySelector('{PANEL}').innerText.includes('suggested learning rate')",
                              timeout=120_000)
    suggested = nb.eval("lab.lr_range.suggested")
    assert 1e-4 <= suggested <= 1e-1
    assert nb.page.evaluate(f"() => [...document.querySelectorAll('{PANEL} .bqplot path.line')]"
                            ".some(p => (p.getAttribute('d') || '').split('L').length > 20)")
    assert "heuristic" in nb.page.inner_text(PANEL)
    nb.page.locator(f"{PANEL}").scroll_into_view_if_needed()
    nb.screenshot("lr_range_1280")
    nb.page.locator(f"{PANEL} button:has-text('Use it')").click()
    control = field(nb, "Learning rate")
    for _ in range(100):  # the kernel answers the click, then the control shows the new value
        if abs(float(control.input_value()) - suggested) <= 1e-6 * suggested:
            break
        nb.page.wait_for_timeout(100)
    assert abs(float(control.input_value()) - suggested) <= 1e-6 * suggested
    assert nb.eval("lab.settings.lr_source") == "range test"
    # 700 px: a new view of the lab, laid out at that width (bqplot does not lay out again when the window
    # narrows, on any panel).
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.run_cell("lab")
    nb.page.wait_for_function(f"""() => {{ const panel = [...document.querySelectorAll('{PANEL}')].pop();
        const right = panel.getBoundingClientRect().right + 1, axes = [...panel.querySelectorAll('.bqplot svg g.axis')];
        return axes.length === 2 && axes.every(a => a.getBoundingClientRect().right <= right) }}""", timeout=30_000)
    nb.page.locator(PANEL).last.scroll_into_view_if_needed()
    nb.screenshot("lr_range_700")
    assert nb.errors() == []


def test_a_run_that_stops_early_says_why_and_marks_its_best_epoch(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell(OVERFITTING_RUN, timeout=180)
    message = nb.eval("run.message")  # the status line says why it stopped
    nb.page.wait_for_function("(m) => document.querySelector(`.convlab-monitor[data-status='completed']`)"
                              ".innerText.includes(m)", arg=message, timeout=60_000)
    assert message.startswith("stopped early at epoch") and message.endswith("(kept)")
    # The best epoch's triangle, apart from the run's own points, on the loss and the accuracy panels.
    assert nb.page.evaluate("() => document.querySelectorAll('.convlab-dashboard .bqplot path.dot')"
                            ".length") > 0
    best = nb.eval("[lab.dashboard.loss.best_mark.x.tolist(), lab.dashboard.accuracy.best_mark.x.tolist()]")
    assert best[0] == best[1] == [nb.eval("run.record.best.epoch") + 1]
    nb.page.locator(".convlab-dashboard .bqplot").first.scroll_into_view_if_needed()
    nb.screenshot("early_stopping_1280")
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.run_cell("lab")  # a new view, laid out at 700 px
    nb.page.wait_for_function("() => document.querySelectorAll('.convlab-dashboard').length === 2")
    nb.page.locator(".convlab-dashboard").last.locator(".bqplot").first.scroll_into_view_if_needed()
    nb.page.wait_for_timeout(500)
    nb.screenshot("early_stopping_700")
    assert nb.errors() == []
