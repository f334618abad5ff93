"""Run legends: what changed since the previous run, in the issue's words, from architecture and config alone."""

import types

import pytest

from convlab_widgets.architecture import Architecture, presets
from convlab_widgets.compare import describe_changes, label
from convlab_widgets.compare.diff import MAX_LABEL

CONFIG = {
    "epochs": 10, "batch_size": 32, "per_replica_batch_size": 32, "replicas": 1, "optimizer": "Adam",
    "learning_rate": 0.01, "lr_schedule": "schedules.constant()", "seed": 0, "filter_every": None,
    "jit_compile": False, "drop_remainder": False, "steps_per_epoch": 45, "strategy": "CPU · TensorFlow",
    "data": "digits", "train_size": 1437, "validation_size": 360, "train_subset": None,
}


def run(architecture, **config):
    """A run as restored from disk: nothing but the two attributes the legends read."""
    return types.SimpleNamespace(architecture=architecture, config={**CONFIG, **config})


def dense_mnist(**first_dense):
    arch = presets.get("dense_mnist")
    return arch.update(1, **first_dense) if first_dense else arch


def test_the_issue_examples():
    before = run(dense_mnist())
    after = run(dense_mnist().insert(2, "Dropout", rate=0.25), learning_rate=0.003, train_size=300,
                train_subset=300, steps_per_epoch=10)
    assert describe_changes(before, after) == ["+Dropout(0.25) after Dense(200)", "subset 300", "lr 0.01→0.003"]
    assert label(after, before) == "+Dropout(0.25) after Dense(200), subset 300, lr 0.01→0.003"


def test_layers_edited_in_place_say_which_parameter_changed():
    small = presets.get("conv_small")
    edited = small.copy().update(0, filters=32).update(1, kernel_size=5, padding="valid").update(3, activation="tanh")
    edited.update(4, rate=0.5)
    assert describe_changes(run(small), run(edited)) == [
        "Conv2D(16→32 filters)", "Conv2D(32, 3×3→5×5, padding same→valid)", "Dense(64, relu→tanh)",
        "Dropout(0.25→0.5)",
    ]
    assert describe_changes(run(dense_mnist()), run(dense_mnist(units=100))) == ["Dense(200→100)"]
    sigmoid = run(dense_mnist(activation="sigmoid"))
    assert describe_changes(run(dense_mnist()), sigmoid) == ["Dense(200, relu→sigmoid)"]


def test_removed_moved_and_swapped_layers():
    bn = presets.get("conv_small").insert(1, "BatchNormalization")
    assert describe_changes(run(bn), run(presets.get("conv_small"))) == ["−BatchNormalization after Conv2D(16, 3×3)"]
    first = presets.get("conv_small").insert(0, "Rescaling", scale=0.5)
    assert describe_changes(run(presets.get("conv_small")), run(first)) == ["+Rescaling(0.5) before Conv2D(16, 3×3)"]
    pooled = presets.get("conv_small").replace(1, "MaxPooling2D", pool_size=2)
    assert describe_changes(run(presets.get("conv_small")), run(pooled)) == ["Conv2D(32, 3×3)→MaxPooling2D(2×2)"]
    assert describe_changes(run(dense_mnist()), run(dense_mnist().remove(0))) == ["−Flatten before Dense(200)"]
    grown = dense_mnist().insert(2, "Dense", units=100, activation="relu").insert(3, "Dropout", rate=0.5)
    assert describe_changes(run(dense_mnist()), run(grown)) == ["+Dense(100), Dropout(0.5) after Dense(200)"]


def test_parameters_left_to_keras_and_values_still_being_typed_are_shown_as_they_are():
    zoom = Architecture((32, 32, 3), 4, layers=[("RandomZoom", {"height_factor": 0.1}), ("Flatten", {}),
                                                ("Dense", {"units": 4})])
    assert describe_changes(run(zoom), run(zoom.copy().update(0, width_factor=0.2))) == [
        "RandomZoom(0.1, width_factor auto→0.2)"]
    assert describe_changes(run(zoom), run(zoom.copy().update(2, units=0))) == ["Dense(4→0)"]


