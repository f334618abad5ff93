"""The learning-rate range test: which learning rate to start from, found in a hundred batches.

Leslie Smith's test, as fastai's ``lr_find`` runs it: train a copy of the model
for ``steps`` batches while the learning rate grows exponentially from
``min_lr`` to ``max_lr``, and watch the loss.  Too low, it barely moves; then it
falls; too high, it explodes, and the test stops there (the smoothed loss above
``EXPLOSION`` times its lowest).  The loss is smoothed by an exponential moving
average (bias-corrected, as fastai does) and the suggestion is the learning
rate where the smoothed loss falls fastest against log(lr), before its lowest
point: a heuristic, a place to start, which the panel says.

The test is a run like any other (:class:`RangeTest`, a ``TrainingRun``): the
trainer starts it on its training thread, the one Keras adapter records every
batch (``batch_history`` holds each batch's learning rate and loss) and
publishes events, Stop stops it, and no second run can start meanwhile.  It
trains a model freshly built from the architecture, as the next run would
start, so the lab's runs, their models and the warm models kept for later runs are
untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .adapter import KerasAdapter
from .callbacks import StopRun
from .run import TrainingRun
from .settings import SettingsError

#: The test stops once the smoothed loss is this many times its lowest.
EXPLOSION = 4.0
#: Weight of the past in the moving average (of about 1 / (1 - SMOOTHING) = 10 batches).
SMOOTHING = 0.9
MIN_STEPS, MAX_STEPS = 10, 10_000
#: How a test ends whose curve a lab keeps (one that failed has none worth keeping).
KEPT_ENDS = ("completed", "stopped")
HEURISTIC = ("a heuristic: the learning rate where the smoothed loss fell fastest; a good place to start, not a "
             "guarantee")


def check_range(min_lr, max_lr, steps) -> tuple[float, float, int]:
    """The test's arguments as numbers, or a ``SettingsError`` naming the one that will not do."""
    values = {}
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < math.inf:
            raise SettingsError(name, f"must be a positive learning rate such as 1e-6, got {value!r}")
        values[name] = float(value)
    if values["min_lr"] >= values["max_lr"]:
        raise SettingsError("min_lr", f"must be below max_lr: the test ramps the learning rate up from min_lr "
                                      f"({min_lr!r}) to max_lr ({max_lr!r})")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise SettingsError("steps", f"must be a whole number of batches from {MIN_STEPS} to {MAX_STEPS:,}, such as "
                                     f"100, got {steps!r}")
    return values["min_lr"], values["max_lr"], int(steps)


def ramp(min_lr: float, max_lr: float, steps: int) -> np.ndarray:
    """The learning rate of each batch: ``min_lr`` to ``max_lr``, by the same factor each batch."""
    return min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))


def smooth(losses) -> np.ndarray:
    """The bias-corrected exponential moving average of ``losses`` (non-finite values end it: NaN after)."""
    out, average = np.full(len(losses), np.nan), 0.0
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        out[i] = average / (1 - SMOOTHING ** (i + 1))
    return out


def suggest(lrs, losses) -> float | None:
    """The learning rate of steepest descent of the smoothed loss before its lowest point, or None
    when the loss never fell (too few points, or it rose from the start)."""
    lrs, smoothed = np.asarray(lrs, float), smooth(losses)
    finite = np.isfinite(smoothed)
    lrs, smoothed = lrs[finite], smoothed[finite]
    if len(lrs) < 3:
        return None
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return None
    slope = np.gradient(smoothed[:lowest + 1], np.log(lrs[:lowest + 1]))
    steepest = int(np.argmin(slope))
    return float(lrs[steepest]) if slope[steepest] < 0 else None


def found(lrs, losses) -> dict:
    """What a range test found from the batches it trained: ``{'lrs', 'losses', 'smoothed', 'suggested'}``."""
    lrs, losses = [float(v) for v in lrs], [float(v) for v in losses]
    return {"lrs": lrs, "losses": losses, "smoothed": [float(v) for v in smooth(losses)],
            "suggested": suggest(lrs, losses)}


