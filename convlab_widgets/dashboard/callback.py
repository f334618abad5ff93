"""Stream a ``model.fit`` the user wrote into the dashboard, like livelossplot but live.

The callback publishes the same events as a convlab run. When ``fit`` runs on
the main thread (a blocking cell), the callback also redraws, throttled; when
the user runs ``fit`` in a thread of their own, it only publishes and the
front-end heartbeat draws, so no widget is ever touched off the main thread.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf

from ..threads import on_kernel_thread
from ..training.callbacks import BATCH_EVENT_INTERVAL_S, first_conv2d
from ..training.events import BatchEnd, EpochEnd, EventLog, FilterSnapshot, RunEnded, RunStarted
from ..training.strategy import describe


def _number(value):
    return None if value is None else float(value)


class FitStream(keras.callbacks.Callback):
    """Made by ``Dashboard.callback()`` on the main thread, which starts the watch."""

    def __init__(self, dashboard, batch_size: int | None = None):
        super().__init__()
        self.dashboard = dashboard
        self.batch_size = batch_size
        self.events = EventLog()
        self.config: dict = {}
        self.schedule = None
        self.done = False
        self._epochs_done = 0
        dashboard.watch(self, events=self.events)

    def stop(self) -> None:
        """Ask the user's fit to stop after the current batch (the dashboard's Stop)."""
        if self.model is not None:
            self.model.stop_training = True

    # -- Keras hooks (any thread) ---------------------------------------------------------------

    def _publish(self, event) -> None:
        self.events.publish(event)
        if on_kernel_thread():
            self.dashboard.pump()

    def on_train_begin(self, logs=None):
        epochs, steps = self.params.get("epochs") or 0, self.params.get("steps") or 0
        info = describe(tf.distribute.get_strategy())
        self.config = {"epochs": epochs, "steps_per_epoch": steps}
        self._conv = first_conv2d(self.model)
        self._began = time.time()
        self._last = -math.inf
        batch = self.batch_size or 0
        self._publish(RunStarted(self.config, info.description, info.replicas, batch, batch // max(info.replicas, 1),
                                 steps, epochs, self.model.count_params()))
        self._snapshot(0, 0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._step_time = time.perf_counter()
        self._last_step = -1

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        steps = self.params.get("steps") or 0
        if batch != steps - 1 and now - self._last < BATCH_EVENT_INTERVAL_S:
            return
        rate = None
        if self.batch_size and now > self._step_time:
            rate = (batch - self._last_step) * self.batch_size / (now - self._step_time)
        self._publish(BatchEnd(self._epoch, batch, steps, float(logs.get("loss", math.nan)),
                               _number(logs.get("accuracy")), self._lr(), rate or 0.0))
        self._last = self._step_time = now
        self._last_step = batch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._publish(EpochEnd(epoch, float(logs.get("loss", math.nan)), _number(logs.get("accuracy")),
                               _number(logs.get("val_loss")), _number(logs.get("val_accuracy")), self._lr(),
                               time.perf_counter() - self._epoch_start))
        self._epochs_done = epoch + 1
        self._snapshot(epoch, self.params.get("steps") or 0)

    def on_train_end(self, logs=None):
        stopped = bool(getattr(self.model, "stop_training", False)) and self._epochs_done < self.config["epochs"]
        status = "stopped" if stopped else "completed"
        self.done = True
        self._publish(RunEnded(status, f"model.fit {status} after {self._epochs_done} epochs",
                               self._epochs_done, time.time() - self._began))

    # -- reading the model (training thread, between batches) -----------------------------------

    def _lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _snapshot(self, epoch, batch) -> None:
        if self._conv is not None:
            kernel = np.array(keras.ops.convert_to_numpy(self._conv.kernel), dtype=np.float32, copy=True)
            self._publish(FilterSnapshot(epoch, batch, self._conv.name, kernel))
