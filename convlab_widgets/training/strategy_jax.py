"""JAX: ``keras.distribution.DataParallel`` over every device JAX sees (the JAX backend only).

This is how Keras 3 trains on a TPU today (Colab's TPU runtime has no
TensorFlow) and on several GPUs: each batch is split along its first axis
across the devices, the variables are replicated.  One device needs no
distribution.  ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` gives a
CPU two devices, which is how the tests shard for real.
"""

from __future__ import annotations

KINDS = {"tpu": "TPU", "gpu": "GPU", "cuda": "GPU", "rocm": "GPU", "cpu": "CPU"}


def devices_description(devices) -> tuple[str, str]:
    """``(kind, description)`` of a list of JAX devices (anything with ``platform`` and ``device_kind``).

    "TPU v5 lite · 8 cores · JAX DataParallel", "2 × GPU · NVIDIA H200 · JAX DataParallel",
    "CPU · JAX".
    """
    first = devices[0]
    kind = "gpu" if KINDS.get(first.platform, "").upper() == "GPU" else first.platform
    count = len(devices)
    label = "JAX DataParallel" if count > 1 else "JAX"
    if kind == "tpu":
        model = str(getattr(first, "device_kind", "") or "TPU")
        model = model if model.upper().startswith("TPU") else f"TPU {model}"
        return kind, f"{model} · {count} core{'s' if count > 1 else ''} · {label}"
    if kind == "gpu":
        model = str(getattr(first, "device_kind", "") or "")
        return kind, f"{count} × GPU{' · ' + model if model else ''} · {label}"
    return "cpu", (f"{count} × CPU · {label}" if count > 1 else "CPU · JAX")


def detect(cls, devices=None):
    """Every device of JAX's default platform (TPU, else GPU, else CPU): DataParallel over them when more than one."""
    import jax
    import keras

    devices = jax.devices() if devices is None else devices
    kind, description = devices_description(devices)
    names = tuple(_name(d) for d in devices)
    if len(devices) == 1:
        return cls(None, kind, 1, names, description, "", "jax")
    distribution = keras.distribution.DataParallel(devices=list(names))
    return cls(distribution, kind, len(devices), names, description, "", "jax")


def _name(device):
    """Keras' name of a JAX device ("cpu:0", "tpu:3")."""
    return f"{device.platform}:{device.id}"


def single_device(cls, note=""):
    import jax

    devices = jax.devices()[:1]
    kind, description = devices_description(devices)
    return cls(None, kind, 1, (_name(devices[0]),), description, note, "jax")


def describe(cls, distribution, note=""):
    """A StrategyInfo (``cls``) for a ``keras.distribution.Distribution`` the user built."""
    import jax
    import keras

    if not isinstance(distribution, keras.distribution.Distribution):
        raise TypeError(f"on JAX, strategy must be a keras.distribution.Distribution or None (detect), "
                        f"got {distribution!r}")
    mesh = distribution.device_mesh
    batch_axis = list(mesh.axis_names).index(distribution.batch_dim_name)
    replicas = int(mesh.shape[batch_axis])
    by_name = {_name(d): d for d in jax.devices()}
    names = tuple(str(d) for d in mesh.devices.flatten())
    devices = [by_name[name] for name in names if name in by_name] or jax.devices()
    kind, description = devices_description(devices)
    label = type(distribution).__name__
    if label != "DataParallel" or replicas != len(devices):
        description = description.replace("JAX DataParallel", "JAX").replace("· JAX", f"· JAX {label}")
        if replicas != len(devices):
            description += f" · batch split {replicas} ways"
    return cls(distribution, kind, replicas, names, description, note, "jax")
