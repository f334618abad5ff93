"""Saving a lab and loading it back: real runs on digits, real files, damaged on purpose."""

import collections
import json
import math
import os
import shutil
import threading
import time

import keras
import numpy as np
import pytest

from convlab_widgets import persistence
from convlab_widgets.architecture import Architecture, presets
from convlab_widgets.dashboard.dashboard import Dashboard
from convlab_widgets.training.history import SERIES, RunHistory
from convlab_widgets.persistence import LabFileError, LabSaveError, load_lab, save_lab
from convlab_widgets.training import Trainer, datasets, events, schedules
from convlab_widgets.training.record import SavedRun
from convlab_widgets.training.settings import Settings
from convlab_widgets.training.run import BATCH_KEYS, EPOCH_KEYS

SETTINGS = Settings.make(epochs=2, batch_size=64, optimizer="momentum", learning_rate=0.001,
                         lr_schedule=schedules.exponential(decay=0.8), seed=4)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _flaky_schedule():
    """1e-3 for every epoch, but the run's own call for epoch 2 raises: a real failure mid-run."""
    calls = collections.Counter()

    def lr(epoch):
        calls[epoch] += 1
        if epoch == 1 and calls[epoch] > 1:
            raise RuntimeError("the schedule broke")
        return 1e-3

    return schedules.custom(lr)


@pytest.fixture(scope="module")
def runs(digits):
    """A completed, a stopped, a failed and a diverged run, named as the lab names them."""
    trainer = Trainer("conv_small", digits)
    made = []
    for name, settings in [
        ("baseline", dict(epochs=2, batch_size=64, seed=0)),
        ("stopped", dict(epochs=20, batch_size=64, seed=1, filter_every=5)),
        ("failed", dict(epochs=3, batch_size=64, seed=2, lr_schedule=_flaky_schedule())),
        ("diverged", dict(epochs=2, batch_size=64, seed=3, optimizer="sgd", learning_rate=1e30)),  # NaN on every backend
    ]:
        run = trainer.start(**settings)
        if name == "stopped":
            deadline = time.monotonic() + 120
            while len(run.batch_history["step"]) < 30 and time.monotonic() < deadline:  # into epoch 2
                time.sleep(0.01)
            run.stop()
        assert run.wait(timeout=180)
        run.name = name
        made.append(run)
    assert [run.status for run in made] == ["completed", "stopped", "failed", "diverged"], [r.message for r in made]
    return made


@pytest.fixture(scope="module")
def saved(runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("labs") / "week1.convlab"
    architecture = presets.get("conv_small").update(0, filters=0)  # mid-edit: out of range, as the builder allows
    assert save_lab(path, architecture=architecture, dataset="digits", runs=runs, settings=SETTINGS,
                    models="all") == path
    return path


@pytest.fixture
def copy(saved, tmp_path):
    """A private copy of the saved lab, to damage."""
    return shutil.copytree(saved, tmp_path / "copy.convlab")


def _same(a, b):
    """Equal lists of numbers, NaN equal to NaN."""
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
                                    for x, y in zip(a, b))


# -- round trip ---------------------------------------------------------------------------------


