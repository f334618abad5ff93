"""Autosave: a lab written to one folder after every epoch, so that a dead kernel loses no run.

``ConvLab(autosave="lesson.convlab")`` keeps the folder a saved lab (the layout of
:mod:`convlab_widgets.persistence`, read back by ``ConvLab.load``) all along: after every epoch of
a run, when a run ends, and when the lab's runs change.  A run still training is written as
``"interrupted"`` with a checkpoint (its model's variables and its optimizer's state, as arrays
beside its snapshots), because that is what it is if the file is ever read: the kernel died before
the next write.  ``lab.resume(run)`` continues it from there.

Why it costs training little: at an epoch's end the training thread only copies the variables (on
the device) and the run's record, about 3 ms for a classroom model; one writer thread of the lab, at
a lower priority, does the rest (JSON, and the arrays uncompressed: no Keras saving, which would
cost ten times as much at every epoch), and later requests replace a pending one, so a slow disk
delays the files, never training.  A run that has ended gets its ``.keras`` model once.  The
writer touches no widget.

Why a kill at any moment leaves a whole lab: every file a write makes gets a new name, and
``lab.json`` (the only file that names the others) is replaced by renaming a complete temporary
file over it, which is atomic; files no longer named are removed after that.  So the folder always
holds a ``lab.json`` whose files are complete, the previous one until the rename and the new one
after it.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .persistence import LAB_FILE, lab_text, run_entry
from .training.status import INTERRUPTED

log = logging.getLogger(__name__)

RUNS = "runs"
_TEMPORARY = ".lab.json.writing"
_all = weakref.WeakSet()


@dataclass(frozen=True)
class _Checkpoint:
    """A run still training, as of its latest epoch: its lab.json entry, its arrays and its model's state."""

    run: object
    entry: dict
    arrays: dict
    state: list


