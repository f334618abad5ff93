"""The learning-rate range test: real ramps on digits, on a copy of the lab's model."""

import json
import re
import threading
import time

import numpy as np
import pytest

from convlab_widgets import ConvLab
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.autosave import Autosave
from convlab_widgets.persistence import LabFileError, load_lab, save_lab
from convlab_widgets.training.lr_range import EXPLOSION, RangeTest, SavedRangeTest, ramp, smooth, suggest
from convlab_widgets.training.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.mark.parametrize("arguments, field, words", [
    (dict(min_lr=1.0, max_lr=0.1), "min_lr", "must be below max_lr"),
    (dict(min_lr=0.1, max_lr=0.1), "min_lr", "must be below max_lr"),
    (dict(min_lr=-1e-6), "min_lr", "positive learning rate"),
    (dict(max_lr=0), "max_lr", "positive learning rate"),
    (dict(max_lr=float("nan")), "max_lr", "positive learning rate"),
    (dict(steps=5), "steps", "from 10 to"),
    (dict(steps=-100), "steps", "from 10 to"),
    (dict(steps=50.5), "steps", "whole number"),
])
def test_a_bad_argument_is_a_located_error_and_nothing_runs(arguments, field, words):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    with pytest.raises(SettingsError, match=words) as caught:
        lab.find_learning_rate(**arguments)
    assert caught.value.field == field and lab.lr_range.figure_box.layout.visibility == "hidden"


def test_the_ramp_is_exponential_and_the_suggestion_is_the_steepest_descent():
    lrs = ramp(1e-6, 1.0, 61)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(lrs[1:] / lrs[:-1], lrs[1] / lrs[0])
    # A loss that falls fastest around 1e-3 (a logistic step in log lr) and explodes past 0.1.
    x = np.log10(lrs)
    losses = 2.0 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.where(x > -1, 10 ** (x + 1) - 1, 0)
    suggested = suggest(lrs, losses)
    assert 10 ** -3.6 < suggested < 10 ** -2.4  # the smoothing lags a few batches behind the raw curve
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected from the first value
    assert suggest(lrs, np.linspace(1, 3, len(lrs))) is None  # a loss that only rose suggests nothing


def test_on_digits_with_adam_the_suggestion_is_sensible_and_the_lab_is_untouched(tmp_path):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    first = lab.train(epochs=1, batch_size=64, optimizer="adam", seed=0, wait=True)
    weights = [w.copy() for w in first.model.get_weights()]
    settings = lab.settings
    drawn_on = set()
    draw = lab.lr_range.draw
    lab.lr_range.draw = lambda test: (drawn_on.add(threading.current_thread()), draw(test))

    result = lab.find_learning_rate(min_lr=1e-6, max_lr=1, steps=100)

    assert set(result) >= {"lrs", "losses", "suggested"} and len(result["lrs"]) == len(result["losses"]) <= 100
    assert 1e-4 <= result["suggested"] <= 1e-1
    assert np.allclose(result["lrs"], ramp(1e-6, 1.0, 100)[:len(result["lrs"])], rtol=1e-5)  # the optimizer used each
    assert drawn_on == {threading.main_thread()}
    assert lab.settings == settings and lab.runs == [first]  # no run, no setting changed
    assert all(np.array_equal(a, b) for a, b in zip(weights, first.model.get_weights()))
    again = lab.train(wait=True)  # the same seed trains the same numbers: the kept model was not touched
    assert again.history["loss"] == first.history["loss"] and again.history["val_loss"] == first.history["val_loss"]

    panel = lab.lr_range
    assert panel.figure_box.layout.visibility == "visible" and len(panel.smoothed.x) == len(result["lrs"])
    assert list(panel.suggestion.x) == pytest.approx([result["suggested"]]) and not panel.use_button.disabled
    assert "heuristic" in panel.caption.value and "suggested learning rate" in panel.caption.value
    ticks = np.asarray(panel.y_axis.tick_values)  # a few round ones, as on the other charts
    assert 3 <= len(ticks) <= 6 and np.allclose(ticks, np.round(ticks, 2)) and ticks[0] >= 0
    panel.use_button.click()
    assert lab.settings.learning_rate == result["suggested"] and lab.settings.lr_source == "range test"
    assert lab.controls.learning_rate.value == pytest.approx(result["suggested"])
    run = lab.train(wait=True)
    assert run.changes == [f"lr 0.001→{result['suggested']:.3g} from range test"]
    lab.save(tmp_path / "lesson.convlab")
    loaded = ConvLab.load(tmp_path / "lesson.convlab")
    assert loaded.runs[-1].changes == run.changes and loaded.settings.lr_source == "range test"
    shown = loaded.lr_range  # the curve is saved with the lab: drawn again, its suggestion ready to use
    assert shown.figure_box.layout.visibility == "visible" and list(shown.raw.x) == pytest.approx(result["lrs"])
    assert list(shown.smoothed.y) == pytest.approx(list(panel.smoothed.y))
    assert shown.suggested == result["suggested"] and shown.use_button.description == panel.use_button.description
    assert shown.caption.value == panel.caption.value and not shown.find_button.disabled
    assert Settings.make(base=lab.settings, learning_rate=0.01).lr_source == ""  # a typed rate is the learner's