def test_a_lab_round_trips_with_every_run(runs, saved):
    state = load_lab(saved)
    assert state.dataset == "digits" and state.settings == SETTINGS
    assert state.architecture == presets.get("conv_small").update(0, filters=0)
    assert [run.name for run in state.runs] == ["baseline", "stopped", "failed", "diverged"]
    for original, restored in zip(runs, state.runs):
        assert isinstance(restored, SavedRun) and restored.done
        assert (restored.status, restored.message) == (original.status, original.message)
        assert (restored.started_at, restored.ended_at) == (original.started_at, original.ended_at)
        assert restored.config == original.config
        assert restored.architecture.to_json() == original.architecture.to_json()
        for key in EPOCH_KEYS:
            assert _same(restored.history[key], original.history[key]), key
        for key in BATCH_KEYS:
            assert _same(restored.batch_history[key], original.batch_history[key]), key
        assert len(restored.filters) == len(original.filters)
        for a, b in zip(restored.filters, original.filters):
            assert (a.epoch, a.batch, a.layer, a.time) == (b.epoch, b.batch, b.layer, b.time)
            assert a.kernel.dtype == b.kernel.dtype and np.array_equal(a.kernel, b.kernel)
    stopped, failed, diverged = state.runs[1:]
    calls_per_epoch = -(-23 // stopped.config["steps_per_execution"])  # a batch record per host call
    assert calls_per_epoch * len(stopped.history["epoch"]) < len(stopped.batch_history["step"])  # into an epoch
    assert len(stopped.filters) > 2
    assert failed.message == "RuntimeError: the schedule broke" and len(failed.history["epoch"]) == 1
    assert not diverged.batch_history["loss"][-1] < 1e4  # it ran away (to a huge loss, or to inf or nan)


def test_loaded_models_predict_as_the_originals(runs, saved, digits):
    images = next(iter(digits.validation(8)))[0]
    state = load_lab(saved)
    for original, restored in zip(runs, state.runs):
        if original.status in ("completed", "stopped"):
            expected = original.model.predict_on_batch(images)
            np.testing.assert_allclose(restored.model.predict_on_batch(images), expected, rtol=1e-5, atol=1e-6)


def test_latest_keeps_only_the_model_of_the_latest_run_that_has_one(runs, tmp_path):
    path = save_lab(tmp_path / "lab", architecture=presets.get("conv_small"), dataset="digits", runs=runs)
    restored = load_lab(path).runs
    assert [run.model is not None for run in restored] == [False, False, False, True]
    assert sorted(p.name for p in (path / "runs").iterdir()) == ["1.npz", "2.npz", "3.npz", "4.keras", "4.npz"]


def test_a_restored_run_draws_as_the_original(runs, saved):
    for original, restored in zip(runs, load_lab(saved).runs):
        before, after = RunHistory.from_run(original), RunHistory.from_run(restored)
        for name in SERIES:
            for a, b in zip(before.series(name, max_points=None), after.series(name, max_points=None)):
                np.testing.assert_array_equal(a, b, err_msg=name)
        assert [s.kernel.shape for s in after.filters] == [s.kernel.shape for s in before.filters]
        assert (after.status, after.message) == (before.status, before.message)
        replayed = RunHistory()
        assert restored.wait(on_event=replayed.apply) is True
        for name in SERIES:  # the replayed events hold every batch, as from_run does
            for a, b in zip(replayed.series(name, max_points=None), after.series(name, max_points=None)):
                np.testing.assert_array_equal(a, b, err_msg=name)
        assert [replayed.filter_position(s) for s in replayed.filters] == [after.filter_position(s)
                                                                          for s in after.filters]
        assert (replayed.status, replayed.message) == (original.status, original.message)


def test_the_dashboard_watches_a_restored_run(saved):
    baseline = load_lab(saved).runs[0]
    dashboard = Dashboard()
    dashboard.watch(baseline)
    dashboard.pump()
    state = dashboard.monitor.state
    assert state["status"] == "completed" and state["fraction"] == 1.0 and (state["epoch"], state["epochs"]) == (2, 2)
    assert state["badge"].startswith(baseline.config["strategy"]) and not dashboard.monitor.active
    assert dashboard.history.epochs_completed == 2 and len(dashboard.history.filters) == 3


def test_a_restored_lab_saves_again_unchanged(saved, tmp_path):
    state = load_lab(saved)
    again = save_lab(tmp_path / "again", architecture=state.architecture, dataset=state.dataset, runs=state.runs,
                     settings=state.settings, models="all")
    first, second = (json.loads((p / "lab.json").read_text()) for p in (saved, again))
    assert json.dumps(first) == json.dumps(second)  # as text: NaN != NaN in the diverged run


def test_prediction_snapshots_round_trip(runs, saved):
    assert len(runs[0].predictions) == 2
    for original, restored in zip(runs, load_lab(saved).runs):
        assert len(restored.predictions) == len(original.predictions)
        for a, b in zip(restored.predictions, original.predictions):
            assert type(a) is type(b)
            for field in a.__dataclass_fields__:
                x, y = getattr(a, field), getattr(b, field)
                assert np.array_equal(x, y) and np.asarray(x).dtype == np.asarray(y).dtype, field


def test_the_lab_table_columns_are_the_runs(runs):
    assert tuple(persistence._EPOCH_COLUMNS) == EPOCH_KEYS and tuple(persistence._BATCH_COLUMNS) == BATCH_KEYS


def test_a_restored_run_has_ended():
    run = SavedRun(name="r", config={"epochs": 1, "steps_per_epoch": 1}, architecture=None,
                   history={k: [] for k in EPOCH_KEYS}, batch_history={k: [] for k in BATCH_KEYS},
                   status="stopped", message="", started_at=0.0, ended_at=1.0)
    run.stop(), run.pause(), run.resume()
    with pytest.raises(RuntimeError, match="this run has ended"):
        run.set_learning_rate(0.1)
    assert [event.kind for event in run.events] == ["ended"]


# -- saving refuses, or fails leaving nothing ----------------------------------------------------


def test_an_existing_save_is_replaced_only_when_asked(runs, saved):
    arch = presets.get("conv_small")
    with pytest.raises(FileExistsError, match="already exists: pass overwrite=True"):
        save_lab(saved, architecture=arch, dataset="digits", runs=runs[:1])
    assert len(load_lab(saved).runs) == 4


def test_overwrite_replaces_a_lab_but_never_another_folder(runs, copy, tmp_path):
    arch = presets.get("conv_small")
    save_lab(copy, architecture=arch, dataset="digits", runs=runs[:1], overwrite=True)
    assert [run.name for run in load_lab(copy).runs] == ["baseline"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not a saved lab, so it is left alone"):
        save_lab(other, architecture=arch, dataset="digits", runs=[], overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.convlab", "notes"]


class Locked(keras.layers.Layer):
    """A custom layer whose config holds what Keras cannot serialise (Keras then leaves an empty .keras file)."""

    def __init__(self, lock=None, **kwargs):
        super().__init__(**kwargs)
        self.lock = lock or threading.Lock()

    def call(self, x):
        return x

    def get_config(self):
        return {**super().get_config(), "lock": self.lock}


def test_a_failed_save_leaves_the_previous_one_intact_and_nothing_else(copy, tmp_path):
    state = load_lab(copy)
    state.runs[-1].model = keras.Sequential([keras.Input((8, 8, 1)), Locked()])
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    with pytest.raises(LabSaveError, match=r"writing runs/4\.keras failed \(TypeError: Cannot serialize .*nothing was "
                                           r"saved"):
        save_lab(copy, architecture=state.architecture, dataset="digits", runs=state.runs, overwrite=True)
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy.convlab"]  # no staging folder left behind
    with pytest.raises(LabSaveError):
        save_lab(tmp_path / "new", architecture=state.architecture, dataset="digits", runs=state.runs)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.convlab"]


class _Killed(BaseException):
    """What a SIGKILL does to a save, for the test below: nothing after it runs."""


def test_a_save_killed_between_its_two_renames_says_where_the_whole_earlier_lab_is(runs, copy, monkeypatch):
    renames = []

    def replace(source, target):
        if renames:
            raise _Killed  # the process dies after setting the earlier save aside, before moving the new one in
        renames.append(target)
        os.rename(source, target)

    monkeypatch.setattr(persistence.os, "replace", replace)
    with pytest.raises(_Killed):
        save_lab(copy, architecture=presets.get("conv_small"), dataset="digits", runs=runs, overwrite=True)
    monkeypatch.undo()
    with pytest.raises(LabFileError, match=r"a save to it was interrupted: the lab saved before is whole in "
                                           r".*\.copy\.convlab-.*\.old; rename that folder to copy\.convlab"):
        load_lab(copy)
    os.rename(renames[0], copy)
    assert len(load_lab(copy).runs) == len(runs)


def test_a_save_where_no_folder_can_be_made_fails_cleanly(runs, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LabSaveError, match=r"could not save the lab to .*notes\.txt/lab: creating a folder .* failed"):
        save_lab(tmp_path / "notes.txt" / "lab", architecture=presets.get("conv_small"), dataset="digits", runs=runs)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_run_in_progress_is_not_saved(digits, tmp_path):
    run = Trainer("conv_small", digits).start(epochs=50, batch_size=64, seed=0)
    try:
        with pytest.raises(RuntimeError, match=r"run 1 is still .*: stop it"):
            save_lab(tmp_path / "lab", architecture=presets.get("conv_small"), dataset="digits", runs=[run])
    finally:
        run.stop()
        run.wait(timeout=60)
    assert not (tmp_path / "lab").exists()


def test_bad_arguments_are_named(runs, tmp_path):
    arch = presets.get("conv_small")
    with pytest.raises(TypeError, match="settings must be the lab's Settings, got dict"):
        save_lab(tmp_path / "lab", architecture=arch, dataset="digits", runs=runs,
                 settings={"schedule": schedules.constant()})
    with pytest.raises(TypeError, match="settings must be the lab's Settings, got list"):
        save_lab(tmp_path / "lab", architecture=arch, dataset="digits", runs=runs, settings=[1])
    with pytest.raises(ValueError, match="models must be 'latest' or 'all'"):
        save_lab(tmp_path / "lab", architecture=arch, dataset="digits", runs=runs, models="best")
    with pytest.raises(ValueError, match="dataset must be one of digits"):
        save_lab(tmp_path / "lab", architecture=arch, dataset="imagenet", runs=runs)
    assert list(tmp_path.iterdir()) == []


# -- loading refuses what is not a good lab ------------------------------------------------------


def test_what_is_not_a_lab_gets_one_clear_error(tmp_path):
    with pytest.raises(LabFileError, match="there is no saved lab here"):
        load_lab(tmp_path / "missing.convlab")
    with pytest.raises(LabFileError, match="not a saved lab"):
        load_lab(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LabFileError, match="not a saved lab"):
        load_lab(tmp_path / "notes.txt")
    (tmp_path / "lab.json").write_text("{not json")
    with pytest.raises(LabFileError, match=r"lab\.json: not readable as JSON"):
        load_lab(tmp_path)


def _set(*keys, value):
    def change(document):
        *path, last = keys
        for key in path:
            document = document[key]
        document[last] = value
    return change


def _drop(*keys):
    def change(document):
        *path, last = keys
        for key in path:
            document = document[key]
        del document[last]
    return change


BROKEN = [
    (_set("format", value="convlab-architecture"), "lab.json: not a convlab lab: 'format' must be 'convlab-lab'"),
    (_set("version", value=2), "lab.json: written by a newer convlab_widgets"),
    (_set("version", value=0), "unsupported lab format version 0; expected 1"),
    (_set("version", value="1"), "lab.json: version must be a whole number, got '1'"),
    (_set("keras_version", value=3), "lab.json: keras_version must be text, got 3"),
    (_drop("runs"), "lab.json: lacks the fields: runs"),
    (_set("extra", value=1), "lab.json: has unknown fields: 'extra'"),
    (_set("dataset", value="imagenet"), "lab.json: dataset must be one of digits"),
    (_set("settings", value=[]), "lab.json: settings must be an object, got []"),
    (_set("architecture", "layers", 0, "type", value="Teleport"), "lab.json: architecture: Layer #1:"),
    (_set("runs", 0, value=[]), "lab.json: runs[0] must be an object, got []"),
    (_set("runs", 2, "history", "val_loss", 0, value="x"),
     "lab.json: runs[2].history.val_loss[0] must be a number or null, got 'x'"),
    (_set("runs", 0, "history", "loss", 1, value=None), "runs[0].history.loss[1] must be a number, got None"),
    (_set("runs", 0, "batch_history", "step", 3, value=1.5), "runs[0].batch_history.step[3] must be a whole number"),
    (_set("runs", 0, "batch_history", "step", value=[0]),
     "runs[0].batch_history columns must all have the same length, got epoch: "),
    (_drop("runs", 1, "history", "lr"), "runs[1].history lacks the fields: lr"),
    (_set("runs", 1, "name", value=3), "runs[1].name must be text, got 3"),
    (_set("runs", 1, "status", value="running"), "runs[1].status must be one of completed, stopped"),
    (_set("runs", 1, "started_at", value=None), "runs[1].started_at must be a number, got None"),
    (_set("runs", 1, "param_count", value=1.5), "runs[1].param_count must be a whole number or null, got 1.5"),
    (_drop("runs", 0, "config", "steps_per_epoch"), "runs[0].config lacks 'steps_per_epoch'"),
    (_set("runs", 0, "config", "learning_rate", value="fast"), "runs[0].config.learning_rate must be a number"),
    (_set("runs", 0, "architecture", "layers", 0, "params", "filters", value=0),
     "runs[0].architecture: Conv2D #1: filters"),
    (_set("runs", 0, "filters", 0, "values", "epoch", value="zero"),
     "runs[0].filters[0].values.epoch must be a whole number, got 'zero'"),
    (_drop("runs", 0, "filters", 0, "values", "layer"), "runs[0].filters[0] must give each field of FilterSnapshot"),
    (_set("runs", 0, "filters", 0, "arrays", "kernel", value="filters_9_kernel"),
     "runs[0].filters[0].arrays.kernel names the array 'filters_9_kernel', which the run's array file lacks"),
    (_set("runs", 0, "arrays", value="../../../etc/passwd"), "runs[0].arrays must name a file inside the lab folder"),
    (_set("runs", 0, "model", value="runs/9.keras"), "runs[0].model names 'runs/9.keras', which is missing"),
]


@pytest.mark.parametrize("change, message", BROKEN, ids=[message[:60] for _, message in BROKEN])
def test_a_damaged_lab_json_is_refused_with_the_place_named(copy, change, message):
    document = json.loads((copy / "lab.json").read_text())
    change(document)
    (copy / "lab.json").write_text(json.dumps(document))
    with pytest.raises(LabFileError) as error:
        load_lab(copy)
    assert str(error.value).startswith(str(copy)) and message in str(error.value), str(error.value)


def _rewrite_arrays(copy, **arrays):
    with np.load(copy / "runs" / "1.npz") as stored:
        kept = dict(stored)
    np.savez(copy / "runs" / "1.npz", **{**kept, **arrays})


def test_damaged_arrays_are_refused(copy):
    _rewrite_arrays(copy, filters_1_kernel=np.zeros((3, 3, 16), np.float32))
    with pytest.raises(LabFileError, match=r"runs\[0\]\.filters\[1\]\.kernel must be a 4-D float array"):
        load_lab(copy)
    _rewrite_arrays(copy, filters_1_kernel=np.zeros((5, 5, 1, 16), np.float32))
    with pytest.raises(LabFileError, match=r"filters\[1\]\.kernel has shape \(5, 5, 1, 16\), unlike"):
        load_lab(copy)
    _rewrite_arrays(copy, filters_1_kernel=np.array(["a"] * 4).reshape(1, 1, 1, 4))
    with pytest.raises(LabFileError, match=r"arrays\.kernel must be a numeric array, got dtype <U1"):
        load_lab(copy)
    _rewrite_arrays(copy, filters_1_kernel=np.array([{"code": "run me"}], dtype=object))
    with pytest.raises(LabFileError, match=r"1\.npz: not a readable array file .*allow_pickle"):
        load_lab(copy)
    (copy / "runs" / "1.npz").write_bytes(b"garbage")
    with pytest.raises(LabFileError, match=r"1\.npz: not a readable array file"):
        load_lab(copy)


def test_a_model_holding_code_is_refused_not_run(copy, tmp_path):
    ran = []
    sneaky = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: ran.append(1) or x),
                               keras.layers.Flatten(), keras.layers.Dense(10)])
    ran.clear()
    sneaky.save(copy / "runs" / "1.keras")
    with pytest.raises(LabFileError, match=r"1\.keras: member config\.json refused: the model holds Python code "
                                           r"\(such as a Lambda layer\); a lab's models never run code"):
        load_lab(copy)
    assert ran == []