class Autosave:
    """Keeps the folder ``path`` a saved lab of the latest state of a lab's runs.

    Main thread: :meth:`capture` (the lab's architecture, dataset, settings and runs, written at
    once).  Training thread: :meth:`epoch_ended` and :meth:`run_ended` (a ``Trainer``'s
    ``checkpoint``).  :meth:`flush` waits until everything asked has been written; ``error`` is the
    latest failure (a full disk, an unmounted Drive), which never stops training: the next write tries
    again.  A ``path`` that exists must be a saved lab or an empty folder (``FileExistsError``).
    """

    def __init__(self, path: str | os.PathLike):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"autosave must be a folder's path such as 'lesson.convlab', got {type(path).__name__}")
        self.path = Path(path).expanduser()
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"autosave={str(path)!r}: that is a file, not a lab's folder; choose another name, "
                                  "such as 'lesson.convlab'")
        # A folder with nothing but what a first write killed half-way leaves is an autosave's still.
        if self.path.is_dir() and not self.holds_lab and any(p.name not in (RUNS, _TEMPORARY)
                                                             for p in self.path.iterdir()):
            raise FileExistsError(f"autosave={str(path)!r}: that folder holds other files and no saved lab, so it is "
                                  "left alone; choose another name, such as 'lesson.convlab'")
        self.error: str | None = None
        self.writes = 0  # lab.json written so far
        self._lab = None  # (architecture as a dict, dataset, settings)
        self._runs: list = []
        self._live: dict = {}  # id(run) -> its _Checkpoint, for the runs still training
        self._done: dict = {}  # id(run) -> (entry, name of its arrays file) of a run that has ended
        self._models: dict = {}  # id(run) -> the name of its .keras file, written once it has ended
        self._names = (f"{os.getpid()}-{time.time_ns():x}-{i}" for i in itertools.count())
        self._cond = threading.Condition()
        self._asked = self._written = 0
        self._thread = None
        _all.add(self)

    @property
    def holds_lab(self) -> bool:
        return (self.path / LAB_FILE).is_file()

    # Asking (main and training threads) ------------------------------------------------------------

    def capture(self, architecture, dataset: str, settings, runs, range_test=None) -> None:
        """What the lab is now (main thread): written at once, and by every later write.
        ``range_test``: the learning-rate range test that ended last, if any."""
        lab = dict(architecture=architecture.to_dict(), dataset=dataset, settings=settings, range_test=range_test)
        with self._cond:
            self._lab, self._runs = lab, [run for run in runs if run.settings is not None]
        self._ask()

    def epoch_ended(self, run, model) -> None:
        """Training thread, between two epochs, the model's variables current: checkpoint ``run``."""
        from .training.models import frozen_state

        entry, arrays = run_entry(run, 0, False)
        epochs, planned = len(entry["history"]["epoch"]), run.config["epochs"]
        entry.update(status=INTERRUPTED, ended_at=time.time(),
                     message=f"interrupted after epoch {epochs} of {planned}: its kernel stopped while it trained. "
                             "Resume (lab.resume(run)) continues it from there.")
        checkpoint = _Checkpoint(run, entry, arrays, frozen_state(model))
        with self._cond:
            self._live[id(run)] = checkpoint
        self._ask()

    def run_ended(self, run) -> None:
        """Training thread, once ``run`` has ended: written as it ended, with its final model."""
        with self._cond:
            self._live.pop(id(run), None)
            self._cond.notify_all()
        self._ask()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every write asked so far is done, a run that has just ended written as it ended
        (its training thread tells :meth:`run_ended` a moment after ``run.done``); True if it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        left = lambda: None if deadline is None else max(0.0, deadline - time.monotonic())  # noqa: E731
        with self._cond:
            if not self._cond.wait_for(lambda: not any(c.run.done for c in self._live.values()), left()):
                return False
            asked = self._asked
            return self._cond.wait_for(lambda: self._written >= asked, left())

    def _ask(self) -> None:
        with self._cond:
            self._asked += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="convlab-autosave", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    # Writing (the writer thread) ---------------------------------------------------------------------

    def _work(self) -> None:
        _yield_to_training()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._asked > self._written)
                asked = self._asked
                lab, runs, live = self._lab, list(self._runs), dict(self._live)
            try:
                if lab is not None:
                    self._write(lab, runs, live)
                    self.error = None
            except Exception as error:  # a failed write loses nothing: the previous lab.json stays whole
                log.warning("autosave to %s failed", self.path, exc_info=True)
                self.error = f"{type(error).__name__}: {error}"
            with self._cond:
                self._written = asked
                self._cond.notify_all()

    def _write(self, lab, runs, live) -> None:
        folder = self.path / RUNS
        folder.mkdir(parents=True, exist_ok=True)
        saved = [run for run in runs if id(run) in live or run.done]
        with_model = [run for run in saved if id(run) in live or run.model is not None]
        latest = with_model[-1] if with_model else None
        entries, named = [], {LAB_FILE}
        for index, run in enumerate(saved):
            entry = self._entry(run, index, live.get(id(run)))
            entry["model"] = self._model(run) if run is latest and id(run) not in live else None
            entries.append(entry)
            named.update(name for name in (entry["arrays"], entry["model"]) if name)
        text = lab_text(entries=entries, **lab)
        temporary = self.path / _TEMPORARY
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path / LAB_FILE)
        self.writes += 1
        for file in folder.iterdir():
            if f"{RUNS}/{file.name}" not in named:
                file.unlink(missing_ok=True)
        kept = {id(run) for run in saved}
        self._done = {key: value for key, value in self._done.items() if key in kept}
        self._models = {key: value for key, value in self._models.items() if key in kept}

    def _entry(self, run, index, checkpoint):
        """The run's entry, its arrays written (once for a run that has ended, at every epoch for a live one)."""
        if checkpoint is not None:
            import keras

            state = {f"state_{i}": keras.ops.convert_to_numpy(value) for i, value in enumerate(checkpoint.state)}
            entry, arrays = {**checkpoint.entry, "checkpoint": list(state)}, {**checkpoint.arrays, **state}
        elif id(run) in self._done:
            entry, arrays_name = self._done[id(run)]
            return {**entry, "name": getattr(run, "name", entry["name"]), "arrays": arrays_name}  # renamed, maybe
        else:
            entry, arrays = run_entry(run, index, False)
        entry["name"] = getattr(run, "name", None) or f"run {index + 1}"  # a lab names its runs; a Trainer does not
        entry["arrays"] = name = f"{RUNS}/{next(self._names)}.npz"
        with open(self.path / name, "xb") as file:  # a live run's, written at every epoch, is not compressed
            (np.savez if checkpoint is not None else np.savez_compressed)(file, **arrays)
        if checkpoint is None:
            self._done[id(run)] = (entry, name)
        return entry

    def _model(self, run):
        """The name of the .keras file of a run that has ended, its model saved once."""
        if id(run) not in self._models:
            name = f"{RUNS}/{next(self._names)}.keras"
            run.model.save(str(self.path / name))
            self._models[id(run)] = name
        return self._models[id(run)]


def _yield_to_training():
    """Lower this thread's priority (Linux schedules threads one by one): on a machine of two cores, such
    as Colab's, the writer then takes the time training leaves, not training's."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the writer runs at the same priority
        pass


@atexit.register
def _flush_at_exit():
    """A kernel shut down on purpose writes what its runs did last (a killed one keeps the latest epoch).
    Registered after the trainer's own exit handler, so called before it: the runs are stopped here first."""
    from .training.trainer import _stop_runs_at_exit

    _stop_runs_at_exit()
    for autosave in list(_all):
        autosave.flush(5.0)
