"""The dashboard's charts in a real JupyterLab: enlarge and Escape, the hover readout, the log toggle."""

import math

SETUP = '''
import numpy as np
from convlab_widgets.dashboard.dashboard import Dashboard
from convlab_widgets.training.history import RunHistory
from tests.test_training_history import started, batch, epoch_end
history = RunHistory(); history.apply(started(4, 20))
for e in range(4):
    for s in range(20):
        history.apply(batch(e, s, 20, loss=2.3 * np.exp(-(e * 20 + s) / 15) + 0.3))
    history.apply(epoch_end(e, loss=0.5, val_loss=0.45 - 0.02 * e))
d = Dashboard(); d.history = history; d.loss.use_run("#d95f02", "run 1"); d.render(force=True)
d
'''
LOSS = ".convlab-dashboard .widget-gridbox > :first-child"


def open_dashboard(nb):
    nb.open([f"import sys; sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parents[2])!r})\n" + SETUP])
    nb.run_all()
    nb.wait_for(f"{LOSS} .bqplot .dot")
    nb.raise_on_traceback()


def test_a_chart_enlarges_across_the_notebook_and_escape_puts_it_back(notebook):
    nb = notebook
    open_dashboard(nb)
    narrow = nb.page.locator(LOSS).bounding_box()["width"]
    nb.page.locator(f"{LOSS} button:has-text('enlarge')").click()
    nb.page.wait_for_function(f"() => document.querySelector('{LOSS} .bqplot').getBoundingClientRect().height > 400")
    assert nb.page.locator(LOSS).bounding_box()["width"] > 1.8 * narrow
    nb.page.locator(LOSS).scroll_into_view_if_needed()
    nb.screenshot("dashboard_enlarged_1280", selector=LOSS)
    nb.page.keyboard.press("Escape")  # the focus is on the "shrink" button
    nb.page.wait_for_function(f"() => document.querySelector('{LOSS} .bqplot').getBoundingClientRect().height < 300")
    assert abs(nb.page.locator(LOSS).bounding_box()["width"] - narrow) < 2
    assert nb.eval("d.loss.enlarge.value") is False


def test_hovering_a_validation_point_reads_out_epoch_value_and_run(notebook):
    nb = notebook
    open_dashboard(nb)
    nb.page.locator(f"{LOSS} .bqplot .dot").last.hover(force=True)
    tooltip = nb.page.locator(".bqplot_mark_tooltip:visible")
    tooltip.wait_for()
    text = " ".join(tooltip.inner_text().split())
    assert text == "epoch 4 validation loss (run 1) 0.39"
    nb.screenshot("dashboard_readout_1280", selector=LOSS)


def test_the_log_toggle_puts_the_loss_on_a_logarithmic_axis_and_back(notebook):
    nb = notebook
    open_dashboard(nb)
    label = f"() => [...document.querySelectorAll('{LOSS} .bqplot .axislabel')].map(e => e.textContent)"
    ticks = (f"() => [...document.querySelectorAll('{LOSS} .bqplot g.axis')]"
             ".filter(g => (g.querySelector('.axislabel') || {}).textContent !== 'epoch')"
             ".flatMap(g => [...g.querySelectorAll('.tick text')].map(e => [e.textContent, "
             "e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2]))")
    assert "loss" in nb.page.evaluate(label)
    nb.page.locator(f"{LOSS} button:has-text('log y')").click()
    nb.page.wait_for_function(f"() => ({label})().includes('loss (log scale)')")
    assert nb.eval("type(d.loss.y_scale).__name__") == "LogScale"
    at = {float(text): y for text, y in nb.page.evaluate(ticks) if text.strip()}
    assert len(at) >= 3 and all(f"{t:e}"[0] in "125" for t in at), at  # 1-2-5 ticks on the log axis
    # ...placed on a log axis: the same pixels per factor of ten all the way up (bqplot's axis once kept the
    # linear mapping it was drawn with, and stacked these ticks at the top).
    pairs = sorted(at)
    per_log = [(at[a] - at[b]) / math.log10(b / a) for a, b in zip(pairs, pairs[1:])]
    assert max(per_log) - min(per_log) < 0.05 * max(per_log), (at, per_log)
    nb.screenshot("dashboard_log_y_1280", selector=LOSS)
    nb.page.locator(f"{LOSS} button:has-text('log y')").click()
    nb.page.wait_for_function(f"() => ({label})().includes('loss')")
    assert nb.eval("type(d.loss.y_scale).__name__") == "LinearScale"
