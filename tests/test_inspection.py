"""Looking inside: the predictions grid, the confusion matrix and the activation maps."""

import base64
import re

import numpy as np
import pytest

from convlab_widgets.architecture import Architecture
from convlab_widgets.dashboard.imaging import pixels_for_display
from convlab_widgets.dashboard.inspection import (
    NO_FEATURE_LAYERS, NO_VALIDATION, WAITING_ACTIVATIONS, WAITING_CONFUSION, WAITING_PREDICTIONS, WRONG_COLOR,
    ActivationMaps, ConfusionMatrix, PredictionsGrid, mistakes_first,
)
from convlab_widgets.training.attention import feature_layers
from convlab_widgets.training.history import RunHistory
from convlab_widgets.training import datasets
from convlab_widgets.training.events import PredictionSnapshot

from .test_training_history import real_run, started  # noqa: F401 (fixture)
from .test_dashboard_panels import Traffic


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def snapshot(epoch, labels, predicted, confidence=None):
    labels, predicted = np.asarray(labels, np.int32), np.asarray(predicted, np.int32)
    if confidence is None:
        confidence = np.linspace(0.5, 0.9, len(labels))
    return PredictionSnapshot(epoch, np.arange(len(labels), dtype=np.int32), labels, predicted,
                              np.asarray(confidence, np.float32))


def history_of(*snapshots):
    history = RunHistory()
    history.apply(started(len(snapshots), 4))
    for item in snapshots:
        history.apply(item)
    return history


def text(value):
    return re.sub(r"<[^>]+>", "", value)


def cells(value):
    """(label, colour) of each grid cell, in order."""
    return re.findall(r'<div style="font-size: 15px; color: (#\w+); [^"]*">([^<]*)</div>', value)


def test_the_grid_shows_mistakes_first_in_red_under_a_right_count(digits):
    labels = digits.validation_images(np.arange(10))[1]
    predicted = labels.copy()
    predicted[[2, 7]] = (labels[[2, 7]] + 1) % 10
    confidence = np.full(10, 0.6)
    confidence[7] = 0.95  # the most confident mistake comes first
    confidence[4] = 0.2  # then the closest right call
    grid = PredictionsGrid()
    grid.set_data(digits)
    traffic = Traffic(grid.widget)
    grid.update(history_of(snapshot(1, labels, predicted, confidence)))
    value = grid.body.value
    shown = cells(value)
    assert shown[0] == (WRONG_COLOR, f"{predicted[7]} ({labels[7]})")
    assert shown[1] == (WRONG_COLOR, f"{predicted[2]} ({labels[2]})")
    assert shown[2] == ("#444444", str(labels[4]))
    assert all(colour != WRONG_COLOR for colour, _ in shown[2:]) and len(shown) == 10
    assert ("epoch 2: 8/10 right (80.0 %) on a sample of 10 of the 359 validation images; "
            "the 2 mistakes first, in red: predicted (true class)") in text(value)
    assert value.count("<img ") == 10 and value.count(f"outline: 3px solid {WRONG_COLOR}") == 2
    assert traffic.take() == [(grid.body, "value")]  # the whole page is one message


def test_the_grid_sends_nothing_until_a_new_snapshot_arrives(digits):
    grid = PredictionsGrid(page_size=6)
    grid.set_data(digits)
    history = history_of()
    traffic = Traffic(grid.widget)
    grid.update(history)
    assert WAITING_PREDICTIONS in grid.body.value and traffic.take() == []
    first = snapshot(0, np.zeros(20), np.arange(20) % 3)
    history.apply(first)
    grid.update(history)
    assert traffic.take() == [(grid.body, "value"), (grid.more, "description"), (grid.more.layout, "display")]
    grid.update(history)
    grid.update(history)
    assert traffic.take() == []
    assert "epoch 1: 7/20 right (35.0 %) on a sample of 20 of the 359 validation images; 6 of the 13 mistakes" in text(
        grid.body.value)
    assert len(cells(grid.body.value)) == 6
    history.apply(snapshot(1, np.zeros(20), np.zeros(20)))
    grid.update(history)
    assert traffic.take() == [(grid.body, "value")] and "20/20 right (100.0 %) on" in text(grid.body.value)
    assert "no mistakes" in grid.body.value


