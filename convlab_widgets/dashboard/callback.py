"""Your own ``model.fit``, streamed into the dashboard as a run: like livelossplot, but live.

``Dashboard.callback()`` (and ``lab.callback()``, which also keeps the run in
``lab.runs``) returns a :class:`FitStream`, the Keras adapter of a
:class:`FitRun`.  The run records and publishes as a lab run does.  When ``fit``
runs on the notebook's main thread (a blocking cell), the stream also draws
between batches and lets the kernel handle clicks on Stop (see
``kernel_events``); when the user runs ``fit`` in a thread of their own, it
only publishes and the front-end heartbeat draws, so no widget is ever touched
off a kernel thread.  A fit that ends without telling Keras' callbacks (an
error in another callback, an interrupted cell) is marked failed, never left
"running".
"""

from __future__ import annotations

import threading

import keras

from ..kernel_events import BlockingCell, after_cell
from ..threads import main_thread_draws, on_kernel_thread, route_to_subshell
from ..training.adapter import KerasAdapter
from ..training.events import RunStarted
from ..training.run import RunRecord
from ..training.strategy import current_strategy


class FitRun(RunRecord):
    """A user's own ``model.fit`` as a run: it can stop (after the current batch), not pause.

    ``settings`` is None (the user's code holds them); ``config`` says what Keras reported:
    epochs, steps per epoch, batch size (when given to the callback), optimizer, learning
    rate and strategy.  ``model`` is the user's model; ``architecture`` is the model read back
    as an ``Architecture`` when it can be, else None.
    """

    cannot_look_inside = ("Predictions, the confusion matrix and activation maps come from the lab's own runs, "
                          "which hold their validation images: your own model.fit keeps its data to itself.")

    def __init__(self):
        super().__init__()
        self.model = None
        self.data = None
        self.schedule = None
        self.thread = None  # the thread that runs fit, once it has begun
        self.message = "Waiting for your model.fit to start."

    @property
    def unstarted(self) -> bool:
        """True until ``fit`` calls the callback: a lab may then forget the run."""
        return self.thread is None

    def _kind(self) -> str:
        return "your own model.fit"

    def check_alive(self) -> None:
        """A fit in a thread that has died without ending the run ends it (kernel threads only)."""
        thread = self.thread
        if thread is not None and not self.done and thread is not threading.main_thread() and not thread.is_alive():
            self._fail("its thread ended without finishing (an error there?)")

    def _fail(self, why: str) -> None:
        epochs = self.record.epochs_completed
        self._finish("failed", f"model.fit failed after {epochs} epoch{'s' if epochs != 1 else ''}: {why}")

    def __repr__(self):
        return f"<FitRun {self._status}: {self.record.epochs_completed}/{self.config.get('epochs', '?')} epochs>"


class FitStream(KerasAdapter):
    """Made by ``Dashboard.callback()`` on the main thread, which starts the watch; one fit per stream.
    ``stream.run`` is the :class:`FitRun` (``run.stop()``, or the lab's Stop, stops the fit)."""

    def __init__(self, dashboard, batch_size: int | None = None):
        super().__init__(FitRun(), global_batch_size=batch_size)
        self.dashboard = dashboard
        self.batch_size = batch_size
        self._blocking = None
        dashboard.watch(self.run)
        after_cell(self._cell_ended)

    # -- Keras hooks (any thread) ---------------------------------------------------------------

    def _publish(self, event) -> None:
        self.run._publish(event)
        self._draw()

    def _draw(self) -> None:
        """Draw now if this thread may (see ``threads.main_thread_draws``); else the heartbeat draws."""
        if threading.current_thread() is threading.main_thread():
            if main_thread_draws():
                self.dashboard.pump()
        elif on_kernel_thread():
            self.dashboard.pump()

    def on_train_begin(self, logs=None):
        run = self.run
        if run.thread is not None:
            raise RuntimeError("this callback has streamed a model.fit already: ask lab.callback() for a new one")
        run.thread = threading.current_thread()
        run.model = self.model
        epochs, steps = self.params.get("epochs") or 0, self.params.get("steps") or 0
        info = current_strategy()
        batch = self.batch_size or 0
        optimizer = self.model.optimizer
        run.config = {"epochs": epochs, "steps_per_epoch": steps, "batch_size": batch, "replicas": info.replicas,
                      "per_replica_batch_size": batch // max(info.replicas, 1), "strategy": info.description,
                      "optimizer": type(optimizer).__name__,
                      "learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        run.architecture = _architecture_of(self.model)
        run.param_count = self.model.count_params()
        run.message = ""
        run._set_status("running")
        if run.thread is threading.main_thread():
            self._blocking = BlockingCell()
            if not main_thread_draws():
                route_to_subshell()
        self._publish(RunStarted(run.config, info.description, info.replicas, batch,
                                 batch // max(info.replicas, 1), steps, epochs, run.param_count, info.notes))
        super().on_train_begin(logs)

    def _between_batches(self, evaluating=False):
        if self._blocking is not None:
            self._blocking.handle_events()  # a click on Stop, where the kernel cannot handle it meanwhile
            self._draw()
        if self.run.stop_requested:
            if evaluating:
                self.model.stop_evaluating = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self._draw()

    def on_train_end(self, logs=None):
        run = self.run
        self._stop_blocking()
        epochs, planned = len(run.history["epoch"]), run.config["epochs"]
        if self.diverged:
            status = "diverged"
        elif run.stop_requested or (getattr(self.model, "stop_training", False) and epochs < planned):
            status = "stopped"
        else:
            status = "completed"
        message = run.message if status == "diverged" else f"model.fit {status} after {epochs} of {planned} epochs"
        run._finish(status, message)
        if on_kernel_thread():
            self.dashboard.pump()

    def _stop_blocking(self) -> None:
        if self._blocking is not None:
            self._blocking, blocking = None, self._blocking
            blocking.close()

    def _cell_ended(self, error) -> bool:
        """After each cell (main thread): a fit begun on the main thread that has not ended failed
        with the cell's error. True once nothing is left to watch."""
        run = self.run
        if run.done:
            return True
        if run.thread is threading.main_thread():
            self._stop_blocking()
            run._fail(f"{type(error).__name__}: {error}" if error is not None else "the cell ended before it did")
            self.dashboard.pump()
            return True
        return False


def _architecture_of(model):
    """The user's model as an ``Architecture`` for the runs table and diffs, when it reads as one."""
    from ..architecture import Architecture

    try:
        return Architecture.from_keras(model)
    except Exception:  # a model our catalog cannot describe is still streamed
        return None
