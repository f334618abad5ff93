"""What the summary reports: located errors with fixes, the output check, counts, JSON form."""

import json

import keras
import pytest

from convlab_widgets.architecture import Architecture, ArchitectureError, catalog, presets, shapes

ROW_KEYS = {"index", "name", "type", "params", "output_shape", "param_count", "trainable_count", "activations",
            "multiply_adds", "param_share", "error", "fix", "inner"}


def head(n=10):
    return [("Flatten", {}), ("Dense", {"units": n, "activation": "softmax"})]


def first_error(input_shape, layers, **kwargs):
    return Architecture(input_shape, 10, layers=layers, **kwargs).summary().errors[0]


def test_pool_that_cannot_fit_names_the_layer_its_input_and_a_fix():
    layers = [("Conv2D", {"filters": 32, "kernel_size": 3, "padding": "same"})] + [("MaxPooling2D", {})] * 6
    problem = first_error((32, 32, 1), layers + head())
    assert problem.message == ("MaxPooling2D #7 receives 1×1×32: a 2×2 pool cannot fit; remove this pool "
                               "or use padding='same' earlier")
    assert problem.index == 6
    assert problem.fix == {"label": "Remove this pool", "actions": [{"op": "remove", "index": 6}]}


def test_rows_after_a_failure_are_unknown_and_summary_never_raises():
    arch = Architecture((4, 4, 1), 10, layers=[("Conv2D", {"kernel_size": 6}), *head(), ("Dense", {"units": 0})])
    summary = arch.summary()
    assert summary.rows[0].error == ("Conv2D #1 receives 4×4×1: a 6×6 kernel cannot fit; use padding='same' "
                                     "or a smaller kernel_size")
    assert summary.rows[0].fix["actions"] == [{"op": "update", "index": 0, "params": {"padding": "same"}}]
    assert [row.output_shape for row in summary.rows] == [None] * 4
    assert summary.rows[3].error.startswith("Dense #4: units must be")  # params are still checked
    assert "unknown" in str(summary)
    with pytest.raises(ArchitectureError, match=r"Conv2D #1 receives 4×4×1.*\(and 1 more problem\)"):
        arch.to_keras()


@pytest.mark.parametrize("input_shape, layers, message, actions", [
    ((28, 28, 1), [("Flatten", {}), ("Conv2D", {})],
     "Conv2D #2 receives a vector of 784 values: Conv2D works on images (height×width×channels)",
     [{"op": "remove", "index": 1}]),
    ((784,), [("Fire", {})], "Fire #1 receives a vector of 784 values: a fire module works on images", None),
    ((784,), [("Reshape", {"target_shape": (28, 28, 3)})],
     "Reshape #1 receives a vector of 784 values: 784 values cannot be arranged as 28×28×3 (that needs 2,352",
     [{"op": "update", "index": 0, "params": {"target_shape": [28, 28, 1]}}]),
    ((28, 28, 1), [("Conv2D", {"filters": 0})], "Conv2D #1: filters must be a whole number from 1 to 4096, got 0",
     [{"op": "update", "index": 0, "params": {"filters": 1}}]),
    ((28, 28, 1), [("Conv2D", {"kernel_size": 65})], "Conv2D #1: kernel_size must be a whole number from 1 to 64",
     [{"op": "update", "index": 0, "params": {"kernel_size": 64}}]),
    ((28, 28, 1), [("Dropout", {"rate": 1.0})], "Dropout #1: rate must be a number from 0 to 1 (1 excluded), got 1.0",
     [{"op": "update", "index": 0, "params": {"rate": 0.25}}]),
    ((28, 28, 1), [("Dropout", {"rate": -0.5})], "Dropout #1: rate must be a number from 0 to 1",
     [{"op": "update", "index": 0, "params": {"rate": 0.0}}]),
    ((28, 28, 1), [("Dense", {"activation": "relux"})], "Dense #1: unknown activation 'relux'; did you mean 'relu'?",
     [{"op": "update", "index": 0, "params": {"activation": "relu"}}]),
    ((28, 28, 1), [("Dense", {"units": "12"})], "Dense #1: units must be a whole number from 1 to 65536, got '12'",
     [{"op": "update", "index": 0, "params": {"units": 10}}]),
    ((28, 28, 1), [("BatchNormalization", {"center": 1})], "BatchNormalization #1: center must be True or False",
     None),
    ((28, 28, 1), [("Fire", {"expand": 5})], "Fire #1: expand must be an even number from 2 to 8192, got 5",
     [{"op": "update", "index": 0, "params": {"expand": 6}}]),
    ((192, 192, 32), [("Flatten", {}), ("Dense", {"units": 100})],
     "Dense #2: holds 117,964,900 parameters, more than the 100,000,000 a notebook can train", None),
])
def test_located_errors(input_shape, layers, message, actions):
    problem = first_error(input_shape, layers + head())
    assert problem.message.startswith(message), problem.message
    if actions:
        assert problem.fix["actions"] == actions


