"""Runs: what every run offers (:class:`Run`), the record they keep, and a trainer's run.

Three kinds of run meet in a lab: a run the lab's trainer trains in the
background (:class:`TrainingRun`), a user's own ``model.fit`` streamed through
``lab.callback()`` (``dashboard.callback.FitRun``), and a run read back from a
saved lab (``record.SavedRun``).  Each offers :class:`Run`, so the dashboard,
the runs table, comparisons and persistence read them alike, and the lab's
Stop, Pause and learning-rate edits go to whichever run is current.

A live run is shared between two threads.  The main thread (notebook,
dashboard) calls the controls and reads the record; the training thread,
through the Keras adapter, blocks on pause and appends to the record.  The
record (``run.record``, a ``RunHistory``: every batch, epoch and snapshot,
kept once) has its own lock and readers get copies, so a reader never sees a
half-written epoch; the control flags are guarded by one condition variable.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .events import EventLog, RunEnded, StatusChanged
from .history import RunHistory
from .status import ACTIVE, TERMINAL

EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "duration")
BATCH_KEYS = ("epoch", "step", "loss", "accuracy", "lr")


@dataclass(frozen=True)
class RunError:
    message: str
    traceback: str
    exception: BaseException

    def __str__(self):
        return self.message


@runtime_checkable
class Run(Protocol):
    """What every run offers, live or restored.

    ``settings`` (a ``Settings``, or None for a user's own fit), ``config`` (the settings
    as plain values plus what followed from them: steps per epoch, replicas, strategy…),
    ``architecture``, ``status`` (one of ``status.STATUSES``), ``message``, ``history``
    (per epoch), ``batch_history`` (per batch), ``filters``, ``predictions``, ``health``, ``events``,
    ``started_at``/``ended_at``, ``done``, ``learning_rate`` (the rate in force), ``attention(i)``
    (Grad-CAM of a finished model), and the controls: ``stop()``, ``pause()``/``resume()`` where
    ``can_pause``, ``set_learning_rate(lr)``.
    """

    settings: object
    config: dict
    architecture: object
    started_at: float
    ended_at: float | None
    message: str

    @property
    def status(self) -> str: ...
    @property
    def done(self) -> bool: ...
    @property
    def can_pause(self) -> bool: ...
    @property
    def learning_rate(self) -> float | None: ...
    @property
    def history(self) -> dict: ...
    @property
    def batch_history(self) -> dict: ...
    @property
    def filters(self) -> list: ...
    @property
    def predictions(self) -> list: ...
    @property
    def health(self) -> list: ...
    @property
    def events(self) -> EventLog: ...
    def stop(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def set_learning_rate(self, lr: float) -> None: ...


class RunRecord:
    """What every run keeps (its ``record``, ``events`` and status), and the reading side.

    ``history``: per completed epoch, lists under ``EPOCH_KEYS`` (like Keras' History);
    ``batch_history``: every training batch (not just the throttled events) under
    ``BATCH_KEYS``, ``loss``/``accuracy`` being each batch's own values (Keras reports
    running means over the epoch; the adapter takes them apart); ``filters`` and
    ``predictions`` and ``health``: every snapshot, oldest first.
    """

    can_pause = False
    #: Why the predictions, the confusion matrix and the activation maps stay empty for this kind
    #: of run ("" when they fill in as it trains).
    cannot_look_inside = ""
    model = None  # the trained keras.Model, where the run has one

    def __init__(self, *, settings=None, config=None, architecture=None, started_at=None):
        self.settings = settings
        self.config = dict(config or {})
        self.architecture = architecture
        self.message = ""
        self.error = None
        self.param_count = None  # known once the model is built
        self.started_at = time.time() if started_at is None else started_at
        self.ended_at = None
        self._cond = threading.Condition()
        self._status = "starting"
        self._stop = False
        self._lr = None if settings is None else settings.learning_rate
        self._events = EventLog()
        self.record = RunHistory()  # the one record of the run: every batch, epoch and snapshot
        self._done = threading.Event()

    # Reading ---------------------------------------------------------------

    @property
    def events(self) -> EventLog:
        return self._events

    @property
    def status(self) -> str:
        return self._status

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def learning_rate(self) -> float | None:
        """The learning rate in force now (the last one the optimizer used)."""
        return self._lr

    @property
    def history(self) -> dict:
        return self.record.columns("epoch", EPOCH_KEYS, optional=("accuracy", "val_loss", "val_accuracy"))

    @property
    def batch_history(self) -> dict:
        return self.record.columns("batch", BATCH_KEYS, optional=("accuracy",))

    @property
    def filters(self) -> list:
        """Every :class:`FilterSnapshot` taken, oldest first."""
        with self.record.lock:
            return list(self.record.filters)

    @property
    def predictions(self) -> list:
        """Every :class:`PredictionSnapshot`, one per epoch with validation, oldest first."""
        with self.record.lock:
            return list(self.record.predictions)

    @property
    def health(self) -> list:
        """Every :class:`HealthSnapshot` (per layer: gradient norm, weight norm, update/weight ratio,
        activation mean and std, dead-relu share), oldest first: at the start, after each epoch and
        every ``health_every`` batches.  ``training.health.diagnose(run.health[-1])`` reads one."""
        with self.record.lock:
            return list(self.record.health)

    def attention(self, image_index: int, layer: str | None = None, data=None) -> np.ndarray:
        """Where the finished model looked for validation image ``image_index``: a Grad-CAM heatmap
        (H×W float32 in [0, 1], the image's size) of the class it predicted, at feature layer ``layer``
        (a name the activation-maps panel lists; None: the last convolution, a Fire block's
        concatenated output).  Main thread, once the run has ended.  ``data``: the run's dataset,
        for a restored run whose dataset is not found by its name."""
        from .attention import GradCam

        if isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer)):
            raise TypeError(f"run.attention: image_index must be a whole number (a validation image), got "
                            f"{image_index!r}")
        if self.cannot_look_inside:
            raise RuntimeError(f"run.attention: {self.cannot_look_inside}")
        model = self.model
        if model is None:
            why = "is still training: wait for it (run.wait())" if not self.done else "kept no trained model"
            raise RuntimeError(f"run.attention: {self._kind()} {why}; Grad-CAM reads a finished model")
        data = data or self._validation_data()
        size = data.validation_size
        if not 0 <= image_index < size:
            raise IndexError(f"run.attention: there is no validation image {image_index}: the {size} validation "
                             f"images are numbered 0 to {size - 1}")
        key = (id(model), layer)
        if getattr(self, "_grad_cams", (None,))[0] is not model:
            self._grad_cams = (model, {})
        cams = self._grad_cams[1]
        if key not in cams:
            cams[key] = GradCam(model, layer, where="run.attention")
        images, _ = data.validation_images([int(image_index)])
        return cams[key](images)[0][0]

    def _validation_data(self):
        """The dataset the run's validation images come from: its own, or loaded again by its name."""
        from . import datasets

        data = getattr(self, "data", None)
        if data is not None:
            return data
        name = self.config.get("data")
        if name not in datasets.names():
            raise ValueError(f"run.attention: the run's dataset {name!r} is not one this version can load: pass "
                             "it, run.attention(i, data=datasets.load(...))")
        data = datasets.load(name)
        if data.validation_size != self.config.get("validation_size"):
            raise ValueError(f"run.attention: {name!r} loads with {data.validation_size} validation images, the "
                             f"run had {self.config.get('validation_size')}: pass the run's own split, "
                             "run.attention(i, data=datasets.load(name, validation_split=...))")
        return data

    @property
    def stop_requested(self) -> bool:
        return self._stop

    # Controls --------------------------------------------------------------

    def stop(self) -> None:
        """Stop after the current batch (training or validation)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        if not self.done:  # a run that has ended has nothing to pause
            raise RuntimeError(f"{self._kind()} cannot pause: stop it, or let it finish")

    def resume(self) -> None:
        """Nothing to resume on a run that cannot pause."""

    def set_learning_rate(self, lr: float) -> None:
        raise RuntimeError(f"{self._kind()} takes no new learning rate from the lab; set it in your own code")

    def _kind(self) -> str:
        return "this run"

    # Recording (training thread) ------------------------------------------

    def _publish(self, event) -> None:
        """Record ``event`` and tell the run's watchers of it."""
        self.record.apply(event)
        self._events.publish(event)

    def _tell(self, event) -> None:
        """Tell the watchers of a batch already recorded (the throttled batch events)."""
        self._events.publish(event)

    def _set_status(self, status, message="") -> None:
        with self._cond:
            self._status = status
        self._publish(StatusChanged(status, message))

    def _note(self, message) -> None:
        self._publish(StatusChanged(self._status, message))

    def _record_batch(self, event) -> None:
        """Every batch goes into the record; only some are told (``_tell``)."""
        self.record.apply(event)
        self._lr = event.lr

    def _use_learning_rate(self, lr) -> None:
        with self._cond:
            self._lr = lr

    def _diverge(self, epoch, batch, value, lr, validation=False) -> None:
        where = "validation loss" if validation else "loss"
        what = "became" if not math.isfinite(value) else "ran away to"
        self.message = (
            f"The {where} {what} {value:.3g} at epoch {epoch + 1}, batch {batch + 1}, with learning rate {lr:.3g}: "
            f"training diverged. Try a lower learning rate, e.g. {suggest_lower_rate(lr):.3g}."
        )

    def _finish(self, status, message="", error=None) -> None:
        with self._cond:
            self._status = status
            self.message = message or self.message
            self.error = error
            self.ended_at = time.time()
        self._after_finish()
        epochs = self.record.epochs_completed
        self._publish(RunEnded(status, self.message, epochs, self.ended_at - self.started_at))
        self._done.set()

    def _after_finish(self) -> None:
        """What a kind of run must undo once it has ended (a pause, say)."""


def suggest_lower_rate(lr: float) -> float:
    """A learning rate worth trying after ``lr`` diverged: ten times lower, and never above 0.1."""
    if not math.isfinite(lr) or lr <= 0:
        return 1e-3
    return min(lr / 10, 0.1)


class TrainingRun(RunRecord):
    """Returned by ``Trainer.start()`` while training goes on in the background."""

    can_pause = True

    def __init__(self, settings, config, architecture, data, strategy_info):
        super().__init__(settings=settings, config=config, architecture=architecture)
        self.data = data
        self.strategy = strategy_info
        self.schedule = settings.schedule
        self.model = None  # the trained keras.Model, once the run has ended
        self._pause = False
        self._pending_lr = None
        self.resumed = None  # a trainer.Resumption: how a resumed run starts, else None

    @property
    def model(self):
        """The trained keras.Model once the run has ended, else None.

        A Trainer trains its next run in the same Keras model when it can
        (Keras then need not trace the train step again), so a finished run
        gets its own model, built from its final weights just after it ends.
        """
        return self._model if self._make_model is None else self._make_model()

    @model.setter
    def model(self, value):
        self._model, self._make_model = value, None

    def __repr__(self):
        epochs = self.record.epochs_completed
        return f"<TrainingRun {self._status}: {epochs}/{self.config['epochs']} epochs, {self.strategy.description}>"

    # Controls (main thread) ------------------------------------------------

    def pause(self) -> None:
        """Pause after the current batch; ``status`` says "paused" once it has."""
        with self._cond:
            if self._status in ACTIVE:
                self._pause = True

    def resume(self) -> None:
        with self._cond:
            self._pause = False
            self._cond.notify_all()

    def set_learning_rate(self, lr: float) -> None:
        """Use ``lr`` from the next batch on (after ``resume()`` if paused).

        A schedule keeps its shape, rescaled to continue from ``lr``.
        """
        from .settings import SettingsError, Settings

        try:
            lr = Settings.make(learning_rate=lr).learning_rate  # the one check of a learning rate
        except SettingsError as error:
            raise ValueError(f"the learning rate must be a positive number, got {lr!r}") from error
        if self.done:
            raise RuntimeError(f"this run has ended ({self._status}); start a new one with the new learning rate")
        with self._cond:
            self._pending_lr = lr

    def wait(self, timeout=None, on_event=None) -> bool:
        """Block until the run ends or ``timeout`` seconds pass; True if it ended.

        With ``on_event``, every event is passed to ``on_event(event)`` as it
        arrives, on the calling (main) thread, through the default cursor of
        ``run.events`` (the one ``run.events.drain()`` uses).  Interrupting the
        wait (Ctrl-C, the notebook's stop button) stops the run.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        events = self._events
        try:
            while True:
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if on_event is None:
                    return self._done.wait(remaining)
                events._default.wait(0.25 if remaining is None else min(remaining, 0.25))
                for event in events.drain():
                    on_event(event)
                if self.done and not events._default.pending:
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return self.done
        except KeyboardInterrupt:
            self.stop()
            raise

    def to_script(self, path=None):
        """A standalone Python training script for this run (see ``script.py``)."""
        from .script import run_to_script

        return run_to_script(self, path)

    # Training thread -------------------------------------------------------

    def _running(self) -> None:
        self._set_status("running")

    def _pause_point(self) -> float:
        """Block while paused; returns the seconds spent paused."""
        with self._cond:
            if not self._pause or self._stop:
                return 0.0
        start = time.perf_counter()
        self._set_status("paused")
        with self._cond:
            self._cond.wait_for(lambda: not self._pause or self._stop)
        if not self._stop:
            self._set_status("running")
        return time.perf_counter() - start

    def _take_pending_lr(self):
        with self._cond:
            lr, self._pending_lr = self._pending_lr, None
            return lr

    def _after_finish(self) -> None:
        with self._cond:
            self._pause = False


__all__ = ["ACTIVE", "BATCH_KEYS", "EPOCH_KEYS", "Run", "RunError", "RunRecord", "TERMINAL", "TrainingRun",
           "suggest_lower_rate"]
