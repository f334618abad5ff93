"""The seed architectures: valid, with the exact parameter counts Keras reports."""

import pytest

from convlab_widgets.architecture import Architecture, ArchitectureError, presets

# name: (input shape, classes, total params, trainable params, rows)
EXPECTED = {
    "dense_mnist": ((28, 28, 1), 10, 169_670, 169_670, 4),
    "conv_mnist": ((28, 28, 1), 10, 354_002, 354_002, 7),
    "conv_mnist_bn": ((28, 28, 1), 10, 354_538, 354_002, 15),
    "flowers_convnet": ((192, 192, 3), 5, 43_389, 43_389, 16),
    "squeezenet_gap": ((192, 192, 3), 5, 21_805, 21_805, 8),
    "squeezenet_dense": ((192, 192, 3), 5, 45_570, 45_570, 11),
    "squeezenet_downsample": ((192, 192, 3), 5, 27_212, 27_212, 9),
    "conv_small": ((8, 8, 1), 10, 38_282, 38_282, 6),
    "conv_shapes": ((32, 32, 3), presets.SHAPES_NUM_CLASSES, 14_468, 14_468, 7),
}


def test_every_preset_is_listed():
    assert presets.names() == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_preset_is_valid_with_exact_counts(name):
    input_shape, classes, total, trainable, rows = EXPECTED[name]
    arch = presets.get(name)
    summary = arch.summary()
    assert summary.is_valid, summary
    assert (arch.input_shape, arch.num_classes, len(arch)) == (input_shape, classes, rows)
    assert (summary.total_params, summary.trainable_params) == (total, trainable)
    assert summary.output_shape == (classes,)
    model = arch.to_keras()
    assert model.count_params() == total
    assert len(presets.describe(name)) > 40


def test_codelab_shapes_are_reproduced():
    conv = presets.get("conv_mnist").summary()
    assert [row.output_shape for row in conv.rows[:3]] == [(28, 28, 12), (14, 14, 24), (7, 7, 32)]
    dense = presets.get("squeezenet_dense").summary()
    assert dense.rows[-3].output_shape == (12, 12, 10)  # the typo-free reading of the codelab
    assert "typo" in presets.describe("squeezenet_dense")
    downsample = presets.get("squeezenet_downsample").summary()
    assert downsample.rows[1].output_shape == (48, 48, 42)


def test_presets_are_fresh_copies_and_unknown_names_fail():
    presets.get("conv_small").remove(0)
    assert len(presets.get("conv_small")) == 6
    assert isinstance(presets.get("conv_small"), Architecture)
    with pytest.raises(ArchitectureError, match="unknown preset 'lenet'"):
        presets.get("lenet")
