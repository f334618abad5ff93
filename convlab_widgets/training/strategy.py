"""Which devices a run trains on, under which backend's distribution, and how to say it.

One :class:`StrategyInfo` per run, whatever the backend: TensorFlow keeps its
``tf.distribute`` strategies (:mod:`.strategy_tf`), JAX uses Keras'
``keras.distribution.DataParallel`` over all its devices (:mod:`.strategy_jax`),
PyTorch trains on its one device (several GPUs would need one process each,
which a notebook is not).  Detection follows the Keras-on-TPU codelabs: TPU,
then GPUs, then CPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..backend import TITLES, current


@dataclass(frozen=True)
class StrategyInfo:
    """The devices and distribution of a run.

    ``strategy``: the backend's object (a ``tf.distribute.Strategy``, a
    ``keras.distribution.Distribution``, or None: one device).  ``kind``:
    "tpu", "gpu" or "cpu".  ``replicas``: how many ways each batch is split.
    ``description``: the badge's words ("TPU v5 lite · 8 cores · JAX
    DataParallel").  ``note``: why detection fell back, when it did.
    """

    strategy: Any
    kind: str
    replicas: int
    devices: tuple
    description: str
    note: str = ""
    backend: str = "tensorflow"

    @classmethod
    def from_strategy(cls, strategy, note=""):
        """Describe any strategy, including one the user built (multi-worker, a TPU pod, a device mesh)."""
        if strategy is None:
            return _single_device(note)
        backend = current()
        if backend == "tensorflow":
            from . import strategy_tf

            return strategy_tf.describe(cls, strategy, note)
        if backend == "jax":
            from . import strategy_jax

            return strategy_jax.describe(cls, strategy, note)
        raise TypeError(f"{TITLES.get(backend, backend)} trains on one device here: pass strategy=None")

    def scope(self):
        """The context a model is built and trained in, on this run's thread (Keras keeps it per thread)."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()

    @property
    def notes(self) -> str:
        """What a learner should know beside the badge: why detection fell back, and why the backend
        in force may not be the one they expect (``backend.in_force().note``); "" when nothing."""
        from ..backend import in_force

        return " ".join(note for note in (self.note, in_force().note) if note)

    @property
    def drop_remainder(self) -> bool:
        """Whether the last partial batch is dropped: TPUs need fixed batch shapes, and JAX splits
        every batch across its devices, which a partial batch may not allow."""
        return self.kind == "tpu" or (self.backend == "jax" and self.replicas > 1)


def _single_device(note=""):
    """The one device PyTorch (or a one-device JAX) trains on."""
    backend = current()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            return StrategyInfo(None, "gpu", 1, ("cuda:0",), f"1 × GPU · {name} · PyTorch", note, backend)
        return StrategyInfo(None, "cpu", 1, ("cpu",), "CPU · PyTorch", note, backend)
    from . import strategy_jax

    return strategy_jax.single_device(StrategyInfo, note)


def detect_strategy(tpu_resolver=None, environ=None) -> StrategyInfo:
    """Pick the distribution for this machine under the backend in force: TPU → several GPUs → one GPU → CPU.

    ``tpu_resolver`` (TensorFlow: a ``TPUClusterResolver`` or a stand-in) skips the hint check.
    """
    backend = current()
    if backend == "tensorflow":
        from . import strategy_tf

        return strategy_tf.detect(StrategyInfo, tpu_resolver, environ)
    if backend == "jax":
        from . import strategy_jax

        return strategy_jax.detect(StrategyInfo)
    return _single_device()


_detected = []


def describe(strategy) -> StrategyInfo:
    """StrategyInfo for ``strategy``; None means detect, once per process:
    initialising a TPU again would wipe the variables of earlier runs."""
    if strategy is None:
        if not _detected:
            _detected.append(detect_strategy())
        return _detected[0]
    if isinstance(strategy, StrategyInfo):
        return strategy
    return StrategyInfo.from_strategy(strategy)


def current_strategy() -> StrategyInfo:
    """The distribution a user's own ``model.fit`` runs under: the one whose scope is open here."""
    backend = current()
    if backend == "tensorflow":
        import tensorflow as tf

        return StrategyInfo.from_strategy(tf.distribute.get_strategy())
    if backend == "jax":
        import keras

        return StrategyInfo.from_strategy(keras.distribution.distribution())
    return _single_device()
