"""Learning-rate schedules that can be previewed before training.

A schedule maps (epoch, initial learning rate) to the learning rate for that
epoch; the trainer assigns it to the optimizer at the start of each epoch, so
the value streamed to the dashboard is the one the optimizer actually used.
Each schedule class lists its parameters as :class:`Param` rows so that the
dashboard can render a form without knowing the schedules in advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: object
    min: float | None = None
    max: float | None = None
    help: str = ""


class Schedule:
    """Base class: subclasses define ``name``, ``parameters`` and ``value``."""

    name = "schedule"
    parameters: tuple = ()
    description = ""

    def __init__(self, **params):
        known = {p.name: p for p in self.parameters}
        unknown = set(params) - set(known)
        if unknown:
            raise TypeError(
                f"{self.name} schedule has no parameter {sorted(unknown)[0]!r}; "
                f"its parameters are {sorted(known) or 'none'}"
            )
        self.params = {}
        for p in self.parameters:
            value = params.get(p.name, p.default)
            if p.type in (int, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"{self.name}: {p.name} must be a number, got {value!r}")
                value = p.type(value)
                if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
                    raise ValueError(
                        f"{self.name}: {p.name}={value} is outside [{p.min}, {p.max}]"
                    )
            self.params[p.name] = value

    def value(self, epoch, lr0, epochs):
        raise NotImplementedError

    def __eq__(self, other):
        """Two schedules are the same plan when their kind and parameters are."""
        return type(self) is type(other) and self.params == other.params and self._same(other)

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.params.items()))))

    def _same(self, other):
        return True

    def start(self, lr0, epochs):
        """A fresh per-run stepper; stateful schedules keep their state there."""
        return _Stepper(self, lr0, epochs)

    def preview(self, epochs, lr0=1e-3):
        """The learning rate of each of ``epochs`` epochs, before training."""
        stepper = self.start(lr0, epochs)
        return [stepper.lr(epoch) for epoch in range(epochs)]

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"schedules.{self.name}({args})"

    def to_code(self, epochs=None):
        """Source of ``lr_schedule(epoch)`` for an exported script, with
        ``LEARNING_RATE`` and ``EPOCHS`` defined by the script."""
        return (
            "def lr_schedule(epoch):\n"
            f"    return {self._expression()}\n"
        )

    def _expression(self):
        raise NotImplementedError


class _Stepper:
    def __init__(self, schedule, lr0, epochs):
        self.schedule, self.lr0, self.epochs = schedule, lr0, epochs

    def lr(self, epoch):
        return float(self.schedule.value(epoch, self.lr0, self.epochs))

    def observe(self, epoch, logs):
        """Stateless schedules ignore metrics."""


class Constant(Schedule):
    name = "constant"
    description = "The same learning rate for every epoch."

    def value(self, epoch, lr0, epochs):
        return lr0

    def _expression(self):
        return "LEARNING_RATE"


class Exponential(Schedule):
    name = "exponential"
    description = "Multiply the learning rate by `decay` after every epoch (lr0 · decay^epoch), as in the MNIST codelab."
    parameters = (
        Param("decay", float, 0.6, 0.01, 1.0, "factor applied after each epoch"),
    )

    def value(self, epoch, lr0, epochs):
        return lr0 * self.params["decay"] ** epoch

    def _expression(self):
        return f"LEARNING_RATE * {self.params['decay']!r} ** epoch"


class Step(Schedule):
    name = "step"
    description = "Multiply the learning rate by `factor` every `every` epochs."
    parameters = (
        Param("factor", float, 0.5, 0.01, 1.0, "factor applied at each step"),
        Param("every", int, 3, 1, 1000, "epochs between steps"),
    )

    def value(self, epoch, lr0, epochs):
        return lr0 * self.params["factor"] ** (epoch // self.params["every"])

    def _expression(self):
        return f"LEARNING_RATE * {self.params['factor']!r} ** (epoch // {self.params['every']!r})"


class Cosine(Schedule):
    name = "cosine"
    description = "Half a cosine from the initial learning rate down to `alpha` times it over the run."
    parameters = (
        Param("alpha", float, 0.0, 0.0, 1.0, "final learning rate as a fraction of the initial one"),
    )

    def value(self, epoch, lr0, epochs):
        alpha = self.params["alpha"]
        progress = epoch / max(epochs - 1, 1)
        return lr0 * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * progress)))

    def _expression(self):
        alpha = self.params["alpha"]
        return (
            f"LEARNING_RATE * ({alpha!r} + (1 - {alpha!r}) * 0.5 * "
            "(1 + math.cos(math.pi * epoch / max(EPOCHS - 1, 1))))"
        )


class ReduceOnPlateau(Schedule):
    name = "reduce_on_plateau"
    description = (
        "Multiply the learning rate by `factor` when the validation loss has not "
        "improved for `patience` epochs."
    )
    parameters = (
        Param("factor", float, 0.5, 0.01, 0.99, "factor applied when progress stalls"),
        Param("patience", int, 2, 1, 100, "epochs without improvement before reducing"),
        Param("min_lr", float, 1e-6, 0.0, 1.0, "never go below this learning rate"),
    )

    def start(self, lr0, epochs):
        return _PlateauStepper(self, lr0)

    def preview(self, epochs, lr0=1e-3, val_losses=None):
        """Without ``val_losses`` the preview assumes the loss keeps
        improving, so it stays at ``lr0``: the real curve depends on training."""
        stepper = self.start(lr0, epochs)
        values = []
        for epoch in range(epochs):
            values.append(stepper.lr(epoch))
            if val_losses is not None and epoch < len(val_losses):
                stepper.observe(epoch, {"val_loss": val_losses[epoch]})
        return values

    def to_code(self, epochs=None):
        p = self.params
        return (
            "PLATEAU = keras.callbacks.ReduceLROnPlateau(monitor='val_loss', "
            f"factor={p['factor']!r}, patience={p['patience']!r}, min_lr={p['min_lr']!r})\n"
        )


class _PlateauStepper:
    def __init__(self, schedule, lr0):
        self.params = schedule.params
        self.current = lr0
        self.best = math.inf
        self.waited = 0

    def lr(self, epoch):
        return self.current

    def observe(self, epoch, logs):
        loss = logs.get("val_loss", logs.get("loss"))
        if loss is None or not math.isfinite(loss):
            return
        if loss < self.best:
            self.best, self.waited = loss, 0
            return
        self.waited += 1
        if self.waited >= self.params["patience"]:
            self.current = max(self.current * self.params["factor"], self.params["min_lr"])
            self.waited = 0


class Custom(Schedule):
    name = "custom"
    description = "Any function of the epoch number that returns a learning rate."

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"a custom schedule needs a function epoch -> learning rate, got {fn!r}")
        super().__init__()
        self.fn = fn
        self.planned = []  # the values of the longest preview so far: saved labs keep these, not the function

    def preview(self, epochs, lr0=1e-3):
        values = super().preview(epochs, lr0)
        if len(values) > len(self.planned):
            self.planned = values
        return values

    def value(self, epoch, lr0, epochs):
        lr = float(self.fn(epoch))
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"the learning-rate function returned {lr} for epoch {epoch}; it must be a positive number")
        return lr

    def __repr__(self):
        return f"schedules.custom({getattr(self.fn, '__name__', 'fn')})"

    def _same(self, other):
        return self.fn is other.fn

    def to_code(self, epochs=None):
        """The function's values are tabulated: its source may not be
        available or may depend on the notebook's state."""
        values = [self.value(e, None, epochs) for e in range(epochs or 100)]
        return (
            f"_LR_VALUES = {values!r}\n\n"
            "def lr_schedule(epoch):\n"
            "    return _LR_VALUES[min(epoch, len(_LR_VALUES) - 1)]\n"
        )