def test_a_model_that_does_not_fit_the_run_is_refused(copy):
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).save(copy / "runs" / "1.keras")
    with pytest.raises(LabFileError, match=r"1\.keras: member model\.weights\.h5 holds [\d,]+ bytes, too few for the "
                                           r"[\d,]+ parameters of the run's architecture \(4 bytes each\): the model is "
                                           r"not this run's"):
        load_lab(copy)
    (copy / "runs" / "1.keras").write_bytes(b"not a zip")
    with pytest.raises(LabFileError, match=r"1\.keras: not a readable Keras model \(saved with Keras 3\."):
        load_lab(copy)


def test_an_architecture_lab_is_not_an_architecture(tmp_path):
    """The builder's architecture JSON is another kind of file: said so, not half-read."""
    (tmp_path / "lab.json").write_text(Architecture(input_shape=(8, 8, 1)).to_json())
    with pytest.raises(LabFileError, match="not a convlab lab: 'format' must be 'convlab-lab', got 'convlab-arch"):
        load_lab(tmp_path)


def test_a_lab_saved_before_settings_were_one_record_loads(copy):
    """The first format kept the controls' values ("subset": 0 for all) for the lab and each lab run,
    and nothing for a run trained outside a lab: what is missing is read from the run's config."""
    lab_json = copy / "lab.json"
    document = json.loads(lab_json.read_text())
    document["settings"] = {"dataset": "digits", "subset": 0, "epochs": 2, "batch_size": 64, "optimizer": "momentum",
                            "learning_rate": 0.001, "schedule": "exponential", "schedule_params": {"decay": 0.8}}
    for entry in document["runs"]:
        entry["settings"] = {}
    document["runs"][0]["settings"] = {**document["settings"], "subset": 300, "seed": 0}
    lab_json.write_text(json.dumps(document))
    state = load_lab(copy)
    assert state.settings == SETTINGS.replace(seed=None)
    first, stopped = state.runs[0].settings, state.runs[1].settings
    assert first.train_subset == 300 and first.optimizer == "momentum" and first.seed == 0
    assert (stopped.epochs, stopped.seed, stopped.filter_every, stopped.optimizer) == (20, 1, 5, "adam")
    assert state.runs[3].settings.optimizer == "sgd" and state.runs[3].settings.learning_rate == 1e30
