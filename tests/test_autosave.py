"""Autosave and resume: a lab kept on disk after every epoch, a kernel killed under it, the run continued.

Real runs on digits, real files, real kernels killed with SIGKILL.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from convlab_widgets import ConvLab
from convlab_widgets.autosave import Autosave
from convlab_widgets.persistence import LAB_FILE, LabFileError, LabSaveError, load_lab
from convlab_widgets.training import schedules
from tests.test_blocking_cell import Kernel

from .runs_table_clicks import click, row_of

SETTINGS = dict(epochs=4, batch_size=64, seed=0, optimizer="adam", learning_rate=0.002,
                lr_schedule=schedules.exponential(decay=0.5))


def _train_copying(lab, folder, at_epoch):
    """Train ``lab`` with SETTINGS; once epoch ``at_epoch`` (from 1) is autosaved, copy the autosave folder
    to ``folder``: what a kernel killed then would leave behind."""
    copied = []

    def on_event(event):
        if event.kind == "epoch" and event.epoch + 1 == at_epoch:
            run.pause()  # in the next epoch's first batch: after this epoch's checkpoint
        if event.kind == "status" and event.status == "paused":
            assert lab.autosave.flush()
            shutil.copytree(lab.autosave.path, folder)
            copied.append(folder)
            run.resume()

    run = lab.train(**SETTINGS)
    run.wait(on_event=on_event)
    assert lab.autosave.flush() and copied
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A lab that autosaved a 4-epoch run, and the copy of its folder taken after epoch 2."""
    root = tmp_path_factory.mktemp("autosave")
    lab = ConvLab(autosave=root / "lesson.convlab", static_snapshot=False)
    run = _train_copying(lab, root / "killed.convlab", at_epoch=2)
    return lab, run, root


def test_the_folder_is_a_saved_lab_after_every_epoch_and_at_the_end(trained):
    lab, run, root = trained
    assert run.status == "completed" and lab.autosave.error is None
    assert lab.autosave.writes >= SETTINGS["epochs"] + 2  # the lab at once, each epoch, the end
    (saved,) = load_lab(root / "lesson.convlab").runs
    assert saved.status == "completed" and saved.history == run.history and saved.model is not None
    # The files of earlier writes are gone: one arrays file and the latest model are all a run keeps.
    assert sorted(p.suffix for p in (root / "lesson.convlab" / "runs").iterdir()) == [".keras", ".npz"]


def test_a_run_still_training_is_saved_as_interrupted_with_its_checkpoint(trained):
    lab, run, root = trained
    (saved,) = load_lab(root / "killed.convlab").runs
    assert saved.status == "interrupted"
    assert saved.message.startswith("interrupted after epoch 2 of 4")
    assert saved.history["epoch"] == [0, 1]
    assert saved.history["val_loss"] == run.history["val_loss"][:2]
    assert len(saved.predictions) == 2 and saved.model is not None
    # The checkpoint holds the optimizer's state: its step count is the two epochs' batches.
    steps = run.config["steps_per_epoch"]
    assert int(saved.model.optimizer.iterations.numpy()) == 2 * steps


def test_resume_continues_the_interrupted_run_with_its_schedule_and_history(trained, tmp_path):
    lab, run, root = trained
    folder = shutil.copytree(root / "killed.convlab", tmp_path / "lesson.convlab")
    again = ConvLab(autosave=folder, static_snapshot=False)  # the same cell, after a restart
    (interrupted,) = again.runs
    assert "run 1 was interrupted; press Resume in its row" in again.dashboard.monitor.state["message"]
    assert row_of(again, interrupted)["interruption"]  # its row shows what happened, and Resume
    resumed = again.resume(interrupted, wait=True)
    assert again.runs == [resumed] and resumed.name == "run 1" and resumed.color == interrupted.color
    assert resumed.status == "completed" and resumed.message == "completed after 4 of 4 epochs"
    history = resumed.history
    assert history["epoch"] == [0, 1, 2, 3]
    assert history["val_loss"][:2] == run.history["val_loss"][:2]  # the same two epochs, then on
    assert history["lr"] == pytest.approx(run.history["lr"])  # the schedule where it was, not restarted
    assert history["val_loss"][3] < history["val_loss"][1]  # it went on learning from the checkpoint
    steps = run.config["steps_per_epoch"]
    # Every batch entry the run would have recorded (one per host call of steps_per_execution steps).
    assert [resumed.batch_history[k] for k in ("epoch", "step")] == [run.batch_history[k] for k in ("epoch", "step")]
    assert [(f.epoch, f.batch) for f in resumed.filters] == [(0, 0)] + [(e, steps) for e in range(4)]
    assert len(resumed.predictions) == 4
    assert int(resumed.model.optimizer.iterations.numpy()) == 4 * steps  # Adam's moments went on too
    assert resumed.architecture.to_dict() == run.architecture.to_dict()
    assert [row["interruption"] for row in again.table.rows] == [""]  # the resumed run's row, without Resume
    assert again.autosave.flush()
    (saved,) = load_lab(folder).runs
    assert saved.status == "completed" and saved.history == history


