"""The widgets in classic Notebook 6's front end (nbclassic): its own widget manager (the nbextensions
of ipywidgets, anywidget and bqplot), no comm subshell, so every widget message is the main thread's."""

from .test_lab import RECORD_SENDS, SETUP, STATUS, button, field


def test_a_run_is_drawn_from_its_events_and_every_widget_message_comes_from_the_main_thread(classic_notebook):
    """Notebook 6 sends widget messages to the main shell only: the run's events wake the kernel's
    loop, which draws on the main thread; no message comes from the training thread."""
    nb = classic_notebook
    nb.open([RECORD_SENDS, SETUP])
    nb.run_all()
    nb.wait_for(".convlab-monitor")
    nb.wait_for(".convlab-builder .convlab-row")
    assert nb.errors() == []
    field(nb, "Epochs").fill("3")
    field(nb, "Epochs").press("Tab")
    button(nb, "Train").click()
    nb.wait_for(STATUS.format("completed"), timeout=90)
    nb.page.wait_for_function(
        "() => [...document.querySelectorAll('.convlab-dashboard .bqplot path.line')]"
        ".some(p => (p.getAttribute('d') || '').split('L').length > 3)", timeout=30_000)
    assert nb.eval("lab.dashboard._wake.armed") is True
    threads = nb.eval("sorted({name for name, kernel in sent_from})")
    assert threads == ["MainThread"]
    assert nb.eval("len(sent_from) > 10 and all(kernel for _, kernel in sent_from)") is True
    assert nb.errors() == []
    # Notebook 6 folds tall outputs into a scroll box of 24em; the lab is shown whole.
    assert nb.page.evaluate("""() => {
        const output = document.querySelector('.convlab-lab').closest('.output');
        return output.classList.contains('output_scroll') && output.scrollHeight <= output.clientHeight + 1;
    }""") is True
    nb.page.locator(".convlab-monitor").first.scroll_into_view_if_needed()
    nb.screenshot("notebook6_lab_1280")
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.page.locator(".convlab-monitor").first.scroll_into_view_if_needed()
    nb.screenshot("notebook6_lab_700")
