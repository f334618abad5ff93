"""Editing an architecture: the operations, their argument errors, observers, copies and snapshots."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import convlab_widgets
from convlab_widgets.architecture import Architecture, ArchitectureError, LayerEntry


def small():
    return Architecture((28, 28, 1), 10, layers=[
        ("Conv2D", {"filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu"}),
        ("MaxPooling2D", {}), ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])


def types(arch):
    return [entry.type for entry in arch]


def test_the_issue_example_runs_and_names_are_exported_lazily():
    arch = convlab_widgets.Architecture(input_shape=(28, 28, 1), num_classes=10)
    arch.add("Conv2D", filters=12, kernel_size=3, padding="same", activation="relu")
    arch.insert(0, "RandomFlip", mode="horizontal")
    arch.update(1, filters=24)
    arch.move(1, 0)
    arch.remove(0)
    assert types(arch) == ["RandomFlip"]
    assert convlab_widgets.ArchitectureError is ArchitectureError
    assert "conv_mnist" in convlab_widgets.presets.names()
    assert "Conv2D" in convlab_widgets.catalog.types("convolution")


def test_params_are_complete_with_keras_defaults_and_canonical():
    arch = Architecture((28, 28, 1), 10).add("Conv2D", filters=8.0, kernel_size=[3, 3], strides=[2, 1])
    assert arch[0].params == {"filters": 8, "kernel_size": 3, "strides": (2, 1), "padding": "valid",
                              "activation": "linear", "use_bias": True}
    assert isinstance(arch[0], LayerEntry) and arch[-1] == arch[0]


def test_insert_update_move_remove():
    arch = small()
    arch.insert(2, "Dropout", rate=0.5)
    assert types(arch) == ["Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense"]
    arch.update(0, filters=24)
    assert arch[0].params["filters"] == 24 and arch[0].params["padding"] == "same"
    arch.move(2, 4)
    assert types(arch) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout"]
    arch.move(-1, 0)
    assert types(arch) == ["Dropout", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    arch.remove(0).replace(1, "AveragePooling2D", pool_size=3)
    assert types(arch) == ["Conv2D", "AveragePooling2D", "Flatten", "Dense"]
    arch.insert(len(arch), "Activation", activation="softmax")
    assert types(arch)[-1] == "Activation"


@pytest.mark.parametrize("edit, words", [
    (lambda a: a.add("Conv3D"), "Layer #5: unknown layer type 'Conv3D'; did you mean 'Conv2D'?"),
    (lambda a: a.add("Dense", unit=3), "Dense #5: no parameter 'unit'; did you mean 'units'?"),
    (lambda a: a.add("Conv2D", input_shape=(28, 28, 1)), "belongs to Architecture(input_shape=...)"),
    (lambda a: a.update(0, filter=3), "Conv2D #1: no parameter 'filter'"),
    (lambda a: a.update(7, filters=3), "there is no layer #8: the model has 4 layers"),
    (lambda a: a.update("0", filters=3), "layer index must be a whole number"),
    (lambda a: a.update(0, filters={"n": 3}), "Conv2D #1: filters cannot hold a dict"),
    (lambda a: a.update(0, filters=[[3]]), "cannot hold nested lists"),
    (lambda a: a.insert(9, "Flatten"), "there is no position #10"),
    (lambda a: a.move(0, 4), "there is no position #5"),
    (lambda a: a.remove(-5), "layer index must be a whole number from -4 to 3"),
    (lambda a: a.apply({"op": "explode"}), "'op' is one of add, insert"),
    (lambda a: a.apply({"op": "remove", "index": 0, "extra": 1}), "not extra"),
    (lambda a: a.apply("remove"), "actions must be a dict or a list"),
    (lambda a: a.apply([{"op": "remove", "index": 0}, {"op": "add", "type": "Nope"}]), "unknown layer type"),
    (lambda a: a.configure(input_shape=(0, 28)), "each input_shape size must be a whole number from 1 to 4096"),
    (lambda a: a.configure(input_shape=(4096, 4096, 5)), "more than the 67,108,864 allowed"),
    (lambda a: a.configure(num_classes=1), "num_classes must be a whole number from 2"),
    (lambda a: a.configure(output="probs"), "output must be 'probabilities' or 'logits'"),
])
def test_bad_arguments_raise_located_errors_and_change_nothing(edit, words):
    arch = small()
    before, changes = arch.to_dict(), []
    arch.observe(changes.append)
    with pytest.raises(ArchitectureError) as error:
        edit(arch)
    assert words in str(error.value)
    assert arch.to_dict() == before and changes == []


def test_out_of_range_values_are_kept_and_reported_on_their_row():
    arch = small().update(0, filters=0)
    assert arch[0].params["filters"] == 0
    assert arch.summary().rows[0].error == "Conv2D #1: filters must be a whole number from 1 to 4096, got 0"


def test_observers_get_each_successful_change():
    arch, changes = small(), []
    arch.observe(changes.append)
    arch.observe(changes.append)  # observing twice does not double the calls
    arch.add("Dropout", rate=0.2).update(0, filters=16).move(4, 0).remove(0).configure(num_classes=5)
    arch.update(0, filters=16)  # no change, no call
    arch.apply([{"op": "remove", "index": 1}, {"op": "insert", "index": 1, "type": "MaxPooling2D"}])
    assert changes == [
        {"op": "add", "index": 4, "type": "Dropout", "params": {"rate": 0.2}},
        {"op": "update", "index": 0, "params": {"filters": 16}},
        {"op": "move", "index": 4, "to": 0},
        {"op": "remove", "index": 0},
        {"op": "configure", "input_shape": [28, 28, 1], "num_classes": 5, "output": "probabilities"},
    ]
    json.dumps(changes)
    arch.unobserve(changes.append)
    arch.remove(0)
    assert len(changes) == 5


def test_copy_equality_iteration_and_snapshots():
    arch = small()
    twin = arch.copy()
    assert twin == arch and twin is not arch and len(twin) == 4
    twin.update(0, filters=1)
    assert twin != arch and arch[0].params["filters"] == 12
    snapshot = arch.to_dict()
    json.dumps(snapshot)
    arch.remove(0).update(0, pool_size=0)  # an out-of-range value the learner was typing
    typing = arch.to_dict()
    changes = []
    arch.observe(changes.append)
    arch.restore(snapshot)
    assert arch == Architecture.from_dict(snapshot) and changes == [{"op": "restore"}]
    arch.restore(typing)  # snapshots with row errors restore too (redo)
    assert arch[0].params["pool_size"] == 0
    with pytest.raises(ArchitectureError, match="pool_size must be"):
        Architecture.from_dict(typing)  # while a strict import refuses them
    assert [entry.type for entry in iter(arch)] == types(arch)
    resized = Architecture((32, 32, 1), 10, layers=arch)
    assert list(resized) == list(arch) and resized.input_shape == (32, 32, 1)


def test_summary_is_cached_until_the_next_edit():
    arch = small()
    first = arch.summary()
    assert arch.summary() is first
    arch.update(0, filters=13)
    assert arch.summary() is not first and arch.summary().rows[0].param_count == 130


def test_applying_a_suggested_fix():
    arch = small().insert(2, "MaxPooling2D").insert(2, "MaxPooling2D").insert(2, "MaxPooling2D")
    arch.insert(2, "MaxPooling2D")
    problem = arch.summary().errors[0]
    assert problem.message.startswith("MaxPooling2D #6 receives 1×1×12: a 2×2 pool cannot fit")
    arch.apply(problem.fix["actions"])
    assert arch.summary().is_valid


def test_catalog_presets_and_editing_do_not_import_keras():
    """The builder can render its palette instantly; Keras loads with the first summary."""
    code = ("import sys, convlab_widgets.architecture as a; a.catalog.to_dict(); "
            "p = a.presets.get('conv_mnist'); p.update(0, filters=8); p.to_code(); p.to_json(); "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
