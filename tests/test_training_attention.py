"""Grad-CAM (issue #15): ``run.attention(i, layer=None)`` on real trained models, and its views.

On the ``shapes`` dataset (a coloured shape on a dark noisy background: foreground channels
from 0.45 up, background up to 0.35) a small convnet trained for 6 epochs looks at the shape:
the heatmap's peak falls inside the shape's bounding box for most validation images, far more
often than chance.  Also a fire-module (functional) model, a saved run, hostile arguments, and the
predictions grid's "where it looked" toggle.  Run on TF and on JAX (``KERAS_BACKEND=jax``).
"""

import numpy as np
import pytest

from convlab_widgets.architecture import Architecture
from convlab_widgets.dashboard.inspection import LOOKED_NO_CONV, LOOKED_TIP, ActivationMaps, PredictionsGrid
from convlab_widgets.persistence import load_lab, save_lab
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.attention import GradCam

LOOKED_AT = 100  # validation images whose heatmap peak is checked


def trained(arch, data, **settings):
    run = Trainer(arch, data).start(**settings)
    assert run.wait(timeout=600) and run.status == "completed", run.error
    return run


@pytest.fixture(scope="module")
def shapes():
    return datasets.load("shapes")


@pytest.fixture(scope="module")
def convnet(shapes):
    arch = Architecture(input_shape=(32, 32, 3), num_classes=4)
    for filters in (32, 64):
        arch.add("Conv2D", filters=filters, kernel_size=3, padding="same", activation="relu")
        arch.add("MaxPooling2D", pool_size=2)
    arch.add("Conv2D", filters=64, kernel_size=3, padding="same", activation="relu")
    arch.add("GlobalAveragePooling2D").add("Dense", units=4, activation="softmax")
    return trained(arch, shapes, epochs=6, batch_size=32, learning_rate=0.003, seed=0)


@pytest.fixture(scope="module")
def fire(shapes):
    arch = Architecture(input_shape=(32, 32, 3), num_classes=4)
    arch.add("Conv2D", filters=16, kernel_size=3, padding="same", activation="relu").add("MaxPooling2D", pool_size=2)
    arch.add("Fire", squeeze=8, expand=16).add("MaxPooling2D", pool_size=2).add("Fire", squeeze=8, expand=16)
    arch.add("GlobalAveragePooling2D").add("Dense", units=4, activation="softmax")
    return trained(arch, shapes, epochs=1, batch_size=64, seed=0)


def bounding_box(image):
    """Rows and columns of the shape: pixels brighter than any background, in rows/columns holding two or more."""
    mask = image.mean(axis=-1) > 0.4
    rows, cols = np.flatnonzero(mask.sum(axis=1) >= 2), np.flatnonzero(mask.sum(axis=0) >= 2)
    return mask, (rows.min(), rows.max(), cols.min(), cols.max())


def test_the_heatmap_peaks_on_the_shape(convnet, shapes):
    images, _ = shapes.validation_images(np.arange(LOOKED_AT))
    inside = in_mask = 0
    chance = []
    for i, image in enumerate(images):
        heatmap = convnet.attention(i)
        assert heatmap.shape == (32, 32) and heatmap.dtype == np.float32
        assert heatmap.min() >= 0 and heatmap.max() == pytest.approx(1.0, abs=1e-6)
        mask, (top, bottom, left, right) = bounding_box(image)
        row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
        inside += bool(top <= row <= bottom and left <= col <= right)
        in_mask += bool(mask[row, col])
        chance.append((bottom - top + 1) * (right - left + 1) / 32 ** 2)
    assert convnet.history["val_accuracy"][-1] > 0.5
    # About 80 and 70 of 100 on TF; a peak falling anywhere would hit the box about 35 times in 100.
    assert inside >= 65 and in_mask >= 55, (inside, in_mask)
    assert inside / LOOKED_AT > np.mean(chance) + 0.25, (inside, np.mean(chance))


def test_the_default_layer_is_the_last_convolution_and_any_feature_layer_can_be_asked(convnet):
    cam = GradCam(convnet.model)
    assert cam.layer == "conv2d_3"
    np.testing.assert_array_equal(convnet.attention(7), convnet.attention(7, layer="conv2d_3"))
    first = convnet.attention(7, layer="conv2d_1")
    assert first.shape == (32, 32) and not np.array_equal(first, convnet.attention(7))
    assert convnet.attention(7, layer="max_pooling2d_2").shape == (32, 32)


