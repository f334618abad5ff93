"""TensorFlow's ``tf.distribute`` strategies: detection and description (the TensorFlow backend only).

A TPU is only looked for when something hints at one, because
``TPUClusterResolver`` may query the GCE metadata server and wait on it when
run anywhere else.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ..backend import tpu_hint

_LABELS = {
    "OneDeviceStrategy": "TensorFlow",
    "MirroredStrategy": "TensorFlow MirroredStrategy",
    "MultiWorkerMirroredStrategy": "TensorFlow MultiWorkerMirroredStrategy",
    "CollectiveAllReduceStrategy": "TensorFlow MultiWorkerMirroredStrategy",
}


def describe(cls, strategy, note=""):
    """A StrategyInfo (``cls``) for any ``tf.distribute.Strategy``."""
    if not isinstance(strategy, tf.distribute.Strategy) and not hasattr(strategy, "num_replicas_in_sync"):
        raise TypeError(f"strategy must be a tf.distribute.Strategy or None (detect), got {strategy!r}")
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
        description = f"TPU · {replicas} replicas · TensorFlow TPUStrategy"
    elif default:
        description = "CPU · TensorFlow"
    else:
        hardware = f"{len(devices) or replicas} × {kind.upper()}"
        if kind == "gpu":
            gpu_name = _gpu_name()
            if gpu_name:
                hardware += f" · {gpu_name}"
        description = f"{hardware} · {_LABELS.get(name, 'TensorFlow ' + name)}"
        workers = {d.split("/device:")[0] for d in devices if "/device:" in d}
        if len(workers) > 1:
            description += f" · {len(workers)} workers"
    return cls(strategy, kind, replicas, devices, description, note, "tensorflow")


def detect(cls, tpu_resolver=None, environ=None):
    """TPU → several GPUs → one GPU → CPU.  ``tpu_resolver`` (a
    ``TPUClusterResolver`` or a stand-in) skips the hint check; tests use it
    to exercise the TPU branch."""
    note = ""
    if tpu_resolver is not None or tpu_hint(environ):
        try:
            return describe(cls, _tpu_strategy(tpu_resolver, environ))
        except Exception as exc:  # every failure means "no usable TPU here"
            note = f"TPU hinted but not usable ({type(exc).__name__}: {exc}); fell back"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return describe(cls, tf.distribute.MirroredStrategy([g.name for g in gpus]), note)
    if gpus:
        return describe(cls, tf.distribute.OneDeviceStrategy("/gpu:0"), note)
    return describe(cls, tf.distribute.get_strategy(), note)


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
    return tf.distribute.TPUStrategy(resolver)


def _gpu_name():
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ""
    try:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except Exception:  # details are cosmetic; some builds do not provide them
        return ""
