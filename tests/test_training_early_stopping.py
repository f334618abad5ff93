"""Early stopping with the best weights: real short runs on a tiny digits subset that overfits.

Sixty training images and a learning rate of 0.03: validation loss bottoms out within
about ten epochs and climbs back, so a run asked for 60 epochs really stops early, on
every backend (JAX: two CPU devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``).
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from convlab_widgets import ConvLab
from convlab_widgets.architecture import Architecture
from convlab_widgets.compare.diff import describe_changes
from convlab_widgets.dashboard.panels import AccuracyPanel, LossPanel
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.early_stopping import EarlyStopping, Stopper, best_of
from convlab_widgets.training.events import BestEpoch, EpochEnd, RunStarted
from convlab_widgets.training.history import RunHistory
from convlab_widgets.training.settings import Settings, SettingsError

PATIENCE = 3
STOPPING = dict(monitor="val_loss", patience=PATIENCE, restore_best=True)
RUN = dict(epochs=60, batch_size=20, learning_rate=0.03, seed=0)


def tiny():
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10, output="probabilities")
    arch.add("Conv2D", filters=8, kernel_size=3, padding="same", activation="relu").add("Flatten")
    return arch.add("Dense", units=10, activation="softmax")


@pytest.fixture(scope="module")
def subset():
    return datasets.load("digits", train_subset=60)


@pytest.fixture(scope="module")
def stopped(subset):
    run = Trainer(tiny(), subset).start(**RUN, early_stopping=STOPPING)
    assert run.wait(timeout=300) and run.status == "completed", run.error
    return run


def _validation_loss(run):
    """The validation loss of the run's final model, on the very batches ``fit`` validated on."""
    data, config = run.data, run.config
    return run.model.evaluate(data.validation(config["batch_size"], config["drop_remainder"]), verbose=0)[0]


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, field, words", [
    (dict(monitor="val_los"), "early_stopping.monitor", "did you mean 'val_loss'"),
    (dict(patience=0), "early_stopping.patience", "whole number from 1"),
    (dict(patience=2.5), "early_stopping.patience", "whole number from 1"),
    (dict(patince=3), "early_stopping.patince", "did you mean 'patience'"),
    (dict(restore_best="yes"), "early_stopping.restore_best", "True or False"),
    (dict(min_delta=-0.1), "early_stopping.min_delta", "from 0 up"),
    ("val_loss", "early_stopping", "a dict such as"),
])
def test_a_bad_early_stopping_is_a_located_settings_error(value, field, words):
    with pytest.raises(SettingsError, match=re.escape(words)) as caught:
        Settings.make(early_stopping=value)
    assert caught.value.field == field and str(caught.value).startswith(field + ":")


def test_early_stopping_is_one_field_of_the_settings_and_round_trips():
    settings = Settings.make(early_stopping=dict(monitor="overfitting", patience=4))
    assert settings.early_stopping == EarlyStopping("overfitting", 4, True, 0.0)
    assert Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    assert settings.replace(epochs=3).early_stopping == settings.early_stopping  # kept through a change
    assert Settings.make(early_stopping=True).early_stopping == EarlyStopping()
    old = {key: value for key, value in Settings().to_dict().items() if key != "early_stopping"}
    assert Settings.from_dict(old).early_stopping is None  # a lab saved before early stopping


def test_a_validation_monitor_without_validation_images_is_refused(subset):
    data = datasets.load("digits", train_subset=60, validation_split=0)
    with pytest.raises(SettingsError, match="use monitor='loss'") as caught:
        Trainer(tiny(), data).start(**RUN, early_stopping=STOPPING)
    assert caught.value.field == "early_stopping.monitor"


# -- the rule --------------------------------------------------------------------------------------


def test_the_stopper_follows_keras_rule_and_says_why():
    stopper = Stopper(EarlyStopping(patience=2, min_delta=0.05))
    losses = [1.0, 0.8, 0.78, 0.9, 0.7]  # 0.78 is not better by more than min_delta
    for epoch, value in enumerate(losses[:4]):
        stopper.observe(epoch, {"val_loss": value})
    assert stopper.best.epoch == 1 and stopper.reason is not None
    assert stopper.message(kept=True) == ("stopped early at epoch 4: validation loss had not improved for 2 epochs; "
                                          "best was epoch 2 (kept)")
    accuracy = Stopper(EarlyStopping(monitor="val_accuracy", patience=1))
    accuracy.observe(0, {"val_accuracy": 0.5})
    accuracy.observe(1, {"val_accuracy": 0.4})
    assert accuracy.message(kept=False) == ("stopped early at epoch 2: validation accuracy had not improved for "
                                            "epoch; best was epoch 1")


