"""The one Keras adapter: from Keras' hooks to a run's records and events.

Keras calls it between batches, on whatever thread runs ``fit``: the lab's
training thread, or the notebook's main thread for a user's own
``model.fit(callbacks=[lab.callback()])``.  Between batches is the only place
where training can be paused, stopped, or have its learning rate changed, and
where the model's variables can be read consistently (filter snapshots).  The
adapter records every batch, publishes throttled events, notices a loss that
diverged, and never touches a widget.  A lab run (``callbacks.RunCallback``)
and a user's fit (``dashboard.callback.FitStream``) add only what differs.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from .events import BatchEnd, EpochEnd, FilterSnapshot

BATCH_EVENT_INTERVAL_S = 0.1  # at most 10 batch events per second
# A loss this many times the run's first one (and at least RUNAWAY_LOSS) has run away even if it is finite:
# SGD at a huge learning rate reaches 1e29 before it reaches inf.
RUNAWAY_FACTOR = 1000.0
RUNAWAY_LOSS = 1e4


def first_conv2d(model):
    """The Conv2D closest to the input: its kernels are the filters that look
    at pixels, the only ones a learner can read as images."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer
        if getattr(layer, "layers", None):
            inner = first_conv2d(layer)
            if inner is not None:
                return inner
    return None


def outputs_probabilities(model) -> bool:
    """Whether a model ends in a softmax (probabilities) rather than logits."""
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    return getattr(getattr(last, "activation", None), "__name__", "") == "softmax"


def _maybe_float(value):
    return None if value is None else float(value)


