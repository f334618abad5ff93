"""Which Keras backend trains: TensorFlow, JAX or PyTorch, chosen once before Keras is imported.

Keras 3 reads its backend when it is first imported (``KERAS_BACKEND``, else
``~/.keras/keras.json``, else TensorFlow) and cannot change it afterwards
without ``keras.config.set_backend``, which rebuilds Keras under the feet of
every model already made: this package never calls it.  What it does, from
``import convlab_widgets`` and only while Keras is not imported yet, is pick a
backend when the user has not: a TPU is only reachable through JAX today
(Colab's TPU runtime has no TensorFlow), so JAX where a TPU shows; otherwise
TensorFlow when installed, else JAX, else PyTorch.  It sets ``KERAS_BACKEND``
for this process to say so, exactly what a user would write themselves.

:func:`in_force` tells what was chosen, by whom, and how to change it: the
badge and ``lab.backend`` show it.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import sys
from dataclasses import dataclass

BACKENDS = ("tensorflow", "jax", "torch")
TITLES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# Set on TPU VMs and Colab's TPU runtimes (never a network call to find out).
TPU_ENV_HINTS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_WORKER_ID", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_HOSTNAMES")
HOW_TO_CHANGE = ("to train on another backend, restart the kernel and set KERAS_BACKEND (tensorflow, jax or torch) "
                 "before importing keras or convlab_widgets, e.g. %env KERAS_BACKEND=jax")


@dataclass(frozen=True)
class BackendChoice:
    """The backend Keras runs on and why.

    ``name``: "tensorflow", "jax" or "torch".  ``chosen_by``: "KERAS_BACKEND",
    "keras.json", "convlab_widgets" (picked for this machine) or "keras"
    (Keras was imported before this package with its own choice).  ``note``:
    a sentence for the learner when the choice is not what they may expect.
    """

    name: str
    chosen_by: str
    note: str = ""


def installed(name: str) -> bool:
    """Whether a backend's package is importable here, without importing it."""
    return importlib.util.find_spec(name) is not None


def tpu_hint(environ=None) -> bool:
    """Whether this machine looks like it has a TPU: its environment, its devices or libtpu."""
    environ = os.environ if environ is None else environ
    if any(environ.get(name) for name in TPU_ENV_HINTS):
        return True
    return _local_tpu()


def _local_tpu():
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*")) or installed("libtpu")


def keras_json_backend(environ=None) -> str | None:
    """The backend ``keras.json`` names (where Keras itself looks), or None."""
    environ = os.environ if environ is None else environ
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as file:
            value = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def pick(environ, keras_json: str | None, available, tpu: bool) -> BackendChoice:
    """The backend to use, from the user's settings and what the machine has (no side effect).

    ``available(name)`` says whether a backend's package is installed.  A
    ``keras.json`` that Keras wrote itself on a first import names TensorFlow
    even on a machine without it (a Colab TPU); such a choice is kept only if
    TensorFlow is there, and the note says what happened instead.
    """
    requested = environ.get("KERAS_BACKEND")
    if requested:
        return BackendChoice(requested, "KERAS_BACKEND")
    auto = _machine_choice(available, tpu)
    if keras_json:
        if keras_json in BACKENDS and not available(keras_json) and auto is not None:
            return BackendChoice(auto, "convlab_widgets",
                                 f"keras.json asks for {TITLES[keras_json]}, which is not installed here: "
                                 f"using {TITLES[auto]} (set KERAS_BACKEND to choose)")
        return BackendChoice(keras_json, "keras.json")
    if auto is None:
        return BackendChoice("tensorflow", "keras",
                             "no Keras backend is installed: pip install 'convlab-widgets[jax]' (or [tensorflow], [torch])")
    return BackendChoice(auto, "convlab_widgets")


def _machine_choice(available, tpu):
    if tpu and available("jax"):
        return "jax"
    return next((name for name in BACKENDS if available(name)), None)


_choice: list[BackendChoice] = []


def choose() -> BackendChoice:
    """Pick the backend once per process, before Keras is imported; cheap (imports nothing heavy).

    Called by ``import convlab_widgets``.  When Keras is imported already, its
    backend is the one in force and this only records it.
    """
    if _choice:
        return _choice[0]
    keras_config = sys.modules.get("keras.src.backend.config")
    if keras_config is not None:
        name = keras_config.backend()
        requested = os.environ.get("KERAS_BACKEND") or keras_json_backend()
        by = "KERAS_BACKEND" if os.environ.get("KERAS_BACKEND") else "keras.json" if requested else "keras"
        note = "" if requested in (None, name) else f"Keras was imported with {TITLES.get(name, name)} already: {HOW_TO_CHANGE}"
        choice = BackendChoice(name, by, note)
    else:
        choice = pick(os.environ, keras_json_backend(), installed, tpu_hint())
        if choice.chosen_by == "convlab_widgets":
            os.environ["KERAS_BACKEND"] = choice.name
    _choice.append(choice)
    return choice


def in_force() -> BackendChoice:
    """The backend Keras trains on now (importing Keras if needed), with who chose it."""
    import keras

    choice = choose()
    name = keras.backend.backend()
    if name != choice.name:  # Keras imported elsewhere with another backend meanwhile
        return BackendChoice(name, "keras", f"Keras runs on {TITLES.get(name, name)}: {HOW_TO_CHANGE}")
    return choice


def current() -> str:
    """The name of the backend Keras runs on ("tensorflow", "jax" or "torch")."""
    import keras

    return keras.backend.backend()
