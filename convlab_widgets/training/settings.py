"""The settings of a run: one typed record, validated once, in one place.

Everything that chooses how a run trains — the controls, ``lab.train(...)``,
``Trainer.start(...)``, a saved lab, a clone — goes through :class:`Settings`.
A value is checked when the record is made, with a message that names the
field, what is wrong and what would do; a refused value never reaches a
control or a run.  Numbers from numpy (``np.int64(3)``, ``np.float32(0.01)``)
are accepted as the Python numbers they hold.

Nothing here imports Keras: optimizers are named here and built by the trainer.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import schedules
from .early_stopping import MAX_PATIENCE, MONITORS, EarlyStopping

#: The optimizers a learner picks by name -> (Keras class, options).  "momentum" is the
#: codelabs' SGD with momentum 0.9.
OPTIMIZERS: dict[str, tuple[str, dict]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "adam": ("Adam", {}),
    "rmsprop": ("RMSprop", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("Nadam", {}),
    "adagrad": ("Adagrad", {}),
    "adadelta": ("Adadelta", {}),
    "adamax": ("Adamax", {}),
    "lion": ("Lion", {}),
}
#: The ones the controls offer, in the order a course meets them.
CONTROL_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")

#: Where the learning rate came from: typed ("") or taken from a learning-rate range test.
LR_SOURCES = ("", "range test")
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_TRAIN_SUBSET = 10_000_000
MAX_SEED = 2**32 - 1  # numpy's and Keras' seeds are 32-bit
MAX_STEPS_PER_EXECUTION = 10_000
_UNSET = object()


class SettingsError(ValueError):
    """A setting that cannot be used: ``field`` names it, the message says what would do."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_number(value):
    """numpy scalars as the Python values they hold; anything else unchanged."""
    if isinstance(value, np.floating):
        return float(str(value))  # np.float32(0.01) is 0.01, not 0.009999999776482582
    if isinstance(value, np.generic):
        return value.item()
    return value


def _whole(name, value, low, high, *, optional=False):
    value = _plain_number(value)
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        none = " (or None)" if optional else ""
        raise SettingsError(name, f"must be a whole number from {low:,} to {high:,}{none}, got {_shown(value)}")
    return value


def _learning_rate(value):
    value = _plain_number(value)
    # Compared, not converted: float(10**400) raises OverflowError; NaN fails the comparison.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= sys.float_info.max:
        raise SettingsError("learning_rate", f"must be a positive number such as 0.001, got {_shown(value)}")
    return float(value)


def _optimizer(value):
    if isinstance(value, str):
        name = value.strip().lower()
        if name in OPTIMIZERS:
            return name
        close = difflib.get_close_matches(name, OPTIMIZERS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SettingsError("optimizer", f"unknown optimizer {value!r}; {hint}choose one of {', '.join(OPTIMIZERS)}")
    if type(value).__module__.startswith("keras") and hasattr(value, "get_config"):
        return value  # a Keras optimizer object: its class and options are used, its variables are not
    raise SettingsError("optimizer", f"must be a name such as 'adam' or a Keras optimizer, got {_shown(value)}")


def _schedule(value, params=None):
    """A schedule from a name (with ``params``), a schedule object or a function."""
    try:
        if params is None:
            return schedules.get(value)
        if not isinstance(params, dict):
            raise TypeError(f"schedule_params must be a dict of the schedule's parameters, got {_shown(params)}")
        name = getattr(value, "name", value)
        if name == schedules.Custom.name:
            return _tabulated(params)
        return schedules.get(name, **{key: _plain_number(v) for key, v in params.items()})
    except (TypeError, ValueError) as error:
        raise SettingsError("schedule", str(error)) from None


def _tabulated(params):
    """A custom schedule as saved: its planned values (see ``Settings.to_dict``)."""
    values = params.get("values")
    if not isinstance(values, list) or not values or len(values) > MAX_EPOCHS or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= sys.float_info.max for v in values):
        raise TypeError(f"a custom schedule is saved as 'values', a list of 1 to {MAX_EPOCHS:,} positive numbers")
    values = [float(v) for v in values]
    return schedules.Custom(lambda epoch: values[min(epoch, len(values) - 1)])


def _jit(value):
    value = _plain_number(value)
    if value is not None and not isinstance(value, bool):
        raise SettingsError("jit_compile", f"must be True, False or None (choose for me), got {_shown(value)}")
    return value