def test_the_grid_starts_with_one_page_and_shows_more_on_request(digits):
    grid = PredictionsGrid()
    grid.set_data(digits)
    history = history_of(snapshot(0, np.zeros(30), np.arange(30) % 3))
    grid.update(history)
    assert len(cells(grid.body.value)) == grid.page_size == 12
    assert grid.more.layout.display is None and grid.more.description == "show 12 more (of 18 not shown)"
    grid.more.click()
    assert len(cells(grid.body.value)) == 24 and grid.more.description == "show 6 more (of 6 not shown)"
    grid.more.click()
    assert len(cells(grid.body.value)) == 30 and grid.more.layout.display == "none"
    history.apply(snapshot(1, np.zeros(30), np.zeros(30)))
    grid.update(history)
    assert len(cells(grid.body.value)) == 30  # the learner's choice holds for the next epoch


def test_mistakes_first_orders_surprises_then_close_calls():
    order = mistakes_first(snapshot(0, [0, 0, 0, 0, 0], [1, 0, 2, 0, 0], [0.6, 0.9, 0.99, 0.3, 0.5]))
    assert order.tolist() == [2, 0, 3, 4, 1]


def test_images_grow_by_whole_pixels_and_grey_becomes_grey_rgb(digits):
    images, _ = digits.validation_images([0])
    pixels = pixels_for_display(images[0])
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels[..., 0], pixels[..., 2])
    assert np.array_equal(pixels[::8, ::8, 0], np.rint(images[0, ..., 0] * 255).astype(np.uint8))
    shapes, _ = datasets.load("shapes").validation_images([0])
    colour = pixels_for_display(shapes[0])
    assert colour.shape == (64, 64, 3) and not np.array_equal(colour[..., 0], colour[..., 2])  # RGB as it is
    photo = np.random.default_rng(0).random((192, 192, 3))
    assert pixels_for_display(photo).shape == (64, 64, 3)  # large images shrink


def test_the_confusion_matrix_counts_true_against_predicted(digits):
    rng = np.random.default_rng(1)
    labels, predicted = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    predicted[:150] = labels[:150]
    expected = np.zeros((10, 10), int)
    for true, guess in zip(labels, predicted):
        expected[true, guess] += 1
    matrix = ConfusionMatrix()
    matrix.set_data(digits)
    history = history_of()
    matrix.update(history)
    assert WAITING_CONFUSION in matrix.message.value and matrix.figure_box.layout.visibility == "hidden"
    assert matrix.figure_box.layout.height == "0px"  # laid out for bqplot, but no empty 420 px in the dashboard
    history.apply(snapshot(2, labels, predicted))
    matrix.update(history)
    assert np.array_equal(matrix.mark.color, expected) and matrix.mark.color.sum() == 300
    assert matrix.mark.row.tolist() == matrix.mark.column.tolist() == digits.class_names
    assert ">Confusion matrix (validation, epoch 3)</div>" in matrix.heading.value and not matrix.figure.title
    assert (matrix.x_axis.label, matrix.y_axis.label) == ("predicted", "true")
    assert matrix.mark.display_format == "d" and int(matrix.x_axis.tick_style["font-size"][:-2]) >= 14
    assert matrix.figure_box.layout.visibility == "visible" and matrix.message.layout.display == "none"
    assert matrix.figure_box.layout.height is None
    traffic = Traffic(matrix.widget)
    matrix.update(history)
    matrix.update(history)
    assert traffic.take() == []
    history.apply(snapshot(3, labels, labels))
    matrix.update(history)
    assert np.array_equal(matrix.mark.color, np.diag(np.bincount(labels, minlength=10)))
    assert {name for _, name in traffic.take()} == {"color", "value"}  # names unchanged: not sent again


def test_long_class_names_get_room_and_slant():
    matrix = ConfusionMatrix()
    matrix.set_data(datasets.load((np.zeros((20, 8, 8)), np.arange(20) % 10), class_names=FASHION))
    matrix.update(history_of(snapshot(0, [0, 9], [9, 9])))
    assert matrix.x_axis.tick_rotate < 0 and matrix.figure.fig_margin["left"] > 100
    assert matrix.mark.color[0, 9] == 1 and matrix.mark.color[9, 9] == 1