def test_an_earlier_interrupted_run_resumes_as_the_current_run(trained, tmp_path):
    """Run 2 trained after the restart, then run 1 resumed: run 1 is now the run Stop acts on."""
    lab, run, root = trained
    again = ConvLab(autosave=shutil.copytree(root / "killed.convlab", tmp_path / "lesson.convlab"),
                    static_snapshot=False)
    (interrupted,) = again.runs
    second = again.train(epochs=1, batch_size=64, seed=1, wait=True)
    resumed = again.resume(interrupted)
    assert again.runs == [second, resumed] and again.run is resumed and again.dashboard.run is resumed
    again.stop()
    assert resumed.wait(timeout=60) and resumed.status == "stopped"


def test_only_an_interrupted_run_with_a_checkpoint_resumes(trained, tmp_path):
    lab, run, root = trained
    with pytest.raises(RuntimeError, match="run 1 is completed: only the paused run, or an interrupted one"):
        lab.resume(run)
    shutil.copytree(root / "killed.convlab", tmp_path / "no-model.convlab")
    document = json.loads((tmp_path / "no-model.convlab" / LAB_FILE).read_text())
    assert document["runs"][0]["model"] is None  # a live run's checkpoint is arrays, not a .keras file
    del document["runs"][0]["checkpoint"]
    (tmp_path / "no-model.convlab" / LAB_FILE).write_text(json.dumps(document))
    loaded = ConvLab.load(tmp_path / "no-model.convlab", static_snapshot=False)
    click(loaded, "resume", loaded.run)  # the Resume button: the refusal is said in the status line
    assert "has no checkpoint to continue from" in loaded.dashboard.monitor.state["message"]
    with pytest.raises(RuntimeError, match="has no checkpoint to continue from"):
        loaded._continue(loaded.run, wait=False)


@pytest.mark.parametrize("change, error", [
    (lambda run: run.update(status="completed"), "only an interrupted run without a saved model has a checkpoint"),
    (lambda run: run["checkpoint"].pop(), "holds 26 arrays, but the run's model and optimizer have 27 variables"),
    (lambda run: run["checkpoint"].reverse(), r"checkpoint\[0\] is an array of float32, shape \(10,\), but \S+/kernel "
                                              r"has shape \(3, 3, 1, 16\): the checkpoint is not this run's"),
    (lambda run: run["checkpoint"].__setitem__(0, "predictions_0_indices"), r"checkpoint\[0\] is an array of int32"),
    (lambda run: run["checkpoint"].__setitem__(0, "nowhere"), r"checkpoint\[0\] names the array 'nowhere'"),
    (lambda run: run.update(checkpoint="state_0"), "checkpoint must be a list"),
])
def test_a_tampered_checkpoint_is_refused_where_it_is_wrong(trained, tmp_path, change, error):
    lab, run, root = trained
    folder = shutil.copytree(root / "killed.convlab", tmp_path / "tampered.convlab")
    document = json.loads((folder / LAB_FILE).read_text())
    change(document["runs"][0])
    (folder / LAB_FILE).write_text(json.dumps(document))
    with pytest.raises(LabFileError, match=error):
        load_lab(folder)


