"""Real training runs on the embedded digits: tiny model, few steps."""

import math
import threading
import time

import keras
import numpy as np
import pytest

from convlab_widgets.architecture import Architecture, ArchitectureError, presets
from convlab_widgets.training import RunStarted, SettingsError, Trainer, active_run, datasets, schedules
from convlab_widgets.training.callbacks import RunCallback
from convlab_widgets.training.models import WARM_MODELS
from convlab_widgets.training.strategy import describe


def tiny(input_shape=(8, 8, 1), classes=10, output="probabilities"):
    arch = Architecture(input_shape=input_shape, num_classes=classes, output=output)
    arch.add("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu").add("Flatten")
    return arch.add("Dense", units=classes, activation="softmax" if output == "probabilities" else "linear")


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _chunk_ends(steps, per_call):
    """The last step of each chunk Keras executes in one host call, over an epoch of ``steps``."""
    return [min(end, steps - 1) for end in range(per_call - 1, steps + per_call - 1, per_call)]


def _until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_run_streams_events_on_the_main_thread_and_keeps_everything(digits):
    arch = tiny()
    trainer = Trainer(arch, digits)
    started = time.monotonic()
    run = trainer.start(epochs=3, batch_size=32, learning_rate=0.01, lr_schedule=schedules.exponential(0.6),
                        seed=0, filter_every=10)
    assert time.monotonic() - started < 1.0 and run.status in ("starting", "running")
    events, threads = [], set()

    def on_event(event):
        events.append(event)
        threads.add(threading.current_thread())

    assert run.wait(timeout=120, on_event=on_event) is True
    assert threads == {threading.main_thread()}
    assert run.status == "completed", run.error
    assert events == list(run.events)  # nothing lost, nothing duplicated
    assert events[0].kind == "run_started" and events[-1].kind == "ended" and events[-1].status == "completed"

    started_event = events[0]
    assert isinstance(started_event, RunStarted)
    replicas = describe(None).replicas
    assert (started_event.replicas, started_event.global_batch_size, started_event.per_replica_batch_size) == \
        (replicas, 32, 32 // replicas)
    assert started_event.strategy == describe(None).description == run.config["strategy"]
    assert started_event.strategy in ("CPU · TensorFlow", "2 × CPU · JAX DataParallel", "CPU · JAX", "CPU · PyTorch")
    assert started_event.param_count == arch.summary().total_params == run.model.count_params()
    steps = digits.steps_per_epoch(32, describe(None).drop_remainder)  # JAX over 2 devices leaves the last partial batch out
    assert started_event.steps_per_epoch == steps

    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == [0, 1, 2]
    assert [e.lr for e in epochs] == pytest.approx([0.01, 0.006, 0.0036], rel=1e-6)  # read from the optimizer
    assert all(e.val_loss is not None and 0 <= e.val_accuracy <= 1 and e.duration > 0 for e in epochs)
    history = run.history
    assert history["epoch"] == [0, 1, 2] and history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"] == [e.val_accuracy for e in epochs]
    per_call = run.config["steps_per_execution"]
    # A tiny model's steps are short: several per host call (PyTorch: Keras runs one per call there).
    assert per_call == 1 if keras.backend.backend() == "torch" else per_call > 1
    # Every host call (a chunk of steps, recorded at its last step), not only the events.
    assert run.batch_history["step"] == 3 * _chunk_ends(steps, per_call)

    batches = [e for e in events if e.kind == "batch"]
    assert all(b.samples_per_sec > 0 and b.steps_per_epoch == steps for b in batches)
    assert {b.epoch for b in batches if b.step == steps - 1} == {0, 1, 2}  # every epoch's last batch
    throttled = [b for b in batches if b.step != steps - 1]
    assert all(b.time - a.time >= 0.09 for a, b in zip(throttled, throttled[1:]))  # <= 10 per second

    filters = run.filters
    assert [(f.epoch, f.batch) for f in filters] == [(0, 0)] + [
        (epoch, batch) for epoch in range(3) for batch in (10, 20, 30, 40, steps)
    ]
    assert filters == [e for e in events if e.kind == "filters"]
    assert all(f.kernel.shape == (3, 3, 1, 4) for f in filters)
    assert abs(filters[-1].kernel - filters[0].kernel).max() > 0  # the filters learned

    assert run.architecture == arch and run.architecture is not arch
    arch.remove(0)
    assert len(run.architecture) == 3  # the run kept its own snapshot
    assert trainer.active is None


def test_a_second_start_while_running_is_refused(digits):
    trainer = Trainer(tiny(), digits)
    run = trainer.start(epochs=500, batch_size=32)
    with pytest.raises(RuntimeError, match="already .*stop it .*or wait for it"):
        trainer.start(epochs=1)
    with pytest.raises(RuntimeError, match="by another Trainer; convlab_widgets.training.active_run"):
        Trainer(tiny(), digits).start(epochs=1)  # the same cell run twice
    assert active_run() is run
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    again = trainer.start(epochs=1, batch_size=256)
    assert again.wait(timeout=60) and again.status == "completed"


def test_stop_ends_training_within_two_batches(digits):
    run = Trainer(tiny(), digits).start(epochs=500, batch_size=16)
    _until(lambda: len(run.batch_history["loss"]) >= 3)
    before = len(run.batch_history["loss"])
    run.stop()
    assert run.wait(timeout=60)
    assert run.status == "stopped" and run.events.since(0)[-1].status == "stopped"
    assert len(run.batch_history["loss"]) - before <= 2
    history = run.history
    assert len(history["epoch"]) == len(history["loss"])  # only whole epochs


def test_stop_also_stops_validation(monkeypatch):
    counted = []
    original = RunCallback.on_test_batch_end

    def counting(self, batch, logs=None):
        counted.append(batch)
        original(self, batch, logs)

    monkeypatch.setattr(RunCallback, "on_test_batch_end", counting)
    data = datasets.load("digits", validation_split=0.8, train_subset=20)  # validation dominates
    run = Trainer(tiny(), data).start(epochs=5, batch_size=4)
    _until(lambda: len(counted) >= 3)
    before = len(counted)
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    assert len(counted) - before <= 2 and len(counted) < data.validation_steps(4)
    assert run.history["epoch"] == []  # the interrupted epoch is not recorded


def test_a_run_stopped_in_its_first_epoch_does_no_validation(monkeypatch, digits):
    evaluated = []
    monkeypatch.setattr(RunCallback, "on_test_begin", lambda self, logs=None: evaluated.append(1))
    run = Trainer(tiny(), digits).start(epochs=5, batch_size=8)
    _until(lambda: len(run.batch_history["loss"]) >= 3)
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    assert evaluated == [] and run.predictions == [] and run.history["epoch"] == []
    assert run.model is not None  # the stopped run still has its model


def test_pause_resume_and_set_learning_rate(digits):
    run = Trainer(tiny(), digits).start(epochs=200, batch_size=8, learning_rate=0.01,
                                        lr_schedule=schedules.exponential(0.5))
    _until(lambda: any(e.kind == "batch" for e in run.events))
    run.pause()
    _until(lambda: run.status == "paused", timeout=30)
    count = len(run.batch_history["loss"])
    paused_in = run.batch_history["epoch"][-1]
    time.sleep(0.4)
    assert len(run.batch_history["loss"]) == count  # really paused
    run.set_learning_rate(0.002)
    assert run.status == "paused"
    mark = len(run.events)
    run.resume()
    _until(lambda: len(run.history["epoch"]) >= paused_in + 2)
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    after = [e for e in run.events.since(mark) if e.kind == "batch"]
    assert after[0].lr == pytest.approx(0.002, rel=1e-6)
    # The schedule keeps its shape from the new value: ×0.5 per epoch.
    assert run.history["lr"][paused_in + 1] == pytest.approx(0.001, rel=1e-6)
    statuses = [e.status for e in run.events if e.kind == "status" and not e.message]
    assert statuses[:3] == ["running", "paused", "running"]
    assert any("learning rate set to 0.002" in e.message for e in run.events if e.kind == "status")
    with pytest.raises(RuntimeError, match="has ended"):
        run.set_learning_rate(0.1)
    with pytest.raises(ValueError, match="positive"):
        run.set_learning_rate(-1)


def test_nan_loss_means_diverged_with_a_hint(digits):
    linear = Architecture(input_shape=(8, 8, 1), num_classes=10, output="logits").add("Flatten").add("Dense", units=10)
    # Steps this large overflow float32 weights within a few batches.
    run = Trainer(linear, digits).start(epochs=20, batch_size=32, optimizer="sgd", learning_rate=1e38)
    assert run.wait(timeout=60)
    assert run.status == "diverged", (run.status, run.history)
    assert "lower learning rate" in run.message and run.events.since(0)[-1].status == "diverged"
    assert run.batch_history["loss"] and not math.isfinite(run.batch_history["loss"][-1])
    assert not any(math.isnan(loss) for loss in run.history["loss"])


class Broken:
    input_shape, num_classes = (8, 8, 1), 10

    def to_keras(self):
        raise RuntimeError("boom in to_keras")


def test_an_exception_fails_the_run_and_leaves_the_trainer_usable(digits):
    trainer = Trainer(Broken(), digits)
    run = trainer.start(epochs=1)
    assert run.wait(timeout=60) and run.status == "failed"
    assert "boom in to_keras" in run.error.message and "to_keras" in run.error.traceback
    assert isinstance(run.error.exception, RuntimeError) and "boom" in run.message
    assert trainer.active is None
    trainer.architecture = tiny()
    assert trainer.start(epochs=1, batch_size=256).wait(timeout=60)
    assert trainer.run.status == "completed"


def test_bad_settings_are_refused_before_anything_starts(digits):
    trainer = Trainer(tiny(), digits)
    cases = [
        (dict(batch_size=0), SettingsError, "batch_size: must be a whole number from 1 to 65,536, got 0"),
        (dict(epochs=2.5), SettingsError, "epochs: must be a whole number from 1 to 10,000, got 2.5"),
        (dict(epochs=0), SettingsError, "epochs: .* got 0"),
        (dict(epochs=10**9), SettingsError, "epochs: must be a whole number from 1 to 10,000, got 1000000000"),
        (dict(epochs="ten"), SettingsError, "epochs: .* got 'ten'"),
        (dict(learning_rate=-1), SettingsError, "learning_rate: must be a positive number"),
        (dict(learning_rate=float("inf")), SettingsError, "learning_rate: must be a positive number"),
        (dict(seed=-1), SettingsError, "seed: must be a whole number from 0"),
        (dict(jit_compile="yes"), SettingsError, "jit_compile: must be True, False or None"),
        (dict(optimizer="adamm"), SettingsError, "optimizer: unknown optimizer 'adamm'; did you mean 'adam'"),
        (dict(lr_schedule="linear"), SettingsError, "unknown schedule"),
        (dict(epochs=3, lr_schedule=lambda epoch: 0.1 - 0.06 * epoch), SettingsError,
         r"schedule: .*returned -0.0\d* for epoch 2"),
        (dict(epochz=3), TypeError, "unknown setting 'epochz'; did you mean 'epochs'"),
        (dict(dataset="shapes"), SettingsError, "dataset: this trainer trains on 'digits'"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            trainer.start(**kwargs)
    with pytest.raises(ValueError, match=r"takes 28 × 28 × 1 inputs but 'digits' images are 8 × 8 × 1.*configure"):
        Trainer(tiny(input_shape=(28, 28, 1)), digits).start()
    with pytest.raises(ValueError, match=r"predicts 4 classes but 'digits' has 10"):
        Trainer(tiny(classes=4), digits).start()
    invalid = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten").add("Dense", units=3)
    with pytest.raises(ArchitectureError):
        Trainer(invalid, digits).start()
    with pytest.raises(TypeError, match="architecture must be an Architecture .*a preset name like 'conv_small'"):
        Trainer(object(), digits)
    assert trainer.run is None


def test_numpy_numbers_are_the_numbers_they_hold(digits):
    run = Trainer(tiny(), digits).start(epochs=np.int64(1), batch_size=np.int32(128), learning_rate=np.float32(0.01),
                                        seed=np.int64(0))
    assert run.wait(timeout=60) and run.status == "completed"
    assert run.settings.epochs == 1 and type(run.settings.epochs) is int
    assert run.config["learning_rate"] == 0.01 and run.settings.seed == 0


@pytest.mark.parametrize("per_call", [1, pytest.param(4, marks=pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="Keras runs one step per call on PyTorch: the Trainer refuses more"))])
def test_batch_values_are_each_batchs_own_not_the_running_mean(digits, per_call):
    """Keras reports the epoch's running mean after every host call; the record keeps each call's own
    value (one batch's, or the mean of the chunk's batches): weighted by images, they average to exactly
    what Keras reports for the epoch."""
    run = Trainer(tiny(), digits).start(epochs=2, batch_size=64, seed=0, steps_per_execution=per_call)
    assert run.wait(timeout=60) and run.status == "completed"
    assert run.config["steps_per_execution"] == per_call
    batches, epochs = run.batch_history, run.history
    steps = run.config["steps_per_epoch"]
    images = np.minimum((np.array(_chunk_ends(steps, per_call)) + 1) * 64,
                        64 * steps if run.config["drop_remainder"] else digits.train_size)  # JAX over 2 devices: no partial batch
    sizes = np.diff(images, prepend=0).astype(float)
    for epoch in range(2):
        rows = [i for i, e in enumerate(batches["epoch"]) if e == epoch]
        for key in ("loss", "accuracy"):
            own = np.array([batches[key][i] for i in rows])
            assert float(own @ sizes / sizes.sum()) == pytest.approx(epochs[key][epoch], rel=1e-4), key
    running = np.cumsum(own * sizes) / np.cumsum(sizes)
    assert not np.allclose(own[1:], running[1:])  # not the running mean any more


def test_seeded_runs_repeat_exactly(digits):
    trainer = Trainer(tiny(), digits)
    losses = []
    for _ in range(2):
        run = trainer.start(epochs=1, batch_size=64, seed=3)
        assert run.wait(timeout=60) and run.status == "completed"
        losses.append(run.batch_history["loss"])
    assert losses[0] == losses[1]


def test_presets_by_name_optimizer_instances_and_logits_outputs(digits):
    run = Trainer("conv_small", digits).start(epochs=1, batch_size=128)
    assert run.wait(timeout=60) and run.status == "completed"
    assert run.architecture == presets.get("conv_small")
    sgd = keras.optimizers.SGD(momentum=0.9, nesterov=True)
    run = Trainer(tiny(output="logits"), digits).start(epochs=2, batch_size=32, optimizer=sgd, learning_rate=0.05)
    assert run.wait(timeout=60) and run.status == "completed"
    assert run.config["optimizer"] == "SGD" and run.model.optimizer.nesterov
    assert run.history["accuracy"][-1] > 0.5  # from_logits=True was inferred


def test_interrupting_wait_stops_the_run(digits):
    run = Trainer(tiny(), digits).start(epochs=500, batch_size=32)

    def interrupt(event):
        if event.kind == "batch":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.wait(on_event=interrupt)
    assert run.stop_requested
    assert run.wait(timeout=60) and run.status == "stopped"


def test_runs_leave_no_traced_graphs_behind(digits):
    """TensorFlow keeps a gradient entry per traced custom gradient forever;
    each run's entries would pin its whole train step in memory."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's gradient registry")
    from tensorflow.python.framework import ops

    before = set(ops._gradient_registry._registry)
    run = Trainer(tiny(), digits).start(epochs=1, batch_size=128)
    assert run.wait(timeout=60) and run.status == "completed"
    assert set(ops._gradient_registry._registry) == before
    assert run.model.evaluate(digits.validation(128), verbose=0)  # the trained model still works


def test_tpu_batch_arithmetic_on_jax_with_stand_in_tpu_devices(digits):
    """The same on JAX: the stand-in StrategyInfo says TPU over the one CPU device (no TPU exists here)."""
    if keras.backend.backend() != "jax":
        pytest.skip("the JAX backend")
    from convlab_widgets.training import StrategyInfo

    fake_tpu = StrategyInfo(None, "tpu", 1, ("cpu:0",), "TPU v5 lite · stand-in · JAX", backend="jax")
    run = Trainer(tiny(), digits, strategy=fake_tpu).start(epochs=1, batch_size=32)
    assert run.wait(timeout=120) and run.status == "completed", run.error
    assert run.config["drop_remainder"] and run.config["steps_per_epoch"] == 1438 // 32 and run.config["jit_compile"]


def test_tpu_batch_arithmetic_with_a_stand_in_strategy_info(digits):
    """A TPU needs static batch shapes: the last partial batch is dropped.
    The stand-in describes the CPU's default strategy as a TPU."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a tf.distribute stand-in")
    import tensorflow as tf

    from convlab_widgets.training import StrategyInfo

    fake_tpu = StrategyInfo(tf.distribute.get_strategy(), "tpu", 1, ("/cpu:0",), "TPU · stand-in")
    trainer = Trainer(tiny(), digits, strategy=fake_tpu)
    with pytest.raises(ValueError, match="larger than the 1438 training images"):
        trainer.start(batch_size=2048)
    run = trainer.start(epochs=1, batch_size=32)
    assert run.wait(timeout=60) and run.status == "completed"
    assert run.config["drop_remainder"] and run.config["steps_per_epoch"] == 1438 // 32
    assert run.batch_history["step"] == _chunk_ends(1438 // 32, run.config["steps_per_execution"])
    assert not run.config["jit_compile"]


# PyTorch runs always start cold (models.model_recipe): no kept model to test there.
WARM_STARTS = pytest.mark.skipif(keras.backend.backend() == "torch",
                                 reason="PyTorch runs never start warm: Keras' unseeded dropout draws from torch's "
                                        "global generator, which a restart cannot put back")


def regularised():
    """Every kind of state a restart must reset: seed generators (flip, dropout) and batch-norm statistics."""
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10, output="probabilities")
    arch.add("RandomFlip", mode="horizontal").add("Conv2D", filters=4, kernel_size=3, padding="same")
    arch.add("BatchNormalization").add("Activation", activation="relu").add("Dropout", rate=0.3).add("Flatten")
    return arch.add("Dense", units=10, activation="softmax")


def _completed(run):
    assert run.wait(timeout=120) and run.status == "completed", run.error
    return run


def _kept():
    """The one warm model kept now (models.WARM_MODELS)."""
    (model,) = WARM_MODELS.models()
    return model


@WARM_STARTS
def test_a_warm_start_reuses_the_traced_step_and_repeats_a_cold_run(digits):
    settings = dict(epochs=2, batch_size=64, seed=5, learning_rate=0.02)
    cold = _completed(Trainer(regularised(), digits).start(**settings))
    WARM_MODELS.clear()

    trainer = Trainer(regularised(), digits)
    first = _completed(trainer.start(epochs=1, batch_size=64, seed=1, learning_rate=0.001))
    kept, (predictor,) = _kept(), [warm.predictor_for(digits) for warm in WARM_MODELS._kept]
    step = kept.train_function
    warm = _completed(trainer.start(**settings))
    assert _kept() is kept and kept.train_function is step  # not traced again
    assert predictor is not None and WARM_MODELS._kept[0].predictor_for(digits) is predictor

    for key in ("loss", "accuracy", "lr"):
        assert warm.batch_history[key] == pytest.approx(cold.batch_history[key], rel=1e-5), key
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert warm.history[key] == pytest.approx(cold.history[key], rel=1e-5), key
    for ours, theirs in zip(warm.predictions, cold.predictions, strict=True):
        assert (ours.predicted == theirs.predicted).all()
        assert ours.confidence == pytest.approx(theirs.confidence, rel=1e-4)

    # Each run has its own model with its own final state, however late it is asked for.
    models = {id(run.model) for run in (cold, first, warm)} | {id(kept)}
    assert len(models) == 4
    validation = digits.validation(64, warm.config["drop_remainder"])  # the images val_loss was measured on
    for run in (first, warm):
        assert run.model.evaluate(validation, verbose=0, return_dict=True)["loss"] == pytest.approx(
            run.history["val_loss"][-1], rel=1e-4)
        assert int(run.model.optimizer.iterations.numpy()) == run.config["epochs"] * run.config["steps_per_epoch"]


@WARM_STARTS
def test_a_new_trainer_starts_warm_on_other_data_of_the_same_shape_with_the_same_numbers(digits):
    """The warm models are the process's, not a trainer's: a lab's cell run again (a new Trainer, its data
    loaded again) trains the model an earlier run traced, and its numbers are a cold run's.  The
    validation predictor is traced per data: other data gets its own."""
    settings = dict(epochs=2, batch_size=64, seed=3)
    again = datasets.load("digits")  # what running a lab's cell again does: other arrays, the same shapes
    cold = _completed(Trainer(regularised(), again).start(**settings))
    WARM_MODELS.clear()
    _completed(Trainer(regularised(), digits).start(**settings))
    kept = _kept()
    step, predictor = kept.train_function, WARM_MODELS._kept[0].predictor_for(digits)
    warm = _completed(Trainer(regularised(), again).start(**settings))
    assert _kept() is kept and kept.train_function is step  # not traced again
    assert WARM_MODELS._kept[0].predictor_for(again) not in (None, predictor)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert warm.history[key] == pytest.approx(cold.history[key], rel=1e-5), key
    assert warm.batch_history["loss"] == pytest.approx(cold.batch_history["loss"], rel=1e-5)


@WARM_STARTS
def test_no_two_runs_train_one_model_and_the_warm_models_kept_are_bounded(monkeypatch, digits):
    """A run takes its warm model out of the pool: while it trains, a run of another trainer with the
    same recipe compiles its own.  Only the last ``capacity`` recipes stay warm; a run that fails gives
    nothing back."""
    first = Trainer(tiny(), digits)
    _completed(first.start(epochs=1, batch_size=64, seed=0))
    kept = _kept()
    taken = WARM_MODELS.take(WARM_MODELS._kept[0].recipe)  # as a run in progress holds it
    assert taken.model is kept and WARM_MODELS.models() == []
    _completed(Trainer(tiny(), digits).start(epochs=1, batch_size=64, seed=0))
    assert _kept() is not kept
    WARM_MODELS.give(taken)
    for batch in (32, 128):  # two more recipes: the oldest kept goes
        _completed(first.start(epochs=1, batch_size=batch, seed=0))
    assert len(WARM_MODELS.models()) == WARM_MODELS.capacity == 2 and kept not in WARM_MODELS.models()
    newest = WARM_MODELS.models()[-1]

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom mid-run")

    monkeypatch.setattr(RunCallback, "on_epoch_end", boom)
    failing = first.start(epochs=1, batch_size=128, seed=0)  # takes the newest, fails, gives nothing back
    assert failing.wait(timeout=120) and failing.status == "failed" and "boom mid-run" in failing.message
    assert len(WARM_MODELS.models()) == 1 and newest not in WARM_MODELS.models()


@WARM_STARTS
def test_a_different_recipe_compiles_a_new_model(digits):
    trainer = Trainer(tiny(), digits)
    _completed(trainer.start(epochs=1, batch_size=64, seed=0))
    kept = _kept()
    _completed(trainer.start(epochs=1, batch_size=128, seed=0))
    assert WARM_MODELS.models()[-1] is not kept
    kept = WARM_MODELS.models()[-1]
    trainer.architecture.insert(1, "Dropout", rate=0.5)
    _completed(trainer.start(epochs=1, batch_size=128, seed=0))
    newest = WARM_MODELS.models()[-1]
    assert newest is not kept and len(newest.layers) == len(kept.layers) + 1


@WARM_STARTS
def test_a_finished_runs_own_model_is_built_on_the_training_thread(digits):
    """The dashboard asks for ``run.model`` as soon as it reads the end (activation
    maps); building it then would hold up the main thread for tens of ms."""
    from convlab_widgets.training.trainer import _threads

    run = _completed(Trainer(tiny(), digits).start(epochs=1, batch_size=128))
    _threads[run].join(60)
    assert run._make_model.model is not None  # built before anyone asked
    assert run.model is run.model and run.model.count_params() == tiny().summary().total_params


def test_a_run_stopped_in_its_first_epoch_traces_no_validation_step(monkeypatch, digits):
    """Counted where Keras does the work: no evaluate, no traced test step, no predictor compiled."""
    from convlab_widgets.training import callbacks

    counted = []
    for name in ("evaluate", "test_step", "predict_on_batch"):
        original = getattr(keras.Model, name)
        monkeypatch.setattr(keras.Model, name, lambda *a, _name=name, _original=original, **k:
                            (counted.append(_name), _original(*a, **k))[1])
    monkeypatch.setattr(callbacks, "forward_pass", lambda *a, **k: counted.append("forward_pass"))
    trainer = Trainer(tiny(), digits)
    run = trainer.start(epochs=5, batch_size=8, steps_per_execution=1)
    _until(lambda: len(run.batch_history["loss"]) >= 3)
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    assert counted == [] and run.predictions == []


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="a PyTorch trainer keeps no warm model (model_recipe)")
def test_a_run_stopped_while_validating_keeps_no_validation_iterator(monkeypatch):
    counted = []
    original = RunCallback.on_test_batch_end
    monkeypatch.setattr(RunCallback, "on_test_batch_end",
                        lambda self, batch, logs=None: (counted.append(batch), original(self, batch, logs))[1])
    data = datasets.load("digits", validation_split=0.8, train_subset=20)  # validation dominates
    trainer = Trainer(tiny(), data)
    run = trainer.start(epochs=5, batch_size=4, steps_per_execution=1)
    _until(lambda: len(counted) >= 3)
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    assert run.predictions == [] and run.history["epoch"] == []
    kept = _kept()  # trains the next run: it must not hold this run's validation iterator
    assert getattr(kept, "_eval_epoch_iterator", None) is None


@WARM_STARTS
def test_a_finished_run_lets_go_of_its_model_once_the_next_one_starts(digits):
    """A lab keeps every run: their histories stay in memory, their Keras models do not."""
    import gc
    import weakref

    trainer = Trainer(tiny(), digits)
    first = trainer.start(epochs=1, batch_size=64, seed=0)
    assert first.wait(timeout=60) and first.status == "completed"
    model = first.model
    kept, numbers = weakref.ref(model), [w.copy() for w in model.get_weights()]
    del model
    second = trainer.start(epochs=1, batch_size=64, seed=1)
    assert second.wait(timeout=60) and second.status == "completed"
    deadline = time.monotonic() + 5  # the first run's thread may still be ending, on a loaded machine
    while kept() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    holders = [] if kept() is None else [type(r).__name__ for r in gc.get_referrers(kept())]
    assert kept() is None, f"the first run's model is held by {holders}"  # nothing of ours holds it any more
    assert first._make_model.model is None and first._make_model.state is None  # its numbers are on disk
    assert first.history["epoch"] == [0] and len(first.batch_history["loss"]) > 0
    again = first.model  # built again from the file, with the run's final numbers
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), numbers, strict=True))
    assert int(keras.ops.convert_to_numpy(again.optimizer.iterations)) == first.config["steps_per_epoch"]  # and optimizer state


@WARM_STARTS
def test_a_run_released_before_its_thread_prebuilds_its_model_stays_released(digits):
    """The training thread builds ``run.model`` once the run has ended (prebuild); a next run can start
    before it does so and release the first one: the late prebuild must not build it back."""
    first = Trainer(tiny(), digits).start(epochs=1, batch_size=64, seed=0)
    assert first.wait(timeout=60) and first.status == "completed"
    final = first._make_model
    final.release()
    final.prebuild()  # what the training thread does next, when it comes late
    assert final.model is None and final.state is None
    assert first.model is final.model is not None  # asked for, it is built from the file
