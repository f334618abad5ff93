"""ConvLab: the builder, the training controls and the live dashboard in one cell.

The lab owns the runs: every run — one it trains, one read back from a saved
lab, a user's own ``model.fit`` streamed through ``lab.callback()`` — enters
``lab.runs`` through one door (:meth:`ConvLab._adopt`), which names it, gives
it its colour for good, and says what changed since the run before.  The
current run is ``lab.run``: the one the dashboard shows and the buttons act on.
The settings of the next run are the controls' :class:`Settings`; ``train(...)``
keywords are checked against them before anything changes, so a refused
setting never sticks.  Every failure a learner can cause lands in the status
line with its reason, never as a traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ipywidgets as widgets

from .architecture import Architecture, ArchitectureError
from .autosave import Autosave
from .builder import Builder
from .colors import run_color
from .compare.diff import describe_changes
from .controls import Controls
from .dashboard.dashboard import Dashboard
from .dashboard.lr_range_panel import LRRangePanel
from .runs_table import RunsTable
from .training import Trainer, datasets
from .training.datasets import DatasetError
from .training.lr_range import KEPT_ENDS, SavedRangeTest
from .training.settings import Settings, SettingsError
from .twinned import Twinned
from .training.status import ACTIVE, INTERRUPTED
from .widget_base import check_keywords

log = logging.getLogger(__name__)

#: ``ConvLab(layout=...)``: "full" stacks builder, controls and full-size panels (the page is long, the
#: charts large); "compact" puts builder and controls in a left column beside the progress, loss,
#: accuracy and filters, so that all of them fit one 1280x800 screen (a projector's) without scrolling.
LAYOUTS = ("full", "compact")
# The compact layout's two columns, one under the other where 500 px each do not fit (a side panel open).
COMPACT_COLUMNS = "repeat(auto-fit, minmax(min(500px, 100%), 1fr))"


class ConvLab(Twinned, widgets.VBox):
    """``ConvLab(dataset="digits", architecture="conv_small")``; display it, press Train.

    ``dataset``: a name from ``datasets.names()``.  ``architecture``: an ``Architecture``, a
    preset name, or None for an empty stack.  ``strategy``: None to detect (TPU → GPUs → CPU),
    or the backend's own (a ``tf.distribute`` strategy, a ``keras.distribution`` on JAX).
    ``layout``: ``"full"`` (the default: everything stacked, charts full size) or ``"compact"``
    (builder and controls in a left column, the progress, loss, accuracy and first-layer filters
    smaller in a right one: one 1280x800 screen shows them all; the other panels and the runs table
    follow below).  The name is read back as ``lab.arrangement``: ``lab.layout`` stays the box's
    ipywidgets ``Layout``, and an ipywidgets ``Layout`` (or its dict) given as ``layout`` still goes
    to the box, with the full arrangement.  An unknown name is a ``ValueError`` naming the allowed
    ones.  ``static_snapshot`` (bool, default True): display a static twin beside the live lab
    (:mod:`convlab_widgets.twin`: charts, filters, runs and architecture as HTML and PNG, refreshed
    when a run ends and when the lab is saved), which the notebook keeps for wherever it is opened
    without a kernel.  ``autosave`` (a folder's path, default None): keep the lab saved there all
    along (:mod:`convlab_widgets.autosave`: after every epoch, when a run ends, when the runs
    change), so that a dead kernel loses no run; a run it interrupted comes back as "interrupted"
    and ``lab.resume(run)`` continues it.  If the folder already holds a lab (the same cell run
    again after a restart), that lab is loaded, in place of ``dataset`` and ``architecture``, and
    the status line says so.  Other keywords are the VBox's; an unknown one is a ``TypeError``.
    """

    def __init__(self, dataset: str = "digits", architecture: Architecture | str | None = "conv_small",
                 strategy=None, layout: str | widgets.Layout | dict | None = None, static_snapshot: bool = True,
                 autosave: str | os.PathLike | None = None, **kwargs):
        check_keywords(type(self), kwargs)
        self._check_twin(static_snapshot)
        self.autosave = None
        if isinstance(layout, str):
            if layout not in LAYOUTS:
                raise ValueError(f"ConvLab(layout={layout!r}): not a lab layout; use one of "
                                 f"{', '.join(map(repr, LAYOUTS))} (or an ipywidgets Layout for the lab's box)")
            self.arrangement = layout
        else:
            self.arrangement = "full"
            if layout is not None:
                kwargs["layout"] = layout
        compact = self.arrangement == "compact"
        settings = Settings.make(dataset=dataset)
        self.strategy = strategy
        self.builder = Builder(architecture, dataset=dataset, dataset_locked=True)
        self.builder.use_dataset(dataset)
        self.controls = Controls(settings)
        self.dashboard = Dashboard(compact=compact)
        self.lr_range = LRRangePanel()
        self.table = RunsTable(on_select=lambda _keys: self._overlay(), on_clone=lambda run: self._guarded(
            lambda: self.clone(run), None), on_delete=lambda run: self._guarded(lambda: self.delete(run), None),
            on_rename=lambda run, name: self._guarded(lambda: self.rename(run, name), None),
            on_resume=lambda run: self._guarded(lambda: self.resume(run)))
        self.runs: list = []
        self._trainers: dict = {}
        self._count = 0
        self._lr_edit = None  # a learning rate typed while the run is paused, for resume()
        self._undescribed = None  # a lab.callback() run adopted before its fit began
        self._range_test = None  # the learning-rate range test in progress, until the heartbeat has drawn its end
        self._found = None  # the latest range test that ended: its curve is saved with the lab
        top = [self.builder, self.controls]
        if compact:
            self.controls.narrow()
            top = [widgets.GridBox([widgets.VBox(top, layout=widgets.Layout(min_width="0")), self.dashboard.glance],
                                   layout=widgets.Layout(grid_template_columns=COMPACT_COLUMNS, grid_gap="8px"))]
        super().__init__([*top, self.lr_range.widget, self.dashboard, self.table], **kwargs)
        self.add_class("convlab-lab")
        self._setup_twin(static_snapshot, self.dashboard.monitor)
        if compact:
            self.add_class("convlab-compact")
        c = self.controls
        c.train_button.on_click(lambda _b: self._guarded(self.train))
        c.pause_button.on_click(lambda _b: self._guarded(self.pause))
        c.resume_button.on_click(lambda _b: self._guarded(self.resume))
        c.stop_button.on_click(lambda _b: self.stop())
        c.observe_settings(self._settings_changed)
        self.builder.on_data_fix(self._data_fix)
        self.lr_range.on_find(lambda: self._guarded(lambda: self.find_learning_rate(wait=False), None))
        self.lr_range.on_use(lambda lr: self._guarded(lambda: self.use_learning_rate(lr), None))
        self.dashboard.monitor.on_beat(self._draw_range_test)
        self.dashboard.monitor.observe(self._on_monitor, names="state")
        self.builder.observe(lambda _change: self.dashboard.show_architecture(self.architecture), names="view")
        self.builder.observe(lambda _change: c.block_training(self.builder.cannot_train()), names="view")
        self.dashboard.show_architecture(self.architecture)
        c.block_training(self.builder.cannot_train())
        self._preview_schedule()
        if autosave is not None:
            self._start_autosave(autosave)

    def __repr__(self) -> str:
        summary = self.architecture.summary()
        return (f"ConvLab(dataset={self.settings.dataset!r}, {len(self.architecture)} layers, "
                f"{summary.total_params:,} parameters, {len(self.runs)} run{'s' if len(self.runs) != 1 else ''})")

    def _twin_html(self) -> str:
        from .twin import lab_html

        return lab_html(self)

    # -- Python API -----------------------------------------------------------------------------

    @property
    def architecture(self) -> Architecture:
        return self.builder.architecture

    @property
    def settings(self) -> Settings:
        """The settings the next run uses: what the controls show."""
        return self.controls.settings

    @property
    def run(self):
        """The current run: the latest one, which the dashboard shows and the buttons act on; or None."""
        return self.runs[-1] if self.runs else None

    def train(self, epochs: int | None = None, *, wait: bool = False, **settings):
        """Train what the builder shows; returns the run at once (or at its end with ``wait``).

        Keywords change the controls' settings for this run and the next ones: ``epochs``,
        ``batch_size``, ``optimizer``, ``learning_rate``, ``lr_schedule``, ``seed``,
        ``filter_every``, ``train_subset``, ``early_stopping=dict(monitor="val_loss", patience=5,
        restore_best=True)`` (the run ends once it stops improving and keeps its best epoch; see
        ``training.early_stopping``), ``health_every`` (a health snapshot for ``lab.dashboard.health``
        every that many batches as well as at each epoch's end; None, the default: at epoch ends only),
        ``steps_per_execution`` (batches per host call; None, the default: chosen per run)... (see
        ``Settings``).  They are checked first: a refused one raises ``SettingsError`` naming it, and
        nothing changes.
        """
        if epochs is not None:
            settings["epochs"] = epochs
        chosen = self.controls.settings.replace(**settings)
        if chosen.dataset is None:
            raise SettingsError("dataset", f"a lab trains on one of {', '.join(datasets.names())}; for data of your "
                                           "own, use Trainer(architecture, datasets.load(...)) or lab.callback()")
        self._check_fits(chosen)
        trainer = self._trainer(chosen)
        self._drop_unstarted()
        run = trainer.start(chosen)
        self.controls.show_settings(chosen)  # what trains is what the controls show
        self._adopt(run)
        self._autosave()
        self.dashboard.watch(run)
        if wait:
            self.dashboard.follow(run)
        return run

    def find_learning_rate(self, min_lr: float = 1e-6, max_lr: float = 1.0, steps: int = 100, *,
                           wait: bool = True):
        """A learning-rate range test (``training/lr_range.py``) for the next run: a copy of the
        model trains ``steps`` batches with the learning rate growing from ``min_lr`` to ``max_lr``.

        Blocks like ``train(wait=True)`` and returns ``{'lrs', 'losses', 'smoothed', 'suggested'}``
        (``suggested``: the rate of steepest descent of the smoothed loss, a heuristic; None when the
        loss never fell); the panel draws the curve and "Use it" takes the suggestion.  With
        ``wait=False`` (the panel's button) it returns the running ``RangeTest`` at once and the
        heartbeat draws it.  The lab's runs, their models and its settings are untouched.  A bad
        argument raises ``SettingsError`` naming it.
        """
        self._refuse_while_training("run a learning-rate range test")
        chosen = self.controls.settings
        self._check_fits(chosen)
        test = self._trainer(chosen).find_learning_rate(chosen, min_lr, max_lr, steps)
        self._range_test = test
        self.dashboard.say(f"Learning-rate range test: {test.steps} batches from {test.min_lr:.0e} to "
                           f"{test.max_lr:.0e} on a copy of the model")
        self._draw_range_test()
        if not wait:
            self.dashboard.monitor.active = True  # the heartbeat draws it (_draw_range_test)
            return test
        try:
            test.wait()
        except KeyboardInterrupt:
            self._draw_range_test()
            raise
        self._draw_range_test()
        return test.result

    def use_learning_rate(self, lr: float) -> None:
        """Take a range test's suggestion ``lr`` into the settings: the next run's learning rate,
        noted in the runs table as "from range test"."""
        self.controls.apply({"learning_rate": lr, "lr_source": "range test"})
        self.dashboard.say(f"Learning rate set to {self.settings.learning_rate:.3g}, from the range test.")

    def clone(self, run) -> None:
        """Load ``run``'s architecture and settings into the builder and the controls, to tweak and train again."""
        self._refuse_while_training("clone a run")
        if run.settings is None:
            raise RuntimeError(f"{run.name} is your own model.fit: the lab has no settings of it to load")
        if run.settings.dataset is None:
            raise RuntimeError(f"{run.name} trained on data of its own, which this lab cannot load: train it again "
                               "with a Trainer and that data")
        self.controls.show_settings(run.settings)  # the dataset first: it sets the builder's input shape
        self.builder.architecture.restore(run.architecture.to_dict())
        self.dashboard.say(f"Cloned {run.name}: change something, then press Train.")

    def delete(self, run) -> None:
        """Forget a run that has ended; its table row and overlay go too."""
        if not run.done:
            raise RuntimeError(f"{run.name} is still {run.status}: stop it before deleting it")
        self.runs.remove(run)
        if self.dashboard.run is run and self.runs:
            self.dashboard.show_run(self.run, data=self._data_of(self.run))
        self._show_runs()
        self._autosave()

    def rename(self, run, name: str) -> None:
        """Give ``run`` a name (shown in the table and the legends); 1 to ``MAX_NAME`` characters."""
        from .persistence import MAX_NAME

        name = str(name).strip()
        if not name or len(name) > MAX_NAME:
            raise ValueError(f"a run's name must be 1 to {MAX_NAME} characters, got {len(name)}")
        run.name = name
        self._show_runs()
        self._autosave()

    def compare(self, *runs) -> None:
        """Overlay these runs on the loss and accuracy panels (the latest run is always shown in full)."""
        self.table.select({id(run) for run in runs})
        self._overlay()

    def save(self, path, *, models: str = "latest", overwrite: bool = False):
        """Write the builder's architecture, the controls and every run's history and filters to a folder
        (``"lesson.convlab"``), with the latest trained model as a ``.keras`` file (``models="all"``: every run's)."""
        from .persistence import save_lab

        saved = save_lab(path, architecture=self.architecture, dataset=self.settings.dataset,
                         runs=[run for run in self.runs if run.settings is not None], settings=self.settings,
                         models=models, overwrite=overwrite, range_test=self._found)
        self.refresh_static_snapshot()
        return saved

    @classmethod
    def load(cls, path, strategy=None, **kwargs) -> "ConvLab":
        """A lab as :meth:`save` left it: builder, controls, runs, table and panels.

        Everything is validated first and Keras files load in safe mode, so a
        damaged or tampered file raises ``LabFileError`` naming what is wrong.
        """
        from .persistence import load_lab

        state = load_lab(path)
        autosave = kwargs.pop("autosave", None)
        lab = cls(dataset=state.dataset, architecture=state.architecture, strategy=strategy, **kwargs)
        lab._restore(state)
        if autosave is not None:
            lab._start_autosave(autosave, loaded=path)
        return lab

    def _start_autosave(self, path, loaded=None) -> None:
        """Autosave into ``path`` from now on; a lab already there is loaded first, unless this lab was
        ``loaded`` from another folder (that lab would be replaced: refused)."""
        from .persistence import LabSaveError, load_lab

        autosave = Autosave(path)
        if autosave.holds_lab and loaded is not None:
            if autosave.path.resolve() != Path(loaded).expanduser().resolve():
                raise FileExistsError(f"autosave={str(path)!r}: that folder holds a lab of its own, which autosaving "
                                      f"this one would replace: load it with ConvLab(autosave={str(path)!r}), or "
                                      "choose another folder")
        elif autosave.holds_lab:
            self._restore(load_lab(autosave.path))
            interrupted = [run.name for run in self.runs if run.status == INTERRUPTED]
            self.dashboard.say(f"Loaded the lab autosaved in {autosave.path}" + (
                f": {', '.join(interrupted)} was interrupted; press Resume in its row to continue it."
                if interrupted else "."))
        self.autosave = autosave
        for trainer in self._trainers.values():
            trainer.checkpoint = autosave
        self._autosave()
        if autosave.flush() and autosave.error:  # a folder that cannot be written is said now, not mid-run
            self.autosave = None
            raise LabSaveError(f"autosave={str(path)!r}: the lab cannot be written there ({autosave.error}); choose "
                               "a folder you can write to")

    def _restore(self, state) -> None:
        """Take in a saved lab's ``LabState``: its controls, architecture, runs and range test."""
        self.controls.show_settings(state.settings)
        self.builder.architecture.restore(state.architecture.to_dict())
        if state.range_test is not None:
            self._found = state.range_test
            self.lr_range.draw(state.range_test)
        for run in state.runs:
            self._adopt(run)
        if self.runs:
            self.dashboard.show_run(self.run, data=self._data_of(self.run))
        self._show_runs()

    def stop(self) -> None:
        """Stop the current run (or the learning-rate range test in progress)."""
        run = self._acted_on()
        if run is not None and not run.done:
            run.stop()
            run.resume()  # a paused run must wake up to stop

    def pause(self) -> None:
        run = self._acted_on()
        if run is not None and not run.done:
            run.pause()

    def resume(self, run=None, *, wait: bool = False):
        """Resume the paused run; a learning rate typed while paused takes effect now.

        ``lab.resume(run)`` with an interrupted run (``run.status == "interrupted"``: its kernel
        stopped while it trained, and the lab came back from its autosave) continues it from its
        last checkpoint, with the same settings, the schedule where it was and its curves going on;
        the new run, with its name and colour, becomes the current run (the last of ``lab.runs``) and
        is returned (at its end with ``wait``).
        """
        if run is not None and run.status == INTERRUPTED:
            return self._continue(run, wait)
        if run is not None and (run is not self._acted_on() or run.done):
            raise RuntimeError(f"{run.name} is {run.status}: only the paused run, or an interrupted one, can be "
                               "resumed; to train it again, clone it")
        run = self._acted_on()
        if run is None:
            return None
        lr, self._lr_edit = self._lr_edit, None
        if lr is not None:
            run.set_learning_rate(lr)
        run.resume()
        return None

    def _continue(self, interrupted, wait):
        """An interrupted run trained on from its checkpoint, as the lab's current run."""
        self._refuse_while_training(f"resume {interrupted.name}")
        if interrupted not in self.runs:
            raise RuntimeError(f"{interrupted.name} is not one of this lab's runs")
        run = self._trainer(interrupted.settings).resume(interrupted)
        for key in ("name", "color", "previous", "changes"):
            setattr(run, key, getattr(interrupted, key))
        self.runs.remove(interrupted)
        self.runs.append(run)  # the current run: the one the dashboard shows and Stop and Pause act on
        for later in self.runs:
            if getattr(later, "previous", None) is interrupted:
                later.previous = run
        self._show_runs()
        self._autosave()
        self.dashboard.watch(run)
        self.dashboard.say(f"Resuming {run.name} after epoch {len(interrupted.history['epoch'])}.")
        if wait:
            self.dashboard.follow(run)
        return run

    def callback(self, batch_size: int | None = None):
        """A Keras callback streaming your own ``model.fit`` into this lab: it becomes a run in
        ``lab.runs`` and the table, and Stop stops it (``batch_size``: to show samples/s)."""
        self._refuse_while_training("stream your own model.fit")
        self._drop_unstarted()
        stream = self.dashboard.callback(batch_size=batch_size)
        self._adopt(stream.run)
        return stream

    # -- wiring ---------------------------------------------------------------------------------

    def _adopt(self, run) -> None:
        """The one door into ``lab.runs``: a name, a colour for good, and what changed since the run before."""
        self._count += 1
        previous = self.run
        run.name = getattr(run, "name", None) or f"run {self._count}"
        run.color = run_color(self._count - 1)
        run.previous = previous
        run.changes = describe_changes(previous, run)
        self._undescribed = run if getattr(run, "unstarted", False) else None  # its model is known once fit begins
        self.runs.append(run)
        if previous is not None:
            # The run just before is what a learner compares with first, ticked for overlay beside the
            # runs ticked already; an earlier run of the new run's own colour (the colours cycle) is
            # unticked, so no two lines on a panel share a colour, and the overlays drawn stay bounded
            # (at most one per colour) however many runs a lesson keeps.
            same_color = {id(earlier) for earlier in self.runs if earlier is not run and earlier.color == run.color}
            self.table.select((self.table.selected | {id(previous)}) - same_color)
        self._show_runs()

    def _drop_unstarted(self) -> None:
        """A ``lab.callback()`` whose fit never began leaves nothing worth keeping."""
        run = self.run
        if run is not None and getattr(run, "unstarted", False):
            self.runs.remove(run)
            self._show_runs()

    def _trainer(self, settings: Settings) -> Trainer:
        """One trainer per (dataset, subset): loading data is the slow part, so it is reused."""
        key = (settings.dataset, settings.train_subset)
        if key not in self._trainers:
            data = datasets.load(settings.dataset, train_subset=settings.train_subset)
            self._trainers[key] = Trainer(self.builder.architecture, data, strategy=self.strategy)
            self._trainers[key].checkpoint = self.autosave
        return self._trainers[key]

    def _autosave(self) -> None:
        """Have the autosave folder (if any) hold the lab as it is now (written in the background)."""
        if self.autosave is not None:
            self.autosave.capture(self.architecture, self.settings.dataset, self.settings, self.runs, self._found)

    def _check_fits(self, settings: Settings) -> None:
        """The builder's input must be the data's images: said in the lab's own words, with the fix on screen."""
        mismatch = self.builder.data_mismatch(settings.dataset)
        if mismatch and settings.dataset == self.builder.dataset:
            raise ArchitectureError(f"{mismatch} Use the fix offered above the layers.")
        if mismatch:
            raise ArchitectureError(f"{mismatch} Choose {settings.dataset} in the Data control first: the input then "
                                    "follows the data (or the builder offers the fix).")

    def _data_of(self, run):
        """The dataset a loaded run's predictions point into (its validation split does not depend on the
        training subset), or None when it cannot be had here, e.g. a download while offline."""
        name = run.config.get("data")
        if name not in datasets.names():
            return None
        try:
            data = next((trainer.data for (key, _subset), trainer in self._trainers.items() if key == name), None)
            data = data or datasets.load(name)
        except DatasetError:
            return None
        return data if data.validation_size == run.config.get("validation_size") else None

    def _guarded(self, action, failed_status: str | None = "not started") -> None:
        """Run a button's action; a learner's mistake becomes a message, not a traceback.

        A refused Train says "not started" and why, on its own: nothing of the run shown
        before (its progress, its speed) stays beside it as if it belonged to the refusal."""
        try:
            action()
        except (ArchitectureError, DatasetError, SettingsError, ValueError, TypeError, RuntimeError) as error:
            if failed_status:
                self.dashboard.refuse(failed_status, str(error))
            else:
                self.dashboard.say(str(error))
        except Exception as error:  # the log keeps the traceback for whoever debugs
            log.exception("lab action failed")
            self.dashboard.refuse("failed", f"Unexpected error: {error}")

    def _settings_changed(self, before: Settings, settings: Settings) -> None:
        run = self.run
        if settings.learning_rate != before.learning_rate and run is not None and run.status == "paused":
            self._lr_edit = settings.learning_rate
        if settings.dataset != before.dataset:
            self._guarded(lambda: self.builder.use_dataset(settings.dataset), None)
        self._preview_schedule()

    def _data_fix(self, action: str) -> None:
        """The builder's one-click fix for an input that is not the lab's data."""
        if action == "adapt":
            self.builder.use_dataset(self.settings.dataset)
        else:
            self._guarded(lambda: self.controls.apply({"dataset": action}), None)

    def _on_monitor(self, change) -> None:
        status = change["new"].get("status")
        error = self.autosave is not None and self.autosave.error
        if error and status in ("running", "completed"):
            self.dashboard.say(f"Autosave to {self.autosave.path} failed ({error}); training goes on, and the next "
                               "epoch tries again.")
        run = self.run
        if run is not None and run is self._undescribed and not run.unstarted:
            run.changes, self._undescribed = describe_changes(run.previous, run), None
        self.controls.show(status if status in ACTIVE else None, can_pause=getattr(run, "can_pause", True))
        self.table.show(self.runs, live=run)

    def _acted_on(self):
        """What Stop, Pause and Resume act on: the range test while it trains, else the current run."""
        test = self._range_test
        return test if test is not None and not test.done else self.run

    def _draw_range_test(self) -> None:
        """Draw the range test (main thread); once it has ended, say what it found and let the heartbeat rest."""
        test = self._range_test
        if test is None:
            return
        self.lr_range.draw(test)
        self.controls.show(None if test.done else test.status)  # Train waits, Stop and Pause act on the test
        if test.done:
            self._range_test = None
            if test.status in KEPT_ENDS:
                self._found = SavedRangeTest.of(test)  # its numbers, not its data and strategy
                self._autosave()
            suggested = test.result["suggested"] if test.status == "completed" else None
            self.dashboard.say(f"The range test failed: {test.message}" if test.status == "failed" else
                               f"Range test done: learning rate {suggested:.2g} suggested, see its panel above."
                               if suggested is not None else test.message)
            if self.run is None or self.run.done:
                self.dashboard.monitor.active = False

    def _show_runs(self) -> None:
        self.table.show(self.runs, live=self.run)
        self._overlay()

    def _overlay(self) -> None:
        self.dashboard.compare([run for run in self.runs if id(run) in self.table.selected and run is not self.run])

    def _refuse_while_training(self, what: str) -> None:
        run = self.run
        if run is not None and not run.done and not getattr(run, "unstarted", False):
            raise RuntimeError(f"{run.name} is {run.status}: stop it before you {what}")

    def _preview_schedule(self) -> None:
        if self.run is None or self.run.done:
            self.dashboard.preview_schedule(self.settings.lr_preview())
