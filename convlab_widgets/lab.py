"""ConvLab: the builder, the training controls and the live dashboard in one cell.

The lab owns the runs. Pressing Train (or calling ``lab.train()``) snapshots
the builder's architecture and the controls' settings into a background run;
the dashboard follows it from the main thread. Every failure a learner can
cause lands in the status line with its reason, never as a traceback.
"""

from __future__ import annotations

import logging

import ipywidgets as widgets

from .architecture import Architecture, ArchitectureError
from .builder import Builder
from .controls import Controls
from .dashboard.dashboard import Dashboard
from .training import Trainer, datasets
from .training.datasets import DatasetError

log = logging.getLogger(__name__)


class ConvLab(widgets.VBox):
    """``ConvLab(dataset="digits", architecture="conv_small")``; display it, press Train."""

    def __init__(self, dataset: str = "digits", architecture: Architecture | str | None = "conv_small",
                 strategy=None, **kwargs):
        if dataset not in datasets.names():
            raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(datasets.names())}")
        self.strategy = strategy
        self.builder = Builder(architecture, dataset=dataset)
        self.builder.use_dataset(dataset)
        self.controls = Controls(dataset=dataset)
        self.dashboard = Dashboard()
        self.runs: list = []
        self._trainers: dict = {}
        super().__init__([self.builder, self.controls, self.dashboard], **kwargs)
        self.add_class("convlab-lab")
        c = self.controls
        c.train_button.on_click(lambda _b: self._guarded(self.train))
        c.pause_button.on_click(lambda _b: self._guarded(self.pause))
        c.resume_button.on_click(lambda _b: self._guarded(self.resume))
        c.stop_button.on_click(lambda _b: self.stop())
        c.dataset.observe(self._on_dataset, names="value")
        c.observe_schedule(self._preview_schedule)
        self.dashboard.monitor.observe(self._on_monitor, names="state")
        self.builder.observe(lambda _change: self.dashboard.show_architecture(self.architecture), names="view")
        self.dashboard.show_architecture(self.architecture)
        self._preview_schedule()

    def __repr__(self) -> str:
        summary = self.architecture.summary()
        return (f"ConvLab(dataset={self.controls.dataset.value!r}, {len(self.architecture)} layers, "
                f"{summary.total_params:,} parameters, {len(self.runs)} run{'s' if len(self.runs) != 1 else ''})")

    # -- Python API -----------------------------------------------------------------------------

    @property
    def architecture(self) -> Architecture:
        return self.builder.architecture

    @property
    def run(self):
        """The latest run, or None."""
        return self.runs[-1] if self.runs else None

    def train(self, epochs: int | None = None, *, wait: bool = False, **settings):
        """Start training what the builder shows; returns the ``Run`` at once (or at the end with ``wait``).

        Keyword settings override the controls: ``batch_size``, ``optimizer``,
        ``learning_rate``, ``lr_schedule``, ``filter_every``, ``seed``.
        """
        if epochs is not None:
            self.controls.epochs.value = epochs
        if "learning_rate" in settings:
            self.controls.learning_rate.value = settings["learning_rate"]
        if "batch_size" in settings:
            self.controls.batch_size.value = settings["batch_size"]
        config = {**self.controls.settings(), **settings}
        trainer = self._trainer()
        run = trainer.start(**config)
        self.runs.append(run)
        self.controls.show(run.status)
        self.dashboard.watch(run)
        if wait:
            self.dashboard.follow(run)
        return run

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()
            self.run.resume()  # a paused run must wake up to stop

    def pause(self) -> None:
        if self.run is not None:
            self.run.pause()

    def resume(self) -> None:
        """Resume; a learning rate typed while paused takes effect now."""
        run = self.run
        if run is None:
            return
        lr = self.controls.learning_rate.value
        if lr != run.config["learning_rate"]:
            run.set_learning_rate(lr)
        run.resume()

    def callback(self, batch_size: int | None = None):
        """A Keras callback streaming your own ``model.fit`` into this lab's panels."""
        return self.dashboard.callback(batch_size=batch_size)

    # -- wiring ---------------------------------------------------------------------------------

    def _trainer(self) -> Trainer:
        """One trainer per (dataset, subset): loading data is the slow part, so it is reused."""
        name, subset = self.controls.dataset.value, self.controls.subset.value or None
        key = (name, subset)
        if key not in self._trainers:
            data = datasets.load(name, train_subset=subset)
            self._trainers[key] = Trainer(self.builder.architecture, data, strategy=self.strategy)
        return self._trainers[key]

    def _guarded(self, action) -> None:
        """Run a button's action; a learner's mistake becomes a message, not a traceback."""
        try:
            action()
        except (ArchitectureError, DatasetError, ValueError, TypeError, RuntimeError) as error:
            self.dashboard.monitor.state = {**self.dashboard.monitor.state, "status": "not started",
                                            "message": str(error)}
        except Exception as error:  # the log keeps the traceback for whoever debugs
            log.exception("lab action failed")
            self.dashboard.monitor.state = {"status": "failed", "message": f"Unexpected error: {error}"}

    def _on_dataset(self, change) -> None:
        self._guarded(lambda: self.builder.use_dataset(change["new"]))

    def _on_monitor(self, change) -> None:
        status = change["new"].get("status")
        self.controls.show(status if status in ("starting", "running", "paused") else None)

    def _preview_schedule(self) -> None:
        try:
            schedule = self.controls.schedule_value()
        except (TypeError, ValueError):
            return  # half-typed parameter: keep the last preview
        if self.run is None or self.run.done:
            self.dashboard.preview_schedule(schedule.preview(self.controls.epochs.value,
                                                             self.controls.learning_rate.value))
