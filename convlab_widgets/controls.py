"""The training controls: a view of one :class:`Settings`, both ways.

The controls hold the lab's settings for the next run.  A learner's edit is
checked by ``Settings`` (the one place settings are validated); a refused value
is put back at once and the note under the buttons says why, so what the
controls show is always what Train will use.  ``show_settings`` draws settings
chosen elsewhere (``lab.train(...)``, a clone, a saved lab).  Settings that
cannot change during a run are disabled while it runs; the learning rate stays
editable while paused.
"""

from __future__ import annotations

from contextlib import contextmanager

import ipywidgets as widgets

from .html import escape
from .training import datasets, schedules
from .training.settings import CONTROL_OPTIMIZERS, Settings, SettingsError
from .threads import answer_while_blocked
from .training.status import ACTIVE
from .widget_base import TOOLTIP, check_keywords

_WIDE = {"description_width": "initial"}
TRAIN_TOOLTIP = "Train the architecture above"
# widget name -> Settings field
# ConvLab(layout="compact"): field -> width, four fields a row in half of a 1280-px screen.
_NARROW_WIDTHS = {"dataset": "150px", "subset": "150px", "epochs": "105px", "batch_size": "105px",
                  "optimizer": "160px", "learning_rate": "170px", "schedule": "175px"}
_FIELDS = {"dataset": "dataset", "subset": "train_subset", "epochs": "epochs", "batch_size": "batch_size",
           "optimizer": "optimizer", "learning_rate": "learning_rate"}


def _number_widget(param):
    """A form field for one schedule parameter; its range is checked by the schedule."""
    text = widgets.IntText if param.type is int else widgets.FloatText
    limits = f" ({param.min:g} to {param.max:g})" if param.min is not None and param.max is not None else ""
    return text(value=param.default, description=param.name, style=_WIDE, **{TOOLTIP: param.help + limits},
                layout=widgets.Layout(width="150px"))


