"""Each fact of a lab in one place: the data, the current run, the learning rate, settings, colours."""

import math

import keras
import numpy as np
import pytest

from convlab_widgets import Builder, ConvLab, Dashboard
from convlab_widgets.controls import Controls
from convlab_widgets.training import SettingsError, schedules
from convlab_widgets.training.status import STATUSES

from .runs_table_clicks import click, row_of


@pytest.fixture()
def lab():
    return ConvLab(dataset="digits", architecture="conv_small")


@pytest.mark.parametrize("make, keyword", [
    (lambda: ConvLab(datset="mnist"), "did you mean 'dataset'"),
    (lambda: Builder(architectur="conv_small"), "did you mean 'architecture'"),
    (lambda: Controls(setings=None), "did you mean 'settings'"),
    (lambda: Dashboard(layot=None), "did you mean 'layout'"),
])
def test_an_unknown_keyword_is_refused_not_ignored(make, keyword):
    with pytest.raises(TypeError, match=f"unexpected keyword argument .*{keyword}"):
        make()


def test_one_dataset_selector_and_a_preset_that_does_not_fit_says_so(lab):
    lab.builder.load_preset("squeezenet_gap")  # 192×192×3 flowers
    assert lab.builder.dataset == "digits" and lab.settings.dataset == "digits"
    view = lab.builder.view
    assert view["dataset_locked"] and not view["valid"]
    assert "takes 192×192×3 images in 5 classes, but the data, digits, is 8×8×1" in view["data_mismatch"]["text"]
    assert [fix["action"] for fix in view["data_mismatch"]["fixes"]] == ["adapt", "flowers"]
    lab.controls.train_button.click()
    state = lab.dashboard.monitor.state
    assert state["status"] == "not started" and "configure" not in state["message"]
    assert "fix offered above the layers" in state["message"] and lab.runs == []
    lab.builder._on_intent(None, {"intent": "data_fix", "action": "adapt"}, [])
    assert lab.architecture.input_shape == (8, 8, 1) and lab.builder.view["data_mismatch"] is None
    lab.builder.load_preset("squeezenet_gap")
    lab.builder._on_intent(None, {"intent": "data_fix", "action": "flowers"}, [])
    assert lab.settings.dataset == "flowers" and lab.controls.dataset.value == "flowers"
    assert lab.builder.view["data_mismatch"] is None and lab.builder.dataset == "flowers"


def test_train_on_other_data_says_the_input_does_not_fit_in_the_labs_words(lab):
    with pytest.raises(Exception, match="the data, shapes, is 32×32×3.*Choose shapes in the Data control first"):
        lab.train(dataset="shapes")
    assert lab.settings.dataset == "digits" and lab.runs == []


def test_a_refused_setting_never_sticks(lab):
    before = lab.settings
    for bad in (dict(epochs=0), dict(epochs=-1), dict(epochs=2.5), dict(epochs=5000 * 10), dict(learning_rate=-1),
                dict(batch_size=0), dict(seed="x"), dict(optimizer="adamm")):
        with pytest.raises(SettingsError):
            lab.train(**bad)
        assert lab.settings == before and lab.controls.learning_rate.value == before.learning_rate
        assert lab.runs == []
    with pytest.raises(SettingsError, match="epochs: .* got 'ten'"):
        lab.train("ten")
    run = lab.train(epochs=np.int64(1), learning_rate=np.float32(0.01), batch_size=128, wait=True)
    assert run.status == "completed" and run.settings.epochs == 1 and run.settings.learning_rate == 0.01
    assert lab.controls.epochs.value == 1 and lab.controls.learning_rate.value == 0.01


def test_momentum_is_one_optimizer_everywhere(lab):
    first = lab.train(epochs=1, batch_size=128, optimizer="sgd", wait=True)
    second = lab.train(epochs=1, batch_size=128, optimizer="momentum", wait=True)
    assert first.config["optimizer"] == second.config["optimizer"] == "SGD"
    assert second.changes == ["optimizer sgd→momentum"] and lab.controls.optimizer.value == "momentum"


