"""Ready-made architectures from the seed codelabs, and small defaults for the embedded datasets.

Each preset is a fresh ``Architecture`` the learner can edit; descriptions say
where it comes from and what the codelab reports for it.
"""

from __future__ import annotations

from .architecture import Architecture
from .errors import ArchitectureError, short

__all__ = ["SHAPES_NUM_CLASSES", "describe", "get", "names", "resolve"]

#: Classes of the embedded ``shapes`` dataset, until the training side settles on it.
SHAPES_NUM_CLASSES = 4

_MNIST, _FLOWERS = (28, 28, 1), (192, 192, 3)


def _conv(filters, kernel_size, **params):
    return ("Conv2D", {"filters": filters, "kernel_size": kernel_size, "padding": "same", "activation": "relu",
                       **params})


def _conv_bn_relu(filters, kernel_size, **params):
    """The batch-norm recipe of the MNIST codelab: no bias, BatchNormalization without scale, then relu."""
    return [_conv(filters, kernel_size, activation="linear", use_bias=False, **params),
            ("BatchNormalization", {"scale": False, "center": True}), ("Activation", {"activation": "relu"})]


def _fire(squeeze, expand):
    return ("Fire", {"squeeze": squeeze, "expand": expand})


_POOL = ("MaxPooling2D", {"pool_size": 2})
_FLATTEN = ("Flatten", {})


def _softmax(units):
    return ("Dense", {"units": units, "activation": "softmax"})


_PRESETS = {
    "dense_mnist": (
        "The MNIST codelab's dense network: 784 pixels through 200 and 60 relu neurons to 10 softmax outputs.",
        _MNIST, 10, [_FLATTEN, ("Dense", {"units": 200, "activation": "relu"}),
                     ("Dense", {"units": 60, "activation": "relu"}), _softmax(10)]),
    "conv_mnist": (
        "The MNIST codelab's convolutional network: conv 12 (3×3), 24 (6×6, stride 2), 32 (6×6, stride 2) "
        "with 'same' padding, then dense 200 with dropout. The codelab gives no dropout rate for this step; "
        "0.5 here, which its batch-norm step lowers to 0.3.",
        _MNIST, 10, [_conv(12, 3), _conv(24, 6, strides=2), _conv(32, 6, strides=2), _FLATTEN,
                     ("Dense", {"units": 200, "activation": "relu"}), ("Dropout", {"rate": 0.5}), _softmax(10)]),
    "conv_mnist_bn": (
        "conv_mnist with batch normalization on every layer but the last, as the MNIST codelab does it: "
        "use_bias=False, BatchNormalization(scale=False, center=True), then Activation('relu'); dropout 0.3. "
        "The codelab reaches 99.5% with it.",
        _MNIST, 10, [*_conv_bn_relu(12, 3), *_conv_bn_relu(24, 6, strides=2), *_conv_bn_relu(32, 6, strides=2),
                     _FLATTEN, ("Dense", {"units": 200, "use_bias": False}),
                     ("BatchNormalization", {"scale": False, "center": True}), ("Activation", {"activation": "relu"}),
                     ("Dropout", {"rate": 0.3}), _softmax(10)]),
    "flowers_convnet": (
        "The flowers codelab's convolutional stack on 192×192 RGB images: pairs of 3×3 and 1×1 convolutions "
        "between 2×2 max-pooling, flattened into a 5-class softmax.",
        _FLOWERS, 5, [_conv(32, 3), _conv(32, 1), _POOL, _conv(32, 3), _conv(32, 1), _POOL,
                      _conv(32, 3), _conv(32, 1), _POOL, _conv(32, 3), _conv(32, 1), _POOL,
                      _conv(16, 3), _conv(8, 1), _FLATTEN, _softmax(5)]),
    "squeezenet_gap": (
        "SqueezeNet codelab, first variant: fire modules (squeeze 25, expand 50) alternating with max-pooling, "
        "then global average pooling and a dense softmax. Simple, tops out around 65% on flowers.",
        _FLOWERS, 5, [_fire(25, 50), _POOL, _fire(25, 50), _POOL, _fire(25, 50), _POOL,
                      ("GlobalAveragePooling2D", {}), _softmax(5)]),
    "squeezenet_dense": (
        "SqueezeNet codelab, second variant: a 3×3 convolution and pooling, fire modules of growing size, "
        "a 1×1 convolution down to 10 channels, flattened into a dense softmax (about 75% on flowers). "
        "The codelab's code applies the first fire module to the input x, a typo that skips the first "
        "convolution and pooling (its '24x24x10' comment follows from it); here it reads their output y as "
        "intended, so the last cube is 12×12×10.",
        _FLOWERS, 5, [_conv(40, 3), _POOL, _fire(25, 50), _POOL, _fire(30, 60), _POOL, _fire(40, 80), _POOL,
                      _conv(10, 1), _FLATTEN, _softmax(5)]),
    "squeezenet_downsample": (
        "SqueezeNet codelab, third variant: a 6×6 stride-2 convolution and pooling downsample 192×192 to 48×48, "
        "two fire modules, then a 1×1 convolution to 5 channels, global average pooling and softmax, with no "
        "dense layer at all. About 70% on flowers, 3 seconds per epoch on TPU.",
        _FLOWERS, 5, [_conv(42, 6, strides=2), _POOL, _fire(24, 60), _POOL, _fire(27, 90), _POOL,
                      _conv(5, 1), ("GlobalAveragePooling2D", {}), ("Activation", {"activation": "softmax"})]),
    "conv_small": (
        "A small default for the embedded 8×8 digits: two convolutions (the second with stride 2), "
        "a small dense layer with dropout, 10 classes. Trains in seconds on a CPU.",
        (8, 8, 1), 10, [_conv(16, 3), _conv(32, 3, strides=2), _FLATTEN,
                        ("Dense", {"units": 64, "activation": "relu"}), ("Dropout", {"rate": 0.25}), _softmax(10)]),
    "conv_shapes": (
        f"A small default for the embedded 32×32 RGB shapes ({SHAPES_NUM_CLASSES} classes): three convolutions "
        "with max-pooling and a global-average-pooling head, as the codelabs recommend.",
        (32, 32, 3), SHAPES_NUM_CLASSES, [_conv(16, 3), _POOL, _conv(32, 3), _POOL, _conv(32, 3),
                                          ("GlobalAveragePooling2D", {}), _softmax(SHAPES_NUM_CLASSES)]),
}