class Controls(widgets.VBox):
    """``Controls(settings=None)``: the widgets for one ``Settings`` (default: ``Settings()``)."""

    def __init__(self, settings: Settings | None = None, **kwargs):
        check_keywords(type(self), kwargs)
        self._settings = settings or Settings()
        self._syncing = False
        choices = [(f"{d['name']} (downloads)" if d["download"] else d["name"], d["name"]) for d in datasets.known()]
        self.dataset = widgets.Dropdown(options=choices, description="Data", style=_WIDE,
                                        layout=widgets.Layout(width="210px"))
        self.subset = widgets.IntText(step=100, description="Train images", style=_WIDE,
                                      **{TOOLTIP: "0 = all; a small number makes the model overfit"},
                                      layout=widgets.Layout(width="170px"))
        self.epochs = widgets.IntText(description="Epochs", style=_WIDE, layout=widgets.Layout(width="120px"))
        self.batch_size = widgets.IntText(description="Batch", style=_WIDE, layout=widgets.Layout(width="120px"))
        self.optimizer = widgets.Dropdown(options=CONTROL_OPTIMIZERS, description="Optimizer", style=_WIDE,
                                          layout=widgets.Layout(width="170px"))
        # Unbounded on purpose: a classroom shows what a huge learning rate does (the run diverges).
        self.learning_rate = widgets.FloatText(step=1e-4, description="Learning rate", style=_WIDE,
                                               layout=widgets.Layout(width="190px"))
        self.schedule = widgets.Dropdown(options=schedules.names(), description="Schedule", style=_WIDE,
                                         layout=widgets.Layout(width="190px"))
        self.schedule_params = widgets.HBox()
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           tooltip=TRAIN_TOOLTIP)
        self.pause_button = widgets.Button(description="Pause", icon="pause", disabled=True)
        self.resume_button = widgets.Button(description="Resume", icon="play", disabled=True)
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.note = widgets.HTML()
        self.blocked = widgets.HTML(layout=widgets.Layout(display="none"))
        self._blocker = ""
        self._status, self._can_pause = None, True  # the run's state as last shown
        self._param_widgets: dict = {}
        self._listeners: list = []
        rows = [
            widgets.HBox([self.dataset, self.subset, self.epochs, self.batch_size],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.optimizer, self.learning_rate, self.schedule, self.schedule_params],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.train_button, self.pause_button, self.resume_button, self.stop_button, self.note],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.blocked,
        ]
        super().__init__(rows, **kwargs)
        self.add_class("convlab-controls")
        answer_while_blocked(self.pause_button, self.resume_button, self.stop_button, self.learning_rate)
        self._draw(self._settings)
        for name, field in _FIELDS.items():
            getattr(self, name).observe(lambda change, field=field: self._edited(field, change), names="value")
        self.schedule.observe(self._schedule_chosen, names="value")

    # -- the settings -------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """What Train will use: always valid (a refused edit never sticks)."""
        return self._settings

    def show_settings(self, settings: Settings) -> None:
        """Draw ``settings`` (already valid) and use them for the next run."""
        before, self._settings = self._settings, settings
        self._draw(settings)
        if settings != before:
            self._notify(before)

    def values(self) -> dict:
        """The settings as plain values (``Settings.to_dict``)."""
        return self._settings.to_dict()

    def apply(self, values: dict) -> None:
        """Change some settings (keyword names of ``Settings.make``); all or nothing."""
        self.show_settings(self._settings.replace(**values))

    def narrow(self) -> None:
        """Narrower fields: the settings fit two rows of a 520-px column (the lab's compact layout)."""
        for name, width in _NARROW_WIDTHS.items():
            getattr(self, name).layout.width = width
        for button in (self.train_button, self.pause_button, self.resume_button, self.stop_button):
            button.layout.width = "auto"  # as wide as its word: the four fit one row

    def observe_settings(self, callback) -> None:
        """Call ``callback(before, after)`` whenever the settings change, from an edit or from Python."""
        self._listeners.append(callback)

    # -- state ----------------------------------------------------------------------------------

    def show(self, status: str | None, *, can_pause: bool = True) -> None:
        """Enable what makes sense for the current run in ``status`` (None: no run yet)."""
        self._status, self._can_pause = status, can_pause
        running = status in ("starting", "running")
        paused = status == "paused"
        busy = status in ACTIVE
        for control in (self.dataset, self.subset, self.epochs, self.batch_size, self.optimizer, self.schedule,
                        *self._param_widgets.values()):
            control.disabled = busy
        self.train_button.disabled = busy or bool(self._blocker)
        # A disabled button keeps its colour at reduced opacity, and a faded red Stop still reads as
        # "press me": the colour goes with the ability to act.
        self.train_button.button_style = "" if self.train_button.disabled else "primary"
        self.learning_rate.disabled = running or (busy and not can_pause)
        self.pause_button.disabled = not (running and can_pause)
        self.pause_button.tooltip = "" if can_pause else "this run cannot pause (your own model.fit)"
        self.resume_button.disabled = not paused
        self.stop_button.disabled = not busy
        self.stop_button.button_style = "danger" if busy else ""

    def block_training(self, reason: str) -> None:
        """Disable Train while ``reason`` says why the architecture cannot train ("" enables it again):
        a button that looks ready and then refuses teaches nothing."""
        self._blocker = reason
        self.train_button.tooltip = f"Fix the architecture first: {reason}" if reason else TRAIN_TOOLTIP
        self.blocked.value = (f'<span style="color: #8e1b1b">Train waits for the architecture: {escape(reason)}</span>'
                              if reason else "")
        self.blocked.layout.display = None if reason else "none"
        self.show(self._status, can_pause=self._can_pause)

    def say(self, text: str) -> None:
        """A one-line note beside the buttons (escaped)."""
        self.note.value = f'<span style="color: #b71c1c">{escape(text)}</span>' if text else ""

    # -- drawing and editing --------------------------------------------------------------------

    @contextmanager
    def _drawing(self):
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _draw(self, settings: Settings) -> None:
        with self._drawing(), self.hold_sync():
            self.dataset.value = settings.dataset
            self.subset.value = settings.train_subset or 0
            self.epochs.value = settings.epochs
            self.batch_size.value = settings.batch_size
            if settings.optimizer_name not in self.optimizer.options:
                self.optimizer.options = (*CONTROL_OPTIMIZERS, settings.optimizer_name)
            self.optimizer.value = settings.optimizer_name
            self.learning_rate.value = settings.learning_rate
            name = settings.schedule_name
            if name not in self.schedule.options:  # a function from Python: shown, not offered
                self.schedule.options = (*schedules.names(), name)
            self.schedule.value = name
            self._build_schedule_params(settings.schedule)

    def _build_schedule_params(self, schedule) -> None:
        _description, params = schedules.catalog().get(schedule.name, ("", ()))
        if [p.name for p in params] != list(self._param_widgets):
            self._param_widgets = {p.name: _number_widget(p) for p in params if p.type in (int, float)}
            for name, control in self._param_widgets.items():
                control.observe(lambda change, name=name: self._param_edited(name, change), names="value")
            self.schedule_params.children = list(self._param_widgets.values())
        for name, control in self._param_widgets.items():
            control.value = schedule.params[name]

    def _edited(self, field: str, change) -> None:
        if self._syncing:
            return
        self._try(**{field: change["new"]})

    def _schedule_chosen(self, change) -> None:
        if not self._syncing:
            self._try(lr_schedule=change["new"])  # a new schedule starts from its defaults

    def _param_edited(self, name: str, change) -> None:
        if not self._syncing:
            self._try(schedule_params={**self._settings.schedule_params, name: change["new"]})

    def _try(self, **change) -> None:
        """One edit: kept if ``Settings`` accepts it, else put back and explained."""
        try:
            settings = self._settings.replace(**change)
        except (SettingsError, TypeError) as error:
            self._draw(self._settings)
            self.say(f"{error}; kept {_current(self._settings, change)}")
            return
        self.say("")
        before, self._settings = self._settings, settings
        if "lr_schedule" in change:
            with self._drawing():
                self._build_schedule_params(settings.schedule)
        self._notify(before)

    def _notify(self, before: Settings) -> None:
        for callback in list(self._listeners):
            callback(before, self._settings)


def _current(settings: Settings, change: dict) -> str:
    """The value kept instead of a refused edit, for the note."""
    field = next(iter(change))
    if field == "schedule_params":
        return repr(settings.schedule)
    if field == "lr_schedule":
        return settings.schedule_name
    value = getattr(settings, field)
    return f"{value:g}" if isinstance(value, float) else str(value)
