"""Which tf.distribute strategy to train under, and how to describe it.

Detection follows the Keras-on-TPU codelabs (TPU, then GPUs, then CPU) with
one change: a TPU is only looked for when something hints at one, because
``TPUClusterResolver`` may query the GCE metadata server and wait on it
when run anywhere else.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass

import tensorflow as tf

TPU_ENV_HINTS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_WORKER_ID", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_HOSTNAMES")


@dataclass(frozen=True)
class StrategyInfo:
    strategy: tf.distribute.Strategy
    kind: str  # "tpu" | "gpu" | "cpu"
    replicas: int
    devices: tuple
    description: str
    note: str = ""  # why detection fell back, when it did

    @classmethod
    def from_strategy(cls, strategy, note=""):
        """Describe any strategy, including one the user built (multi-worker, a TPU pod)."""
        replicas = int(strategy.num_replicas_in_sync)
        name = type(strategy).__name__
        default = name == "_DefaultDistributionStrategy"  # its worker_devices raises
        devices = ("/cpu:0",) if default else tuple(strategy.extended.worker_devices)
        if "TPU" in name:
            kind = "tpu"
        elif any("GPU" in d.upper() for d in devices):
            kind = "gpu"
        else:
            kind = "cpu"
        if kind == "tpu":
            description = f"TPU · {replicas} replicas"
        elif default:
            description = "CPU · default strategy"
        else:
            label = {
                "OneDeviceStrategy": "one-device strategy",
                "MirroredStrategy": "mirrored strategy",
                "MultiWorkerMirroredStrategy": "multi-worker mirrored strategy",
                "CollectiveAllReduceStrategy": "multi-worker mirrored strategy",
            }.get(name, name)
            hardware = f"{len(devices) or replicas} × {kind.upper()}"
            if kind == "gpu":
                gpu_name = _gpu_name()
                if gpu_name:
                    hardware += f" · {gpu_name}"
            description = f"{hardware} · {label}"
            workers = {d.split("/device:")[0] for d in devices if "/device:" in d}
            if len(workers) > 1:
                description += f" · {len(workers)} workers"
        return cls(strategy, kind, replicas, devices, description, note)


def tpu_hint(environ=None):
    """Whether this machine looks like it has a TPU (never a network call)."""
    environ = os.environ if environ is None else environ
    if any(environ.get(name) for name in TPU_ENV_HINTS):
        return True
    return _local_tpu()


def _local_tpu():
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*")) or (
        importlib.util.find_spec("libtpu") is not None
    )


def detect_strategy(tpu_resolver=None, environ=None):
    """Pick a strategy for this machine: TPU → several GPUs → one GPU → CPU.

    ``tpu_resolver`` (a ``TPUClusterResolver`` or a stand-in) skips the hint
    check and is used as is; tests use it to exercise the TPU branch.
    """
    note = ""
    if tpu_resolver is not None or tpu_hint(environ):
        try:
            return _tpu_strategy(tpu_resolver, environ)
        except Exception as exc:  # every failure means "no usable TPU here"
            note = f"TPU hinted but not usable ({type(exc).__name__}: {exc}); fell back"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return StrategyInfo.from_strategy(tf.distribute.MirroredStrategy([g.name for g in gpus]), note)
    if gpus:
        return StrategyInfo.from_strategy(tf.distribute.OneDeviceStrategy("/gpu:0"), note)
    return StrategyInfo.from_strategy(tf.distribute.get_strategy(), note)


def _tpu_strategy(resolver, environ):
    environ = os.environ if environ is None else environ
    if resolver is None:
        if environ.get("TPU_NAME"):
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(environ["TPU_NAME"])
        elif environ.get("COLAB_TPU_ADDR"):
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver("grpc://" + environ["COLAB_TPU_ADDR"])
        else:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver("local")
    if resolver.master() not in ("", "local"):
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return StrategyInfo.from_strategy(tf.distribute.TPUStrategy(resolver))


def _gpu_name():
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ""
    try:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except Exception:  # details are cosmetic; some builds do not provide them
        return ""


_detected = []


def describe(strategy):
    """StrategyInfo for ``strategy``; None means detect, once per process:
    initialising a TPU again would wipe the variables of earlier runs."""
    if strategy is None:
        if not _detected:
            _detected.append(detect_strategy())
        return _detected[0]
    if isinstance(strategy, StrategyInfo):
        return strategy
    if isinstance(strategy, tf.distribute.Strategy):
        return StrategyInfo.from_strategy(strategy)
    raise TypeError(f"strategy must be a tf.distribute.Strategy or None (detect), got {strategy!r}")


def current_strategy():
    """The strategy a user's own ``model.fit`` runs under: the one whose scope is open here."""
    return describe(tf.distribute.get_strategy())
