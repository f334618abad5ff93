"""Start training runs in the background, under the detected distribution of the backend in force."""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
import traceback
import weakref

from . import datasets as datasets_module
from .. import native_memory
from . import schedules as schedules_module
from .events import RunStarted
from .run import RunError, TrainingRun
from .settings import MAX_EPOCHS, OPTIMIZERS, Settings, SettingsError
from .models import BUILD_LOCK, WARM_MODELS, FinalModel, WarmModel, assign_state, compile_model, model_recipe
from .execution import automatic_steps_per_execution, multi_step_works
from .strategy import describe

EXIT_GRACE_S = 5.0

_threads = weakref.WeakKeyDictionary()  # run -> its training thread
_start_lock = threading.Lock()


def active_run():
    """The run training now, from whichever Trainer, or None.

    One run at a time per process: two would split the CPU (or the TPU)
    between them, and a notebook cell run twice easily starts a second
    Trainer while the first one's run goes on unseen.
    """
    return next((run for run in list(_threads.keys()) if not run.done), None)


@atexit.register
def _stop_runs_at_exit():
    """A training thread killed mid-step at interpreter exit aborts the
    process with a C++ error; stopping the runs first lets TensorFlow unwind."""
    for run, thread in list(_threads.items()):
        run.stop()
        thread.join(EXIT_GRACE_S)