@dataclass(frozen=True)
class SavedRangeTest:
    """A range test that has ended, as a saved lab keeps it (``persistence``): its ramp, each batch's
    learning rate and loss, and what it said; the panel draws it as it drew the test."""

    min_lr: float
    max_lr: float
    steps: int
    lrs: tuple
    losses: tuple
    status: str
    message: str
    done = True

    @classmethod
    def of(cls, test) -> "SavedRangeTest":
        """The record of ``test``, a :class:`RangeTest` that has ended (or a record already)."""
        if isinstance(test, cls):
            return test
        batches = test.batch_history
        return cls(test.min_lr, test.max_lr, test.steps, tuple(map(float, batches["lr"])),
                   tuple(map(float, batches["loss"])), test.status, test.message)

    @property
    def batch_history(self) -> dict:
        return {"lr": list(self.lrs), "loss": list(self.losses)}

    @property
    def result(self) -> dict:
        return found(self.lrs, self.losses)


class RangeTest(TrainingRun):
    """A learning-rate range test in progress or done; ``result`` once it has ended:
    ``{'lrs', 'losses', 'smoothed', 'suggested'}`` (``suggested`` None when the loss never fell)."""

    def __init__(self, settings, config, architecture, data, strategy_info, min_lr, max_lr, steps):
        super().__init__(settings, config, architecture, data, strategy_info)
        self.min_lr, self.max_lr, self.steps = min_lr, max_lr, steps
        self.lrs = ramp(min_lr, max_lr, steps)

    def __repr__(self):
        return f"<RangeTest {self._status}: {len(self.record.batch['step'])}/{self.steps} batches>"

    @property
    def result(self) -> dict:
        batches = self.batch_history
        return found(batches["lr"], batches["loss"])

    def to_script(self, path=None):
        raise RuntimeError("a learning-rate range test is not a run to export: train a run with its suggestion")

    def _summary(self, exploded: bool) -> str:
        """What the test found, in the words the status line shows."""
        result = self.result
        done = len(result["lrs"])
        if not done:
            return "range test stopped before its first batch"
        if exploded:
            how = f"the loss exploded at learning rate {result['lrs'][-1]:.3g}, after {done} of {self.steps} batches"
        else:
            how = (f"{'stopped after ' if self.stop_requested else ''}{done} of {self.steps} batches, up to learning "
                   f"rate {result['lrs'][-1]:.3g}")
        if result["suggested"] is None:
            return f"range test: {how}; the loss never fell: try a wider range (a lower min_lr, a higher max_lr)"
        return f"range test: {how}; suggested learning rate {result['suggested']:.3g} ({HEURISTIC})"


class RangeTestCallback(KerasAdapter):
    """Sets each batch's learning rate from the ramp and ends the test: after ``steps`` batches,
    once the smoothed loss explodes, or on Stop; pauses between batches on Pause."""

    def __init__(self, test: RangeTest, steps_per_epoch, global_batch_size):
        super().__init__(test, global_batch_size=global_batch_size, steps_per_epoch=steps_per_epoch)
        self.done = 0
        self.exploded = False

    def on_train_begin(self, logs=None):
        self.run._running()
        super().on_train_begin(logs)

    def _epoch_began(self, epoch):
        self._set_lr(self.run.lrs[self.done])

    def _between_batches(self, evaluating=False):
        test = self.run
        self.paused_s += test._pause_point()  # Pause holds the test between batches, as it holds a run
        self.done += 1
        smoothed = smooth(test.record.batch["loss"])  # a hundred values: smoothing them all again costs nothing
        self.exploded = not math.isfinite(smoothed[-1]) or smoothed[-1] > EXPLOSION * np.nanmin(smoothed)
        if test.stop_requested or self.exploded or self.done >= test.steps:
            raise StopRun
        self._set_lr(test.lrs[self.done])

    def _diverged(self, epoch, batch, value, validation=False):
        """A loss that runs away is where the test ends, not a failure."""
        self.exploded = True
        raise StopRun
