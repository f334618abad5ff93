"""The lab run's Keras callback: the adapter plus pause, stop, learning-rate edits and predictions.

It runs on the training thread, publishes events and never touches a widget.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from .adapter import KerasAdapter, outputs_probabilities
from .early_stopping import Stopper
from .events import PredictionSnapshot
from .gradients import deliberately_traced
from .health import HealthProbe

PREDICTION_LIMIT = 2000  # validation images predicted after each epoch, at most...
PREDICTION_BYTES = 64 << 20  # ...and at most this many bytes of their pixels, kept for the run (flowers: ~150)
PREDICTION_BATCH = 512


def prediction_sample(size, input_shape):
    """Indices of the validation images predicted after each epoch: all of
    them within the bounds, else a fixed random sample, the same at every
    epoch so that snapshots compare."""
    limit = max(1, min(PREDICTION_LIMIT, PREDICTION_BYTES // (4 * math.prod(input_shape))))
    if size <= limit:
        return np.arange(size, dtype=np.int32)
    return np.sort(np.random.default_rng(0).choice(size, limit, replace=False)).astype(np.int32)


class ValidationPredictor:
    """Predicts the validation sample between epochs, on the training thread.

    The images are read (decoded, for image folders) once per run and the
    forward pass is compiled once per model (see :func:`forward_pass`).
    """

    def __init__(self, model, data, replicas=1):
        indices = prediction_sample(data.validation_size, data.input_shape)
        images, labels = data.validation_images(indices)
        self.indices, self.labels = _read_only(indices), _read_only(labels)
        self.logits = not outputs_probabilities(model)
        self.forward = forward_pass(model, images, replicas)

    def __call__(self, epoch):
        outputs = self.forward()
        if self.logits:
            outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            outputs /= outputs.sum(axis=1, keepdims=True)
        predicted = outputs.argmax(axis=1)
        confidence = outputs[np.arange(len(predicted)), predicted]
        return PredictionSnapshot(epoch, self.indices, self.labels, predicted.astype(np.int32),
                                  confidence.astype(np.float32))


def forward_pass(model, images, replicas=1):
    """A function computing ``model(images)`` (float32 numpy), compiled once, in batches of PREDICTION_BATCH.

    TensorFlow: the call traced once without autograph, as Keras' own predict
    step is (``predict_on_batch`` would repeat the batch on every replica of a
    mirrored strategy).  JAX and PyTorch: Keras' compiled ``predict_on_batch``,
    each batch padded to a multiple of the devices it is split across.
    """
    chunks = range(0, len(images), PREDICTION_BATCH)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        constant = tf.constant(images)
        traced = tf.function(lambda x: model(x, training=False), autograph=False,
                             input_signature=[tf.TensorSpec((None, *images.shape[1:]), tf.float32)])
        return lambda: np.concatenate([np.asarray(traced(constant[start:start + PREDICTION_BATCH]), np.float32)
                                       for start in chunks])

    def predict():
        outputs = []
        for start in chunks:
            batch = images[start:start + PREDICTION_BATCH]
            short = -len(batch) % replicas
            padded = np.concatenate([batch, np.repeat(batch[-1:], short, axis=0)]) if short else batch
            outputs.append(np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(padded)),
                                      np.float32)[:len(batch)])
        return np.concatenate(outputs)

    return predict


deliberately_traced(forward_pass.__name__)


def _read_only(array):
    array.flags.writeable = False
    return array


class StopRun(Exception):
    """Raised between two batches once Stop was asked: it leaves ``fit`` at once, so a stopped
    run spends nothing on the rest (no validation pass, no epoch record, no predictions)."""


class RunCallback(KerasAdapter):
    """The lab's run: its schedule sets each epoch's learning rate, it pauses, stops and
    takes new learning rates between batches, predicts the validation images after
    each epoch, measures the layers' health (at the start, after each epoch and every
    ``health_every`` batches: ``health.HealthProbe``), and stops early when its settings ask
    (``early_stopping``: an ``EarlyStopping`` or None), keeping the best epoch's weights for
    :meth:`keep_best`.  ``checkpoint(run, model)``: called after each epoch's record, the variables
    current (autosave).  A resumed run starts at ``start_epoch`` (:meth:`continue_after`)."""

    def __init__(self, run, stepper, steps_per_epoch, global_batch_size, filter_every=None, train_size=None,
                 early_stopping=None, health_every=None, checkpoint=None):
        super().__init__(run, global_batch_size=global_batch_size, steps_per_epoch=steps_per_epoch,
                         filter_every=filter_every, train_size=train_size)
        self.stepper = stepper
        self.scale = 1.0  # set_learning_rate rescales the schedule from then on
        self.predictor = None
        self.stopper = None if early_stopping is None else Stopper(early_stopping)
        self.best_weights = None  # numpy copies of the best epoch's weights, with restore_best
        self.health_every = health_every
        self.health = None  # the HealthProbe, built at the run's start
        self.batches_done = 0  # in this epoch
        self.checkpoint = checkpoint
        self.start_epoch = 0

    def continue_after(self, history) -> None:
        """Go on after the epochs of ``history`` (a resumed run's, already in its record): the schedule
        and early stopping take them in as they did live, and the learning rate keeps the scale a
        learner gave it (the last epoch's rate over what the schedule had planned)."""
        self.start_epoch = epochs = len(history["epoch"])
        for i in range(epochs):
            logs = {key: values[i] for key, values in history.items() if values[i] is not None}
            self.stepper.observe(i, logs)
            if self.stopper is not None:
                self.stopper.observe(i, logs, self.run.history if self.stopper.spec.monitor == "overfitting" else None)
        if epochs:
            scheduled = self.stepper.lr(epochs - 1)
            self.scale = history["lr"][-1] / scheduled if scheduled > 0 else 1.0

    def keep_best(self) -> bool:
        """Give the model the best epoch's weights, where the settings ask; True if it has them.
        Called once ``fit`` has returned (or was stopped), on the training thread, as Keras'
        ``restore_best_weights`` does at the end of training."""
        if self.best_weights is None:
            return False
        self._sync_variables()
        self.model.set_weights(self.best_weights)
        return True

    def _watch_for_stop(self, epoch, logs):
        stopper = self.stopper
        if stopper.observe(epoch, logs, self.run.history if stopper.spec.monitor == "overfitting" else None):
            if stopper.spec.restore_best:
                self._sync_variables()
                self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            self.run._publish(stopper.best)
        if stopper.reason is not None:
            self.model.stop_training = True

    def _apply_pending_lr(self):
        lr = self.run._take_pending_lr()
        if lr is not None:
            scheduled = self.stepper.lr(self.epoch)
            self.scale = lr / scheduled if scheduled > 0 else 1.0
            self._set_lr(lr)
            self.run._note(f"learning rate set to {self.lr:.3g}")

    def _measure_health(self, epoch, batch):
        if self.health is None:
            self.health = HealthProbe.for_run(self.model, *self.run.data.samples)
        self._sync_variables()
        self.run._publish(self.health(epoch, batch))

    def _predict(self, epoch):
        data = self.run.data
        if not data.validation_size or self.run.stop_requested:  # stopped while the epoch ended
            return
        if self.predictor is None:
            self.predictor = ValidationPredictor(self.model, data, self.run.strategy.replicas)
        self.run._publish(self.predictor(epoch))

    # What differs from the plain adapter -----------------------------------------

    def on_train_begin(self, logs=None):
        self.run._running()
        super().on_train_begin(logs)
        if not self.start_epoch:  # a resumed run's record has its start already
            self._measure_health(0, 0)

    def _snapshot(self, epoch, batch):
        if epoch or batch or not self.start_epoch:  # a resumed run's first filters are not its initialisation
            super()._snapshot(epoch, batch)

    def _epoch_began(self, epoch):
        self._set_lr(self.stepper.lr(epoch) * self.scale)
        self._apply_pending_lr()
        self.batches_done = 0

    def _between_batches(self, evaluating=False):
        """Pause here if asked (the time spent paused is not training time),
        then honour stop and learning-rate changes."""
        self.paused_s += self.run._pause_point()
        if self.run.stop_requested:
            raise StopRun
        self._apply_pending_lr()
        if not evaluating:  # a host call may run several steps: measure once it has passed a multiple of N
            before, self.batches_done = self.batches_done, self.last_batch + 1
            every = self.health_every
            if every and self.batches_done // every > before // every and self.batches_done < self._steps():
                self._measure_health(self.epoch, self.batches_done)  # the epoch's end measures its last

    def _epoch_recorded(self, epoch, logs):
        self._measure_health(epoch, self._steps())
        self._predict(epoch)
        self.stepper.observe(epoch, logs)
        if self.stopper is not None:
            self._watch_for_stop(epoch, logs)
        if self.checkpoint is not None:
            self._sync_variables()
            self.checkpoint(self.run, self.model)
