"""The whole product in one cell, driven in a real JupyterLab: train, watch, pause, change LR, stop."""

import pytest

SETUP = "from convlab_widgets import ConvLab\nlab = ConvLab(dataset='digits', architecture='conv_small')\nlab"
STATUS = ".convlab-monitor[data-status='{}']"
LOSS_DRAWN = """() => [...document.querySelectorAll('.convlab-dashboard .bqplot path.line')]
    .some(p => (p.getAttribute('d') || '').split('L').length > 3)"""


def open_lab(nb, ui="lab"):
    nb.open([SETUP], ui=ui)
    nb.run_all()
    nb.wait_for(".convlab-monitor")
    nb.wait_for(".convlab-builder .convlab-row")
    assert nb.errors() == []


def field(nb, label):
    return nb.page.locator(f".convlab-controls .widget-inline-hbox:has(label:text-is('{label}')) input")


def button(nb, name):
    return nb.page.locator(f".convlab-controls button:has-text('{name}')")


def progress(nb):
    return nb.page.evaluate("() => parseFloat(document.querySelector('.convlab-progress-bar').style.width) || 0")


def test_train_watch_pause_change_lr_resume_stop(notebook):
    nb = notebook
    open_lab(nb)
    field(nb, "Epochs").fill("40")
    field(nb, "Batch").fill("32")
    field(nb, "Batch").press("Tab")
    button(nb, "Train").click()
    nb.wait_for(STATUS.format("running"), timeout=60)

    # The notebook stays usable while the model trains, and the panels keep moving.
    assert nb.run_cell("print(6 * 7)").strip() == "42"
    nb.page.wait_for_function(LOSS_DRAWN, timeout=60_000)
    first = progress(nb)
    nb.page.wait_for_function(f"() => parseFloat(document.querySelector('.convlab-progress-bar').style.width) > {first}",
                              timeout=60_000)
    nb.screenshot("lab_training_1280")

    button(nb, "Pause").click()
    nb.wait_for(STATUS.format("paused"), timeout=30)
    lr = field(nb, "Learning rate")
    lr.fill("0.0002")
    lr.press("Tab")
    button(nb, "Resume").click()
    nb.wait_for(STATUS.format("running"), timeout=30)
    # The new rate reaches the LR panel (heartbeats are answered while this cell waits).
    nb.run_cell("import time\nwhile abs(lab.dashboard.history.batch['lr'][-1] - 2e-4) > 1e-9: time.sleep(0.2)",
                timeout=60)
    nb.run_cell("time.sleep(0.5)")
    drawn = nb.eval("[round(float(v), 7) for v in lab.dashboard.learning_rate.marks['batch_lr'].y[-3:]]")
    assert drawn[-1] == 0.0002

    button(nb, "Stop").click()
    nb.wait_for(STATUS.format("stopped"), timeout=30)
    assert nb.eval("lab.run.status") == "stopped"
    assert not button(nb, "Train").is_disabled()
    nb.screenshot("lab_stopped")


def test_a_diverging_run_says_so(notebook):
    nb = notebook
    open_lab(nb)
    nb.page.locator(".convlab-controls .widget-dropdown:has(label:text-is('Optimizer')) select").select_option("sgd")
    lr = field(nb, "Learning rate")
    lr.fill("1e12")
    lr.press("Tab")
    button(nb, "Train").click()
    nb.wait_for(STATUS.format("diverged"), timeout=90)
    assert "lower learning rate" in nb.page.inner_text(".convlab-status-message")
    nb.screenshot("lab_diverged")