def _early_stopping(value):
    """None (train every epoch), True (the defaults), a dict of ``EarlyStopping``'s fields, or one."""
    value = _plain_number(value)
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStopping()
    if isinstance(value, EarlyStopping):
        value = value.to_dict()  # checked again: a hand-made one may hold anything
    if not isinstance(value, dict):
        raise SettingsError("early_stopping", "must be None, True, or a dict such as dict(monitor='val_loss', "
                                              f"patience=5, restore_best=True), got {_shown(value)}")
    fields = EarlyStopping.__dataclass_fields__
    unknown = sorted(str(key) for key in value if key not in fields)
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SettingsError(f"early_stopping.{unknown[0]}", f"unknown key; {hint}the keys are {', '.join(fields)}")
    spec = EarlyStopping(**{key: _plain_number(item) for key, item in value.items()})
    if spec.monitor not in MONITORS:
        close = difflib.get_close_matches(str(spec.monitor), MONITORS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SettingsError("early_stopping.monitor", f"unknown monitor {_shown(spec.monitor)}; {hint}choose one of "
                                                      f"{', '.join(MONITORS)}")
    _whole("early_stopping.patience", spec.patience, 1, MAX_PATIENCE)
    if not isinstance(spec.restore_best, bool):
        raise SettingsError("early_stopping.restore_best", f"must be True or False, got {_shown(spec.restore_best)}")
    delta = spec.min_delta
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta <= sys.float_info.max:
        raise SettingsError("early_stopping.min_delta", f"must be a number from 0 up, such as 0.001, got "
                                                        f"{_shown(delta)}")
    return EarlyStopping(spec.monitor, spec.patience, spec.restore_best, float(delta))


def _lr_source(value):
    if value not in LR_SOURCES:
        raise SettingsError("lr_source", f"must be one of {', '.join(map(repr, LR_SOURCES))}, got {_shown(value)}")
    return value


def _dataset(value):
    from . import datasets

    if value is None:
        return None  # data of the user's own, given to a Trainer
    if not isinstance(value, str) or value not in datasets.names():
        close = difflib.get_close_matches(str(value), datasets.names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SettingsError("dataset", f"unknown dataset {_shown(value)}; {hint}choose one of "
                                       f"{', '.join(datasets.names())}")
    return value


@dataclass(frozen=True)
class Settings:
    """How a run trains.  Make one with :meth:`make` (or :meth:`replace` an existing one);
    the constructor does the same checks, so a ``Settings`` is always valid.

    ``dataset``: a name from ``datasets.names()`` (None: data of your own given to a ``Trainer``).  ``train_subset``: train on the first N
    training images (None: all).  ``epochs``: 1 to ``MAX_EPOCHS``.  ``batch_size``: the global
    batch, 1 to ``MAX_BATCH_SIZE``.  ``optimizer``: a name from ``OPTIMIZERS`` or a Keras
    optimizer.  ``learning_rate``: the initial rate (a custom schedule's function decides
    instead).  ``schedule``: a ``schedules`` object (``lr_schedule=`` in keyword form takes a
    name, a schedule or a function ``epoch -> lr``).  ``seed``: None for a new random start, or
    0 to 2**32-1 to repeat a run exactly.  ``filter_every``: also snapshot the first-layer
    filters every N batches.  ``health_every``: also measure the layers' gradient and activation
    health every N batches (it is measured at every epoch end regardless).  ``jit_compile``: None
    lets the trainer decide (XLA on one GPU).
    ``steps_per_execution``: training steps per host call, 1 to ``MAX_STEPS_PER_EXECUTION``; None
    lets the trainer decide (``execution.py``: calls of about 40 ms; the numbers do not change,
    Stop and Pause act between calls, the batch curve has one point per call).
    ``early_stopping``: None to train every epoch, or an :class:`~.early_stopping.EarlyStopping`
    (given as True or a dict: ``monitor``, ``patience``, ``restore_best``, ``min_delta``).
    ``lr_source``: one of ``LR_SOURCES``, "range test" once the range test's suggestion was
    taken; changing ``learning_rate`` without saying where it came from sets it back to "".
    """

    dataset: str | None = "digits"
    train_subset: int | None = None
    epochs: int = 10
    batch_size: int = 64
    optimizer: Any = "adam"
    learning_rate: float = 1e-3
    schedule: schedules.Schedule = field(default_factory=schedules.Constant)
    seed: int | None = None
    filter_every: int | None = None
    health_every: int | None = None
    jit_compile: bool | None = None
    steps_per_execution: int | None = None
    early_stopping: EarlyStopping | None = None
    lr_source: str = ""

    def __post_init__(self):
        checked = {
            "dataset": _dataset(self.dataset),
            "train_subset": _whole("train_subset", None if _plain_number(self.train_subset) == 0 else self.train_subset,
                                   1, MAX_TRAIN_SUBSET, optional=True),
            "epochs": _whole("epochs", self.epochs, 1, MAX_EPOCHS),
            "batch_size": _whole("batch_size", self.batch_size, 1, MAX_BATCH_SIZE),
            "optimizer": _optimizer(self.optimizer),
            "learning_rate": _learning_rate(self.learning_rate),
            "schedule": _schedule(self.schedule),
            "seed": _whole("seed", self.seed, 0, MAX_SEED, optional=True),
            "filter_every": _whole("filter_every", self.filter_every, 1, 1_000_000, optional=True),
            "health_every": _whole("health_every", self.health_every, 1, 1_000_000, optional=True),
            "jit_compile": _jit(self.jit_compile),
            "steps_per_execution": _whole("steps_per_execution", self.steps_per_execution, 1,
                                          MAX_STEPS_PER_EXECUTION, optional=True),
            "early_stopping": _early_stopping(self.early_stopping),
            "lr_source": _lr_source(self.lr_source),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    # -- making -----------------------------------------------------------------------------

    @classmethod
    def make(cls, base: Settings | None = None, **keywords) -> Settings:
        """``base`` (or the defaults) with ``keywords`` changed, checked as a whole.

        Takes the field names, ``lr_schedule`` (a schedule, a name or a function) for
        ``schedule``, and ``schedule_params`` with a schedule name; an unknown keyword is a
        ``TypeError`` with the closest field name.
        """
        values = dataclasses.asdict(base) if base is not None else {}
        if base is not None:  # asdict deep-copies; keep the very objects
            values.update(optimizer=base.optimizer, schedule=base.schedule)
        keywords = dict(keywords)
        unknown = sorted(set(keywords) - _KEYWORDS)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(_KEYWORDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"unknown setting {unknown[0]!r}{hint} Settings are: {', '.join(sorted(_KEYWORDS))}")
        if "lr_schedule" in keywords and "schedule" in keywords:
            raise TypeError("give the schedule once: lr_schedule=... or schedule=..., not both")
        if "learning_rate" in keywords and "lr_source" not in keywords:
            keywords["lr_source"] = ""  # a rate typed anew is no longer the range test's
        schedule = keywords.pop("lr_schedule", keywords.pop("schedule", _UNSET))
        params = keywords.pop("schedule_params", None)
        if params is not None and schedule is _UNSET:  # new parameters for the schedule already chosen
            schedule = values.get("schedule", schedules.Constant())
        if schedule is not _UNSET:
            keywords["schedule"] = _schedule(schedule, params)
        values.update(keywords)
        return cls(**values)

    def replace(self, **keywords) -> Settings:
        """These settings with ``keywords`` changed (see :meth:`make`); ``self`` is unchanged."""
        return Settings.make(self, **keywords)

    @classmethod
    def from_dict(cls, values: dict) -> Settings:
        """Settings from :meth:`to_dict` (a saved lab).  Labs saved before settings were one
        record keep the controls' names ("subset": 0 for all) and say nothing of the rest."""
        if not isinstance(values, dict):
            raise SettingsError("settings", f"must be an object of settings, got {_shown(values)}")
        values = dict(values)
        if "subset" in values and "train_subset" not in values:
            values["train_subset"] = values.pop("subset")
        return cls.make(**values)

    # -- reading ----------------------------------------------------------------------------

    @property
    def optimizer_name(self) -> str:
        """The optimizer as a learner names it: "momentum", "adam"; a Keras object by its class."""
        return self.optimizer if isinstance(self.optimizer, str) else type(self.optimizer).__name__.lower()

    @property
    def schedule_name(self) -> str:
        return self.schedule.name

    @property
    def schedule_params(self) -> dict:
        return dict(self.schedule.params)

    def to_dict(self) -> dict:
        """Plain values for ``lab.json`` and the controls; :meth:`from_dict` reads them back.
        A custom schedule is kept as its planned values, a Keras optimizer object by its class."""
        schedule_params = self.schedule_params
        if isinstance(self.schedule, schedules.Custom):
            planned = self.schedule.planned  # a run's start planned it: its function is not called again
            schedule_params = {"values": (planned if len(planned) >= self.epochs else self.lr_preview())[:self.epochs]}
        return {"dataset": self.dataset, "train_subset": self.train_subset, "epochs": self.epochs,
                "batch_size": self.batch_size, "optimizer": self.optimizer_name, "learning_rate": self.learning_rate,
                "schedule": self.schedule_name, "schedule_params": schedule_params, "seed": self.seed,
                "filter_every": self.filter_every, "health_every": self.health_every, "jit_compile": self.jit_compile,
                "steps_per_execution": self.steps_per_execution,
                "early_stopping": None if self.early_stopping is None else self.early_stopping.to_dict(),
                "lr_source": self.lr_source}

    def lr_preview(self) -> list[float]:
        """The planned learning rate of each epoch (a plateau schedule assumes steady progress)."""
        return self.schedule.preview(self.epochs, self.learning_rate)


_KEYWORDS = {f.name for f in dataclasses.fields(Settings)} | {"lr_schedule", "schedule_params"}
