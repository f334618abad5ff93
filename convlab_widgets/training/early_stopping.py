"""Early stopping: end a run once it stops getting better, and keep its best epoch.

A learner asks for it with ``lab.train(early_stopping=dict(monitor="val_loss",
patience=5, restore_best=True))``; the request is a field of the run's
``Settings`` (:class:`EarlyStopping`, checked there like every setting).
The rule is Keras' own ``keras.callbacks.EarlyStopping``, so the exported
script (``run.to_script()``) trains the same way: an epoch improves on the
best when its monitored value beats the best by more than ``min_delta``; after
``patience`` epochs in a row without improvement the run ends; with
``restore_best`` the run's model ends with the best epoch's weights, whether
the run stopped early or not (as ``restore_best_weights`` does).

``monitor="overfitting"`` stops when the lab's overfitting detector
(``compare.overfitting.detect``, the one the loss panel marks) finds the turn,
with ``patience`` as its stretch length; the best epoch is then the one of
lowest validation loss.  Keras has no such callback: the exported script uses
``EarlyStopping(monitor="val_loss")`` with the same patience, and says so.

:class:`Stopper` applies the rule on the training thread, one epoch at a
time; :func:`best_of` replays it over a finished history (a run read back
from a saved lab), so the best epoch is found one way only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .events import BestEpoch

#: What can be watched -> (what a learner reads, whether lower is better).
MONITORS = {
    "val_loss": ("validation loss", True),
    "val_accuracy": ("validation accuracy", False),
    "loss": ("training loss", True),
    "accuracy": ("training accuracy", False),
    "overfitting": ("validation loss", True),  # the detector decides when; the best is the lowest validation loss
}
MAX_PATIENCE = 10_000


@dataclass(frozen=True)
class EarlyStopping:
    """How a run stops early (see the module).  ``monitor``: a key of ``MONITORS``.
    ``patience``: epochs without improvement before stopping (for "overfitting", the
    detector's stretch length), 1 to ``MAX_PATIENCE``.  ``restore_best``: end with the best
    epoch's weights.  ``min_delta``: how much better than the best counts as better.

    Made by ``Settings`` from a dict, which checks every value with a located message.
    """

    monitor: str = "val_loss"
    patience: int = 5
    restore_best: bool = True
    min_delta: float = 0.0

    @property
    def watched(self) -> str:
        """The history column the best epoch is chosen on."""
        return "val_loss" if self.monitor == "overfitting" else self.monitor

    @property
    def needs_validation(self) -> bool:
        return self.monitor.startswith("val_") or self.monitor == "overfitting"

    def to_dict(self) -> dict:
        return {"monitor": self.monitor, "patience": self.patience, "restore_best": self.restore_best,
                "min_delta": self.min_delta}

    def describe(self) -> str:
        """A few words for the runs table's "what changed": "val_loss, patience 5, keep best"."""
        keep = ", keep best" if self.restore_best else ""
        delta = f", min_delta {self.min_delta:g}" if self.min_delta else ""
        return f"{self.monitor}, patience {self.patience}{delta}{keep}"

    def keras_code(self) -> str:
        """The Keras callback that trains the same way, for the exported script."""
        return (f"keras.callbacks.EarlyStopping(monitor={self.watched!r}, patience={self.patience}, "
                f"min_delta={self.min_delta!r}, restore_best_weights={self.restore_best})")


class Stopper:
    """The rule, applied one epoch at a time (training thread).  :meth:`observe` says whether the
    epoch is the new best; :attr:`reason` is set once the run should stop, :meth:`message` says why."""

    def __init__(self, spec: EarlyStopping):
        self.spec = spec
        self.best: BestEpoch | None = None
        self.wait = 0
        self.reason: str | None = None
        self.stopped_at: int | None = None  # the epoch (from 0) after which the run stops

    def observe(self, epoch: int, logs: dict, history: dict | None = None) -> bool:
        """Fold in epoch ``epoch``'s ``logs`` (Keras' names: loss, val_loss...); ``history`` (like
        ``run.history``, this epoch included) is what the overfitting detector reads."""
        spec = self.spec
        value = logs.get(spec.watched)
        if value is None or not math.isfinite(float(value)):
            return False
        value = float(value)
        lower, improved = MONITORS[spec.watched][1], False
        if self.best is None:
            improved = True
        else:
            margin = value - self.best.value if lower else self.best.value - value
            improved = margin < -spec.min_delta
        self.wait = 0 if improved else self.wait + 1
        if improved:
            self.best = BestEpoch(epoch, value, spec.restore_best)
        if spec.monitor == "overfitting":
            from ..compare import overfitting

            finding = overfitting.detect(history, patience=spec.patience) if history is not None else None
            if finding is not None:
                self._stop(epoch, f"overfitting: validation loss rising since epoch {finding.epoch} while training "
                                  "loss falls")
        elif self.wait >= spec.patience:
            what = MONITORS[spec.watched][0]
            epochs = "epoch" if spec.patience == 1 else f"{spec.patience} epochs"
            self._stop(epoch, f"{what} had not improved for {epochs}")
        return improved

    def _stop(self, epoch, reason):
        self.reason, self.stopped_at = reason, epoch

    def best_words(self, kept: bool) -> str:
        """"best was epoch 12 (kept)", counting from 1 as learners do; "" before any epoch counted."""
        if self.best is None:
            return ""
        return f"best was epoch {self.best.epoch + 1}" + (" (kept)" if kept else "")

    def message(self, kept: bool) -> str:
        """"stopped early at epoch 17: validation loss had not improved for 5 epochs; best was epoch 12 (kept)"."""
        best = self.best_words(kept)
        return f"stopped early at epoch {self.stopped_at + 1}: {self.reason}" + (f"; {best}" if best else "")


def best_of(history: dict, spec: EarlyStopping) -> BestEpoch | None:
    """The best epoch of a finished ``history`` (like ``run.history``) under ``spec``: the
    :class:`Stopper` replayed, so a restored run marks the epoch its live run kept."""
    stopper = Stopper(spec)
    epochs = history.get("epoch") or []
    for i, epoch in enumerate(epochs):
        logs = {key: values[i] for key, values in history.items() if key in MONITORS and values[i] is not None}
        stopper.observe(int(epoch), logs)  # the best does not depend on when the run stopped
    return stopper.best
