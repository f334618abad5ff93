"""A run's Keras model: compiled once, trained again warm, and each run's own copy at its end.

Keras traces the train step of every new model; the process keeps the compiled
models of its last runs for the next run with the same recipe, whichever
Trainer starts it (:class:`WarmModel`, :data:`WARM_MODELS`), and each finished
run gets its own model, built from the final weights (:class:`FinalModel`).
"""

from __future__ import annotations

import threading
import weakref

# Held while a model is built: a run seeds Keras' global random state and then
# builds, and a run's own model built meanwhile on another thread (see
# FinalModel) would take random numbers in between and change the seeded run.
BUILD_LOCK = threading.Lock()


class WarmModel:
    """A compiled model, kept (in :data:`WARM_MODELS`) for the next run with the same recipe.

    Keras traces the train step of every new model, which is most of the time
    from Train to the first loss point (about 1.5 s of 1.8 s on a CPU).  A run
    with the same architecture, optimizer, batch shapes and strategy can train
    this model again instead: ``restart`` gives it the variables of a model
    freshly built after seeding (seed generators included) and the optimizer's
    state from before its first step, so the numbers equal a cold run's.  The
    learning rate is a variable, set again by each run.  Runs never hand this
    model out (see ``FinalModel``), so restarting it changes no finished run.
    """

    def __init__(self, recipe, model):
        self.recipe = recipe
        self.model = model
        self._predictor = None  # (the data it predicts, weakly; the callback's ValidationPredictor)
        model.optimizer.build(model.trainable_variables)  # what fit would do, done first to keep its start
        self.optimizer_start = snapshot_variables(model.optimizer.variables)

    def restart(self, fresh, learning_rate):
        for variable, value in zip(self.model.variables, fresh.variables, strict=True):
            variable.assign(value)
        for variable, value in zip(self.model.optimizer.variables, self.optimizer_start, strict=True):
            variable.assign(value)
        self.model.optimizer.learning_rate = learning_rate
        return self.model

    def predictor_for(self, data):
        """The validation predictor an earlier run traced for this model on ``data``, or None."""
        if self._predictor is None or self._predictor[0]() is not data:
            return None
        return self._predictor[1]

    def keep_predictor(self, data, predictor) -> None:
        self._predictor = None if predictor is None else (weakref.ref(data), predictor)


class WarmModels:
    """The compiled models of this process's last runs, each waiting for a run with its recipe.

    Shared by every Trainer, so that a new Trainer (a lab's cell run again, a script training a fresh
    ``Trainer`` per experiment) starts as fast as a trainer's second run: about 0.4 s from Train to the
    first loss point instead of 1.5 s on a CPU, with the same numbers (``WarmModel.restart``).  A run
    takes its model out (:meth:`take`) and gives it back when it ends well (:meth:`give`): no two
    runs ever train one model.  At most ``capacity`` are kept, the least recently given back go first,
    so the memory held stays bounded however many architectures a notebook tries.
    """

    def __init__(self, capacity: int = 2):
        self.capacity = capacity
        self._kept: list[WarmModel] = []  # least recently given back first
        self._lock = threading.Lock()

    def take(self, recipe) -> WarmModel | None:
        """The kept model with this recipe, no longer kept; None if there is none (or no recipe)."""
        if recipe is None:
            return None
        with self._lock:
            for index, warm in enumerate(self._kept):
                if warm.recipe == recipe:
                    return self._kept.pop(index)
        return None

    def give(self, warm: WarmModel) -> None:
        """Keep ``warm`` for a later run, dropping the oldest kept beyond ``capacity``."""
        with self._lock:
            self._kept.append(warm)
            while len(self._kept) > self.capacity:
                self._kept.pop(0)

    def models(self) -> list:
        """The Keras models kept now, least recently given back first."""
        with self._lock:
            return [warm.model for warm in self._kept]

    def clear(self) -> None:
        """Let go of every kept model (the next run of each recipe compiles and traces anew)."""
        with self._lock:
            self._kept.clear()


#: The one pool of warm models of this process.
WARM_MODELS = WarmModels()


def model_recipe(run, info, optimizer_cls, optimizer_config):
    """What a traced train step (and the validation predictor) depends on;
    None when a warm restart cannot equal a cold run: the architecture cannot say
    (no ``to_dict``), or the backend is PyTorch."""
    to_dict = getattr(run.architecture, "to_dict", None)
    if not callable(to_dict) or info.backend == "torch":
        # PyTorch: Keras' unseeded dropout draws from torch's global generator, which a warm
        # restart cannot put back where a cold run has it: the numbers would differ.
        return None
    config = run.config
    settings = {key: value for key, value in optimizer_config.items() if key not in ("learning_rate", "name")}
    # Not the data: the traced step depends on its batches' shapes (the architecture's input, the batch),
    # not on the images; the validation predictor does, and is kept per data (WarmModel.predictor_for).
    return (to_dict(), info.strategy, optimizer_cls, settings, config["batch_size"], config["drop_remainder"],
            config["jit_compile"], config["steps_per_execution"])