def test_a_schedule_from_python_shows_in_the_controls(lab):
    run = lab.train(epochs=2, batch_size=128, lr_schedule=schedules.exponential(decay=0.8), wait=True)
    assert lab.controls.schedule.value == "exponential" and lab.controls._param_widgets["decay"].value == 0.8
    assert run.history["lr"] == pytest.approx([1e-3, 8e-4])


def _pause_and_wait(lab, run):
    lab.pause()
    while lab.dashboard.monitor.state.get("status") != "paused":
        lab.dashboard.monitor._on_message(None, {"beat": 1}, [])
        run.events.wait(len(run.events), 0.2)


def _epochs_done(lab, run, count):
    while len(run.history["epoch"]) < count:
        run.events.wait(len(run.events), 0.2)
        lab.dashboard.pump()


def test_resuming_twice_with_nothing_edited_keeps_the_schedule(lab):
    run = lab.train(epochs=40, batch_size=8, learning_rate=0.01, lr_schedule=schedules.exponential(decay=0.6))
    try:
        for round_ in range(2):
            _epochs_done(lab, run, round_ + 1)
            _pause_and_wait(lab, run)
            lab.resume()
        _epochs_done(lab, run, 4)
        _pause_and_wait(lab, run)
        lab.controls.learning_rate.value = 0.004  # typed while paused: in force from now on
        lab.resume()
        _epochs_done(lab, run, 7)
    finally:
        lab.stop()
        lab.dashboard.follow(run)
    lrs = run.history["lr"]
    assert lrs[:4] == pytest.approx([0.01 * 0.6 ** e for e in range(4)])  # no reset to the typed 0.01
    edited = next(i for i, lr in enumerate(lrs) if lr == pytest.approx(0.004))
    assert edited >= 4 and lrs[edited + 1] == pytest.approx(0.004 * 0.6)  # the schedule goes on from the edit
    assert run.learning_rate == pytest.approx(run.batch_history["lr"][-1])


def _users_model():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).random((256, 8, 8, 1)).astype("float32")
    return model, x, np.arange(256) % 4


class _ClickStop(keras.callbacks.Callback):
    """The learner presses Stop at batch 3 (on the main thread, where a click is handled)."""

    def __init__(self, lab):
        super().__init__()
        self.lab, self.batches = lab, 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == 3:
            self.lab.controls.stop_button.click()


def test_your_own_fit_is_a_run_of_the_lab_and_stop_stops_it(lab):
    model, x, y = _users_model()
    stream = lab.callback(batch_size=16)
    assert lab.run is stream.run and lab.run.status == "starting"
    click = _ClickStop(lab)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0, callbacks=[stream, click])
    run = lab.run
    assert run is stream.run and run in lab.runs and run.status == "stopped"
    assert click.batches <= 3 + 2 and len(run.batch_history["loss"]) <= 5
    assert row_of(lab, run)["cells"][-1] == "stopped" and run.name == "run 1"
    assert run.param_count == model.count_params() and not run.can_pause
    assert run.changes == ["Conv2D(4, 3×3) → Dense(4)"]  # described once its model was known
    assert row_of(lab, run)["cells"][0] == f"{model.count_params():,}"
    assert lab.dashboard.monitor.state["status"] == "stopped"
    for shown in (lab.dashboard.predictions.body.value, lab.dashboard.confusion.message.value,
                  lab.dashboard.activations.message.value):
        assert "your own model.fit keeps its data to itself" in shown  # said, not "after the first epoch"
    hidden = [view.widget.layout.display for view in (lab.dashboard.confusion, lab.dashboard.activations)]
    assert hidden == ["none", "none"] and lab.dashboard.predictions.widget.layout.display != "none"  # said once


def test_your_own_fit_whose_loss_goes_nan_is_diverged_not_completed(lab):
    model, x, y = _users_model()
    model.compile(keras.optimizers.SGD(1e38), "sparse_categorical_crossentropy")
    stream = lab.callback()
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[stream])
    assert stream.run.status == "diverged" and "lower learning rate" in stream.run.message
    state = lab.dashboard.monitor.state
    assert state["status"] == "diverged"
    # No "step 1/23" (the last batch event told) beside the message's "batch 4": the epochs it finished.
    assert state["ended"] and (state["epoch"], state["steps"]) == (len(stream.run.history["epoch"]), 0)


