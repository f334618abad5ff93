"""Several training steps per host call (execution.py): chosen per run, the same numbers, Stop between calls."""

import time

import keras
import numpy as np
import pytest

from convlab_widgets.architecture import Architecture, presets
from convlab_widgets.training import SettingsError, Trainer, datasets
from convlab_widgets.training.execution import (HOST_CALL_S, MAX_AUTOMATIC, MIN_CALLS_PER_EPOCH,
                                                automatic_steps_per_execution, estimated_step_s)
from convlab_widgets.training.strategy import StrategyInfo, describe


def tiny():
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10)
    arch.add("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu").add("Flatten")
    return arch.add("Dense", units=10, activation="softmax")


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _device(kind, backend="tensorflow", replicas=1):
    return StrategyInfo(None, kind, replicas, (), f"{kind} stand-in", backend=backend)


def test_the_choice_fills_a_host_call_and_leaves_points_on_the_curve():
    small = presets.get("conv_small")
    cpu = automatic_steps_per_execution(small, _device("cpu"), 32, 45)
    step_s = estimated_step_s(small.summary().multiply_adds, 32, 1, "cpu")
    assert 1 < cpu <= 45 // MIN_CALLS_PER_EPOCH and cpu * step_s <= HOST_CALL_S  # Stop acts within one call
    assert automatic_steps_per_execution(small, _device("cpu"), 32, 10_000) == int(HOST_CALL_S // step_s)
    # A GPU's step is short: capped by the curve's points per epoch, then by MAX_AUTOMATIC.
    assert automatic_steps_per_execution(small, _device("gpu"), 32, 45) == 45 // MIN_CALLS_PER_EPOCH
    assert automatic_steps_per_execution(small, _device("gpu"), 32, 10_000) == MAX_AUTOMATIC
    wide = Architecture(input_shape=(64, 64, 3), num_classes=10)
    wide.add("Conv2D", filters=256, kernel_size=5, padding="same").add("Flatten").add("Dense", units=10)
    assert estimated_step_s(wide.summary().multiply_adds, 32, 1, "cpu") > HOST_CALL_S
    assert automatic_steps_per_execution(wide, _device("cpu"), 32, 10_000) == 1  # a slow step: one per call
    assert automatic_steps_per_execution(small, _device("cpu", "torch"), 32, 10_000) == 1  # Keras' limit
    assert automatic_steps_per_execution(object(), _device("cpu"), 32, 10_000) == 1  # nothing to estimate from
    assert automatic_steps_per_execution(small, _device("cpu"), 32, 3) == 1  # a short epoch keeps every step


def test_the_setting_is_checked_in_the_one_schema(digits):
    for bad in (0, -1, 2.5, "8", True, 10_001):
        with pytest.raises(SettingsError, match="steps_per_execution: must be a whole number from 1 to 10,000"):
            Trainer(tiny(), digits).start(steps_per_execution=bad)
    if keras.backend.backend() == "torch":
        with pytest.raises(SettingsError, match="steps_per_execution: Keras runs one step per call on PyTorch"):
            Trainer(tiny(), digits).start(steps_per_execution=4)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras runs one step per call on PyTorch")
def test_chunks_train_the_very_numbers_of_single_steps(digits):
    """Same seed, one step per call and five: the epoch records (Keras' own numbers, validation included)
    are identical, and each chunk's record is the image-weighted mean of its steps' own values."""
    runs = {}
    for per_call in (1, 5):
        run = Trainer(tiny(), digits).start(epochs=2, batch_size=32, seed=0, steps_per_execution=per_call)
        assert run.wait(timeout=120) and run.status == "completed", run.error
        assert run.config["steps_per_execution"] == per_call
        runs[per_call] = run
    one, five = runs[1].history, runs[5].history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert five[key] == one[key], key  # bit-identical
    steps = runs[1].config["steps_per_epoch"]
    train_size = 32 * steps if runs[1].config["drop_remainder"] else digits.train_size
    sizes = np.diff(np.minimum((np.arange(steps) + 1) * 32, train_size), prepend=0).astype(float)
    single, chunked = runs[1].batch_history, runs[5].batch_history
    for epoch in range(2):
        rows = [i for i, e in enumerate(single["epoch"]) if e == epoch]
        chunks = [i for i, e in enumerate(chunked["epoch"]) if e == epoch]
        assert [chunked["step"][i] for i in chunks] == [min(end, steps - 1) for end in range(4, steps + 4, 5)]
        for key in ("loss", "accuracy"):
            own = np.array([single[key][i] for i in rows])
            expected = [float(own[start:start + 5] @ sizes[start:start + 5] / sizes[start:start + 5].sum())
                        for start in range(0, steps, 5)]
            assert [chunked[key][i] for i in chunks] == pytest.approx(expected, rel=1e-5), key


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras runs one step per call on PyTorch")
def test_stop_and_pause_act_between_two_host_calls(digits):
    run = Trainer(tiny(), digits).start(epochs=500, batch_size=16, steps_per_execution=4)
    deadline = time.monotonic() + 60
    while len(run.batch_history["loss"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    run.pause()
    while run.status != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.005)
    paused_at = len(run.batch_history["loss"])
    time.sleep(0.2)
    assert len(run.batch_history["loss"]) == paused_at  # no call runs while paused
    run.resume()
    while len(run.batch_history["loss"]) < paused_at + 2:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    before = len(run.batch_history["loss"])
    run.stop()
    assert run.wait(timeout=60) and run.status == "stopped"
    assert len(run.batch_history["loss"]) - before <= 2  # at most the call in flight and the next
    assert run.batch_history["step"][:3] == [3, 7, 11]


def test_the_range_test_sets_a_rate_at_every_step(digits):
    test = Trainer(tiny(), digits).find_learning_rate(steps=12, settings=None)
    assert test.wait(timeout=120) and test.status == "completed"
    assert test.config["steps_per_execution"] == 1


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras runs one step per call on PyTorch")
def test_the_exported_script_runs_as_many_steps_per_call(digits):
    run = Trainer(tiny(), digits).start(epochs=1, batch_size=32)
    assert run.wait(timeout=60) and run.status == "completed"
    per_call = run.config["steps_per_execution"]
    assert per_call == automatic_steps_per_execution(run.architecture, describe(None), 32,
                                                     run.config["steps_per_epoch"]) > 1
    assert f"    steps_per_execution={per_call}," in run.to_script()


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras runs one step per call on PyTorch")
def test_a_loss_that_ran_away_inside_the_first_call_is_divergence(digits):
    """The first record of a chunked run already holds steps after updates: a loss of 1e28 there is
    measured against chance level, not taken as the run's normal start."""
    run = Trainer("conv_small", digits).start(epochs=2, batch_size=64, seed=3, optimizer="sgd", learning_rate=1e30,
                                              steps_per_execution=2)
    assert run.wait(timeout=120) and run.status == "diverged", run.message
    assert run.history["epoch"] == [] and "batch 2" in run.message