class KerasAdapter(keras.callbacks.Callback):
    """Feeds ``run`` (a :class:`~.run.RunRecord`) from Keras' hooks.

    ``global_batch_size``: for samples/s (None: not shown).  ``steps_per_epoch``: None to
    read Keras' own count.  ``filter_every``: also snapshot the first-layer filters every N
    batches.  Subclasses override the ``_`` hooks: ``_epoch_began``, ``_between_batches``
    (and while evaluating), ``_epoch_recorded``.

    With ``steps_per_execution`` above 1 Keras calls ``on_train_batch_end`` once per executed
    chunk of steps, with the last step's index (past the epoch's end for a short last chunk)
    and the epoch's running means: a "batch" record is then the chunk's, at its last step,
    with the chunk's own mean loss and accuracy.  The curve's resolution is the run's
    ``config["steps_per_execution"]`` steps.
    """

    def __init__(self, run, *, global_batch_size=None, steps_per_epoch=None, filter_every=None, train_size=None):
        super().__init__()
        self.train_size = train_size  # with the batch size: how many images the last, partial batch holds
        self.run = run
        self.global_batch_size = global_batch_size
        self.steps_per_epoch = steps_per_epoch
        self.filter_every = filter_every
        self.lr = None
        self.conv = None
        self.diverged = False
        self.epoch = 0
        self.paused_s = 0.0
        self._first_loss = None

    # Hooks for what differs ----------------------------------------------------

    def _epoch_began(self, epoch) -> None:
        """Set this epoch's learning rate, if the run decides it."""

    def _between_batches(self, evaluating=False) -> None:
        """Pause, stop, new learning rates: whatever may happen between two batches."""

    def _epoch_recorded(self, epoch, logs) -> None:
        """After an epoch's record (predictions, schedules that watch the loss)."""

    # Reading and setting the model (training thread) -----------------------------

    def _steps(self) -> int:
        return self.steps_per_epoch or (self.params or {}).get("steps") or 0

    def _read_lr(self) -> float:
        self.lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.run._use_learning_rate(self.lr)
        return self.lr

    def _set_lr(self, value) -> None:
        self._sync_variables()
        self.model.optimizer.learning_rate = value
        self._read_lr()

    def _sync_variables(self) -> None:
        """Make the model's variables current between two batches.  JAX trains on a copy of the
        state and writes it back at the epoch's end; after ``jax_state_sync`` the variables can be
        read, and what is assigned to them (a learning rate) is what the next step uses."""
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def _snapshot(self, epoch, batch) -> None:
        if self.conv is not None:
            self._sync_variables()
            kernel = np.array(keras.ops.convert_to_numpy(self.conv.kernel), dtype=np.float32, copy=True)
            self.run._publish(FilterSnapshot(epoch, batch, self.conv.name, kernel))

    def _diverged(self, epoch, batch, value, validation=False) -> None:
        self.diverged = True
        self.model.stop_training = True
        self.run._diverge(epoch, batch, value, self.lr, validation=validation)

    def _runaway(self, loss, steps=1) -> bool:
        """Whether ``loss`` (the mean over ``steps`` steps) diverged, against the run's first one.
        A first record of several steps already holds steps after updates, which may have run away:
        it is also compared with chance level (the cross-entropy of a uniform guess)."""
        if not math.isfinite(loss):
            return True
        if self._first_loss is None:
            self._first_loss = loss
            if steps == 1:
                return False
            classes = (getattr(self.model, "output_shape", None) or (None,))[-1]
            if isinstance(classes, int) and classes > 1:
                self._first_loss = min(loss, math.log(classes))
        return loss > RUNAWAY_LOSS and loss > RUNAWAY_FACTOR * max(self._first_loss, 1e-3)

    # Keras hooks -----------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.conv = first_conv2d(self.model)
        self._snapshot(0, 0)
        self.paused_s = 0.0
        self.last_published = -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._epoch_began(epoch)
        self._read_lr()
        self.epoch_start = self.last_time = time.perf_counter()
        self._means, self._seen = {}, 0
        self.paused_s = 0.0
        self.last_step = -1
        self.last_batch = -1  # the last step of the chunk recorded last
        self.paused_since_publish = 0.0

    def _images(self, first, last) -> int:
        """Images in steps ``first`` to ``last`` of the epoch (in units of one image, or 1 each where
        the batch size is unknown); the epoch's last batch may be partial."""
        size = self.global_batch_size or 1
        if self.train_size and self.global_batch_size and last == self._steps() - 1:
            return self.train_size - first * self.global_batch_size or size
        return (last - first + 1) * size

    def _own(self, key, mean, size):
        """This batch's own value of a metric Keras reports as its running mean over the epoch
        (weighted by batch size): plotted as is, the running mean saw-tooths at every epoch start."""
        before = self._means.get(key)
        self._means[key] = mean
        if before is None or not (math.isfinite(mean) and math.isfinite(before)):
            return mean
        return ((self._seen + size) * mean - self._seen * before) / size

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        steps = self._steps()
        batch = min(batch, steps - 1) if steps else batch  # a short last chunk ends with the epoch
        first, self.last_batch = self.last_batch + 1, batch
        size = self._images(first, batch)
        loss = self._own("loss", float(logs.get("loss", math.nan)), size)
        accuracy = logs.get("accuracy")
        accuracy = None if accuracy is None else self._own("accuracy", float(accuracy), size)
        self._seen += size
        now = time.perf_counter()
        last = batch == steps - 1
        tell = last or now - self.last_published >= BATCH_EVENT_INTERVAL_S
        rate = 0.0
        if tell:
            elapsed = now - self.last_time - (self.paused_s - self.paused_since_publish)
            rate = ((batch - self.last_step) * self.global_batch_size / elapsed
                    if self.global_batch_size and elapsed > 0 else 0.0)
        event = BatchEnd(self.epoch, batch, steps, loss, accuracy, self.lr, rate)
        self.run._record_batch(event)
        if self._runaway(loss, batch - first + 1):
            self._diverged(self.epoch, batch, loss)
            return
        if tell:
            self.run._tell(event)
            self.last_published = self.last_time = now
            self.last_step = batch
            self.paused_since_publish = self.paused_s
        if self.filter_every and (batch + 1) // self.filter_every > first // self.filter_every and not last:
            self._snapshot(self.epoch, batch + 1)
        self._between_batches()

    def on_test_batch_end(self, batch, logs=None):
        self._between_batches(evaluating=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged or self.run.stop_requested:
            return  # a partial epoch's averages would mislead
        logs = logs or {}
        val_loss = logs.get("val_loss")
        if val_loss is not None and self._runaway(float(val_loss)):
            self._diverged(epoch, self._steps(), float(val_loss), validation=True)
            return
        duration = time.perf_counter() - self.epoch_start - self.paused_s
        self.run._publish(EpochEnd(
            epoch, float(logs.get("loss", math.nan)), _maybe_float(logs.get("accuracy")), _maybe_float(val_loss),
            _maybe_float(logs.get("val_accuracy")), self.lr, duration,
        ))
        self._snapshot(epoch, self._steps())
        self._epoch_recorded(epoch, logs)