def test_an_autosave_folder_is_checked_before_anything_is_written(trained, tmp_path):
    lab, run, root = trained
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="that is a file, not a lab's folder"):
        ConvLab(autosave=tmp_path / "notes.txt")
    with pytest.raises(FileExistsError, match="holds other files and no saved lab, so it is left alone"):
        ConvLab(autosave=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(TypeError, match="autosave must be a folder's path"):
        ConvLab(autosave=3)
    with pytest.raises(LabSaveError, match="the lab cannot be written there"):
        ConvLab(autosave=tmp_path / "notes.txt" / "lesson.convlab")
    with pytest.raises(FileExistsError, match="holds a lab of its own, which autosaving this one would replace"):
        ConvLab.load(root / "lesson.convlab", autosave=root / "killed.convlab")
    before = (root / "killed.convlab" / LAB_FILE).read_bytes()
    assert (root / "killed.convlab" / LAB_FILE).read_bytes() == before


# A process that autosaves a lab as fast as it can, every file written anew each time (a new Autosave
# has written none of them), printing once the first write is done.
WRITER = textwrap.dedent("""
    import sys
    from convlab_widgets.autosave import Autosave
    from convlab_widgets.persistence import load_lab
    state = load_lab(sys.argv[1])
    for i in range(100000):
        autosave = Autosave(sys.argv[2])
        autosave.capture(state.architecture, state.dataset, state.settings, state.runs)
        autosave.flush()
        if i == 0:
            print("written", flush=True)
""")


def test_a_kill_at_any_moment_of_a_write_leaves_a_whole_lab(trained, tmp_path):
    """SIGKILL a process writing its autosave over and over, at 5 moments: the folder always loads."""
    lab, run, root = trained
    target = tmp_path / "target.convlab"
    delays = [0.0, 0.021, 0.047, 0.09, 0.17]
    for delay in delays:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root / "lesson.convlab"), str(target)],
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "written"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        (saved,) = load_lab(target).runs
        assert saved.history == run.history and saved.model is not None
    Autosave(target)  # what a kill left is still a lab to autosave into


@pytest.mark.slow
def test_a_kernel_killed_mid_run_loses_no_epoch_and_the_run_resumes(tmp_path):
    """A real kernel trains with autosave and is killed with SIGKILL mid-run; a new kernel runs the same cell,
    resumes, and ends with one continuous history of the planned epochs and the same architecture."""
    path = tmp_path / "lesson.convlab"
    cell = f"from convlab_widgets import ConvLab\nlab = ConvLab(autosave={str(path)!r}, static_snapshot=False)"
    first = Kernel()
    try:
        first.run(cell)
        first.run("run = lab.train(epochs=12, batch_size=32, seed=0)")
        deadline = time.monotonic() + 240
        epochs = 0
        while epochs < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                document = json.loads((path / LAB_FILE).read_text())
            except (OSError, ValueError):
                continue  # written atomically: only missing before the first write
            epochs = len(document["runs"][0]["history"]["epoch"]) if document["runs"] else 0
        assert epochs >= 3, "the kernel did not autosave three epochs"
        os.kill(first.manager.provisioner.pid, signal.SIGKILL)
    finally:
        first.client.stop_channels()
        first.manager.cleanup_resources()
    (killed,) = load_lab(path).runs
    assert killed.status == "interrupted" and killed.model is not None
    done = len(killed.history["epoch"])
    assert 3 <= done < 12
    second = Kernel()
    try:
        second.run(cell)
        out = second.run("run = lab.resume(lab.run, wait=True)\n"
                         "print(run.status, run.history['epoch'], run.batch_history['epoch'].count(11), "
                         "run.architecture.to_dict() == lab.architecture.to_dict(), lab.autosave.flush())", timeout=300)
    finally:
        second.close()
    status, rest = out.split(" ", 1)
    assert status == "completed"
    per_epoch = killed.batch_history["epoch"].count(0)  # entries an epoch records
    assert rest.strip() == f"{list(range(12))} {per_epoch} True True"
    (saved,) = load_lab(path).runs
    assert saved.status == "completed" and saved.history["epoch"] == list(range(12))
    assert saved.history["loss"][:done] == killed.history["loss"]


def test_a_checkpoint_keeps_the_values_of_its_epoch_while_training_goes_on():
    """What the training thread hands the writer (``frozen_state``: on TensorFlow sharing the variables'
    buffers, on JAX's CPUs numpy copies) still holds the epoch's values after more steps have changed
    every variable in place."""
    import keras
    import numpy as np

    from convlab_widgets.architecture import presets
    from convlab_widgets.training.models import frozen_state

    model = presets.get("conv_small").to_keras()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images, labels = np.random.default_rng(0).random((64, 8, 8, 1), np.float32), np.arange(64) % 10
    model.fit(images, labels, epochs=1, batch_size=16, verbose=0)
    if keras.backend.backend() == "jax":
        model.jax_state_sync()
    frozen = frozen_state(model)
    at_epoch = [np.array(keras.ops.convert_to_numpy(variable.value))
                for variable in [*model.variables, *model.optimizer.variables]]
    model.fit(images, labels, epochs=1, batch_size=16, verbose=0)
    if keras.backend.backend() == "jax":
        model.jax_state_sync()
    later = [keras.ops.convert_to_numpy(variable.value) for variable in [*model.variables, *model.optimizer.variables]]
    assert sum(not np.array_equal(a, b) for a, b in zip(at_epoch, later)) >= len(model.trainable_variables)
    for index, (kept, expected) in enumerate(zip(frozen, at_epoch, strict=True)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(kept), expected, err_msg=f"variable {index}")
