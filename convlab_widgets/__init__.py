"""Jupyter widgets to build convolutional networks by hand and watch them train.

Names are resolved lazily: ``import convlab_widgets`` stays instant, and
Keras (on the backend :mod:`convlab_widgets.backend` picks when the user did
not) is imported only when a name that needs it is first used, TensorFlow
quietly (see :mod:`convlab_widgets.quiet`; ``CONVLAB_VERBOSE=1`` shows
its start-up logs).
"""

from importlib import import_module

from . import backend as _backend
from . import native_memory as _native_memory
from . import quiet as _quiet

_quiet.install()  # before any submodule can import TensorFlow; imports nothing heavy
_backend.choose()  # before any submodule imports Keras, which reads its backend once
_native_memory.bound_arenas()  # before TensorFlow's or JAX's runtime starts threads that take arenas

__version__ = "0.1.0"

_EXPORTS = {
    "Builder": "convlab_widgets.builder",
    "ConvLab": "convlab_widgets.lab",
    "Dashboard": "convlab_widgets.dashboard.dashboard",
    "Architecture": "convlab_widgets.architecture",
    "ArchitectureError": "convlab_widgets.architecture",
    "catalog": "convlab_widgets.architecture",
    "presets": "convlab_widgets.architecture",
    "Trainer": "convlab_widgets.training",
    "Run": "convlab_widgets.training",
    "datasets": "convlab_widgets.training",
    "detect_strategy": "convlab_widgets.training",
    "schedules": "convlab_widgets.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convlab_widgets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