class Trainer:
    """Trains an architecture on a dataset, one run at a time.

    ``architecture``: an ``Architecture`` (read again at every ``start()``,
    so edits made in the builder apply to the next run) or a preset name.
    ``data``: a :class:`~.datasets.DataBundle` or anything ``datasets.load``
    accepts.  ``strategy``: None to detect (TPU → GPUs → CPU) or the backend's
    own: on TensorFlow any ``tf.distribute.Strategy`` (multi-worker, TPU pods),
    on JAX any ``keras.distribution.Distribution`` (a DataParallel or
    ModelParallel device mesh); PyTorch trains on one device.

    ``checkpoint``: None, or what keeps the runs on disk while they train (a lab's
    :class:`~convlab_widgets.autosave.Autosave`): its ``epoch_ended(run, model)`` is called on the
    training thread after each epoch's record, and its ``run_ended(run)`` once a run has ended.
    """

    def __init__(self, architecture, data="digits", strategy=None):
        from convlab_widgets.architecture import resolve

        self.architecture = resolve(architecture, allow_none=False, duck_typed=True)
        self.data = data if isinstance(data, datasets_module.DataBundle) else datasets_module.load(data)
        self.strategy_info = describe(strategy)
        self.run = None
        self.checkpoint = None

    @property
    def strategy(self):
        return self.strategy_info.strategy

    @property
    def active(self):
        """This trainer's run in progress, or None."""
        run = self.run
        return run if run is not None and not run.done else None

    def start(self, settings: Settings | None = None, **keywords) -> TrainingRun:
        """Start a run in a background thread and return its :class:`TrainingRun` at once.

        ``settings``: a :class:`~.settings.Settings`; ``keywords`` change it (or the defaults),
        e.g. ``start(epochs=5, lr_schedule=schedules.exponential(decay=0.6))``; see
        ``Settings`` for each one.  ``batch_size`` is the global batch, split evenly across
        replicas.  ``dataset`` and ``train_subset`` are this trainer's data.  Every value is
        checked before anything starts: a refused one raises ``SettingsError`` (a
        ``ValueError``) naming it.
        """
        settings, config, optimizer = self._prepare(settings, keywords)
        run = TrainingRun(settings, config, _snapshot(self.architecture), self.data, self.strategy_info)
        return self._launch(run, _train, (self, run, *optimizer, settings.schedule))

    def resume(self, interrupted) -> TrainingRun:
        """Continue ``interrupted`` (a run read back from an autosave, ``status == "interrupted"``) from
        its checkpoint, in the background; returns the new run at once.

        The new run has the same settings and architecture and starts with the interrupted run's record
        (its curves continue); its model starts from the checkpoint's weights and optimizer state, and
        trains the epochs left with the schedule where it was.  The data is this trainer's, in the
        order of a new run: the epochs left see other batches than they would have, so their numbers
        are close to, not equal to, an uninterrupted run's.  ``RuntimeError`` if it is not an
        interrupted run with its checkpoint.
        """
        from .models import model_state
        from .status import INTERRUPTED

        name = getattr(interrupted, "name", "this run")
        if interrupted.status != INTERRUPTED:
            raise RuntimeError(f"{name} is {interrupted.status}: only an interrupted run (its kernel stopped while "
                               "it trained) can be resumed; to train it again, clone it")
        if interrupted.model is None:
            raise RuntimeError(f"{name} has no checkpoint to continue from (its model was not saved with the lab): "
                               "clone it and train it again")
        settings, config, optimizer = self._prepare(interrupted.settings, {}, interrupted.architecture)
        run = TrainingRun(settings, config, _snapshot(interrupted.architecture), self.data, self.strategy_info)
        run.resumed = Resumption(model_state(interrupted.model), [
            event for event in interrupted._replay() if event.kind not in ("run_started", "ended")],
            interrupted.history)
        return self._launch(run, _train, (self, run, *optimizer, settings.schedule))

    def find_learning_rate(self, settings: Settings | None = None, min_lr: float = 1e-6, max_lr: float = 1.0,
                           steps: int = 100) -> "RangeTest":
        """Start a learning-rate range test (``lr_range.py``) in the background; returns it at once.

        ``settings``: the run it prepares (optimizer, batch size, seed...), checked as ``start``
        checks them; their learning rate and schedule give way to the ramp from ``min_lr`` to
        ``max_lr`` over ``steps`` batches.  A bad argument is a ``SettingsError`` naming it.
        """
        from .lr_range import RangeTest, check_range

        min_lr, max_lr, steps = check_range(min_lr, max_lr, steps)
        settings = settings if settings is not None else Settings.make(**self._own())
        per_epoch = max(1, self.data.steps_per_epoch(settings.batch_size, self.strategy_info.drop_remainder))
        ramp = settings.replace(learning_rate=min_lr, lr_schedule="constant", early_stopping=None,
                                epochs=min(-(-steps // per_epoch), MAX_EPOCHS),
                                steps_per_execution=1)  # the ramp sets a learning rate at every step
        ramp, config, optimizer = self._prepare(ramp, {})
        test = RangeTest(ramp, config, _snapshot(self.architecture), self.data, self.strategy_info, min_lr, max_lr,
                         steps)
        return self._launch(test, _range_test, (test, *optimizer))

    def _own(self) -> dict:
        """The settings this trainer's data fixes."""
        data = self.data
        return {"dataset": data.name if data.name in datasets_module.names() else None,
                "train_subset": _subset_of(data)}

    def _prepare(self, settings, keywords, architecture=None):
        """(settings, config, (optimizer class, options)) of a run of ``architecture`` (None: this
        trainer's), every value checked first."""
        data, own = self.data, self._own()
        architecture = self.architecture if architecture is None else architecture
        if settings is None:
            settings = Settings.make(**{**own, **keywords})
        elif keywords:
            settings = settings.replace(**keywords)
        for key, value in own.items():
            if getattr(settings, key) != value:
                raise SettingsError(key, f"this trainer trains on {data.name!r} (train_subset={own['train_subset']}), "
                                         f"not {getattr(settings, key)!r}: use a Trainer of that data")
        info = self.strategy_info
        replicas = info.replicas
        if settings.batch_size % replicas:
            batch_size = settings.batch_size
            raise SettingsError("batch_size", f"{batch_size} does not split evenly across the {replicas} replicas "
                                              f"of {info.description}: use a multiple of {replicas}, e.g. "
                                              f"{max(replicas, batch_size // replicas * replicas)}")
        try:
            planned = settings.lr_preview()  # a faulty function fails here, not mid-run
        except (TypeError, ValueError) as error:
            raise SettingsError("schedule", str(error)) from None
        learning_rate = planned[0] if isinstance(settings.schedule, schedules_module.Custom) else \
            settings.learning_rate  # a custom schedule's function decides, learning_rate does not
        optimizer_cls, optimizer_config = _optimizer_recipe(settings.optimizer)
        _check_compatible(architecture, data)
        summary = getattr(architecture, "summary", None)
        if callable(summary) and not summary().is_valid:
            architecture.to_keras()  # raises the architecture's own error, naming the problem
        drop_remainder = info.drop_remainder
        steps = data.steps_per_epoch(settings.batch_size, drop_remainder)
        if steps == 0:
            raise SettingsError("batch_size", f"{settings.batch_size} is larger than the {data.train_size} training "
                                              "images: use a smaller batch")
        stopping = settings.early_stopping
        if stopping is not None and stopping.needs_validation and not data.validation_steps(settings.batch_size):
            raise SettingsError("early_stopping.monitor", f"{stopping.monitor!r} watches the validation images, and "
                                                          f"{data.name!r} has none here: use monitor='loss'")
        jit_compile = settings.jit_compile
        if jit_compile is None:
            jit_compile = _default_jit(info)
        steps_per_execution = settings.steps_per_execution
        if steps_per_execution is None:
            steps_per_execution = automatic_steps_per_execution(architecture, info, settings.batch_size, steps)
        elif steps_per_execution > 1 and info.backend == "torch":
            raise SettingsError("steps_per_execution", "Keras runs one step per call on PyTorch: use 1 or None")
        elif steps_per_execution > 1 and not multi_step_works(info):
            raise SettingsError("steps_per_execution", f"Keras' multi-step loop fails under {info.description}'s "
                                                       f"{info.replicas} replicas: use 1 or None")
        config = {
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "per_replica_batch_size": settings.batch_size // replicas,
            "replicas": replicas,
            "optimizer": optimizer_cls.__name__,
            "learning_rate": float(learning_rate),
            "lr_schedule": repr(settings.schedule),
            "seed": settings.seed,
            "filter_every": settings.filter_every,
            "health_every": settings.health_every,
            "jit_compile": bool(jit_compile),
            # Training steps per host call; the batch records have one entry per call.
            "steps_per_execution": steps_per_execution,
            "drop_remainder": drop_remainder,
            "steps_per_epoch": steps,
            "strategy": info.description,
            "data": data.name,
            "train_size": data.train_size,
            # None for all the images: train_size alone cannot tell a 300-image subset from a 300-image dataset.
            "train_subset": settings.train_subset,
            "validation_size": data.validation_size,
            "early_stopping": None if stopping is None else stopping.to_dict(),
            "lr_source": settings.lr_source,
        }
        return settings, config, (optimizer_cls, optimizer_config)

    def _launch(self, run, target, args):
        """Start ``target(*args)`` on the training thread for ``run``: one run at a time, whichever Trainer."""
        with _start_lock:
            running = active_run()
            if running is not None:
                where = "" if running is self.run else (
                    " by another Trainer; convlab_widgets.training.active_run() returns it"
                )
                raise RuntimeError(
                    f"a run is already {running.status}{where}: stop it (run.stop()) or wait for it "
                    "(run.wait()) before starting another"
                )
            previous, self.run = self.run, run
            released = getattr(previous, "_make_model", None)
            if released is not None:  # a finished run keeps its numbers, not its model (models.FinalModel)
                released.release()
            _threads[run] = threading.Thread(target=target, args=args, name="convlab-training", daemon=True)
        _threads[run].start()
        return run


def _subset_of(data):
    return data.source.get("train_subset") if isinstance(data.source, dict) else None


@dataclass(frozen=True)
class Resumption:
    """How a resumed run starts (``Trainer.resume``): the checkpoint's model state, the interrupted run's
    events to replay into the new run's record (its curves continue), and its history."""

    state: list
    events: list
    history: dict


def _train(trainer, run, optimizer_cls, optimizer_config, schedule):
    """Body of the training thread: everything Keras happens here, in the
    strategy's scope, because the scope and Keras' global state are per thread."""
    checkpoint = trainer.checkpoint
    _on_training_thread(run, lambda: _fit_run(trainer, run, optimizer_cls, optimizer_config, schedule),
                        ended=None if checkpoint is None else lambda: checkpoint.run_ended(run))


def _on_training_thread(run, fit, ended=None):
    """Run ``fit()`` (which returns ``(status, message)`` and a callable to call once the run has
    ended, or None) and end ``run`` with its outcome; an exception fails the run with its traceback.
    ``ended``: called last, once the run has ended."""
    info = run.strategy
    registry = _custom_gradient_registry() if info.backend == "tensorflow" else None
    registered_before = set(registry) if registry is not None else set()
    after = None
    try:
        outcome, after = fit()
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        outcome = ("failed", message, RunError(message, traceback.format_exc(), exc))
    finally:
        if registry is not None:  # before the run says it is done, so that nothing of it is left by then
            for name in set(registry) - registered_before:
                if name.startswith("CustomGradient-"):
                    del registry[name]
            _clear_kernel_cache()
    run._finish(*outcome)
    if after is not None:
        after()
    native_memory.return_freed_memory()
    if ended is not None:
        ended()


def _fit_run(trainer, run, optimizer_cls, optimizer_config, schedule):
    import keras

    from .callbacks import RunCallback, StopRun

    config, info, data = run.config, run.strategy, run.data
    final = None
    with info.scope():
        with BUILD_LOCK:
            if config["seed"] is not None:
                keras.utils.set_random_seed(config["seed"])
            fresh = run.architecture.to_keras()
        batch, drop = config["batch_size"], config["drop_remainder"]
        train = data.train(batch, drop, seed=config["seed"])
        validation = data.validation(batch, pad=drop) if data.validation_steps(batch) else None
        recipe = model_recipe(run, info, optimizer_cls, optimizer_config)
        warm = WARM_MODELS.take(recipe)  # given back only by a run that ends well
        if warm is not None:
            model = warm.restart(fresh, config["learning_rate"])
        else:
            model = compile_model(fresh, optimizer_cls, optimizer_config, config)
            warm = WarmModel(recipe, model) if recipe is not None else None
        resumed = run.resumed
        if resumed is not None:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            assign_state(model, resumed.state)
        stepper = schedule.start(config["learning_rate"], config["epochs"])
        checkpoint = trainer.checkpoint
        callback = RunCallback(run, stepper, config["steps_per_epoch"], batch, config["filter_every"],
                               train_size=None if drop else data.train_size,
                               early_stopping=run.settings.early_stopping, health_every=config["health_every"],
                               checkpoint=None if checkpoint is None else checkpoint.epoch_ended)
        if warm is not None:
            callback.predictor = warm.predictor_for(data)  # traced for this model and data by an earlier run
        _announce(run, model)
        if resumed is not None:
            for event in resumed.events:
                run._publish(event)
            callback.continue_after(resumed.history)
        try:
            if not run.stop_requested:
                model.fit(train, validation_data=validation, epochs=config["epochs"], verbose=0,
                          callbacks=[callback], shuffle=False,  # the pipeline shuffles
                          initial_epoch=callback.start_epoch)
        except StopRun:  # stopped between two batches: nothing more to do
            _drop_validation_iterator(model)
        kept = callback.keep_best()  # before the run's own model is taken from this one
    if warm is None:
        run.model = model
    else:
        final = run._make_model = FinalModel(run, optimizer_cls, optimizer_config, model)
        warm.keep_predictor(data, callback.predictor)
        WARM_MODELS.give(warm)
    if callback.diverged:
        status = "diverged"
    elif run.stop_requested:
        status = "stopped"
    else:
        status = "completed"
    epochs = len(run.history["epoch"])
    message = run.message if status == "diverged" else f"{status} after {epochs} of {config['epochs']} epochs"
    stopper = callback.stopper
    if stopper is not None and stopper.reason is not None and status == "completed" and epochs < config["epochs"]:
        message = stopper.message(kept)
    elif stopper is not None and stopper.best is not None:
        best = stopper.best_words(kept)
        message = f"{message} {best[0].upper()}{best[1:]}." if status == "diverged" else f"{message}; {best}"
    return (status, message), (final.prebuild if final is not None else None)


def _drop_validation_iterator(model):
    """What ``fit`` drops when it returns and a StopRun skips on TensorFlow: the validation
    iterator it cached, which a kept model would otherwise hold (and the next run reuse)."""
    if getattr(model, "_eval_epoch_iterator", None) is not None:
        del model._eval_epoch_iterator


def _announce(run, model):
    config, info = run.config, run.strategy
    run.param_count = model.count_params()
    run._publish(RunStarted(
        config, info.description, info.replicas, config["batch_size"], config["per_replica_batch_size"],
        config["steps_per_epoch"], config["epochs"], run.param_count, info.notes,
    ))


def _range_test(test, optimizer_cls, optimizer_config):
    """Body of a range test's training thread: a model built afresh, trained ``test.steps`` batches."""
    _on_training_thread(test, lambda: _ramp(test, optimizer_cls, optimizer_config))


def _ramp(test, optimizer_cls, optimizer_config):
    import keras

    from .callbacks import StopRun
    from .lr_range import RangeTestCallback

    config, info, data = test.config, test.strategy, test.data
    with info.scope():
        with BUILD_LOCK:
            if config["seed"] is not None:
                keras.utils.set_random_seed(config["seed"])
            model = test.architecture.to_keras()
        compile_model(model, optimizer_cls, optimizer_config, config)
        callback = RangeTestCallback(test, config["steps_per_epoch"], config["batch_size"])
        _announce(test, model)
        try:
            if not test.stop_requested:
                model.fit(data.train(config["batch_size"], config["drop_remainder"], seed=config["seed"]),
                          epochs=config["epochs"], verbose=0, callbacks=[callback], shuffle=False)
        except StopRun:
            pass
    return ("stopped" if test.stop_requested else "completed", test._summary(callback.exploded)), None


def _custom_gradient_registry():
    """TensorFlow's gradient registry, where repeated runs leak.

    Every traced ``tf.custom_gradient`` registers a gradient under a new name
    and never unregisters it; a strategy's all-reduce of the gradients uses
    one, so the registry ends up holding every traced train step (about 9 MB
    per run of a small model, 180 MB over 20 runs).  The entries are only
    read while tracing, so the ones added during a run can go once it has
    ended.  None when TensorFlow's internals differ: the leak then stays.
    """
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


def _clear_kernel_cache():
    """TensorFlow caches the kernel of every function a run called (train, test and prediction
    steps, the pipeline's) and keeps it after the function is gone: about 0.4 MB a run.  A kept
    model's next run instantiates its kernels again, in a few milliseconds."""
    try:
        from tensorflow.python.eager import context

        context.context().clear_kernel_cache()
    except (ImportError, AttributeError):  # TensorFlow's internals differ: the cache stays
        pass


def _default_jit(info):
    """XLA where it pays: JAX always compiles (uncompiled, it runs op by op); TensorFlow on one GPU
    (on a CPU its compile costs more than it saves for a classroom model); PyTorch's compile takes
    minutes for seconds of training."""
    if info.backend == "jax":
        return True
    return info.backend == "tensorflow" and info.kind == "gpu" and info.replicas == 1


def _optimizer_recipe(optimizer):
    """(class, config) to build a fresh optimizer inside each run's scope:
    optimizer variables belong to one strategy and one model."""
    import keras

    if isinstance(optimizer, str):
        class_name, options = OPTIMIZERS[optimizer]
        instance = getattr(keras.optimizers, class_name)(**options)
    else:
        instance = optimizer
    return type(instance), instance.get_config()


def _snapshot(architecture):
    """A copy the run keeps, so later edits in the builder do not rewrite history."""
    if hasattr(architecture, "copy"):
        return architecture.copy()
    if hasattr(architecture, "to_json") and hasattr(type(architecture), "from_json"):
        return type(architecture).from_json(architecture.to_json())
    return architecture


def _check_compatible(architecture, data):
    expected = getattr(architecture, "input_shape", None)
    if expected is not None and tuple(expected) != tuple(data.input_shape):
        e, d = (" × ".join(str(v) for v in s) for s in (expected, data.input_shape))
        raise ValueError(
            f"the architecture takes {e} inputs but {data.name!r} images are {d}: use "
            f"arch.configure(input_shape={tuple(data.input_shape)}), or load the data with image_size=... to match"
        )
    classes = getattr(architecture, "num_classes", None)
    if classes is not None and classes != data.num_classes:
        raise ValueError(
            f"the architecture predicts {classes} classes but {data.name!r} has {data.num_classes}: "
            f"use arch.configure(num_classes={data.num_classes})"
        )