def test_filters_change_between_epochs_and_the_scrubber_replays_them(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("run = lab.train(epochs=3, batch_size=64, learning_rate=0.01, wait=True)")
    nb.wait_for(STATUS.format("completed"), timeout=60)
    image = ".convlab-dashboard .widget-image img, .convlab-dashboard img"
    nb.wait_for(image)
    last = nb.page.get_attribute(image, "src")
    slider = nb.eval("[lab.dashboard.filters.slider.min, lab.dashboard.filters.slider.max]")
    assert slider == [0, 3]  # init + one snapshot per epoch
    nb.run_cell("lab.dashboard.filters.slider.value = 0")
    nb.page.wait_for_function(f"() => document.querySelector({image!r}).src !== {last!r}")
    assert "init" in nb.page.inner_text(".convlab-dashboard")
    nb.screenshot("lab_filters_replay")


def test_one_data_selector_and_the_fix_for_a_preset_of_other_data(notebook):
    nb = notebook
    open_lab(nb)
    assert nb.page.locator(".convlab-builder select.convlab-dataset").is_hidden()
    assert nb.page.inner_text(".convlab-builder .convlab-dataset-name") == "digits"
    nb.page.locator(".convlab-builder select.convlab-presets").select_option("squeezenet_gap")
    banner = nb.wait_for(".convlab-data-mismatch:not(:empty)")
    assert "the data, digits, is 8×8×1" in banner.inner_text()
    assert "not the data" in nb.page.inner_text(".convlab-validity")
    nb.screenshot("builder_data_mismatch")
    # Train waits, saying why, instead of looking ready and then refusing.
    assert button(nb, "Train").is_disabled()
    assert ("Train waits for the architecture: This architecture takes 192×192×3 images in 5 classes, but the "
            "data, digits, is 8×8×1") in nb.page.inner_text(".convlab-controls")
    nb.page.locator(".convlab-data-fix:has-text('Adapt the input to digits')").click()
    nb.wait_for(".convlab-data-mismatch:empty", state="attached")
    # the input is the data's now; what still keeps Train waiting is the preset's 5-class head
    nb.page.wait_for_function("() => document.querySelector('.convlab-controls').innerText"
                              ".includes('Train waits for the architecture: Dense #8: outputs 5 values')")
    assert button(nb, "Train").is_disabled()
    assert nb.eval("list(lab.architecture.input_shape)") == [8, 8, 1]


def test_train_waits_for_a_broken_architecture_and_a_run_keeps_its_colour(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("run = lab.train(epochs=1, batch_size=128, wait=True)")
    nb.wait_for(STATUS.format("completed"), timeout=60)
    swatch = nb.page.evaluate("() => getComputedStyle(document.querySelector('.convlab-runs .convlab-runs-cell "
                              "div[style*=background]')).backgroundColor")
    line = nb.page.evaluate("() => getComputedStyle(document.querySelector('.convlab-dashboard .bqplot "
                            "path.line')).stroke")
    assert swatch == line
    nb.run_cell("lab.architecture.update(len(lab.architecture) - 1, units=3)")
    nb.page.wait_for_function("() => [...document.querySelectorAll('.convlab-controls button')]"
                              ".some((b) => b.textContent.includes('Train') && b.disabled)")
    assert "10 classes" in nb.page.inner_text(".convlab-controls")  # the reason, beside the button
    assert "Fix the architecture first" in button(nb, "Train").get_attribute("title")
    nb.wait_for(STATUS.format("completed"))  # the finished run is still what the monitor shows
    nb.page.locator(".convlab-controls").scroll_into_view_if_needed()
    nb.screenshot("lab_train_waits")


RECORD_STOP = """at_stop = []
_stop = lab.stop
def recording_stop():
    at_stop.append(len(lab.run.batch_history['loss']))
    _stop()
lab.stop = recording_stop"""

FIT_SETUP = RECORD_STOP + """
import time, keras, numpy as np
from sklearn.datasets import load_digits
digits = load_digits()
x, y = (digits.images / 16.0).astype('float32')[..., None], digits.target
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation='relu'),
                          keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')])
model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])
class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.05)
stream = lab.callback(batch_size=32)"""


def _stop_while_the_cell_blocks(nb):
    nb.wait_for(STATUS.format("running"), timeout=60)
    nb.page.wait_for_function(LOSS_DRAWN, timeout=60_000)  # the panels move while the cell blocks
    nb.page.wait_for_timeout(1000)
    button(nb, "Stop").click()
    nb.wait_for(STATUS.format("stopped"), timeout=30)
    nb._wait_cells_done(60)
    at_stop, batches, status = nb.eval("[at_stop, len(lab.run.batch_history['loss']), lab.run.status]")
    assert status == "stopped" and len(at_stop) == 1 and batches - at_stop[0] <= 2


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_stop_stops_your_own_blocking_fit_within_two_batches(notebook, ui):
    nb = notebook
    open_lab(nb, ui)
    nb.run_cell(FIT_SETUP)
    nb.start_cell("model.fit(x, y, epochs=50, batch_size=32, verbose=0, callbacks=[stream, Slow()])")
    nb.wait_for(STATUS.format("running"), timeout=60)
    assert button(nb, "Pause").is_disabled()  # your own fit cannot pause
    _stop_while_the_cell_blocks(nb)
    assert nb.eval("[len(lab.runs), lab.runs[0] is lab.run]") == [1, True]
    nb.screenshot(f"{ui}_own_fit_stopped")


def test_stop_stops_a_run_that_the_cell_waits_for(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell(RECORD_STOP)
    nb.start_cell("run = lab.train(epochs=200, batch_size=8, wait=True)")
    _stop_while_the_cell_blocks(nb)


RECORD_SENDS = """import ipywidgets, threading
from convlab_widgets.threads import on_kernel_thread
sent_from = []
_send = ipywidgets.Widget._send
def _recording(self, msg, buffers=None):
    sent_from.append((threading.current_thread().name, on_kernel_thread()))
    return _send(self, msg, buffers)
ipywidgets.Widget._send = _recording"""


def test_events_draw_the_run_and_every_widget_message_comes_from_a_kernel_thread(notebook):
    """JupyterLab 4 (ipykernel 7: heartbeats on a comm subshell): a run's events wake the kernel's loop,
    which draws; the heartbeat draws too; every message ipywidgets sends comes from a kernel thread."""
    nb = notebook
    nb.open([RECORD_SENDS, SETUP])
    nb.run_all()
    nb.wait_for(".convlab-monitor")
    field(nb, "Epochs").fill("3")
    field(nb, "Epochs").press("Tab")
    button(nb, "Train").click()
    nb.wait_for(STATUS.format("completed"), timeout=90)
    assert nb.eval("lab.dashboard._wake.armed") is True
    threads = nb.eval("sorted({name for name, kernel in sent_from})")
    assert nb.eval("len(sent_from) > 10 and all(kernel for _, kernel in sent_from)") is True, threads
    assert "convlab-training" not in threads
    nb.page.locator(".convlab-monitor").first.scroll_into_view_if_needed()
    nb.screenshot("lab_drawn_by_events_1280")
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.page.locator(".convlab-monitor").first.scroll_into_view_if_needed()
    nb.screenshot("lab_drawn_by_events_700")
