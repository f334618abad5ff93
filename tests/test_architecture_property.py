"""Random architectures from the whole catalog, checked against Keras itself.

The oracle here builds each row with plain ``keras.layers`` calls (and the
codelab's ``fire()``), independently of the package, and records the first
row Keras refuses. Set CONVLAB_HYPOTHESIS_EXAMPLES for a longer local run.
"""

import math
import os

import keras
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from convlab_widgets.architecture import Architecture, ArchitectureError, catalog

EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "200"))

ACTIVATIONS = st.sampled_from(["linear", "relu", "sigmoid", "softmax", "tanh", "gelu"])
SIZE = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))
STRIDE = st.one_of(st.just(1), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
PADDING = st.sampled_from(["same", "same", "valid"])
RATE = st.floats(0, 0.9)
FACTOR = st.floats(0, 0.5)

PARAMS = {
    "Conv2D": st.fixed_dictionaries({"filters": st.integers(1, 6), "kernel_size": SIZE, "strides": STRIDE,
                                     "padding": PADDING, "activation": ACTIVATIONS, "use_bias": st.booleans()}),
    "SeparableConv2D": st.fixed_dictionaries({"filters": st.integers(1, 6), "kernel_size": SIZE, "strides": STRIDE,
                                              "padding": PADDING, "depth_multiplier": st.integers(1, 2),
                                              "activation": ACTIVATIONS, "use_bias": st.booleans()}),
    "DepthwiseConv2D": st.fixed_dictionaries({"kernel_size": SIZE, "strides": STRIDE, "padding": PADDING,
                                              "depth_multiplier": st.integers(1, 2), "activation": ACTIVATIONS,
                                              "use_bias": st.booleans()}),
    "MaxPooling2D": st.fixed_dictionaries({"pool_size": SIZE, "strides": st.one_of(st.none(), STRIDE),
                                           "padding": PADDING}),
    "AveragePooling2D": st.fixed_dictionaries({"pool_size": SIZE, "strides": st.one_of(st.none(), STRIDE),
                                               "padding": PADDING}),
    "GlobalAveragePooling2D": st.just({}),
    "GlobalMaxPooling2D": st.just({}),
    "Flatten": st.just({}),
    "Dense": st.fixed_dictionaries({"units": st.integers(1, 12), "activation": ACTIVATIONS,
                                    "use_bias": st.booleans()}),
    "Activation": st.fixed_dictionaries({"activation": ACTIVATIONS}),
    "Reshape": st.fixed_dictionaries({"target_shape": st.one_of(
        st.just((-1,)), st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
        st.tuples(st.integers(1, 6), st.just(-1)), st.tuples(st.integers(1, 4), st.integers(1, 4), st.just(-1)))}),
    "Rescaling": st.fixed_dictionaries({"scale": st.floats(-2, 2), "offset": st.floats(-1, 1)}),
    "Dropout": st.fixed_dictionaries({"rate": RATE}),
    "SpatialDropout2D": st.fixed_dictionaries({"rate": RATE}),
    "BatchNormalization": st.fixed_dictionaries({"center": st.booleans(), "scale": st.booleans()}),
    "Fire": st.fixed_dictionaries({"squeeze": st.integers(1, 5), "expand": st.integers(1, 5).map(lambda n: 2 * n)}),
    "RandomFlip": st.fixed_dictionaries({"mode": st.sampled_from(["horizontal", "vertical",
                                                                  "horizontal_and_vertical"])}),
    "RandomRotation": st.fixed_dictionaries({"factor": FACTOR}),
    "RandomZoom": st.fixed_dictionaries({"height_factor": FACTOR, "width_factor": st.one_of(st.none(), FACTOR)}),
    "RandomTranslation": st.fixed_dictionaries({"height_factor": FACTOR, "width_factor": FACTOR}),
}

# Values the catalog refuses (Keras would accept some of them): (param, value) per type.
INVALID = {
    "Conv2D": [("filters", 0), ("kernel_size", 65), ("activation", "bogus"), ("filters", "8")],
    "Dense": [("units", 0), ("activation", "relux"), ("units", 2.5)],
    "Dropout": [("rate", 1.0), ("rate", -0.1)],
    "MaxPooling2D": [("pool_size", 0)],
    "Fire": [("expand", 3), ("squeeze", 0)],
    "BatchNormalization": [("center", "yes")],
}

FLATTENING = ["Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]
IMAGE_TYPES = [t for t in catalog.types() if catalog.get(t).needs_image and t not in FLATTENING] + [
    "BatchNormalization", "Dropout", "Activation", "Rescaling"]
VECTOR_TYPES = ["Dense", "Dense", "Dropout", "BatchNormalization", "Activation", "Rescaling"]


def test_the_strategies_cover_the_whole_catalog():
    assert set(PARAMS) == set(catalog.types())


@st.composite
def architectures(draw):
    """Mostly sensible stacks (image layers, then a flattening layer, then vector layers), with
    one pick in eight from the whole catalog anywhere, so that Keras accepts many and refuses many."""
    image = st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(1, 3))
    input_shape = draw(st.one_of(image, image, st.tuples(st.integers(1, 32))))  # images twice as often
    num_classes = draw(st.integers(2, 6))
    layers, invalid, flat = [], [], len(input_shape) == 1
    for index in range(draw(st.integers(1, 40))):
        if draw(st.integers(0, 7)) == 0:
            layer_type = draw(st.sampled_from(catalog.types()))
        elif not flat and draw(st.integers(0, 9)) == 0:
            layer_type = draw(st.sampled_from(FLATTENING))
        else:
            layer_type = draw(st.sampled_from(VECTOR_TYPES if flat else IMAGE_TYPES))
        flat = flat or layer_type in FLATTENING
        params = dict(draw(PARAMS[layer_type]))
        if layer_type in INVALID and draw(st.integers(0, 79)) == 0:
            name, value = draw(st.sampled_from(INVALID[layer_type]))
            params[name] = value
            invalid.append(index)
        layers.append((layer_type, params))
    if len(layers) < 40 and draw(st.integers(0, 3)):  # a classifier head, so that many examples are valid
        layers[-1:] = [layers[-1], ("Flatten", {}), ("Dense", {"units": num_classes, "activation": "softmax"})]
        layers = layers[:40]
    return input_shape, num_classes, layers, invalid


def fire(x, squeeze, expand):
    """The squeezenet codelab's helper, verbatim apart from names."""
    y = keras.layers.Conv2D(filters=squeeze, kernel_size=1, padding="same", activation="relu")(x)
    y1 = keras.layers.Conv2D(filters=expand // 2, kernel_size=1, padding="same", activation="relu")(y)
    y3 = keras.layers.Conv2D(filters=expand // 2, kernel_size=3, padding="same", activation="relu")(y)
    return keras.layers.concatenate([y1, y3])


def keras_reference(input_shape, layers):
    """Per row (shape, params, trainable params) as Keras computes them, and the first refused row."""
    x = keras.Input(shape=input_shape)
    y, rows = x, []
    for index, (layer_type, params) in enumerate(layers):
        try:
            before = {id(layer) for layer in keras.Model(x, y).layers} if rows else set()
            y = fire(y, **params) if layer_type == "Fire" else getattr(keras.layers, layer_type)(**params)(y)
            created = [layer for layer in keras.Model(x, y).layers if id(layer) not in before]
        except Exception:
            return rows, index, None
        if any(d is not None and d <= 0 for d in y.shape[1:]):  # Keras < 3.14 returns 0×0×C instead of raising
            return rows, index, None
        rows.append((tuple(y.shape[1:]), sum(layer.count_params() for layer in created),
                     sum(math.prod(w.shape) for layer in created for w in layer.trainable_weights)))
    return rows, None, keras.Model(x, y) if rows else None  # Keras < 3.14 refuses Model(x, x)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures())
def test_summary_matches_keras_row_by_row(case):
    input_shape, num_classes, layers, invalid = case
    arch = Architecture(input_shape=input_shape, num_classes=num_classes, layers=layers)
    summary = arch.summary()  # never raises, whatever the layers
    stop = min(invalid) if invalid else len(layers)
    rows, refused, model = keras_reference(input_shape, layers[:stop])
    first_failure = refused if refused is not None else (stop if invalid else None)
    event("refused by Keras" if refused is not None else "invalid params" if invalid else
          "valid" if summary.is_valid else "output check fails")

    for row, (shape, params, trainable) in zip(summary.rows, rows):
        assert (row.output_shape, row.param_count, row.trainable_count) == (shape, params, trainable), row
        assert row.error is None or row.index == len(layers) - 1  # only the output check may remain
    if first_failure is not None:
        failing = summary.rows[first_failure]
        assert failing.error and failing.error.startswith(f"{failing.type} #{first_failure + 1}")
        assert failing.output_shape is None
        assert all(row.output_shape is None and row.param_count is None for row in summary.rows[first_failure:])
        assert not summary.is_valid
        with pytest.raises(ArchitectureError):
            arch.to_keras()
        return

    assert summary.total_params == model.count_params()
    assert summary.trainable_params == sum(math.prod(w.shape) for w in model.trainable_weights)
    assert summary.output_shape == tuple(model.output.shape[1:])
    if not summary.is_valid:
        assert [p.index for p in summary.errors] == [len(layers) - 1]
        return
    built = arch.to_keras()
    assert built.count_params() == summary.total_params
    for row in summary.rows:
        name = f"{row.name}_concat" if row.type == "Fire" else row.name
        assert tuple(built.get_layer(name).output.shape[1:]) == row.output_shape
        parts = [built.get_layer(inner.name) for inner in row.inner] or [built.get_layer(row.name)]
        assert sum(layer.count_params() for layer in parts) == row.param_count
    assert Architecture.from_dict(arch.to_dict()) == arch
    assert Architecture.from_keras(built) == arch
