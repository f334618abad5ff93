"""Generated code, JSON import/export (fuzzed) and import from Keras models."""

import contextlib
import io
import json
import os

import keras
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab_widgets.architecture import Architecture, ArchitectureError, presets

FUZZ_EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "200"))


def layer_view(model):
    return sorted((tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers
                  if not isinstance(layer, keras.layers.InputLayer))


def run_code(code):
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<to_code>", "exec"), namespace)
    return namespace["model"]


@pytest.mark.parametrize("name", ["conv_mnist_bn", "squeezenet_dense", "squeezenet_downsample"])
def test_generated_code_rebuilds_the_same_model(name):
    arch = presets.get(name)
    code = arch.to_code()
    model = run_code(code)
    reference = arch.to_keras()
    assert layer_view(model) == layer_view(reference)
    assert model.count_params() == arch.summary().total_params
    assert model.loss == "sparse_categorical_crossentropy"
    if "squeezenet" in name:
        assert "def fire(x, squeeze, expand):" in code and "keras.Model(x, y)" in code
    else:
        assert "keras.Sequential([" in code and "fire" not in code


def test_generated_code_is_readable_and_handles_logits():
    arch = Architecture((28, 28, 1), 10, output="logits", layers=[
        ("Conv2D", {"filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu"}),
        ("Flatten", {}), ("Dense", {"units": 10})])
    code = arch.to_code()
    assert 'layers.Conv2D(filters=12, kernel_size=3, padding="same", activation="relu"),' in code
    assert "keras.Input(shape=(28, 28, 1))" in code and "use_bias" not in code
    model = run_code(code)
    assert model.loss.get_config()["from_logits"] is True
    assert layer_view(model) == layer_view(arch.to_keras())


@pytest.mark.parametrize("name", presets.names())
def test_json_round_trip(name):
    arch = presets.get(name)
    text = arch.to_json()
    data = json.loads(text)
    assert data["format"] == "convlab-architecture" and data["version"] == 1
    assert Architecture.from_json(text) == arch
    assert Architecture.from_json(text.encode()) == arch


def valid_dict():
    return presets.get("conv_mnist").to_dict()


def changed(**fields):
    data = valid_dict()
    data.update(fields)
    return json.dumps(data)


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ("1" * 5000, "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (" " * 1_000_001, "more than the 1,000,000"),
    ("[]", "must be a JSON object"),
    (changed(format="keras"), "'format' must be 'convlab-architecture'"),
    (changed(version=2), "newer convlab_widgets (format version 2)"),
    (changed(version="1"), "unsupported format version '1'"),
    (changed(extra=1), "unknown fields: extra"),
    (json.dumps({"format": "convlab-architecture", "version": 1}), "missing fields: input_shape, num_classes, layers"),
    (changed(layers={}), "'layers' must be a list"),
    (changed(layers=[{"type": "Flatten"}] * 201), "201 layers is more than the 200"),
    (changed(layers=[{"type": "Lambda", "params": {"function": "os.system"}}]), "unknown layer type 'Lambda'"),
    (changed(layers=[{"type": "Dense", "params": {"units": 10, "kernel_initializer": "zeros"}}]),
     "Dense #1: no parameter 'kernel_initializer'"),
    (changed(layers=[{"type": "Conv2D", "params": {"filters": 0}}]), "Conv2D #1: filters must be a whole number"),
    (changed(layers=[{"type": "Dropout", "params": {"rate": float("nan")}}]), "Dropout #1: rate must be a number"),
    (changed(layers=[{"type": "Dense", "params": []}]), "Layer #1: 'params' must be an object"),
    (changed(layers=["Dense"]), "Layer #1 must be an object with a 'type'"),
    (changed(input_shape=[5000, 5000, 3]), "each input_shape size must be a whole number from 1 to 4096"),
    (changed(input_shape=[28, 28, 1, 1]), "input_shape must list 1 to 3 sizes"),
    (changed(num_classes=True), "num_classes must be a whole number"),
    (changed(output="raw"), "output must be 'probabilities' or 'logits'"),
])
def test_json_import_rejects_bad_input_clearly(text, words):
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_json(text)
    assert words in str(error.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
KEYS = st.sampled_from(["format", "version", "input_shape", "num_classes", "output", "layers", "type", "params",
                        "filters", "kernel_size", "strides", "padding", "units", "rate", "target_shape", "squeeze",
                        "expand", "mode", "factor"])


def only_architecture_errors(text):
    try:
        arch = Architecture.from_json(text)
    except ArchitectureError:
        return
    arch.summary()  # whatever was accepted can be summarised
    assert Architecture.from_json(arch.to_json()) == arch


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.one_of(JSON.map(json.dumps), st.text(max_size=200)))
def test_fuzzed_json_only_raises_architecture_errors(text):
    only_architecture_errors(text)


