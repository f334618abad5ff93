"""A run's full history, kept in Python, and the bounded series the panels draw.

As in livelossplot, the record of a run knows nothing about how it is drawn.
Every run keeps one (``run.record``), fed by its training thread; the panels
draw a :meth:`RunHistory.snapshot` of it, the runs table, comparisons and
persistence read it.  Nothing here imports TensorFlow or touches a
widget; events are recognised by their ``kind``.

Learners count epochs from 1, Keras from 0: an event's ``epoch`` is Keras'
index, and every x this module hands out is in "epochs completed", so the
first epoch's result is drawn at x = 1 and the initial filters at x = 0.
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

MAX_POINTS = 3000
BATCH_KEYS = ("epoch", "step", "steps", "loss", "accuracy", "lr", "loss_smooth", "accuracy_smooth")
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "duration")

# series name -> (table, column)
SERIES = {
    "batch_loss": ("batch", "loss"),
    "batch_loss_smooth": ("batch", "loss_smooth"),
    "batch_accuracy": ("batch", "accuracy"),
    "batch_accuracy_smooth": ("batch", "accuracy_smooth"),
    "batch_lr": ("batch", "lr"),
    "epoch_loss": ("epoch", "loss"),
    "epoch_accuracy": ("epoch", "accuracy"),
    "val_loss": ("epoch", "val_loss"),
    "val_accuracy": ("epoch", "val_accuracy"),
    "epoch_lr": ("epoch", "lr"),
}

_generations = itertools.count(1)


def _number(value):
    """None (no accuracy, no validation) is stored as NaN so columns stay numeric."""
    return math.nan if value is None else float(value)


class RunHistory:
    """Everything one run reported, oldest first, fed with :meth:`apply`.

    ``batch`` and ``epoch`` are dicts of plain lists (``BATCH_KEYS``,
    ``EPOCH_KEYS``) holding every point received; ``filters`` holds every
    ``FilterSnapshot``, ``predictions`` every ``PredictionSnapshot`` and ``health`` every
    ``HealthSnapshot``.
    ``generation`` changes whenever the history starts over, so a panel can
    tell "same run, more points" from "another run".

    ``smoothing`` is the time constant of the exponential smoothing of batch
    metrics, as a fraction of an epoch.  It is counted in batches rather than
    in points because the engine throttles batch events to ~10 per second:
    the curve then looks the same whether it was built from those events or,
    by :meth:`from_run`, from every batch.
    """

    def __init__(self, smoothing=0.1):
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be a fraction of an epoch >= 0, got {smoothing!r}")
        self.smoothing = float(smoothing)
        self.lock = threading.RLock()
        self.status = "idle"
        self.message = ""
        self._start_over()

    def _start_over(self):
        self.generation = next(_generations)
        self.started = None  # the RunStarted event
        self.ended = None  # the RunEnded event
        self.last_batch = None  # the latest BatchEnd, for samples/s
        self.planned_epochs = None
        self.steps_per_epoch = None
        self.batch = {key: [] for key in BATCH_KEYS}
        self.epoch = {key: [] for key in EPOCH_KEYS}
        self.filters = []
        self.predictions = []
        self.health = []
        self.best = None  # the latest BestEpoch of a run that stops early, or None
        self._smoothed = {"loss": _Smoother(), "accuracy": _Smoother()}
        self._max_step = -1

    # Feeding ----------------------------------------------------------------

    def apply(self, event):
        """Fold one event in (thread-safe: a run's training thread feeds its record so).  Kinds
        this version does not know are ignored, so a newer engine's events cannot break it."""
        with self.lock:
            self._apply(event)

    def _apply(self, event):
        kind = event.kind
        if kind == "run_started":
            if self.batch["epoch"] or self.epoch["epoch"] or self.filters:
                self._start_over()  # one history is one run: a second fit starts over
            self.started = event
            self.status = "running"
            self.planned_epochs = event.epochs or None
            self.steps_per_epoch = event.steps_per_epoch or None
        elif kind == "batch":
            self.last_batch = event
            self._add_batch(event.epoch, event.step, event.steps_per_epoch, event.loss, event.accuracy, event.lr)
        elif kind == "epoch":
            self._add_epoch(event.epoch, event.loss, event.accuracy, event.val_loss, event.val_accuracy, event.lr,
                            event.duration)
        elif kind == "filters":
            self.filters.append(event)
        elif kind == "predictions":
            self.predictions.append(event)
        elif kind == "health":
            self.health.append(event)
        elif kind == "best":
            self.best = event
        elif kind == "status":
            self.status, self.message = event.status, event.message
        elif kind == "ended":
            self.ended = event
            self.status, self.message = event.status, event.message

    @classmethod
    def from_run(cls, run):
        """The history of a run: the run's own record (every batch, not only the throttled
        events), or, while it still trains, a consistent copy of it."""
        return run.record if run.done else run.record.snapshot()

    @classmethod
    def from_columns(cls, *, planned_epochs, steps_per_epoch, epochs, batches, filters=(), predictions=(),
                     health=(), status="idle", message="", smoothing=0.1):
        """A history from the columns a saved lab keeps (``EPOCH_KEYS``; batches: epoch, step, loss,
        accuracy, lr): how a run read back from disk gets its record."""
        history = cls(smoothing)
        history.planned_epochs = planned_epochs or None
        history.steps_per_epoch = steps_per_epoch or None
        steps = history.steps_per_epoch or 0
        for epoch, step, loss, accuracy, lr in zip(*(batches[k] for k in ("epoch", "step", "loss", "accuracy", "lr"))):
            history._add_batch(epoch, step, steps, loss, accuracy, lr)
        for row in zip(*(epochs[key] for key in EPOCH_KEYS)):
            history._add_epoch(*row)
        history.filters = list(filters)
        history.predictions = list(predictions)
        history.health = list(health)
        history.status, history.message = status, message
        return history

    def snapshot(self):
        """A copy to draw from while the training thread goes on appending: same generation,
        every column as long as every other."""
        with self.lock:
            copy = object.__new__(type(self))
            copy.__dict__.update(self.__dict__)
            copy.batch = {key: list(values) for key, values in self.batch.items()}
            copy.epoch = {key: list(values) for key, values in self.epoch.items()}
            copy.filters, copy.predictions, copy.health = list(self.filters), list(self.predictions), list(self.health)
            copy.lock = threading.RLock()
            return copy

    def columns(self, table, keys, optional=()):
        """Copies of ``table``'s (``"epoch"`` or ``"batch"``) columns ``keys``, NaN in the
        ``optional`` ones (no accuracy, no validation) given back as None, as Keras' History has it."""
        with self.lock:
            source = getattr(self, table)
            return {key: [None if key in optional and value != value else value for value in source[key]]
                    for key in keys}

    def _steps(self, reported):
        """Steps per epoch, or while a dataset of unknown length runs its first
        epoch, the most steps seen so far."""
        return reported or self.steps_per_epoch or self._max_step + 1

    def _add_batch(self, epoch, step, steps, loss, accuracy, lr):
        self._max_step = max(self._max_step, step)
        steps = steps or 0
        done = epoch * self._steps(steps) + step + 1  # batches completed in the run
        tau = self.smoothing * self._steps(steps)
        loss, accuracy = _number(loss), _number(accuracy)
        row = (epoch, step, steps, loss, accuracy, float(lr),
               self._smoothed["loss"](done, loss, tau), self._smoothed["accuracy"](done, accuracy, tau))
        for key, value in zip(BATCH_KEYS, row):
            self.batch[key].append(value)

    def _add_epoch(self, epoch, loss, accuracy, val_loss, val_accuracy, lr, duration):
        row = (epoch, _number(loss), _number(accuracy), _number(val_loss), _number(val_accuracy), float(lr),
               float(duration))
        for key, value in zip(EPOCH_KEYS, row):
            self.epoch[key].append(value)

    # Reading ----------------------------------------------------------------

    @property
    def epochs_completed(self):
        return len(self.epoch["epoch"])

    def revision(self, name):
        """Changes exactly when ``series(name)`` may have: compare it with the
        one last drawn instead of comparing arrays."""
        table, _ = SERIES[name]
        return self.generation, len(getattr(self, table)["epoch"])

    def series(self, name, max_points=MAX_POINTS):
        """``(x, y)`` float arrays of a series in ``SERIES``, x in epochs.

        A batch point sits at ``epoch + (step + 1) / steps``, so the last
        batch of epoch N lands on x = N, where the epoch's own point is drawn.
        Missing and non-finite values (no validation, no accuracy, the batch
        that diverged) are left out: an infinity would flatten the whole axis.

        Longer series are thinned to at most ``max_points`` (None: keep all).
        The newest half of the budget is kept at full resolution, since that
        is what learners watch; older history keeps each bucket's minimum and
        maximum, so spikes survive.  Buckets are powers of two aligned on the
        point index, so the older part of the line does not shimmer as the
        run grows: only the last bucket changes between updates.
        """
        table, column = SERIES[name]
        if table == "batch":
            x = self._batch_x()
        else:
            x = np.asarray(self.epoch["epoch"], dtype=float) + 1
        y = np.asarray(getattr(self, table)[column], dtype=float)
        keep = np.isfinite(y)
        return downsample(x[keep], y[keep], max_points)

    def _batch_x(self):
        epoch = np.asarray(self.batch["epoch"], dtype=float)
        step = np.asarray(self.batch["step"], dtype=float)
        steps = np.asarray(self.batch["steps"], dtype=float)
        steps = np.where(steps > 0, steps, self._steps(0))
        return epoch + (step + 1) / steps

    def filter_position(self, snapshot):
        """Where a filter snapshot sits on the epoch axis: 0 for the
        initialisation, N after the Nth epoch, fractions in between."""
        return snapshot.epoch + snapshot.batch / max(self._steps(0), 1)


class _Smoother:
    """Exponential moving average of irregularly spaced points: the weight of
    the past decays with the number of batches since the previous point."""

    def __init__(self):
        self.value = None
        self.last = None

    def __call__(self, done, y, tau):
        if not math.isfinite(y):
            return math.nan
        if self.value is None:
            self.value = y
        else:
            decay = math.exp(-(done - self.last) / tau) if tau > 0 else 0.0
            self.value = decay * self.value + (1 - decay) * y
        self.last = done
        return self.value


def downsample(x, y, max_points=MAX_POINTS):
    """At most ``max_points`` of ``(x, y)``: see :meth:`RunHistory.series`."""
    n = len(x)
    if max_points is None or n <= max_points:
        return x, y
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    recent = max_points // 2
    old = n - recent
    pairs = (max_points - recent) // 2
    size = 1
    while -(-old // size) > pairs:
        size *= 2
    whole = old // size * size
    buckets = y[:whole].reshape(-1, size)
    starts = np.arange(0, whole, size)
    picks = [starts + buckets.argmin(axis=1), starts + buckets.argmax(axis=1)]
    if whole < old:
        tail = y[whole:old]
        picks.append(np.array([whole + tail.argmin(), whole + tail.argmax()]))
    index = np.concatenate([np.unique(np.concatenate(picks)), np.arange(old, n)])
    return x[index], y[index]
