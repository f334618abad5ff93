"""The live dashboard: a run's events become panels, on the main thread only.

A background run appends to its record (``run.record``, a ``RunHistory``) and
tells its event log.  The dashboard reads the events when the front end's
heartbeat arrives (or, while a cell blocks, from that cell's own loop where no
comm subshell answers), follows the progress they report, and redraws from a
snapshot of the run's record at most ``MAX_RENDERS_PER_S`` times per second, so
the browser gets a bounded stream of widget messages however fast the model
trains.  Where a kernel thread runs an asyncio loop, each event also wakes that
loop (``kernel_events.KernelWake``), which then draws on its own thread within
milliseconds; the heartbeat stays the fallback (Colab, a blocked loop).
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import ipywidgets as widgets

from ..colors import DEFAULT_COLOR
from ..kernel_events import BlockingCell, KernelWake
from ..monitor import Monitor
from ..threads import comms_on_subshell, main_thread_draws, on_kernel_thread, route_to_subshell
from ..twinned import Twinned
from ..widget_base import check_keywords
from ..training.history import RunHistory
from ..training.status import TERMINAL
from .health_panel import HealthPanel
from .inspection import ActivationMaps, ConfusionMatrix, PredictionsGrid
from .panels import AccuracyPanel, FilterPanel, LearningRatePanel, LossPanel

MAX_RENDERS_PER_S = 5
# A samples/s is shown once measured over this many batches, or this many seconds, and never from the
# run's first batch event: that one's time includes building and compiling the model ("36 samples/s").
MIN_RATE_BATCHES = 5
MIN_RATE_S = 0.5
# Two panels side by side where 360 px each fit; one, never wider than the output, where they do not (a
# narrow window, a side panel): a fixed 360-px minimum would push the charts' right edge out of sight.
GRID_COLUMNS = "repeat(auto-fit, minmax(min(360px, 100%), 1fr))"
# The compact layout's loss and accuracy: side by side in a column beside the builder, shorter, so that
# builder, controls, charts and filters fit one 1280x800 screen; stacked where 230 px each do not fit.
GLANCE_COLUMNS = "repeat(auto-fit, minmax(min(230px, 100%), 1fr))"
GLANCE_CHART_HEIGHT = "200px"
GLANCE_MOSAIC_HEIGHT = "150px"


class Dashboard(Twinned, widgets.VBox):
    """Progress, device badge and the loss, accuracy, learning-rate, filter, confusion, predictions,
    gradient-health (``health``) and activation-map panels.

    ``compact``: the progress, loss, accuracy and filters go into ``glance``, a column for the lab to
    put beside the builder (``ConvLab(layout="compact")``); the dashboard itself keeps the others.
    Without it ``glance`` is None and the dashboard shows everything.  ``static_snapshot`` (bool,
    default True): displayed on its own, a static twin of its run goes beside it (see
    :mod:`convlab_widgets.twin`), which the saved notebook keeps.
    """

    def __init__(self, compact: bool = False, static_snapshot: bool = True, **kwargs):
        check_keywords(type(self), kwargs)
        self._check_twin(static_snapshot)
        self.monitor = Monitor()
        self.loss = LossPanel()
        self.accuracy = AccuracyPanel()
        self.learning_rate = LearningRatePanel()
        self.filters = FilterPanel()
        self.confusion = ConfusionMatrix()
        self.predictions = PredictionsGrid()
        self.activations = ActivationMaps()
        self.health = HealthPanel()
        self.history = RunHistory()
        grid = widgets.GridBox(
            [self.loss.widget, self.accuracy.widget, self.learning_rate.widget, self.filters.widget,
             self.confusion.widget, self.predictions.widget],
            layout=widgets.Layout(grid_template_columns=GRID_COLUMNS, grid_gap="4px",
                                  width="100%"),
        )
        self.glance = self._glance(grid) if compact else None
        # The health table needs the width of two charts: a row of its own under the grid.
        super().__init__([*([] if compact else [self.monitor]), grid, self.health.widget, self.activations.widget],
                         **kwargs)
        self.add_class("convlab-dashboard")
        self._setup_twin(static_snapshot, self.monitor)
        self._source = None
        self._run = None
        self._last_render = 0.0
        self._progress = {}
        # Heartbeats may be handled on a comm subshell while a cell on the main
        # thread follows a run (wait=True): one drawer at a time.
        self._lock = threading.RLock()
        self._wake = KernelWake(self._woken)  # the run's events wake the kernel's loop, which draws
        self._woken_by = None  # the event log whose events wake it
        self._undrawn = False  # a throttled render left new events undrawn
        self.monitor.on_beat(self._beat)
        self.monitor.on_escape(self.shrink_charts)

    def _twin_html(self) -> str:
        from ..twin import dashboard_html

        return dashboard_html(self)

    def _glance(self, grid: widgets.GridBox) -> widgets.VBox:
        """What a lesson looks at while a run trains, out of ``grid`` into one column of its own."""
        charts = (self.loss, self.accuracy)
        moved = [panel.widget for panel in (*charts, self.filters)]
        grid.children = [child for child in grid.children if child not in moved]
        for panel in charts:
            panel.set_height(GLANCE_CHART_HEIGHT)
            panel.widget.layout.min_width = "0"
        pair = widgets.GridBox([panel.widget for panel in charts],
                               layout=widgets.Layout(grid_template_columns=GLANCE_COLUMNS, grid_gap="4px"))
        self.filters.widget.layout.min_width = "0"
        self.filters.image.layout.max_height = GLANCE_MOSAIC_HEIGHT  # its width follows: the cells stay square
        glance = widgets.VBox([self.monitor, pair, self.filters.widget], layout=widgets.Layout(min_width="0"))
        glance.add_class("convlab-dashboard")  # Escape there puts an enlarged chart back, as in the dashboard
        return glance

    # -- what to watch --------------------------------------------------------------------------

    @property
    def run(self):
        """The run shown, or None."""
        return self._run

    def watch(self, run) -> None:
        """Follow ``run`` (any ``Run``) from its first event on."""
        self._assert_kernel_thread()
        self._wake.use_this_thread()
        with self._lock:
            self._watch(run)

    def _watch(self, run) -> None:
        self._run = run
        self._source = run.events.subscribe()
        self._stop_waking()
        run.events.add_listener(self._wake)
        self._woken_by = run.events
        self._use_run(run)
        self.history = run.record  # the run's own record, which its training thread feeds
        self._progress = {"status": "starting", "started": time.time()}
        self._look_inside(run, getattr(run, "data", None))
        architecture = getattr(run, "architecture", None)
        if architecture is not None:
            self.show_architecture(architecture)
        if run.settings is not None:
            self.learning_rate.preview(run.settings.lr_preview())
        self.monitor.active = True
        self.render(force=True)

    def show_architecture(self, architecture) -> None:
        """Say before any snapshot whether there will be first-layer filters to watch."""
        self.filters.set_conv2d(any(entry.type in ("Conv2D", "Fire") for entry in architecture))

    def show_run(self, run, data=None) -> None:
        """Show a run that has ended (or was loaded from disk) in full, as if watched from its start;
        ``data``: its dataset, when the run does not carry it (a loaded run), for the predictions."""
        if not run.done:
            self.watch(run)
            return
        self._assert_kernel_thread()
        with self._lock:
            self._run, self._source = run, None
            self._use_run(run)
            self.history = run.record
            self._progress = _progress_of(run)
            self._look_inside(run, getattr(run, "data", None) or data)
            self.show_architecture(run.architecture)
            self.monitor.active = False
            self.render(force=True)

    def compare(self, runs) -> None:
        """Overlay finished ``runs`` (with ``name``, ``color`` and ``changes``) on the loss and accuracy panels."""
        self._assert_kernel_thread()
        entries = [(id(run), _legend_label(run), run.color, RunHistory.from_run(run)) for run in runs]
        with self._lock:
            for panel in (self.loss, self.accuracy):
                panel.overlay(entries)

    def _use_run(self, run) -> None:
        color = getattr(run, "color", None) or DEFAULT_COLOR
        steps_per_call = (getattr(run, "config", None) or {}).get("steps_per_execution") or 1
        for panel in (self.loss, self.accuracy):
            panel.use_run(color, getattr(run, "name", None))
            panel.use_resolution(steps_per_call)

    def shrink_charts(self) -> None:
        """Put an enlarged chart back in its place (Escape in the browser)."""
        for panel in (self.loss, self.accuracy, self.learning_rate):
            panel.enlarge.value = False

    def say(self, text: str) -> None:
        """A message in the status line; the rest of what it shows stays."""
        self.monitor.state = {**self.monitor.state, "message": text}

    def refuse(self, status: str, message: str) -> None:
        """Show that an action was refused, on its own: nothing of the run shown before stays beside it."""
        self.monitor.state = {"status": status, "message": message}

    def _look_inside(self, run, data, ended=False) -> None:
        """Predictions need the images their indices point to; activation maps
        need a model that has stopped changing, so only a finished run's
        (``ended``: its "ended" event has been read, which comes just before ``run.done``)."""
        reason = run.cannot_look_inside
        if data is not None or reason:
            self.predictions.set_data(data, reason)
            self.confusion.set_data(data, reason)
        # The reason names all three views: said once, in the predictions panel, not three times over.
        for view in (self.confusion, self.activations):
            view.widget.layout.display = "none" if reason else None
        finished = ended or run.done
        model = run.model if finished else None
        self.activations.set_model(model, data, reason)
        self.predictions.set_model(None if reason else model)

    def preview_schedule(self, values) -> None:
        """Draw a schedule's planned learning rates before any training."""
        self.learning_rate.preview(values)

    def callback(self, batch_size: int | None = None):
        """A Keras callback that streams any ``model.fit`` into these panels.

        Call it on the main thread (in a cell); pass ``batch_size`` to see samples/s.
        """
        from .callback import FitStream

        return FitStream(self, batch_size=batch_size)

    # -- main-thread work -----------------------------------------------------------------------

    def pump(self) -> None:
        """Read the run's new events (progress) and redraw from its record if it is time (heartbeat entry point)."""
        with self._lock:
            self._pump()

    def _pump(self) -> None:
        if self._source is None:
            return
        check = getattr(self._run, "check_alive", None)
        if check is not None:
            check()
        events = self._source.drain()
        ended = status = False
        for event in events:
            self._track(event)
            ended = ended or event.kind == "ended"
            status = status or event.kind == "status"  # paused, running again: what a click waits to see
        if events:
            self.render(force=ended or status)
        elif self._progress.get("status") in ("running", "paused"):
            self.render()  # the clock still moves while no event arrives
        if ended:
            self.monitor.active = False
            self._source = None
            self._stop_waking()
            self._look_inside(self._run, getattr(self._run, "data", None), ended=True)

    def _beat(self) -> None:
        """A heartbeat, on the thread the kernel handles it on: events wake that thread's loop from now on."""
        self._wake.use_this_thread()
        self.pump()

    def _woken(self) -> None:
        """A run's event woke this kernel thread's loop: draw what is new, and once the throttle
        allows what it held back."""
        with self._lock:
            if self._source is None:
                return
            self._pump()
            if self._undrawn:
                self._wake.later(max(0.0, self._last_render + 1 / MAX_RENDERS_PER_S - time.monotonic()))
        if comms_on_subshell() and threading.current_thread() is threading.main_thread():
            route_to_subshell()  # keep clicks and heartbeats answered on the subshell while a later cell blocks

    def _stop_waking(self) -> None:
        if self._woken_by is not None:
            self._woken_by.remove_listener(self._wake)
            self._woken_by = None

    def follow(self, run=None, timeout=None) -> bool:
        """Block this (main) thread until the run ends, drawing as events arrive.

        ``lab.train(..., wait=True)`` uses this.  Where the kernel handles no
        heartbeat while a cell blocks (ipykernel 6), the cell's own loop drains
        instead; where a comm subshell does, the heartbeat draws and this loop
        only waits (see ``threads.main_thread_draws``).
        """
        run = run or self._run
        deadline = None if timeout is None else time.monotonic() + timeout
        cell = BlockingCell()  # Stop and Pause clicks are handled meanwhile, in every front end
        if not main_thread_draws():
            route_to_subshell()
        try:
            while self._source is not None:
                self._source.wait(1 / MAX_RENDERS_PER_S)
                cell.handle_events()
                if main_thread_draws() or run.done:  # else the heartbeat draws; the end is drawn here
                    self.pump()
                if deadline is not None and time.monotonic() > deadline:
                    break
        except KeyboardInterrupt:
            run.stop()
            raise
        finally:
            cell.close()
        return run.done

    def render(self, force: bool = False) -> None:
        self._assert_kernel_thread()
        with self._lock:
            self._render(force)

    def _render(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_render < 1 / MAX_RENDERS_PER_S:
            self._undrawn = True
            return
        self._last_render, self._undrawn = now, False
        history = self.history.snapshot()  # consistent columns while the training thread appends
        for panel in (self.loss, self.accuracy, self.learning_rate, self.filters, self.confusion, self.predictions,
                      self.health):
            panel.update(history)
        self.monitor.state = self._monitor_state()

    # -- progress -------------------------------------------------------------------------------

    def _track(self, event) -> None:
        p = self._progress
        kind = event.kind
        if kind == "run_started":
            p.update(status="running", epochs=event.epochs, steps=event.steps_per_epoch, started=event.time,
                     badge=_badge(event), detail=f"{event.param_count:,} parameters", note=event.note)
        elif kind == "batch":
            if _measured(event, p.get("told")):
                p["samples_per_sec"] = event.samples_per_sec
            p.update(epoch=event.epoch + 1, step=event.step + 1, steps=event.steps_per_epoch, last=event.time,
                     told=(event.epoch, event.step, event.time), status=p.get("status", "running"))
        elif kind == "epoch":
            p.update(epoch=event.epoch + 1, step=p.get("steps"), epochs_done=event.epoch + 1, last=event.time)
        elif kind == "status":
            p.update(status=event.status, message=event.message)
        elif kind == "ended":
            p.update(status=event.status, message=event.message, ended=event.time,
                     epochs_done=event.epochs_completed)

    def _monitor_state(self) -> dict:
        p = self._progress
        if not p:
            return {"status": "idle", "message": "Press Train to start a run."}
        epochs, steps = p.get("epochs") or 0, p.get("steps") or 0
        epoch, step = p.get("epoch") or 0, p.get("step") or 0
        done_steps = (max(epoch - 1, 0) * steps + step) if steps else 0
        fraction = done_steps / (epochs * steps) if epochs and steps else 0.0
        if p.get("status") == "completed":
            fraction = 1.0
        end = p.get("ended") or time.time()
        elapsed = end - p["started"]
        eta = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None
        ended = p.get("status") in TERMINAL
        if ended:  # what the run finished, as its message counts it ("stopped after 38 of 40 epochs")
            epoch, step, steps = p.get("epochs_done") or 0, 0, 0
        return {
            "status": p.get("status", "starting"), "ended": ended,
            "epoch": epoch, "epochs": epochs, "step": step, "steps": steps,
            "fraction": fraction, "epoch_fraction": (p.get("epochs_done") or 0) / epochs if epochs else 0,
            "samples_per_sec": p.get("samples_per_sec"), "elapsed": elapsed, "eta": eta,
            "message": p.get("message", ""), "badge": p.get("badge", ""), "badge_detail": p.get("detail", ""),
            "badge_note": p.get("note", ""),
        }

    @staticmethod
    def _assert_kernel_thread() -> None:
        if not on_kernel_thread():
            raise RuntimeError("the dashboard is drawn from the kernel's own threads only; a background run "
                               "hands it events through its log instead")


def _measured(event, told) -> bool:
    """Whether ``event``'s samples/s was measured over enough of the run to show (``told``: the
    previous batch event's epoch, step and time; None before the first)."""
    if told is None or not event.samples_per_sec:
        return False
    same_epoch = told[0] == event.epoch
    batches = event.step - told[1] if same_epoch else event.step + 1
    return batches >= MIN_RATE_BATCHES or (same_epoch and event.time - told[2] >= MIN_RATE_S)


def _legend_label(run) -> str:
    """"run 2: +Dropout(0.25) after Dense(64); 10→20 epochs", every change: the legend row wraps."""
    changes = getattr(run, "changes", None)
    if not changes:
        return run.name
    return f"{run.name}: {'; '.join(changes)}"


def _progress_of(run) -> dict:
    """The progress line of a run that has ended, from its records (its events may be gone)."""
    config = run.config
    epochs_done = len(run.history["epoch"])
    replicas = config.get("replicas", 1)
    started = SimpleNamespace(strategy=config.get("strategy", ""), replicas=replicas,
                              global_batch_size=config.get("batch_size"),
                              per_replica_batch_size=config.get("per_replica_batch_size"))
    return {"status": run.status, "message": run.message, "epochs": config.get("epochs"),
            "steps": config.get("steps_per_epoch"), "epoch": epochs_done, "step": config.get("steps_per_epoch"),
            "epochs_done": epochs_done, "started": run.started_at, "ended": run.ended_at or run.started_at,
            "badge": _badge(started) if config.get("strategy") else ""}


def _badge(started) -> str:
    replicas = started.replicas
    per = started.per_replica_batch_size
    batch = f"batch {started.global_batch_size}" + (f" ({per} per replica)" if replicas > 1 else "")
    return f"{started.strategy} · {replicas} replica{'s' if replicas != 1 else ''} · {batch}"