def mutate(node, path, value):
    if not path or not isinstance(node, (dict, list)) or not node:
        return value
    if isinstance(node, dict):
        key = sorted(node)[path[0] % len(node)]
        return {**node, key: mutate(node[key], path[1:], value)}
    index = path[0] % len(node)
    return node[:index] + [mutate(node[index], path[1:], value)] + node[index + 1:]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.sampled_from(presets.names()), st.lists(st.integers(0, 50), max_size=5),
       st.one_of(JSON, KEYS), st.booleans(), KEYS)
def test_mutated_architectures_only_raise_architecture_errors(name, path, value, rename, key):
    data = mutate(presets.get(name).to_dict(), path, value)
    if rename and isinstance(data, dict) and data:
        data[key] = data.pop(sorted(data)[len(path) % len(data)], None)
    only_architecture_errors(json.dumps(data))


# -- from_keras ----------------------------------------------------------------------------------------

def test_codelab_sequential_code_imports_as_the_preset():
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(192, 192, 3)),
        layers.Conv2D(kernel_size=3, filters=32, padding="same", activation="relu"),
        layers.Conv2D(kernel_size=1, filters=32, padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=2),
        *[layer for _ in range(3) for layer in (
            layers.Conv2D(kernel_size=3, filters=32, padding="same", activation="relu"),
            layers.Conv2D(kernel_size=1, filters=32, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2))],
        layers.Conv2D(kernel_size=3, filters=16, padding="same", activation="relu"),
        layers.Conv2D(kernel_size=1, filters=8, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(5, activation="softmax"),
    ])
    assert Architecture.from_keras(model) == presets.get("flowers_convnet")


def test_codelab_functional_squeezenet_imports_with_fire_rows():
    l = keras.layers  # noqa: E741 (the codelab's spelling)

    def fire(x, squeeze, expand):
        y = l.Conv2D(filters=squeeze, kernel_size=1, padding="same", activation="relu")(x)
        y1 = l.Conv2D(filters=expand // 2, kernel_size=1, padding="same", activation="relu")(y)
        y3 = l.Conv2D(filters=expand // 2, kernel_size=3, padding="same", activation="relu")(y)
        return keras.layers.concatenate([y1, y3])

    def fire_module(squeeze, expand):
        return lambda x: fire(x, squeeze, expand)

    x = l.Input(shape=[192, 192, 3])
    y = l.Conv2D(kernel_size=6, filters=42, padding="same", activation="relu", strides=2)(x)
    y = l.MaxPooling2D(pool_size=2)(y)
    y = fire_module(squeeze=24, expand=60)(y)
    y = l.MaxPooling2D(pool_size=2)(y)
    y = fire_module(squeeze=27, expand=90)(y)
    y = l.MaxPooling2D(pool_size=2)(y)
    y = l.Conv2D(kernel_size=1, filters=5, padding="same", activation="relu")(y)
    y = l.GlobalAveragePooling2D()(y)
    y = l.Activation("softmax")(y)
    assert Architecture.from_keras(keras.Model(x, y)) == presets.get("squeezenet_downsample")


@pytest.mark.parametrize("name", presets.names())
def test_to_keras_round_trips_through_from_keras(name):
    arch = presets.get(name)
    assert Architecture.from_keras(arch.to_keras()) == arch


def test_logits_are_inferred_from_a_final_linear_layer():
    arch = Architecture.from_keras(keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)]))
    assert (arch.output, arch.num_classes, arch.summary().is_valid) == ("logits", 3, True)


def sequential(*layers, shape=(16, 16, 3)):
    return keras.Sequential([keras.Input(shape), *layers])


@pytest.mark.parametrize("model, words", [
    (lambda: sequential(keras.layers.Reshape((48, 16)), keras.layers.Conv1D(4, 3), keras.layers.LSTM(4)),
     "the builder has no equivalent for: Conv1D 'conv1d', LSTM 'lstm'"),
    (lambda: sequential(keras.layers.Conv2D(4, 3, dilation_rate=2, name="dilated")),
     "Conv2D 'dilated' uses settings the builder cannot show: dilation_rate=(2, 2)"),
    (lambda: sequential(keras.layers.Dense(4, trainable=False, name="frozen")),
     "Dense 'frozen' uses settings the builder cannot show: trainable=False"),
    (lambda: sequential(keras.layers.Conv2D(4, 65, padding="same"), keras.layers.Flatten(), keras.layers.Dense(3)),
     "Conv2D #1: kernel_size must be a whole number from 1 to 64"),
    (lambda: branching(), "the model branches at"),
    (lambda: keras.Sequential([keras.layers.Dense(3)]), "exactly one input and one output"),
    (lambda: "model.h5", "from_keras expects a Keras model, got str"),
])
def test_from_keras_rejects_what_the_builder_cannot_show(model, words):
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_keras(model())
    assert words in str(error.value)


def branching():
    x = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(4, 1, padding="same")(x)
    b = keras.layers.Conv2D(4, 5, padding="same")(x)
    return keras.Model(x, keras.layers.concatenate([a, b]))
