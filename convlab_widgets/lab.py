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
from .compare.diff import describe_changes
from .controls import Controls
from .dashboard.dashboard import Dashboard
from .runs_table import RunsTable
from .training import Trainer, datasets
from .training.datasets import DatasetError

log = logging.getLogger(__name__)

# One colour per run, for overlays and the table; none is the loss or accuracy panel's own colour.
RUN_COLORS = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#393b79", "#d62728",
              "#637939")
EXTRA_SETTINGS = ("seed", "filter_every")  # settings with no control: a clone keeps them for the next run


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
        self.table = RunsTable(on_select=lambda _keys: self._overlay(), on_clone=lambda run: self._guarded(
            lambda: self.clone(run), None), on_delete=lambda run: self._guarded(lambda: self.delete(run), None),
            on_rename=lambda run, name: self.rename(run, name))
        self.runs: list = []
        self._trainers: dict = {}
        self._extra: dict = {}
        self._count = 0
        super().__init__([self.builder, self.controls, self.dashboard, self.table], **kwargs)
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
        shown = {key: settings[key] for key in ("learning_rate", "batch_size") if key in settings}
        if epochs is not None:
            shown["epochs"] = epochs
        if settings.get("optimizer") in self.controls.optimizer.options:  # a name the dropdown has
            shown["optimizer"] = settings["optimizer"]
        self.controls.apply(shown)
        config = {**self.controls.settings(), **self._extra, **settings}
        trainer = self._trainer()
        run = trainer.start(**config)
        previous = self.run
        self._count += 1
        run.name = f"run {self._count}"
        run.color = RUN_COLORS[(self._count - 1) % len(RUN_COLORS)]
        run.previous, run.changes = previous, describe_changes(previous, run)
        run.settings = {**self.controls.values(), **{key: config[key] for key in EXTRA_SETTINGS if key in config}}
        self.runs.append(run)
        self.controls.show(run.status)
        self.dashboard.watch(run)
        if previous is not None:  # the run just before is what a learner compares with first
            self.table.select(self.table.selected | {id(previous)})
        self._show_runs()
        if wait:
            self.dashboard.follow(run)
        return run

    def clone(self, run) -> None:
        """Load ``run``'s architecture and settings into the builder and the controls, to tweak and train again."""
        self._refuse_while_training("clone a run")
        settings = dict(run.settings)
        self.controls.apply(settings)  # the dataset first: it sets the builder's input shape
        self.builder.architecture.restore(run.architecture.to_dict())
        self._extra = {key: settings[key] for key in EXTRA_SETTINGS if key in settings}
        self.dashboard.monitor.state = {**self.dashboard.monitor.state,
                                        "message": f"Cloned {run.name}: change something, then press Train."}

    def delete(self, run) -> None:
        """Forget a run that has ended; its table row and overlay go too."""
        if not run.done:
            raise RuntimeError(f"{run.name} is still {run.status}: stop it before deleting it")
        self.runs.remove(run)
        if self.dashboard._run is run and self.runs:
            self.dashboard.show_run(self.runs[-1])
        self._show_runs()

    def rename(self, run, name: str) -> None:
        run.name = name
        self._show_runs()

    def compare(self, *runs) -> None:
        """Overlay these runs on the loss and accuracy panels (the latest run is always shown in full)."""
        self.table.select({id(run) for run in runs})
        self._overlay()

    def save(self, path, *, models: str = "latest", overwrite: bool = False):
        """Write the builder's architecture, the controls and every run's history and filters to a folder
        (``"lesson.convlab"``), with the latest trained model as a ``.keras`` file (``models="all"``: every run's)."""
        from .persistence import save_lab

        return save_lab(path, architecture=self.architecture, dataset=self.controls.dataset.value, runs=self.runs,
                        settings=self.controls.values(), models=models, overwrite=overwrite)

    @classmethod
    def load(cls, path, strategy=None, **kwargs) -> "ConvLab":
        """A lab as :meth:`save` left it: builder, controls, runs, table and panels.

        Everything is validated first and Keras files load in safe mode, so a
        damaged or tampered file raises ``LabFileError`` naming what is wrong.
        """
        from .persistence import load_lab

        state = load_lab(path)
        lab = cls(dataset=state.dataset, architecture=state.architecture, strategy=strategy, **kwargs)
        lab.controls.apply(state.settings)
        previous = None
        for run in state.runs:
            lab._count += 1
            run.color = RUN_COLORS[(lab._count - 1) % len(RUN_COLORS)]
            run.previous, run.changes = previous, describe_changes(previous, run)
            lab.runs.append(run)
            previous = run
        if lab.runs:
            lab.dashboard.show_run(lab.run, data=lab._data_of(lab.run))
        lab._show_runs()
        return lab

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

    def _data_of(self, run):
        """The dataset a loaded run's predictions point into (its validation split does not depend on the
        training subset), or None when it cannot be had here, e.g. a download while offline."""
        name = run.config.get("data")
        try:
            data = next((trainer.data for (key, _subset), trainer in self._trainers.items() if key == name), None)
            data = data or datasets.load(name)
        except DatasetError:
            return None
        return data if data.validation_size == run.config.get("validation_size") else None

    def _guarded(self, action, failed_status: str = "not started") -> None:
        """Run a button's action; a learner's mistake becomes a message, not a traceback."""
        try:
            action()
        except (ArchitectureError, DatasetError, ValueError, TypeError, RuntimeError) as error:
            state = self.dashboard.monitor.state
            self.dashboard.monitor.state = {**state, "status": failed_status or state.get("status", "idle"),
                                            "message": str(error)}
        except Exception as error:  # the log keeps the traceback for whoever debugs
            log.exception("lab action failed")
            self.dashboard.monitor.state = {"status": "failed", "message": f"Unexpected error: {error}"}

    def _on_dataset(self, change) -> None:
        self._guarded(lambda: self.builder.use_dataset(change["new"]))

    def _on_monitor(self, change) -> None:
        status = change["new"].get("status")
        self.controls.show(status if status in ("starting", "running", "paused") else None)
        self.table.show(self.runs, live=self.run)

    def _show_runs(self) -> None:
        self.table.show(self.runs, live=self.run)
        self._overlay()

    def _overlay(self) -> None:
        self.dashboard.compare([run for run in self.runs if id(run) in self.table.selected and run is not self.run])

    def _refuse_while_training(self, what: str) -> None:
        run = self.run
        if run is not None and not run.done:
            raise RuntimeError(f"{run.name} is {run.status}: stop it before you {what}")

    def _preview_schedule(self) -> None:
        try:
            schedule = self.controls.schedule_value()
        except (TypeError, ValueError):
            return  # half-typed parameter: keep the last preview
        if self.run is None or self.run.done:
            self.dashboard.preview_schedule(schedule.preview(self.controls.epochs.value,
                                                             self.controls.learning_rate.value))