def test_stop_when_overfitting_starts_uses_the_overfitting_detector():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8]
    history = {"epoch": list(range(len(val))), "loss": [1.0 - 0.1 * i for i in range(len(val))], "val_loss": val}
    stopper = Stopper(EarlyStopping(monitor="overfitting", patience=2))
    for i in range(len(val)):
        prefix = {key: column[:i + 1] for key, column in history.items()}
        stopper.observe(i, {"loss": history["loss"][i], "val_loss": val[i]}, prefix)
        if stopper.reason:
            break
    from convlab_widgets.compare import overfitting

    finding = overfitting.detect({key: column[:i + 1] for key, column in history.items()}, patience=2)
    assert finding is not None and stopper.stopped_at == i < len(val) - 1
    assert stopper.best.epoch == 4 and f"validation loss rising since epoch {finding.epoch}" in stopper.message(True)
    assert best_of(history, stopper.spec).epoch == 4


# -- real runs -------------------------------------------------------------------------------------


def test_a_run_stops_early_says_why_and_keeps_the_best_epochs_weights(stopped):
    history = stopped.history
    val = np.array(history["val_loss"])
    best = int(np.argmin(val))
    epochs = len(val)
    assert epochs == best + 1 + PATIENCE < RUN["epochs"]  # stopped PATIENCE epochs after the lowest
    assert stopped.message == (f"stopped early at epoch {epochs}: validation loss had not improved for "
                               f"{PATIENCE} epochs; best was epoch {best + 1} (kept)")
    assert stopped.record.best.epoch == best and stopped.record.best.kept
    assert val[-1] > val[best]  # the last epoch's weights are not the best...
    assert _validation_loss(stopped) == pytest.approx(val[best], rel=1e-4, abs=1e-5)  # ...the kept ones are
    assert [e.epoch for e in stopped.events if isinstance(e, BestEpoch)][-1] == best


def test_stop_when_overfitting_starts_on_a_real_run():
    from convlab_widgets.compare import overfitting

    # The detector wants a clear rise above the noise: thirty images, memorised within a few epochs.
    run = Trainer(tiny(), datasets.load("digits", train_subset=30)).start(
        **{**RUN, "batch_size": 10}, early_stopping=dict(monitor="overfitting", patience=PATIENCE))
    assert run.wait(timeout=300) and run.status == "completed", run.error
    history = run.history
    epochs, val = len(history["epoch"]), np.array(history["val_loss"])
    before = {key: column[:-1] for key, column in history.items()}
    finding = overfitting.detect(history, patience=PATIENCE)
    assert epochs < RUN["epochs"] and finding is not None and overfitting.detect(before, patience=PATIENCE) is None
    assert run.message == (f"stopped early at epoch {epochs}: overfitting: validation loss rising since epoch "
                           f"{finding.epoch} while training loss falls; best was epoch {int(np.argmin(val)) + 1} (kept)")
    assert _validation_loss(run) == pytest.approx(val.min(), rel=1e-4, abs=1e-5)


def test_without_restore_best_the_last_epochs_weights_stay(subset):
    run = Trainer(tiny(), subset).start(**RUN, early_stopping={**STOPPING, "restore_best": False})
    assert run.wait(timeout=300) and run.status == "completed", run.error
    val = run.history["val_loss"]
    assert run.message.endswith(f"best was epoch {int(np.argmin(val)) + 1}") and "(kept)" not in run.message
    assert _validation_loss(run) == pytest.approx(val[-1], rel=1e-4, abs=1e-5)


