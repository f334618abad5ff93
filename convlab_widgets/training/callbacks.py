"""The Keras callback that runs on the training thread and feeds a Run.

Keras calls it between batches, which is the only place where training can
be paused, stopped, or have its learning rate changed, and where the model's
variables can be read consistently (filter snapshots, predictions).  It
publishes events and never touches a widget.
"""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np

from .events import BatchEnd, EpochEnd, FilterSnapshot, PredictionSnapshot
from .trainer import _outputs_probabilities

BATCH_EVENT_INTERVAL_S = 0.1  # at most 10 batch events per second
PREDICTION_LIMIT = 2000  # validation images predicted after each epoch, at most...
PREDICTION_BYTES = 64 << 20  # ...and at most this many bytes of their pixels, kept for the run (flowers: ~150)
PREDICTION_BATCH = 512


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

    The images are read (decoded, for image folders) once per run.  The
    forward pass is traced once without autograph, as Keras' own predict
    step is: eager calls cost tens of ms per epoch on the digits, and
    ``predict_on_batch`` would repeat the batch on every replica of a
    mirrored strategy.
    """

    def __init__(self, model, data):
        import tensorflow as tf

        indices = prediction_sample(data.validation_size, data.input_shape)
        images, labels = data.validation_images(indices)
        self.images = tf.constant(images)
        self.indices, self.labels = _read_only(indices), _read_only(labels)
        self.logits = not _outputs_probabilities(model)
        self.forward = tf.function(lambda x: model(x, training=False), autograph=False,
                                   input_signature=[tf.TensorSpec((None, *images.shape[1:]), tf.float32)])

    def __call__(self, epoch):
        outputs = np.concatenate([
            np.asarray(self.forward(self.images[start:start + PREDICTION_BATCH]), dtype=np.float32)
            for start in range(0, len(self.indices), PREDICTION_BATCH)
        ])
        if self.logits:
            outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            outputs /= outputs.sum(axis=1, keepdims=True)
        predicted = outputs.argmax(axis=1)
        confidence = outputs[np.arange(len(predicted)), predicted]
        return PredictionSnapshot(epoch, self.indices, self.labels, predicted.astype(np.int32),
                                  confidence.astype(np.float32))


class _DeliberateRetracing(logging.Filter):
    """TensorFlow warns once one Python function has been traced five times,
    advising to define it outside a loop; the predictor is traced once per new
    model on purpose, and the warning would only alarm a learner in the notebook."""

    def filter(self, record):
        return not (ValidationPredictor.__name__ in record.getMessage() and "retracing" in record.getMessage())


logging.getLogger("tensorflow").addFilter(_DeliberateRetracing())


def _read_only(array):
    array.flags.writeable = False
    return array


class RunCallback(keras.callbacks.Callback):
    def __init__(self, run, stepper, steps_per_epoch, global_batch_size, filter_every=None):
        super().__init__()
        self.run = run
        self.stepper = stepper
        self.steps_per_epoch = steps_per_epoch
        self.global_batch_size = global_batch_size
        self.filter_every = filter_every
        self.scale = 1.0  # set_learning_rate rescales the schedule from then on
        self.lr = None
        self.conv = None
        self.diverged = False
        self.epoch = 0
        self.predictor = None

    # Learning rate ---------------------------------------------------------

    def _set_lr(self, value):
        self.model.optimizer.learning_rate = value
        self.lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _apply_pending_lr(self):
        lr = self.run._take_pending_lr()
        if lr is not None:
            scheduled = self.stepper.lr(self.epoch)
            self.scale = lr / scheduled if scheduled > 0 else 1.0
            self._set_lr(lr)
            self.run._note(f"learning rate set to {self.lr:.3g}")

    # Between batches -------------------------------------------------------

    def _checkpoint(self, evaluating=False):
        """Pause here if asked (the time spent paused is not training time),
        then honour stop and learning-rate changes."""
        self.paused_s += self.run._pause_point()
        if self.run.stop_requested:
            if evaluating:
                self.model.stop_evaluating = True
            self.model.stop_training = True
        else:
            self._apply_pending_lr()

    def _snapshot(self, epoch, batch):
        if self.conv is not None:
            kernel = np.array(keras.ops.convert_to_numpy(self.conv.kernel), dtype=np.float32, copy=True)
            self.run._record_filters(FilterSnapshot(epoch, batch, self.conv.name, kernel))

    def _predict(self, epoch):
        data = self.run.data
        if not data.validation_size:
            return
        if self.predictor is None:
            self.predictor = ValidationPredictor(self.model, data)
        self.run._record_predictions(self.predictor(epoch))

    # Keras hooks -----------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.run._running()
        self.conv = first_conv2d(self.model)
        self._snapshot(0, 0)
        self.paused_s = 0.0
        self.last_published = -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._set_lr(self.stepper.lr(epoch) * self.scale)
        self._apply_pending_lr()
        self.epoch_start = self.last_time = time.perf_counter()
        self.paused_s = 0.0
        self.last_step = -1
        self.paused_since_publish = 0.0

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = float(logs.get("loss", math.nan))
        accuracy = logs.get("accuracy")
        self.run._record_batch(self.epoch, batch, loss, accuracy, self.lr)
        if not math.isfinite(loss):
            self.diverged = True
            self.model.stop_training = True
            self.run._diverge(self.epoch, batch, loss, self.lr)
            return
        now = time.perf_counter()
        last = batch == self.steps_per_epoch - 1
        if last or now - self.last_published >= BATCH_EVENT_INTERVAL_S:
            elapsed = now - self.last_time - (self.paused_s - self.paused_since_publish)
            rate = (batch - self.last_step) * self.global_batch_size / elapsed if elapsed > 0 else 0.0
            self.run._publish(BatchEnd(self.epoch, batch, self.steps_per_epoch, loss,
                                       None if accuracy is None else float(accuracy), self.lr, rate))
            self.last_published = self.last_time = now
            self.last_step = batch
            self.paused_since_publish = self.paused_s
        if self.filter_every and (batch + 1) % self.filter_every == 0 and not last:
            self._snapshot(self.epoch, batch + 1)
        self._checkpoint()

    def on_test_batch_end(self, batch, logs=None):
        self._checkpoint(evaluating=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged or self.run.stop_requested:
            return  # a partial epoch's averages would mislead
        logs = logs or {}
        val_loss = logs.get("val_loss")
        if val_loss is not None and not math.isfinite(val_loss):
            self.diverged = True
            self.model.stop_training = True
            self.run._diverge(epoch, self.steps_per_epoch, val_loss, self.lr, validation=True)
            return
        duration = time.perf_counter() - self.epoch_start - self.paused_s
        self.run._record_epoch(EpochEnd(
            epoch, float(logs["loss"]), _maybe_float(logs.get("accuracy")), _maybe_float(val_loss),
            _maybe_float(logs.get("val_accuracy")), self.lr, duration,
        ))
        self._snapshot(epoch, self.steps_per_epoch)
        self._predict(epoch)
        self.stepper.observe(epoch, logs)


def _maybe_float(value):
    return None if value is None else float(value)