def test_the_button_runs_it_in_the_background_and_the_heartbeat_draws_it(digits):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    lab.lr_range.find_button.click()
    test = lab._range_test
    assert isinstance(test, RangeTest) and lab.dashboard.monitor.active
    lab.controls.train_button.click()  # refused while the test trains: one run at a time
    assert "already" in lab.dashboard.monitor.state["message"] and lab.runs == []
    test.wait(timeout=300)
    assert lab.lr_range.use_button.disabled  # not drawn yet: only a kernel thread draws
    lab.dashboard.monitor._on_message(lab.dashboard.monitor, {"beat": 1}, [])  # the front end's heartbeat
    assert not lab.lr_range.use_button.disabled and lab.lr_range.suggested == test.result["suggested"]
    assert not lab.dashboard.monitor.active and "suggested, see its panel" in lab.dashboard.monitor.state["message"]
    test = lab.find_learning_rate(steps=10_000, wait=False)
    assert lab.controls.train_button.disabled and not lab.controls.stop_button.disabled
    lab.controls.pause_button.click()  # Pause and Stop act on the test as they act on a run
    deadline = time.monotonic() + 120
    while test.status != "paused" and time.monotonic() < deadline:
        time.sleep(0.05)
    batches = len(test.result["lrs"])
    time.sleep(0.5)
    assert test.status == "paused" and len(test.result["lrs"]) == batches
    lab.controls.stop_button.click()
    assert test.wait(timeout=300) and test.status == "stopped" and len(test.result["lrs"]) < 10_000
    lab.dashboard.monitor._on_message(lab.dashboard.monitor, {"beat": 1}, [])
    assert not lab.controls.train_button.disabled


def test_the_test_stops_when_the_loss_explodes_and_on_stop(digits):
    trainer = Trainer("conv_small", digits)
    test = trainer.find_learning_rate(Settings.make(optimizer="sgd", seed=0), min_lr=1e-3, max_lr=1e4, steps=200)
    assert test.wait(timeout=300) and test.status == "completed", test.error
    smoothed = np.array(test.result["smoothed"])
    assert len(smoothed) < 200 and (not np.isfinite(smoothed[-1]) or smoothed[-1] > EXPLOSION * np.nanmin(smoothed))
    assert "the loss exploded at learning rate" in test.message
    stopped = trainer.find_learning_rate(None, steps=10_000)
    stopped.stop()
    assert stopped.wait(timeout=300) and stopped.status == "stopped" and len(stopped.result["lrs"]) < 10_000


def _saved_test(**changes):
    lrs = ramp(1e-5, 1.0, 40)[:30]
    x = np.log10(lrs)
    losses = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3))
    fields = dict(min_lr=1e-5, max_lr=1.0, steps=40, lrs=tuple(lrs), losses=tuple(losses), status="stopped",
                  message="range test: stopped after 30 of 40 batches")
    return SavedRangeTest(**{**fields, **changes})


def test_a_saved_range_test_is_kept_by_save_and_by_autosave(tmp_path):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    test = _saved_test()
    saved = save_lab(tmp_path / "a.convlab", architecture=lab.architecture, dataset="digits", runs=[],
                     range_test=test)
    assert load_lab(saved).range_test == test and test.result["suggested"] is not None
    autosave = Autosave(tmp_path / "b.convlab")
    autosave.capture(lab.architecture, "digits", lab.settings, [], test)
    assert autosave.flush() and autosave.error is None and load_lab(autosave.path).range_test == test
    failed = _saved_test(status="failed")  # a test that failed has no curve to keep
    saved = save_lab(tmp_path / "c.convlab", architecture=lab.architecture, dataset="digits", runs=[],
                     range_test=failed)
    assert load_lab(saved).range_test is None


@pytest.mark.parametrize("change, words", [
    (dict(min_lr=-1.0), "range_test.min_lr: must be a positive learning rate"),
    (dict(max_lr=1e-6), "range_test.min_lr: must be below max_lr"),
    (dict(steps=20), "range_test.batches holds 30 batches, more than the test's 20 steps"),
    (dict(steps=10**9), "range_test.steps: must be a whole number of batches from 10 to 10,000"),
    (dict(status="running"), "range_test.status must be one of completed, stopped"),
    (dict(lr=[5.0] * 30), "range_test.batches.lr[0] must lie on the ramp"),
    (dict(lr=[1e-3] * 29), "range_test.batches columns must all have the same length"),
    (dict(loss=["<b>x</b>"] * 30), "range_test.batches.loss[0] must be a number"),
    (dict(extra=1), "range_test has unknown fields: 'extra'"),
])
def test_a_tampered_range_test_is_a_located_error(tmp_path, change, words):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    saved = save_lab(tmp_path / "a.convlab", architecture=lab.architecture, dataset="digits", runs=[],
                     range_test=_saved_test())
    document = json.loads((saved / "lab.json").read_text())
    entry = document["range_test"]
    for key, value in change.items():
        (entry["batches"] if key in ("lr", "loss") else entry)[key] = value
    (saved / "lab.json").write_text(json.dumps(document))
    with pytest.raises(LabFileError, match=re.escape(words)):
        load_lab(saved)
