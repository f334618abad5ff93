"""Overfitting, found in a run's per-epoch history and said in words.

A model that memorises its training images keeps lowering its training loss
while its validation loss climbs back up.  Learners rarely spot the turn on
a noisy curve, and a few unlucky epochs are not a turn, so the detector
compares levels rather than points: the mean validation loss of the last
``patience`` epochs against the lowest mean of any earlier ``patience``
consecutive epochs.  The rise must clear both a relative ``tolerance`` and
the run's own epoch-to-epoch noise, so a run trained with a high learning
rate, whose validation loss jumps about, needs a clearer rise than a calm
one.

The answer describes the run as it stands: when validation loss later
reaches a new low, the run was not overfitting after all and ``detect``
returns None again, so a panel calling it after every epoch drops its mark.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["NOISE_LEVELS", "PATIENCE", "TOLERANCE", "Overfitting", "detect"]

#: Epochs validation loss must have stayed up: the length of the stretches whose means are compared.
PATIENCE = 3
#: How far above its lowest the recent validation loss must be to count as risen, as a fraction of the lowest.
TOLERANCE = 0.05
#: How many standard deviations of the difference of two stretch means the rise must also clear.  More
#: than the usual 3: the lowest of many stretch means is itself a lucky draw, so on a flat, noisy
#: validation loss 3 fires in about 5% of epochs, 5 in under 1%.
NOISE_LEVELS = 5.0

# Noise is estimated from second differences of validation loss, which a steady rise or fall leaves at
# zero: for independent noise of deviation s, |Δ²| has median 0.6745·√6·s.
_MEDIAN_SECOND_DIFFERENCE = 0.6745 * math.sqrt(6)


@dataclass(frozen=True)
class Overfitting:
    """Where a run turned to memorising.

    ``epoch`` (learners count from 1) is the turning point: the epoch of
    lowest validation loss within the stretch of ``patience`` epochs whose
    mean validation loss was lowest (the latest, on a flat bottom).  ``val_loss`` is its validation loss,
    where a panel puts its mark.
    """

    epoch: int
    val_loss: float
    message: str

    @property
    def x(self) -> float:
        """The mark's position on the dashboard's axis of epochs completed: the end of ``epoch``."""
        return float(self.epoch)


def detect(epochs: Mapping, patience: int = PATIENCE, tolerance: float = TOLERANCE) -> Overfitting | None:
    """The turn to overfitting in ``epochs``, a history like ``run.history``, or None.

    Overfitting means: the last ``patience`` epochs' mean validation loss is
    above the lowest mean of ``patience`` consecutive epochs that all came
    before them, by more than ``tolerance`` of it and by more than the noise,
    while their mean training loss is below that stretch's.  Epochs whose
    loss or validation loss is missing or not finite (no validation, a
    diverged batch) are left out, so there is no answer (None) without
    validation or before ``2 × patience`` epochs with both.
    """
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"detect: patience must be a whole number of epochs, at least 1, got {patience!r}")
    if not _finite(tolerance) or tolerance < 0:
        raise ValueError(f"detect: tolerance must be a fraction of the lowest validation loss, at least 0, "
                         f"got {tolerance!r}")
    if not isinstance(epochs, Mapping) or "loss" not in epochs:
        raise TypeError("detect: epochs must be a per-epoch history like run.history, a dict with 'loss' and "
                        f"'val_loss' lists, got {type(epochs).__name__}")
    losses, val_losses, indices = epochs["loss"], epochs.get("val_loss"), epochs.get("epoch")
    if val_losses is None:
        return None
    if indices is None:
        indices = range(len(losses))
    rows = [(int(index), float(loss), float(val)) for index, loss, val in zip(indices, losses, val_losses)
            if _finite(loss) and _finite(val)]
    if len(rows) < 2 * patience:
        return None
    index, train, val = (np.array(column) for column in zip(*rows))
    val_means, train_means = _stretch_means(val, patience), _stretch_means(train, patience)
    recent = len(val_means) - 1
    best = _last_lowest(val_means)
    if recent - best < patience:  # the lowest stretch is not over yet
        return None
    second = np.abs(np.diff(val, 2))
    noise = float(np.median(second)) / _MEDIAN_SECOND_DIFFERENCE if len(second) else 0.0
    rise = val_means[recent] - val_means[best]
    # Two means of ``patience`` values with deviation ``noise`` each differ by noise·√(2/patience) typically.
    if rise <= tolerance * abs(val_means[best]) or rise <= NOISE_LEVELS * noise * math.sqrt(2 / patience):
        return None
    if not train_means[recent] < train_means[best]:
        return None
    turn = best + _last_lowest(val[best:best + patience])
    epoch = int(index[turn]) + 1  # Keras counts epochs from 0, learners from 1
    return Overfitting(
        epoch, float(val[turn]),
        f"validation loss rising since epoch {epoch} while training loss falls: the model is memorising; "
        "try dropout, more data, or a smaller model",
    )


def _stretch_means(values, length):
    """Means of every run of ``length`` consecutive values, in O(n)."""
    total = np.concatenate(([0.0], np.cumsum(values)))
    return (total[length:] - total[:-length]) / length


def _last_lowest(values) -> int:
    """Where the lowest value is, the latest one on a flat bottom: the rise starts after it."""
    return len(values) - 1 - int(np.argmin(values[::-1]))


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
