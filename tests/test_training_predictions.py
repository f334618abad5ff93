"""Prediction snapshots: real runs on the digits predict the validation images after every epoch."""

import numpy as np
import keras
import pytest

from convlab_widgets.architecture import Architecture
from convlab_widgets.training.history import RunHistory
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.callbacks import PREDICTION_LIMIT, prediction_sample
from convlab_widgets.training.datasets import DatasetError

from .test_training_history import real_run, started  # noqa: F401 (fixture)


def test_every_epoch_predicts_every_digits_validation_image(real_run):
    run, streamed = real_run
    snapshots = run.predictions
    assert [s.epoch for s in snapshots] == [0, 1] and [s.kind for s in snapshots] == ["predictions"] * 2
    assert snapshots == [e for e in run.events if e.kind == "predictions"]
    size = run.data.validation_size
    _, labels = run.data.validation_images(np.arange(size))
    for snapshot, val_accuracy in zip(snapshots, run.history["val_accuracy"]):
        assert snapshot.indices.tolist() == list(range(size))  # 359 < PREDICTION_LIMIT: all of them
        assert np.array_equal(snapshot.labels, labels)
        assert snapshot.predicted.dtype == np.int32 and snapshot.confidence.dtype == np.float32
        assert snapshot.predicted.min() >= 0 and snapshot.predicted.max() < 10
        assert np.all((snapshot.confidence >= 0.1 - 1e-6) & (snapshot.confidence <= 1))  # a max over 10 probabilities
        # Keras validates in inference mode (no dropout), as the snapshot predicts.
        assert abs(snapshot.accuracy - val_accuracy) <= 1 / size + 1e-6
        assert snapshot.confusion(10).sum() == size and np.trace(snapshot.confusion(10)) == snapshot.correct.sum()
        with pytest.raises(ValueError):
            snapshot.indices[0] = 1  # shared between snapshots, so read-only
    assert snapshots[0].indices is snapshots[1].indices
    assert streamed.predictions == snapshots
    assert RunHistory.from_run(run).predictions == snapshots


def test_a_model_that_outputs_logits_still_gives_probabilities():
    data = datasets.load("digits", train_subset=300)
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10, output="logits")
    arch.add("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu").add("Flatten")
    arch.add("Dense", units=10, activation="linear")
    run = Trainer(arch, data).start(epochs=1, batch_size=64, learning_rate=0.01, seed=0)
    assert run.wait(timeout=120) and run.status == "completed", run.error
    [snapshot] = run.predictions
    images, _ = data.validation_images(snapshot.indices)
    logits = np.asarray(keras.ops.convert_to_numpy(run.model(images, training=False)), dtype=np.float64)
    assert logits.max() > 1 or logits.min() < 0  # really logits
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    assert np.array_equal(snapshot.predicted, logits.argmax(axis=1))
    assert np.allclose(snapshot.confidence, probabilities.max(axis=1), atol=1e-5)
    assert abs(snapshot.accuracy - run.history["val_accuracy"][0]) <= 1 / len(snapshot.labels) + 1e-6


def test_a_run_without_validation_predicts_nothing():
    data = datasets.load("digits", validation_split=0, train_subset=200)
    run = Trainer("conv_small", data).start(epochs=1, batch_size=64, seed=0)
    assert run.wait(timeout=120) and run.status == "completed", run.error
    assert run.predictions == [] and run.history["val_accuracy"] == [None]
    with pytest.raises(DatasetError, match="no validation images.*validation_split > 0"):
        data.validation_images([0])


def test_the_sample_is_bounded_and_the_same_every_epoch():
    assert prediction_sample(359, (8, 8, 1)).tolist() == list(range(359))
    big = prediction_sample(10_000, (28, 28, 1))
    assert len(big) == PREDICTION_LIMIT == len(np.unique(big)) and np.all(np.diff(big) > 0) and big.max() < 10_000
    assert np.array_equal(big, prediction_sample(10_000, (28, 28, 1)))
    photos = prediction_sample(3000, (192, 192, 3))  # decoded once per run: bounded in bytes too
    assert 100 < len(photos) <= (64 << 20) // (192 * 192 * 3 * 4)


def test_validation_images_are_what_the_model_sees():
    data = datasets.load("digits")
    images, labels = data.validation_images([3, 0])
    assert images.shape == (2, 8, 8, 1) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    assert np.array_equal(labels, data._validation.y[[3, 0]])
    resized = datasets.load("digits", image_size=(16, 16))
    assert resized.validation_images([0])[0].shape == (1, 16, 16, 1)
    size = data.validation_size
    with pytest.raises(DatasetError, match=f"no validation image {size}: .* numbered 0 to {size - 1}"):
        data.validation_images([0, size])


def test_a_new_run_starts_the_predictions_over(real_run):
    run, _ = real_run
    history = RunHistory.from_run(run)
    generation = history.generation
    history.apply(started(2, 4))
    assert history.predictions == [] and history.generation != generation


def test_new_models_do_not_make_tensorflow_warn_about_retracing():
    """Each new model traces the predictor once: after five, TensorFlow used to warn in the learner's notebook."""
    import logging

    from convlab_widgets.architecture import presets

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("tensorflow").addHandler(handler)
    try:
        data = datasets.load("digits")
        for units in range(8, 14):  # another architecture each time: no warm start
            architecture = presets.get("conv_small").update(3, units=units)
            run = Trainer(architecture, data).start(epochs=1, batch_size=128, seed=0)
            run.wait()
            assert len(run.predictions) == 1
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