def test_a_fire_module_model_is_read_at_its_blocks_concatenated_output(fire):
    assert GradCam(fire.model).layer == "fire_2"  # the block, as the builder names it, not its inner convs
    for layer in (None, "fire_1", "conv2d_1"):
        heatmap = fire.attention(0, layer=layer)
        assert heatmap.shape == (32, 32) and 0 <= heatmap.min() and heatmap.max() <= 1


def test_a_saved_run_keeps_its_attention(convnet, tmp_path):
    path = save_lab(tmp_path / "cam.convlab", architecture=convnet.architecture, dataset="shapes", runs=[convnet])
    restored = load_lab(path).runs[0]
    np.testing.assert_allclose(restored.attention(3), convnet.attention(3), atol=1e-5)  # its dataset found by name


@pytest.mark.parametrize("index, error, words", [
    (400, IndexError, "run.attention: there is no validation image 400: the 400 validation images are numbered "
                      "0 to 399"),
    (-1, IndexError, "there is no validation image -1"),
    (10 ** 30, IndexError, "there is no validation image 1000000000000000000000000000000"),
    (1.5, TypeError, "run.attention: image_index must be a whole number (a validation image), got 1.5"),
    (True, TypeError, "image_index must be a whole number"),
    ("3", TypeError, "image_index must be a whole number"),
])
def test_hostile_image_indices_are_located_errors(convnet, index, error, words):
    with pytest.raises(error) as caught:
        convnet.attention(index)
    assert words in str(caught.value)


def test_an_unknown_layer_names_the_layers_there_are(convnet):
    with pytest.raises(ValueError) as caught:
        convnet.attention(0, layer="conv2d_9")
    message = str(caught.value)
    assert message.startswith("run.attention: 'conv2d_9' is not a layer with feature maps in this model")
    assert "did you mean" in message and "conv2d_1, max_pooling2d_1, conv2d_2, max_pooling2d_2, conv2d_3" in message
    with pytest.raises(ValueError, match="'dense_1' is not a layer with feature maps"):
        convnet.attention(0, layer="dense_1")


def test_a_dense_only_model_and_a_training_run_say_what_to_do():
    digits = datasets.load("digits")
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten").add("Dense", units=10,
                                                                                activation="softmax")
    run = Trainer(arch, digits).start(epochs=30, batch_size=8, seed=0)
    with pytest.raises(RuntimeError, match="run.attention: this run is still training: wait for it"):
        run.attention(0)
    run.stop()
    run.wait(timeout=120)
    with pytest.raises(ValueError, match="this model has no convolutional layer, so there is no map of where it "
                                         "looked: .* add one"):
        run.attention(0)


# -- the views -------------------------------------------------------------------------------------------------


def test_where_it_looked_overlays_the_heatmaps_on_the_grid(convnet, shapes):
    grid = PredictionsGrid()
    grid.set_data(shapes)
    assert grid.looked.disabled
    history = convnet.record
    grid.update(history)
    plain = grid.body.value
    grid.set_model(convnet.model)
    assert not grid.looked.disabled and grid.looked.tooltip == LOOKED_TIP
    grid.looked.value = True  # redraws at once
    looked = grid.body.value
    assert "where the network looked (conv2d_3, Grad-CAM" in looked
    sources = lambda body: set(body.split('src="')[1:])  # noqa: E731
    assert len(sources(looked)) == len(sources(plain)) == grid.page_size and sources(looked) != sources(plain)
    grid.looked.value = False
    assert grid.body.value == plain


def test_the_toggle_says_why_it_is_off_for_a_dense_only_model(shapes):
    model = Architecture(input_shape=(32, 32, 3), num_classes=4).add("Flatten").add(
        "Dense", units=4, activation="softmax").to_keras()
    grid = PredictionsGrid()
    grid.set_model(model)
    assert grid.looked.disabled and grid.looked.tooltip == LOOKED_NO_CONV


def test_the_activation_maps_show_where_the_chosen_layer_looked(convnet, shapes):
    maps = ActivationMaps()
    maps.set_model(convnet.model, shapes)
    assert maps.looked.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert maps.looked_label.value.count("where conv2d_1 looked for ") == 1
    maps.layer.value = "conv2d_3"
    assert "where conv2d_3 looked for " in maps.looked_label.value
