"""A training run: its state machine, controls and everything it recorded.

The run is shared between two threads.  The main thread (notebook, dashboard)
calls the controls and reads the records; the training thread, through the
callback, blocks on pause and appends records.  Every shared field is guarded
by one condition variable, and readers get copies, so a reader never sees a
half-written epoch.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from .events import EventLog, RunEnded, StatusChanged

TERMINAL = ("completed", "stopped", "diverged", "failed")
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "duration")
BATCH_KEYS = ("epoch", "step", "loss", "accuracy", "lr")


@dataclass(frozen=True)
class RunError:
    message: str
    traceback: str
    exception: BaseException

    def __str__(self):
        return self.message


class Run:
    """Returned by ``Trainer.start()`` while training goes on in the background."""

    def __init__(self, config, architecture, data, strategy_info, schedule):
        self.config = config
        self.architecture = architecture
        self.data = data
        self.strategy = strategy_info
        self.schedule = schedule
        self.events = EventLog()
        self.model = None  # the trained keras.Model, once the run has ended
        self.error = None
        self.message = ""
        self.started_at = time.time()
        self.ended_at = None
        self._cond = threading.Condition()
        self._status = "starting"
        self._stop = False
        self._pause = False
        self._pending_lr = None
        self._epochs = {key: [] for key in EPOCH_KEYS}
        self._batches = {key: [] for key in BATCH_KEYS}
        self._filters = []
        self._predictions = []
        self._done = threading.Event()

    # Reading ---------------------------------------------------------------

    @property
    def status(self):
        return self._status

    @property
    def done(self):
        return self._done.is_set()

    @property
    def history(self):
        """Per completed epoch: lists under ``EPOCH_KEYS`` (like Keras' History)."""
        with self._cond:
            return {key: list(values) for key, values in self._epochs.items()}

    @property
    def batch_history(self):
        """Every training batch (not just the throttled events): ``BATCH_KEYS``;
        ``loss``/``accuracy`` are running averages over the epoch, as Keras reports them."""
        with self._cond:
            return {key: list(values) for key, values in self._batches.items()}

    @property
    def filters(self):
        """Every :class:`FilterSnapshot` taken, oldest first."""
        with self._cond:
            return list(self._filters)

    @property
    def predictions(self):
        """Every :class:`PredictionSnapshot`, one per epoch with validation, oldest first."""
        with self._cond:
            return list(self._predictions)

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

    @property
    def stop_requested(self):
        return self._stop

    def __repr__(self):
        epochs = len(self._epochs["epoch"])
        return f"<Run {self._status}: {epochs}/{self.config['epochs']} epochs, {self.strategy.description}>"

    # Controls (main thread) ------------------------------------------------

    def stop(self):
        """Stop after the current batch (training or validation)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self):
        """Pause after the current batch; ``status`` says "paused" once it has."""
        with self._cond:
            if self._status not in TERMINAL:
                self._pause = True

    def resume(self):
        with self._cond:
            self._pause = False
            self._cond.notify_all()

    def set_learning_rate(self, lr):
        """Use ``lr`` from the next batch on (after ``resume()`` if paused).

        A schedule keeps its shape, rescaled to continue from ``lr``.
        """
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"the learning rate must be a positive number, got {lr!r}")
        if self.done:
            raise RuntimeError(f"this run has ended ({self._status}); start a new one with the new learning rate")
        with self._cond:
            self._pending_lr = float(lr)

    def wait(self, timeout=None, on_event=None):
        """Block until the run ends or ``timeout`` seconds pass; True if it ended.

        With ``on_event``, every event is passed to ``on_event(event)`` as it
        arrives, on the calling (main) thread, through the default cursor of
        ``run.events`` (the one ``run.events.drain()`` uses).  Interrupting the
        wait (Ctrl-C, the notebook's stop button) stops the run.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if on_event is None:
                    return self._done.wait(remaining)
                self.events._default.wait(0.25 if remaining is None else min(remaining, 0.25))
                for event in self.events.drain():
                    on_event(event)
                if self.done and not self.events._default.pending:
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

    def _publish(self, event):
        self.events.publish(event)

    def _set_status(self, status, message=""):
        with self._cond:
            self._status = status
        self._publish(StatusChanged(status, message))

    def _running(self):
        self._set_status("running")

    def _note(self, message):
        self._publish(StatusChanged(self._status, message))

    def _pause_point(self):
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

    def _record_batch(self, epoch, step, loss, accuracy, lr):
        with self._cond:
            for key, value in zip(BATCH_KEYS, (epoch, step, loss, accuracy, lr)):
                self._batches[key].append(value)

    def _record_epoch(self, event):
        with self._cond:
            for key in EPOCH_KEYS:
                self._epochs[key].append(getattr(event, key))
        self._publish(event)

    def _record_filters(self, snapshot):
        with self._cond:
            self._filters.append(snapshot)
        self._publish(snapshot)

    def _record_predictions(self, snapshot):
        with self._cond:
            self._predictions.append(snapshot)
        self._publish(snapshot)

    def _diverge(self, epoch, batch, value, lr, validation=False):
        where = "validation loss" if validation else "loss"
        self.message = (
            f"The {where} became {value} at epoch {epoch + 1}, batch {batch + 1}, with learning rate {lr:.3g}: "
            f"training diverged. Try a lower learning rate, e.g. {lr / 10:.3g}."
        )

    def _finish(self, status, message="", error=None):
        with self._cond:
            self._status = status
            self.message = message or self.message
            self.error = error
            self.ended_at = time.time()
            self._pause = False
        epochs = len(self._epochs["epoch"])
        self._publish(RunEnded(status, self.message, epochs, self.ended_at - self.started_at))
        self._done.set()