SCHEDULES = {cls.name: cls for cls in (Constant, Exponential, Step, Cosine, ReduceOnPlateau)}


def names():
    return list(SCHEDULES)


def catalog():
    """For the dashboard's form: name → (description, parameters)."""
    return {name: (cls.description, cls.parameters) for name, cls in SCHEDULES.items()}


def constant():
    return Constant()


def exponential(decay=0.6):
    return Exponential(decay=decay)


def step(factor=0.5, every=3):
    return Step(factor=factor, every=every)


def cosine(alpha=0.0):
    return Cosine(alpha=alpha)


def reduce_on_plateau(factor=0.5, patience=2, min_lr=1e-6):
    return ReduceOnPlateau(factor=factor, patience=patience, min_lr=min_lr)


def custom(fn):
    return Custom(fn)


def get(spec, **params):
    """Turn what a user passes as ``lr_schedule`` into a :class:`Schedule`:
    None (constant), a schedule, a name from :func:`names`, or a function
    ``epoch -> lr`` like the codelab's ``lr_decay``."""
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        if spec not in SCHEDULES:
            raise ValueError(f"unknown schedule {spec!r}; choose one of {names()} or pass a function epoch -> lr")
        return SCHEDULES[spec](**params)
    if callable(spec):
        return Custom(spec)
    raise TypeError(f"lr_schedule must be a schedule, a name or a function epoch -> lr, got {spec!r}")