def test_the_saved_lab_keeps_the_best_model_and_the_setting(tmp_path):
    lab = ConvLab(dataset="digits", architecture=tiny())
    run = lab.train(**RUN, train_subset=60, early_stopping=STOPPING, wait=True)
    assert run.status == "completed" and run.message.startswith("stopped early at epoch")
    best = run.record.best
    lab.train(epochs=2, early_stopping=None, wait=True)
    assert "early stopping val_loss, patience 3, keep best→off" in lab.run.changes  # the runs table's diff
    lab.save(tmp_path / "lesson.convlab", models="all")
    loaded = ConvLab.load(tmp_path / "lesson.convlab")
    assert loaded.settings.early_stopping is None
    again = loaded.runs[0]
    assert again.settings.early_stopping == EarlyStopping(**STOPPING)
    assert again.message == run.message and again.record.best.epoch == best.epoch
    assert any(isinstance(e, BestEpoch) and e.epoch == best.epoch for e in again.events)  # the panels mark it again
    data = datasets.load("digits")
    images, labels = data.validation_images(np.arange(data.validation_size))
    assert again.model.evaluate(images, labels, verbose=0)[0] == pytest.approx(
        run.model.evaluate(images, labels, verbose=0)[0], rel=1e-5)


def test_an_old_lab_file_without_early_stopping_still_loads(tmp_path):
    lab = ConvLab(dataset="digits", architecture=tiny())
    lab.train(epochs=1, batch_size=64, seed=0, wait=True)
    path = lab.save(tmp_path / "old.convlab")
    document = json.loads((path / "lab.json").read_text())
    document["settings"].pop("early_stopping")
    for entry in document["runs"]:
        entry["settings"].pop("early_stopping")
        entry["config"].pop("early_stopping")
    (path / "lab.json").write_text(json.dumps(document))
    loaded = ConvLab.load(path)
    assert loaded.settings.early_stopping is None and loaded.runs[0].record.best is None
    # A config is kept as it is: a damaged early_stopping there is never read as settings, and the diff copes.
    document["runs"] *= 2
    document["runs"][1] = json.loads(json.dumps(document["runs"][0]))
    document["runs"][1]["config"]["early_stopping"] = {"monitor": 3, "min_delta": "<b>x</b>"}
    (path / "lab.json").write_text(json.dumps(document))
    assert ConvLab.load(path).runs[1].changes == ["early stopping off→on"]


def test_the_exported_script_stops_early_too(stopped, tmp_path):
    text = stopped.to_script(str(tmp_path / "train.py"))
    assert ("EARLY_STOPPING = [keras.callbacks.EarlyStopping(monitor='val_loss', patience=3, min_delta=0.0, "
            "restore_best_weights=True)]") in text
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run([sys.executable, "train.py", "--epochs", "60", "--batch-size", "20", "--output", "m.keras"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    epochs = {int(n) for n in re.findall(r"^Epoch (\d+)/60", done.stdout + done.stderr, re.M)}
    assert epochs and max(epochs) < 60  # Keras' own callback ended it


def test_a_run_without_early_stopping_exports_none(subset):
    run = Trainer(tiny(), subset).start(epochs=1, batch_size=20, seed=0)
    assert run.wait(timeout=120)
    assert "EARLY_STOPPING = []" in run.to_script() and "keras.callbacks.EarlyStopping" not in run.to_script()
    assert "after 1 of 1 epochs" in run.message and "best was" not in run.message


# -- the panels ------------------------------------------------------------------------------------


def test_the_best_epoch_is_marked_on_the_loss_and_accuracy_panels_apart_from_the_overfitting_mark():
    history = RunHistory()
    history.apply(RunStarted({}, "CPU", 1, 20, 20, 3, 10, 100))
    for epoch, (val_loss, val_accuracy) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.8, 0.65)]):
        history.apply(EpochEnd(epoch, 1.0 - 0.2 * epoch, 0.5, val_loss, val_accuracy, 0.01, 1.0))
    loss, accuracy = LossPanel(), AccuracyPanel()
    loss.update(history.snapshot())
    assert len(loss.best_mark.x) == 0  # no early stopping, no mark
    history.apply(BestEpoch(1, 0.6, True))
    for panel, value in ((loss, 0.6), (accuracy, 0.7)):
        panel.update(history.snapshot())
        assert list(panel.best_mark.x) == [2.0] and list(panel.best_mark.y) == pytest.approx([value])
        assert panel.best_mark in panel.figure.marks
    assert loss.best_mark.marker != loss.turn_point.marker and loss.best_mark.colors != loss.turn_point.colors
