"""The training controls: what to train on, for how long, and how fast to learn.

Controls only collect settings and show what is allowed now; the lab turns
them into a run. Settings that cannot change during a run are disabled
while it runs; the learning rate stays editable while paused.
"""

from __future__ import annotations

import ipywidgets as widgets

from .training import datasets, schedules

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
_WIDE = {"description_width": "initial"}


def _number_widget(param):
    """A form field for one schedule parameter, with its range."""
    bounded = widgets.BoundedIntText if param.type is int else widgets.BoundedFloatText
    return bounded(value=param.default, min=param.min if param.min is not None else -1e9,
                   max=param.max if param.max is not None else 1e9, description=param.name, style=_WIDE,
                   tooltip=param.help, layout=widgets.Layout(width="150px"))


class Controls(widgets.VBox):
    def __init__(self, dataset: str = "digits", **kwargs):
        choices = [(f"{d['name']} (downloads)" if d["download"] else d["name"], d["name"]) for d in datasets.known()]
        self.dataset = widgets.Dropdown(options=choices, value=dataset, description="Data", style=_WIDE,
                                        layout=widgets.Layout(width="210px"))
        self.subset = widgets.BoundedIntText(value=0, min=0, max=10_000_000, step=100, description="Train images",
                                             tooltip="0 = all; a small number makes the model overfit",
                                             style=_WIDE, layout=widgets.Layout(width="170px"))
        self.epochs = widgets.BoundedIntText(value=10, min=1, max=1000, description="Epochs", style=_WIDE,
                                             layout=widgets.Layout(width="120px"))
        self.batch_size = widgets.BoundedIntText(value=64, min=1, max=65536, description="Batch", style=_WIDE,
                                                 layout=widgets.Layout(width="120px"))
        self.optimizer = widgets.Dropdown(options=OPTIMIZERS, value="adam", description="Optimizer", style=_WIDE,
                                          layout=widgets.Layout(width="170px"))
        # Unbounded on purpose: a classroom shows what a huge learning rate does (the run diverges).
        self.learning_rate = widgets.FloatText(value=1e-3, step=1e-4, description="Learning rate", style=_WIDE,
                                               layout=widgets.Layout(width="190px"))
        self.schedule = widgets.Dropdown(options=schedules.names(), value="constant", description="Schedule",
                                         style=_WIDE, layout=widgets.Layout(width="190px"))
        self.schedule_params = widgets.HBox()
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           tooltip="Train the architecture above")
        self.pause_button = widgets.Button(description="Pause", icon="pause", disabled=True)
        self.resume_button = widgets.Button(description="Resume", icon="play", disabled=True)
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.note = widgets.HTML()
        self._param_widgets: dict = {}
        self._schedule_listeners: list = []
        self._build_schedule_params()
        self.schedule.observe(lambda _change: self._build_schedule_params(), names="value")
        rows = [
            widgets.HBox([self.dataset, self.subset, self.epochs, self.batch_size],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.optimizer, self.learning_rate, self.schedule, self.schedule_params],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.train_button, self.pause_button, self.resume_button, self.stop_button, self.note],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
        ]
        super().__init__(rows, **kwargs)
        self.add_class("convlab-controls")

    # -- reading --------------------------------------------------------------------------------

    def schedule_value(self):
        return schedules.get(self.schedule.value, **{name: w.value for name, w in self._param_widgets.items()})

    def settings(self) -> dict:
        """Keyword arguments for ``Trainer.start``."""
        return {"epochs": self.epochs.value, "batch_size": self.batch_size.value,
                "optimizer": self.optimizer_value(), "learning_rate": self.learning_rate.value,
                "lr_schedule": self.schedule_value()}

    def values(self) -> dict:
        """What the learner set, as plain values a saved lab or a clone can restore with :meth:`apply`."""
        return {"dataset": self.dataset.value, "subset": self.subset.value, "epochs": self.epochs.value,
                "batch_size": self.batch_size.value, "optimizer": self.optimizer.value,
                "learning_rate": self.learning_rate.value, "schedule": self.schedule.value,
                "schedule_params": {name: w.value for name, w in self._param_widgets.items()}}

    def apply(self, values: dict) -> None:
        """Set the controls from :meth:`values` (or a part of it); the schedule
        goes first, since choosing one resets its parameter fields."""
        if "schedule" in values:
            self.schedule.value = values["schedule"]
        for name, value in values.get("schedule_params", {}).items():
            if name in self._param_widgets:
                self._param_widgets[name].value = value
        for name in ("dataset", "subset", "epochs", "batch_size", "optimizer", "learning_rate"):
            if name in values:
                getattr(self, name).value = values[name]

    def optimizer_value(self):
        if self.optimizer.value == "momentum":  # the codelabs' SGD with momentum
            import keras

            return keras.optimizers.SGD(momentum=0.9)
        return self.optimizer.value

    def observe_schedule(self, callback) -> None:
        """Call ``callback()`` whenever what the LR preview depends on changes."""
        for control in (self.learning_rate, self.epochs):  # a new schedule notifies by itself
            control.observe(lambda _change: callback(), names="value")
        self._schedule_listeners.append(callback)

    # -- state ----------------------------------------------------------------------------------

    def show(self, status: str | None) -> None:
        """Enable what makes sense for a run in ``status`` (None: no run yet)."""
        running = status in ("starting", "running")
        paused = status == "paused"
        busy = running or paused
        for control in (self.dataset, self.subset, self.epochs, self.batch_size, self.optimizer, self.schedule,
                        *self._param_widgets.values(), self.train_button):
            control.disabled = busy
        self.learning_rate.disabled = running
        self.pause_button.disabled = not running
        self.resume_button.disabled = not paused
        self.stop_button.disabled = not busy

    def _build_schedule_params(self) -> None:
        _description, params = schedules.catalog()[self.schedule.value]
        self._param_widgets = {p.name: _number_widget(p) for p in params if p.type in (int, float)}
        for control in self._param_widgets.values():
            control.observe(lambda _change: self._notify_schedule(), names="value")
        self.schedule_params.children = list(self._param_widgets.values())
        self._notify_schedule()

    def _notify_schedule(self) -> None:
        for callback in self._schedule_listeners:
            callback()