def test_a_real_run_is_drawn_by_both(real_run):
    run, history = real_run
    matrix, grid = ConfusionMatrix(), PredictionsGrid()
    matrix.set_data(run.data)
    grid.set_data(run.data)
    matrix.update(history)
    grid.update(history)
    last = run.predictions[-1]
    assert matrix.mark.color.sum() == run.data.validation_size == 359
    assert np.trace(matrix.mark.color) == last.correct.sum()
    right = int(last.correct.sum())
    assert f"epoch 2: {right}/359 right ({100 * right / 359:.1f} %); " in text(grid.body.value)
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', grid.body.value).group(1))
    assert png.startswith(b"\x89PNG")


def test_activation_maps_of_conv_small(real_run):
    run, _ = real_run
    maps = ActivationMaps()
    assert WAITING_ACTIVATIONS in maps.message.value and maps.maps_box.layout.display == "none"
    maps.set_model(run.model, run.data)
    assert list(maps.layer.options) == ["conv2d_1", "conv2d_2"] and maps.layer.value == "conv2d_1"
    assert maps.maps_box.layout.display == "flex" and maps.message.layout.display == "none"
    true = run.data.class_names[run.data.validation_images([0])[1][0]]
    assert f"conv2d_1: 16 feature maps of 8×8 for validation image 0 (true: {true})" in maps.caption.value
    assert bytes(maps.maps.value).startswith(b"\x89PNG") and bytes(maps.picked.value).startswith(b"\x89PNG")
    traffic = Traffic(maps.widget)
    maps.image_index.value = 17
    changed = {name for _, name in traffic.take()}
    assert "conv2d_1: 16 feature maps of 8×8 for validation image 17" in maps.caption.value
    assert {"value"} <= changed
    maps.layer.value = "conv2d_2"
    assert "conv2d_2: 32 feature maps of 4×4 for validation image 17" in maps.caption.value
    assert set(maps._submodels) == {"conv2d_1", "conv2d_2"}
    traffic.take()
    maps.set_model(run.model, run.data)  # the same model again: nothing to redraw
    assert traffic.take() == []
    maps.set_model(None)
    assert WAITING_ACTIVATIONS in maps.message.value and maps.maps_box.layout.display == "none"


def test_a_model_without_feature_maps_or_without_validation_says_so(digits):
    dense = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten").add("Dense", units=10,
                                                                                  activation="softmax")
    maps = ActivationMaps()
    maps.set_model(dense.to_keras(), digits)
    assert NO_FEATURE_LAYERS in maps.message.value and maps.maps_box.layout.display == "none"
    conv = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Conv2D", filters=4, kernel_size=3)
    conv.add("Flatten").add("Dense", units=10, activation="softmax")
    maps.set_model(conv.to_keras(), datasets.load("digits", validation_split=0, train_subset=100))
    assert NO_VALIDATION in maps.message.value


def test_a_fire_block_is_one_entry_and_global_pooling_none(digits):
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10)
    arch.add("Conv2D", filters=8, kernel_size=3, padding="same").add("Fire", squeeze=4, expand=8)
    arch.add("MaxPooling2D").add("GlobalAveragePooling2D").add("Dense", units=10, activation="softmax")
    model = arch.to_keras()
    assert [label for label, _ in feature_layers(model)] == ["conv2d_1", "fire_1", "max_pooling2d_1"]
    maps = ActivationMaps()
    maps.set_model(model, digits)
    maps.layer.value = "fire_1"
    assert "fire_1: 8 feature maps of 8×8" in maps.caption.value


def test_diverged_weights_give_a_message_not_a_picture(digits):
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Conv2D", filters=4, kernel_size=3)
    model = arch.add("Flatten").add("Dense", units=10, activation="softmax").to_keras()
    kernel = model.get_layer("conv2d_1").kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    maps = ActivationMaps()
    maps.set_model(model, digits)
    assert "are not finite numbers: training diverged" in maps.caption.value
    assert maps.maps.layout.display == "none"