def test_what_the_model_reads_and_predicts():
    before = Architecture((28, 28, 1), 10, layers=[("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    after = Architecture((32, 32, 3), 4, "logits", layers=[("Flatten", {}), ("Dense", {"units": 4})])
    assert describe_changes(run(before), run(after, data="shapes")) == [
        "input 28×28×1→32×32×3", "10→4 classes", "Dense(10→4, softmax→linear)",
        "output probabilities→logits", "data digits→shapes",
    ]


def test_settings_a_learner_chooses_and_not_the_bookkeeping():
    before = run(presets.get("conv_small"), train_size=300, train_subset=300)
    after = run(presets.get("conv_small"), epochs=20, batch_size=64, per_replica_batch_size=64, steps_per_epoch=16,
                optimizer="SGD", learning_rate=1e-5, lr_schedule="schedules.exponential(decay=0.6)", seed=None,
                train_size=1000, train_subset=1000, jit_compile=True, strategy="GPU", filter_every=5)
    assert describe_changes(before, after) == [
        "subset 300→1000", "10→20 epochs", "batch 32→64", "optimizer Adam→SGD", "lr 0.01→1e-5",
        "schedule constant→exponential(decay=0.6)", "seed 0→random",
    ]
    assert describe_changes(before, run(presets.get("conv_small"))) == ["all 1437 images"]


def test_learning_rates_keep_three_significant_digits():
    pairs = [(0.001, "0.001"), (0.00123456, "0.00123"), (0.1, "0.1"), (2.5e-4, "0.00025"), (3e-6, "3e-6"), (1, "1")]
    for value, text in pairs:
        assert describe_changes(run(presets.get("conv_small")), run(presets.get("conv_small"), learning_rate=value)) \
            == [f"lr 0.01→{text}"]


def test_a_config_that_does_not_record_the_subset_still_gives_the_image_count():
    old, new = dict(CONFIG), dict(CONFIG, train_size=300)
    del old["train_subset"], new["train_subset"]
    arch = presets.get("conv_small")
    changes = describe_changes(types.SimpleNamespace(architecture=arch, config=old),
                               types.SimpleNamespace(architecture=arch, config=new))
    assert changes == ["1437→300 training images"]


def test_nothing_changed():
    assert describe_changes(run(presets.get("conv_small")), run(presets.get("conv_small"))) == ["rerun, no change"]
    assert describe_changes(run(presets.get("conv_small"), seed=None), run(presets.get("conv_small"), seed=None)) \
        == ["same settings (new seed)"]


def test_a_first_run_is_described_by_its_stack():
    assert describe_changes(None, run(presets.get("conv_small"))) == [
        "Conv2D(16/32) → Dense(64) → Dropout(0.25) → Dense(10)"]
    assert label(run(presets.get("dense_mnist"), train_size=300, train_subset=300)) == "Dense(200/60/10), subset 300"
    assert label(run(presets.get("squeezenet_downsample"))) == "Conv2D(42, 6×6) → Fire(24/27) → Conv2D(5, 1×1)"
    assert label(run(Architecture((8, 8, 1), 10))) == "no layers"


def test_long_legends_are_cut_at_a_piece_and_count_what_is_left():
    before = run(presets.get("conv_small"))
    after = run(presets.get("conv_small").update(0, filters=8).update(1, filters=8).update(3, units=128), epochs=3,
                batch_size=16, learning_rate=0.1)
    text = label(after, before)
    assert text == "Conv2D(16→8 filters), Conv2D(32→8 filters), +4 more" and len(text) <= MAX_LABEL
    assert label(after, before, max_length=30) == "Conv2D(16→8 filters), +5 more"
    short = label(run(presets.get("flowers_convnet")), max_length=20)
    assert len(short) == 20 and short.endswith("…")


def test_every_preset_gets_a_legend_that_fits():
    for name in presets.names():
        assert 0 < len(label(run(presets.get(name)))) <= MAX_LABEL, name


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(TypeError, match=r"after must be a run with \.architecture and a \.config dict .* got int"):
        describe_changes(None, 3)
    with pytest.raises(TypeError, match="before must be a run"):
        describe_changes(types.SimpleNamespace(architecture=presets.get("conv_small")), run(presets.get("conv_small")))
    with pytest.raises(ValueError, match="max_length must be a whole number of characters, at least 12, got 5"):
        label(run(presets.get("conv_small")), max_length=5)
