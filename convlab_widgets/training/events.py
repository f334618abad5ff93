"""Events a training run publishes, and the buffer that carries them across threads.

The worker thread that runs ``model.fit`` must never touch a widget (ipywidgets
are not thread-safe, and comm messages sent from a background thread can
interleave with the kernel's own).  So the worker only appends plain
dataclasses to an :class:`EventLog`; consumers read them on the main thread.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RunStarted:
    config: dict
    strategy: str
    replicas: int
    global_batch_size: int
    per_replica_batch_size: int
    steps_per_epoch: int
    epochs: int
    param_count: int
    note: str = ""  # StrategyInfo.notes: a fallback or a backend the learner may not expect
    time: float = field(default_factory=time.time)
    kind: str = field(default="run_started", init=False)


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    step: int
    steps_per_epoch: int
    loss: float
    accuracy: float | None
    lr: float
    samples_per_sec: float
    time: float = field(default_factory=time.time)
    kind: str = field(default="batch", init=False)


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    loss: float
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    duration: float
    time: float = field(default_factory=time.time)
    kind: str = field(default="epoch", init=False)


@dataclass(frozen=True, eq=False)
class FilterSnapshot:
    """A copy of the first Conv2D kernel, shape (kh, kw, in_channels, filters).

    ``epoch == 0 and batch == 0`` is the random initialisation; otherwise
    ``batch`` counts the batches completed in ``epoch``.
    """

    epoch: int
    batch: int
    layer: str
    kernel: np.ndarray
    time: float = field(default_factory=time.time)
    kind: str = field(default="filters", init=False)


@dataclass(frozen=True, eq=False)
class PredictionSnapshot:
    """What the model predicted for validation images after an epoch.

    ``indices`` point into the validation split, so a consumer can show the
    images (``DataBundle.validation_images``); ``labels`` are their true
    classes, ``predicted`` the model's, and ``confidence`` the probability
    of the predicted class, even when the model outputs logits.  The sample
    is the same at every epoch (all validation images up to a bound), so
    snapshots compare; its arrays are shared between snapshots, hence
    read-only.
    """

    epoch: int
    indices: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    time: float = field(default_factory=time.time)
    kind: str = field(default="predictions", init=False)

    @property
    def correct(self):
        return self.predicted == self.labels

    @property
    def accuracy(self):
        return float(self.correct.mean()) if len(self.labels) else math.nan

    def confusion(self, num_classes):
        """Counts ``[true class, predicted class]``: the diagonal is right."""
        cells = self.labels.astype(np.int64) * num_classes + self.predicted
        return np.bincount(cells, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass(frozen=True, eq=False)
class HealthSnapshot:
    """How each layer with weights fares, measured on a fixed probe batch (``health.HealthProbe``).

    ``layers``: the layers' names, input side first; each array holds one value per layer:
    ``weight_count`` (its trainable weights, biases included), ``gradient_norm`` (of the loss with
    respect to the layer's weights), ``weight_norm``, ``update_ratio`` (how far the weights moved
    since the previous snapshot, relative to their norm; NaN at the first), ``activation_mean`` and
    ``activation_std`` (of the layer's output), ``dead_share`` (the share of its relu units silent on
    every probe image; NaN for layers without relu).  ``epoch``/``batch`` as in :class:`FilterSnapshot`.
    """

    epoch: int
    batch: int
    layers: tuple
    weight_count: np.ndarray
    gradient_norm: np.ndarray
    weight_norm: np.ndarray
    update_ratio: np.ndarray
    activation_mean: np.ndarray
    activation_std: np.ndarray
    dead_share: np.ndarray
    time: float = field(default_factory=time.time)
    kind: str = field(default="health", init=False)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))  # a saved lab gives a list

    @property
    def gradient_rms(self) -> np.ndarray:
        """Each layer's gradient norm per square root of its weights: the typical gradient of one
        weight, which compares layers of different sizes (a 13,000-weight layer has a larger norm)."""
        return self.gradient_norm / np.sqrt(np.maximum(self.weight_count, 1))


@dataclass(frozen=True)
class BestEpoch:
    """A run with early stopping has a new best epoch (Keras' count, from 0) and ``value`` of
    the monitored metric: the loss and accuracy panels mark it; ``kept`` says its weights will
    be the run's at the end (``restore_best``)."""

    epoch: int
    value: float
    kept: bool
    time: float = field(default_factory=time.time)
    kind: str = field(default="best", init=False)


@dataclass(frozen=True)
class StatusChanged:
    """Pause and resume are not instantaneous (they take effect between
    batches), so the dashboard learns the actual state from this event."""

    status: str
    message: str = ""
    time: float = field(default_factory=time.time)
    kind: str = field(default="status", init=False)


@dataclass(frozen=True)
class RunEnded:
    status: str
    message: str
    epochs_completed: int
    duration: float
    time: float = field(default_factory=time.time)
    kind: str = field(default="ended", init=False)


class EventLog:
    """Append-only, thread-safe event log with independent read cursors.

    Every event is kept for the life of the run, so a consumer that attaches
    late (or a second dashboard) still sees everything from the start.
    ``drain()`` without arguments reads through the log's default cursor,
    the one a single dashboard uses; ``subscribe()`` gives another consumer
    its own cursor at no cost to the first.
    """

    def __init__(self):
        self._events = []
        self._cond = threading.Condition()
        self._default = Subscription(self)
        self._listeners = []

    def publish(self, event):
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def add_listener(self, callback):
        """Call ``callback(event)`` on the publishing (worker) thread.

        Only for waking a main-thread consumer, e.g. with
        ``loop.call_soon_threadsafe``: the callback must not touch widgets
        and must return quickly, since training waits for it.
        """
        with self._cond:
            self._listeners.append(callback)

    def remove_listener(self, callback):
        with self._cond:
            self._listeners.remove(callback)

    def drain(self):
        """Events published since the previous ``drain()``, oldest first."""
        return self._default.drain()

    def subscribe(self):
        """A new independent cursor, positioned before the first event."""
        return Subscription(self)

    def wait(self, after, timeout=None):
        """Block until there are more than ``after`` events or ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._events) > after, timeout)

    def since(self, index):
        with self._cond:
            return self._events[index:]

    def __len__(self):
        with self._cond:
            return len(self._events)

    def __iter__(self):
        return iter(self.since(0))


class Subscription:
    """One consumer's position in an :class:`EventLog`."""

    def __init__(self, log):
        self._log = log
        self._position = 0
        self._lock = threading.Lock()

    def drain(self):
        with self._lock:
            events = self._log.since(self._position)
            self._position += len(events)
            return events

    def wait(self, timeout=None):
        """Block until an event this cursor has not read yet exists."""
        return self._log.wait(self._position, timeout)

    @property
    def pending(self):
        return len(self._log) - self._position