@pytest.mark.parametrize("layers, output, message, actions", [
    ([("Conv2D", {})], "probabilities",
     "Conv2D #1: the model ends with 26×26×32 values but a classifier must end with 10 probabilities; "
     "add Flatten and Dense(10, activation='softmax')",
     [{"op": "add", "type": "Flatten", "params": {}},
      {"op": "add", "type": "Dense", "params": {"units": 10, "activation": "softmax"}}]),
    ([("Flatten", {}), ("Dense", {"units": 5, "activation": "softmax"})], "probabilities",
     "Dense #2: outputs 5 values but there are 10 classes; set units=10",
     [{"op": "update", "index": 1, "params": {"units": 10}}]),
    ([("Flatten", {}), ("Dense", {"units": 10, "activation": "relu"})], "probabilities",
     "Dense #2: outputs 10 values that are not probabilities; set activation='softmax'",
     [{"op": "update", "index": 1, "params": {"activation": "softmax"}}]),
    ([("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})], "logits",
     "Dense #2: applies 'softmax' but output='logits' expects raw scores; set activation='linear'",
     [{"op": "update", "index": 1, "params": {"activation": "linear"}}]),
    ([("Conv2D", {"filters": 5}), ("GlobalAveragePooling2D", {}), ("Activation", {"activation": "softmax"})],
     "probabilities", "Activation #3: outputs 5 values but there are 10 classes; insert Dense(10) before it",
     [{"op": "insert", "index": 2, "type": "Dense", "params": {"units": 10}}]),
    ([("Flatten", {}), ("Dense", {"units": 10}), ("Activation", {"activation": "relu"})], "probabilities",
     "Activation #3: outputs 10 values that are not probabilities; use activation='softmax'",
     [{"op": "update", "index": 2, "params": {"activation": "softmax"}}]),
    ([("Flatten", {}), ("Dense", {"units": 10}), ("Activation", {"activation": "softmax"})], "logits",
     "Activation #3: output='logits' expects raw scores but this applies 'softmax'; remove it",
     [{"op": "remove", "index": 2}]),
    ([("Flatten", {})], "probabilities",
     "Flatten #1: the model ends with 784 values but there are 10 classes; add Dense(10, activation='softmax')",
     [{"op": "add", "type": "Dense", "params": {"units": 10, "activation": "softmax"}}]),
    ([("Conv2D", {"filters": 10}), ("GlobalAveragePooling2D", {})], "probabilities",
     "GlobalAveragePooling2D #2: the model ends with 10 values that are not probabilities; add Activation('softmax')",
     [{"op": "add", "type": "Activation", "params": {"activation": "softmax"}}]),
    ([], "probabilities", "The model has no layers yet: add Flatten and Dense(10, activation='softmax')", None),
])
def test_the_output_must_be_one_value_per_class(layers, output, message, actions):
    arch = Architecture((28, 28, 1), 10, output=output, layers=layers)
    problem = arch.summary().errors[-1]
    assert problem.message == message
    if actions:
        assert problem.fix["actions"] == actions
        arch.apply(problem.fix["actions"])
        assert arch.summary().is_valid, arch.summary()


def test_logits_output_without_softmax_is_valid():
    arch = Architecture((28, 28, 1), 10, output="logits", layers=[("Flatten", {}), ("Dense", {"units": 10})])
    assert arch.summary().is_valid


def test_summary_rows_have_every_field_and_serialise_to_json():
    summary = presets.get("squeezenet_gap").summary()
    data = json.loads(json.dumps(summary.to_dict()))
    assert set(data) == {"input_shape", "num_classes", "output", "rows", "output_shape", "total_params",
                         "trainable_params", "non_trainable_params", "activations", "multiply_adds", "errors",
                         "is_valid"}
    assert all(set(row) == ROW_KEYS for row in data["rows"])
    fire = data["rows"][0]
    assert fire["name"] == "fire_1" and fire["output_shape"] == [192, 192, 50]
    assert [(i["role"], i["type"], i["output_shape"], i["param_count"]) for i in fire["inner"]] == [
        ("squeeze", "Conv2D", [192, 192, 25], 100), ("expand1x1", "Conv2D", [192, 192, 25], 650),
        ("expand3x3", "Conv2D", [192, 192, 25], 5650), ("concat", "Concatenate", [192, 192, 50], 0)]
    assert fire["param_count"] == 6400 and data["total_params"] == summary.total_params == 21805
    assert sum(row["param_share"] for row in data["rows"]) == pytest.approx(1.0)
    assert summary.rows[-1].param_share == pytest.approx(255 / 21805)


def test_activations_and_multiply_adds_per_example():
    arch = Architecture((28, 28, 1), 10, layers=[
        ("Conv2D", {"filters": 12, "kernel_size": 3, "padding": "same"}), ("BatchNormalization", {}),
        ("SeparableConv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}),
        ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    rows = arch.summary().rows
    assert [row.activations for row in rows] == [28 * 28 * 12, 28 * 28 * 12, 14 * 14 * 8, 1568, 10]
    assert [row.multiply_adds for row in rows] == [
        28 * 28 * 12 * 9, 28 * 28 * 12, 14 * 14 * (9 * 12 + 12 * 8), 0, 1568 * 10]


def test_batch_norm_statistics_are_not_trainable():
    summary = presets.get("conv_mnist_bn").summary()
    assert summary.rows[1].param_count == 36 and summary.rows[1].trainable_count == 12
    assert summary.non_trainable_params == 2 * (12 + 24 + 32 + 200)


def test_a_huge_dense_layer_is_inspected_without_allocating_it():
    arch = Architecture((2048, 2048, 3), 10, layers=[("Flatten", {}), ("Dense", {"units": 60000})])
    row = arch.summary().rows[1]
    assert row.param_count == 2048 * 2048 * 3 * 60000 + 60000 and "more than the 100,000,000" in row.error


def test_an_edit_only_asks_keras_about_rows_it_changed(monkeypatch):
    shapes.clear_cache()
    preset = presets.get("conv_mnist")
    preset.summary()
    again = preset.copy().update(0, filters=12)  # setting the same value changes nothing
    assert again.summary() is preset.summary()
    calls = []
    evaluate = shapes._evaluate
    monkeypatch.setattr(shapes, "_evaluate", lambda *args: calls.append(args[0]) or evaluate(*args))
    preset.copy().update(4, units=100).summary()
    assert calls == ["Dense", "Dropout", "Dense"]  # the edited row, then those whose input changed


def test_text_summary_reads_like_keras():
    text = str(presets.get("dense_mnist").summary())
    assert "dense_1 (Dense)" in text and "200" in text and "Total params: 169,670" in text
    assert "ready to train" in text


def test_catalog_is_plain_data_for_the_builder_forms():
    data = json.loads(json.dumps(catalog.to_dict()))
    assert data["groups"] == ["convolution", "pooling", "core", "regularization", "blocks", "augmentation"]
    for layer in data["layers"]:
        assert layer["group"] in data["groups"] and layer["doc"]
        spec = catalog.get(layer["type"])
        assert spec.failure(spec.complete({})) is None  # defaults are valid
        assert spec.keras_class is None or hasattr(keras.layers, spec.keras_class)
        for param in layer["params"]:
            assert {"name", "kind", "default", "doc", "optional", "required"} <= set(param)
    assert {layer["type"] for layer in data["layers"]} >= {
        "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Flatten", "Dense", "Dropout", "SpatialDropout2D", "BatchNormalization", "Activation",
        "Reshape", "Rescaling", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "Fire"}