def names() -> list[str]:
    return list(_PRESETS)


def _preset(name):
    if name not in _PRESETS:
        raise ArchitectureError(f"unknown preset {short(name)} (available: {', '.join(_PRESETS)})")
    return _PRESETS[name]


def describe(name: str) -> str:
    """Where the preset comes from and what to expect of it, for learners."""
    return _preset(name)[0]


def get(name: str) -> Architecture:
    """A fresh, editable copy of the preset."""
    _, input_shape, num_classes, layers = _preset(name)
    return Architecture(input_shape=input_shape, num_classes=num_classes, layers=layers)


def resolve(architecture, *, allow_none: bool = True, duck_typed: bool = False):
    """What an ``architecture=`` argument means: the Architecture itself, a fresh preset, or None.

    One rule for every entry point (builder, lab, trainer). A preset name
    gives a fresh, editable copy (an unknown name is an ArchitectureError
    listing the presets); None is returned as is when ``allow_none`` (the
    caller picks its default); ``duck_typed`` also accepts any object with a
    ``to_keras()`` method, as the trainer does. Anything else is a TypeError
    naming what was given and what is accepted.
    """
    if isinstance(architecture, Architecture):
        return architecture
    if isinstance(architecture, str):
        return get(architecture)
    if architecture is None and allow_none:
        return None
    if duck_typed and architecture is not None and callable(getattr(architecture, "to_keras", None)):
        return architecture
    accepted = "an Architecture" + (" (or an object with to_keras())" if duck_typed else "")
    accepted += ", a preset name like 'conv_small'" + (", or None" if allow_none else "")
    given = "None" if architecture is None else f"{type(architecture).__name__} {short(architecture)}"
    raise TypeError(f"architecture must be {accepted}; got {given}")