def compile_model(model, optimizer_cls, optimizer_config, config):
    import keras

    from .adapter import outputs_probabilities

    model.compile(
        optimizer=optimizer_cls.from_config({**optimizer_config, "learning_rate": config["learning_rate"]}),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(model)),
        # Weighted: the padding of fixed-shape validation batches weighs 0 (pipelines.padding).
        weighted_metrics=["accuracy"],
        jit_compile=config["jit_compile"],
        # A restored run's config from before this setting: one step per call, as Keras' default.
        steps_per_execution=config.get("steps_per_execution", 1),
    )
    return model


class FinalModel:
    """``run.model`` of a run whose trainer kept its model for the next run:
    the run's own model, built and compiled as the run's was and given the
    kept model's final variables and optimizer state, once (a copy taken when
    the run ended, so the next run can start at once).

    Once a later run of the same trainer starts, :meth:`release` lets go of the
    built model (its Keras objects and variables) and keeps the final numbers
    in a temporary file instead: a lab holding a hundred finished runs keeps
    their histories in memory, not their models; ``run.model`` builds it again
    from the file when asked.
    """

    def __init__(self, run, optimizer_cls, optimizer_config, trained):
        self.run, self.optimizer = run, (optimizer_cls, optimizer_config)
        self.state = model_state(trained)
        self.model = None
        self._kept = None  # the temporary file holding the final numbers once released
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self._built()

    def _built(self):
        if self.model is None:
            if self.state is None:
                self.state = _read_state(self._kept)
            self.model, self.state = self._build(), None
        return self.model

    def release(self) -> None:
        """Keep this run's final numbers on disk and let go of its model (see the class)."""
        with self._lock:
            if self._kept is None:
                state = self.state if self.model is None else model_state(self.model)
                self._kept = _write_state(state)
            self.model = self.state = None

    def prebuild(self):
        """Build it on the training thread as soon as the run has ended: the
        dashboard asks for it at once, and building takes tens of ms. Not once
        released: a later run that started first let go of it for good."""
        with self._lock:
            if self._kept is None:
                try:
                    self._built()
                except Exception:  # asked for again, it raises where someone sees it
                    pass

    def _build(self):
        model = build_like(self.run, *self.optimizer)
        with self.run.strategy.scope():
            assign_state(model, self.state)
        return model


def build_like(run, optimizer_cls, optimizer_config):
    """A new model of ``run``: its architecture built and compiled as the run's was, in its strategy's
    scope, the optimizer built so that its state can be assigned (:func:`assign_state`)."""
    with run.strategy.scope():
        with BUILD_LOCK:
            model = run.architecture.to_keras()
        compile_model(model, optimizer_cls, optimizer_config, run.config)
        model.optimizer.build(model.trainable_variables)
    return model


def model_state(model):
    """Copies of a model's variables and its optimizer's (the step count and moments included), as numpy
    arrays: all it takes to go on training it, in :func:`assign_state`'s order.  On the training thread
    between epochs; on JAX, after ``jax_state_sync``."""
    import keras

    return [keras.ops.convert_to_numpy(value) for value in frozen_state(model)]


def frozen_state(model):
    """:func:`model_state` before its conversion: copies the training thread can take at an epoch's end
    for another thread to turn into numpy while training goes on.  Each backend's cheapest copy that
    training's next steps cannot change (``conv_small`` on a CPU, 27 variables: 2.9 ms with one
    ``keras.ops.copy`` each):

    - TensorFlow: one ``identity_n`` op for all of them (1.0 ms), on the variables' device.  What it
      returns shares their buffers, and TensorFlow copies a shared buffer before it updates a variable
      in place (copy-on-write), so later steps never reach these values.
    - JAX on CPUs: numpy copies (0.1 ms; Keras' train step may donate the variables' own buffers).
    - JAX on accelerators, PyTorch: ``keras.ops.copy`` each, on the device, without waiting for it.
    """
    import keras

    values = [variable.value for variable in [*model.variables, *model.optimizer.variables]]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.identity_n(values)
    if backend == "jax":
        import jax

        if jax.default_backend() == "cpu":
            import numpy as np

            return [np.array(value) for value in values]
    return [keras.ops.copy(value) for value in values]


def assign_state(model, state):
    """Give ``model`` (built, its optimizer too) the variables :func:`model_state` copied from a model of
    the same architecture."""
    for variable, value in zip([*model.variables, *model.optimizer.variables], state, strict=True):
        variable.assign(value)


_STATE_DIRECTORY = None  # a temporary directory for released runs' numbers, removed at exit


def _write_state(state):
    global _STATE_DIRECTORY
    import tempfile

    import numpy as np

    if _STATE_DIRECTORY is None:
        _STATE_DIRECTORY = tempfile.TemporaryDirectory(prefix="convlab-runs-")
    handle, path = tempfile.mkstemp(suffix=".npy", dir=_STATE_DIRECTORY.name)
    with open(handle, "wb") as file:
        for value in state:
            np.save(file, value, allow_pickle=False)
    return path, len(state)


def _read_state(kept):
    import numpy as np

    path, count = kept
    with open(path, "rb") as file:
        return [np.load(file, allow_pickle=False) for _ in range(count)]


def snapshot_variables(variables):
    import keras

    return [keras.ops.convert_to_numpy(variable).copy() for variable in variables]