def test_a_fit_that_another_callback_breaks_is_failed_not_running():
    """A cell's error ends the streamed run: real IPython cells, run by a real InteractiveShell."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from convlab_widgets import ConvLab\nlab = ConvLab()\nstream = lab.callback()")
        shell.user_ns["users_model"] = _users_model
        result = shell.run_cell(
            "import keras\n"
            "class Broken(keras.callbacks.Callback):\n"
            "    def on_train_batch_end(self, batch, logs=None):\n"
            "        if batch == 2: raise ValueError('my callback broke')\n"
            "model, x, y = users_model()\n"
            "model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[stream, Broken()])\n")
        assert isinstance(result.error_in_exec, ValueError)
        lab = shell.user_ns["lab"]
        run = lab.run
        assert run.status == "failed" and "my callback broke" in run.message
        state = lab.dashboard.monitor.state
        assert state["status"] == "failed" and lab.controls.stop_button.disabled
        assert not lab.controls.train_button.disabled
    finally:
        InteractiveShell.clear_instance()


def test_a_refused_train_shows_no_trace_of_the_run_before(lab):
    lab.train(epochs=1, batch_size=128, wait=True)
    lab.architecture.update(len(lab.architecture) - 1, units=3)  # 3 outputs for 10 classes
    lab.controls.train_button.click()
    state = lab.dashboard.monitor.state
    assert state["status"] == "not started" and "10 classes" in state["message"]
    assert set(state) == {"status", "message"}  # no epoch, speed or progress of the run before


def test_a_run_has_one_colour_in_the_table_and_on_the_charts(lab):
    first = lab.train(epochs=1, batch_size=128, wait=True)
    second = lab.train(epochs=1, batch_size=128, wait=True)
    assert first.color != second.color
    for panel in (lab.dashboard.loss, lab.dashboard.accuracy):
        assert {tuple(mark.colors) for mark in panel.marks.values()} == {(second.color,)}
        assert second.color in panel.legend.value
        (overlay,) = panel.overlays.values()
        assert overlay.color == first.color
    assert row_of(lab, second)["color"] == second.color


def test_one_status_vocabulary(lab):
    run = lab.train(epochs=1, batch_size=128, wait=True)
    assert run.status in STATUSES and all(event.status in STATUSES for event in run.events
                                          if event.kind in ("status", "ended"))
    assert math.isfinite(run.learning_rate)


def test_a_name_too_long_is_refused_in_the_table_and_the_run_keeps_its_own(lab):
    run = lab.train(epochs=1, batch_size=128, wait=True)
    click(lab, "rename", run, name="x" * 201)
    assert run.name == "run 1" and row_of(lab, run)["name"] == "run 1"
    assert "1 to 200 characters" in lab.dashboard.monitor.state["message"]
    with pytest.raises(ValueError, match="1 to 200 characters"):
        lab.rename(run, "")


def test_a_lab_trains_on_a_named_dataset_only(lab):
    with pytest.raises(SettingsError, match="dataset: a lab trains on one of digits"):
        lab.train(dataset=None)
    assert lab.settings.dataset == "digits"


def test_a_saved_run_on_data_of_its_own_loads_and_says_why_it_cannot_be_cloned(tmp_path):
    from convlab_widgets import Architecture, Trainer, datasets
    from convlab_widgets.persistence import save_lab

    x = np.random.default_rng(0).random((120, 8, 8, 1)).astype("float32")
    arch = Architecture(input_shape=(8, 8, 1), num_classes=4).add("Flatten").add("Dense", units=4,
                                                                                 activation="softmax")
    run = Trainer(arch, datasets.load((x, np.arange(120) % 4))).start(epochs=1, batch_size=32)
    assert run.wait(60) and run.status == "completed" and run.settings.dataset is None
    run.name = "my arrays"
    path = save_lab(tmp_path / "own.convlab", architecture=arch, dataset="digits", runs=[run])
    lab = ConvLab.load(path)
    (restored,) = lab.runs
    with pytest.raises(RuntimeError, match="trained on data of its own"):
        lab.clone(restored)
    click(lab, "clone", restored)
    assert "trained on data of its own" in lab.dashboard.monitor.state["message"]
