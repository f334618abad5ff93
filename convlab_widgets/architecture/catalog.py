"""The layers a learner can stack, with the Keras parameter names and defaults.

The builder renders its forms from this catalog, JSON import is validated
against it, and nothing outside it is ever looked up by name: it is the
boundary between untrusted input and Keras. Ranges are deliberately narrower
than what Keras accepts (kernels up to 64, for instance) so that a typo shows
up as a located error on the row instead of a model nobody can train.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .errors import ArchitectureError, Failure, short, too_long_to_print

__all__ = [
    "ACTIVATIONS", "GROUPS", "MAX_DIM", "LayerSpec", "ParamSpec",
    "get", "json_params", "json_value", "layer_names", "normalize_value", "same", "to_dict", "typed_key", "types",
]

GROUPS = ("convolution", "pooling", "core", "regularization", "blocks", "augmentation")

#: Largest size of one dimension anywhere (input sides, units, filters).
MAX_DIM = 4096

#: Activations Keras 3.0 and later all know by name.
ACTIVATIONS = (
    "linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "silu",
    "swish", "softplus", "softsign", "relu6", "leaky_relu", "hard_sigmoid", "exponential",
)

_MAX_TEXT = 100


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its kind drives both the form widget and validation.

    kinds: ``int``, ``float``, ``bool``, ``choice``, ``size`` (an int or an
    (height, width) pair) and ``shape`` (a tuple of sizes, one may be -1).
    ``optional`` admits None (Keras' "same as ..." default); ``required``
    params are always written out in generated code.
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    maximum_excluded: bool = False
    choices: tuple = ()
    optional: bool = False
    required: bool = False
    even: bool = False

    def rule(self) -> str:
        """The constraint in learner words, used in every message about this param."""
        low, high = self.minimum, self.maximum
        if self.kind == "int":
            what = "an even number" if self.even else "a whole number"
            return f"{self.name} must be {what} from {low:g} to {high:g}"
        if self.kind == "float":
            return f"{self.name} must be a number from {low:g} to {high:g}" + (
                f" ({high:g} excluded)" if self.maximum_excluded else "")
        if self.kind == "bool":
            return f"{self.name} must be True or False"
        if self.kind == "choice":
            return f"{self.name} must be one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "size":
            rule = f"{self.name} must be a whole number from {low:g} to {high:g}, or a pair of them like (3, 3)"
            return rule + (", or None" if self.optional else "")
        return (f"{self.name} must list 1 to 3 sizes from 1 to {MAX_DIM}, one of which may be -1 "
                "(meaning: whatever is left)")

    def check(self, value) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if value is None and self.optional:
            return None
        if self._valid(value):
            return None
        if self.kind == "choice" and isinstance(value, str):
            close = difflib.get_close_matches(value, self.choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown {self.name} {value!r}{hint} ({self.rule()})"
        return f"{self.rule()}, got {short(value)}"

    def _valid(self, value) -> bool:
        if self.kind == "int":
            return _is_int(value) and self.minimum <= value <= self.maximum and not (self.even and value % 2)
        if self.kind == "float":
            return (_finite(value) and self.minimum <= value
                    and (value < self.maximum if self.maximum_excluded else value <= self.maximum))
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "size":
            sides = value if isinstance(value, tuple) and len(value) == 2 else (value,)
            return all(_is_int(v) and self.minimum <= v <= self.maximum for v in sides)
        return (isinstance(value, tuple) and 1 <= len(value) <= 3
                and all(_is_int(v) and (1 <= v <= MAX_DIM or v == -1) for v in value)
                and value.count(-1) <= 1)

    def repair(self, value):
        """The nearest acceptable value: what the one-click fix sets."""
        if self.kind in ("int", "float") and _finite(value):
            number = int if self.kind == "int" else float
            if value < self.minimum:
                return number(self.minimum)
            if value > self.maximum or (self.maximum_excluded and value >= self.maximum):
                return self.default if self.maximum_excluded else number(self.maximum)
            if self.even and _is_int(value):
                return value + 1
        if self.kind == "size" and _is_int(value):
            return min(max(value, int(self.minimum)), int(self.maximum))
        if self.kind == "size" and isinstance(value, tuple) and len(value) == 2 and all(map(_is_int, value)):
            return tuple(self.repair(v) for v in value)
        if self.kind == "choice" and isinstance(value, str):
            close = difflib.get_close_matches(value, self.choices, n=1)
            if close:
                return close[0]
        return self.default

    def coerce(self, value):
        """Turn equivalent spellings into one canonical value (12.0 → 12, [3, 3] → 3, [3, 1] → (3, 1)).

        Values stay as they are when they cannot be coerced, so that ``check``
        can report them on the row.
        """
        if self.kind in ("int", "size", "shape"):
            if isinstance(value, tuple):
                value = tuple(_integral(v) for v in value)
                square = self.kind == "size" and len(value) == 2 and same(value[0], value[1])
                return value[0] if square else value
            return _integral(value)
        if self.kind == "float" and _is_int(value) and _finite(value):
            return float(value)
        return value

    def to_dict(self) -> dict:
        spec = {"name": self.name, "kind": self.kind, "default": json_value(self.default),
                "doc": self.doc, "optional": self.optional, "required": self.required}
        if self.minimum is not None:
            spec.update(minimum=self.minimum, maximum=self.maximum, maximum_excluded=self.maximum_excluded)
        if self.choices:
            spec["choices"] = list(self.choices)
        if self.even:
            spec["even"] = True
        return spec


@dataclass(frozen=True)
class LayerSpec:
    """A catalog entry. ``keras_class`` is None for blocks that expand to several layers."""

    type: str
    group: str
    doc: str
    params: tuple[ParamSpec, ...]
    keras_class: str | None
    name_stem: str
    needs_image: bool = False

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        close = difflib.get_close_matches(name, [p.name for p in self.params], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if name in ("input_shape", "input_dim", "batch_input_shape"):
            hint = "; the input shape belongs to Architecture(input_shape=...)"
        known = ", ".join(p.name for p in self.params) or "none"
        raise ArchitectureError(f"no parameter {short(name, 300)}{hint} (its parameters: {known})")

    def complete(self, params: dict) -> dict:
        """Defaults filled in and values canonical; unknown names raise.

        Out-of-range values are kept: they are reported on the row, so a
        learner typing in the builder never loses what they typed.
        """
        given = {}
        for name, value in params.items():
            spec = self.param(name)
            given[name] = spec.coerce(normalize_value(value, name))
        complete = {spec.name: given.get(spec.name, spec.default) for spec in self.params}
        if "pool_size" in complete and same(complete["strides"], complete["pool_size"]):
            complete["strides"] = None  # one spelling per meaning: None is Keras' "same as pool_size"
        return complete

    def failure(self, params: dict) -> Failure | None:
        """The first invalid parameter as a row failure, with a fix setting a valid value."""
        for spec in self.params:
            reason = spec.check(params[spec.name])
            if reason:
                good = spec.repair(params[spec.name])
                return Failure(reason, None, f"Use {spec.name}={good!r}",
                               ({"op": "update", "index": None, "params": {spec.name: json_value(good)}},))
        return None

    def to_dict(self) -> dict:
        return {"type": self.type, "group": self.group, "doc": self.doc,
                "params": [p.to_dict() for p in self.params]}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value) -> bool:
    """A usable number; ints too large for a float are not."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _integral(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def typed_key(value):
    """``value`` with its type at every level, so that False, 0 and 0.0 (or True and 1) key apart.

    Python compares them equal and hashes them alike, which would let a cache
    answer for ``use_bias=False`` what it found for ``use_bias=0``, or make an
    edit from 1 to True look like no change. Floats key by ``repr`` so that
    NaN equals itself.
    """
    if isinstance(value, (list, tuple)):
        return type(value), tuple(typed_key(v) for v in value)
    if isinstance(value, dict):
        return dict, tuple((typed_key(k), typed_key(v)) for k, v in value.items())
    if isinstance(value, float):
        return float, repr(value)
    return type(value), value


def same(a, b) -> bool:
    """Equal in value and in type, recursively (see ``typed_key``)."""
    return typed_key(a) == typed_key(b)


def json_value(value):
    """Tuples (hashable, for cache keys) become lists again on their way to JSON."""
    return list(value) if isinstance(value, tuple) else value


def json_params(params: dict) -> dict:
    return {name: json_value(value) for name, value in params.items()}


def normalize_value(value, what: str):
    """Plain Python scalars and flat tuples only: anything else cannot be stored or sent as JSON.

    NumPy scalars (from sliders or data) are unwrapped; lists become tuples so
    parameters can be cache keys.
    """
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if too_long_to_print(value):
        raise ArchitectureError(f"{what} cannot hold a number with over 300 digits")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise ArchitectureError(f"{what} cannot hold text longer than {_MAX_TEXT} characters")
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 8:
        if any(isinstance(v, (list, tuple, dict, set)) for v in value):
            raise ArchitectureError(f"{what} cannot hold nested lists; use a short list of numbers")
        return tuple(normalize_value(v, what) for v in value)
    raise ArchitectureError(f"{what} cannot hold a {type(value).__name__}; "
                            "use a number, text, True/False or a short list of up to 8 numbers")


def _conv_params(*, filters=True, depth_multiplier=False, default_filters=32, default_kernel=3):
    params = []
    if filters:
        params.append(ParamSpec("filters", "int", default_filters,
                                "How many filters, i.e. output channels: each one learns to detect a pattern.",
                                1, MAX_DIM, required=True))
    params += [
        ParamSpec("kernel_size", "size", default_kernel,
                  "Side of the window each filter looks at (3 means 3×3).", 1, 64, required=True),
        ParamSpec("strides", "size", 1, "Step between windows; 2 halves height and width.", 1, 64),
        ParamSpec("padding", "choice", "valid",
                  "'same' pads the edges so the output keeps the input's size; 'valid' does not pad.",
                  choices=("valid", "same")),
    ]
    if depth_multiplier:
        params.append(ParamSpec("depth_multiplier", "int", 1,
                                "How many filters each input channel gets in the depthwise step.", 1, 64))
    params += [
        ParamSpec("activation", "choice", "linear",
                  "Function applied to each output; 'relu' is the usual choice inside a network.",
                  choices=ACTIVATIONS),
        ParamSpec("use_bias", "bool", True,
                  "Add a learned constant to each output; turn off when BatchNormalization follows."),
    ]
    return tuple(params)


def _pool_params():
    return (
        ParamSpec("pool_size", "size", 2, "Side of the window to summarise (2 keeps one value per 2×2).",
                  1, 64, required=True),
        ParamSpec("strides", "size", None, "Step between windows; None means the same as pool_size.",
                  1, 64, optional=True),
        ParamSpec("padding", "choice", "valid",
                  "'same' pads the edges so a window always fits; 'valid' does not pad.",
                  choices=("valid", "same")),
    )


def _factor(name, default, doc, maximum=1.0, optional=False):
    return ParamSpec(name, "float", default, doc, 0.0, maximum, optional=optional, required=not optional)


_SPECS = (
    LayerSpec("Conv2D", "convolution",
              "Slides small learned filters over the image; each filter produces one output channel.",
              _conv_params(), "Conv2D", "conv2d", needs_image=True),
    LayerSpec("SeparableConv2D", "convolution",
              "A cheaper convolution: filter each channel on its own, then mix channels with 1×1 filters.",
              _conv_params(depth_multiplier=True), "SeparableConv2D", "separable_conv2d", needs_image=True),
    LayerSpec("DepthwiseConv2D", "convolution",
              "Filters each input channel on its own, without mixing channels.",
              _conv_params(filters=False, depth_multiplier=True), "DepthwiseConv2D", "depthwise_conv2d",
              needs_image=True),
    LayerSpec("MaxPooling2D", "pooling",
              "Keeps the largest value of each window: shrinks the image, keeps the strongest signals.",
              _pool_params(), "MaxPooling2D", "max_pooling2d", needs_image=True),
    LayerSpec("AveragePooling2D", "pooling",
              "Averages each window: shrinks the image smoothly.",
              _pool_params(), "AveragePooling2D", "average_pooling2d", needs_image=True),
    LayerSpec("GlobalAveragePooling2D", "pooling",
              "Averages each channel over the whole image to one number: a classifier head with no weights.",
              (), "GlobalAveragePooling2D", "global_average_pooling2d", needs_image=True),
    LayerSpec("GlobalMaxPooling2D", "pooling",
              "Keeps the largest value of each channel over the whole image.",
              (), "GlobalMaxPooling2D", "global_max_pooling2d", needs_image=True),
    LayerSpec("Flatten", "core",
              "Unrolls the data cube into one long vector so that Dense layers can read it.",
              (), "Flatten", "flatten"),
    LayerSpec("Dense", "core",
              "A layer of neurons, each connected to every value of its input.",
              (ParamSpec("units", "int", 10, "How many neurons, i.e. output values.", 1, 65536, required=True),
               ParamSpec("activation", "choice", "linear",
                         "Function applied to each output; 'softmax' turns the last layer into probabilities.",
                         choices=ACTIVATIONS),
               ParamSpec("use_bias", "bool", True, "Add a learned constant to each neuron.")),
              "Dense", "dense"),
    LayerSpec("Activation", "core",
              "Applies a function to every value, e.g. 'relu' after BatchNormalization or a final 'softmax'.",
              (ParamSpec("activation", "choice", "relu", "The function to apply.", choices=ACTIVATIONS,
                         required=True),),
              "Activation", "activation"),
    LayerSpec("Reshape", "core",
              "Rearranges the values into another shape with the same number of values.",
              (ParamSpec("target_shape", "shape", (-1,), "The new shape, without the batch dimension.",
                         required=True),),
              "Reshape", "reshape"),
    LayerSpec("Rescaling", "core",
              "Multiplies every value by scale and adds offset, e.g. 1/255 turns 0-255 pixels into 0-1.",
              (ParamSpec("scale", "float", 1 / 255, "Factor applied to every value.", -1e6, 1e6, required=True),
               ParamSpec("offset", "float", 0.0, "Constant added after scaling.", -1e6, 1e6)),
              "Rescaling", "rescaling"),
    LayerSpec("Dropout", "regularization",
              "During training, randomly silences this fraction of values so the network cannot rely on any one.",
              (ParamSpec("rate", "float", 0.25, "Fraction of values dropped at each training step.",
                         0.0, 1.0, maximum_excluded=True, required=True),),
              "Dropout", "dropout"),
    LayerSpec("SpatialDropout2D", "regularization",
              "Dropout for images: silences whole channels at once.",
              (ParamSpec("rate", "float", 0.1, "Fraction of channels dropped at each training step.",
                         0.0, 1.0, maximum_excluded=True, required=True),),
              "SpatialDropout2D", "spatial_dropout2d", needs_image=True),
    LayerSpec("BatchNormalization", "regularization",
              "Re-centres and re-scales values batch by batch: helps deep networks train faster.",
              (ParamSpec("center", "bool", True, "Learn an offset (beta); it plays the role of a bias."),
               ParamSpec("scale", "bool", True, "Learn a scale (gamma); not needed before a 'relu'.")),
              "BatchNormalization", "batch_normalization"),
    LayerSpec("Fire", "blocks",
              "SqueezeNet's fire module: a 1×1 'squeeze' convolution, then parallel 1×1 and 3×3 'expand' "
              "convolutions of expand/2 filters each, concatenated.",
              (ParamSpec("squeeze", "int", 16, "Filters of the 1×1 squeeze convolution (usually fewer than expand).",
                         1, MAX_DIM, required=True),
               ParamSpec("expand", "int", 64, "Output channels: expand/2 from the 1×1 branch, expand/2 from the 3×3.",
                         2, 2 * MAX_DIM, required=True, even=True)),
              None, "fire", needs_image=True),
    LayerSpec("RandomFlip", "augmentation",
              "During training, randomly mirrors images; inactive when predicting.",
              (ParamSpec("mode", "choice", "horizontal_and_vertical", "Which mirror images to make.",
                         choices=("horizontal", "vertical", "horizontal_and_vertical")),),
              "RandomFlip", "random_flip", needs_image=True),
    LayerSpec("RandomRotation", "augmentation",
              "During training, randomly rotates images by up to factor × 360°.",
              (_factor("factor", 0.1, "Largest rotation as a fraction of a full turn."),),
              "RandomRotation", "random_rotation", needs_image=True),
    LayerSpec("RandomZoom", "augmentation",
              "During training, randomly zooms in or out by up to this fraction.",
              (_factor("height_factor", 0.1, "Largest vertical zoom as a fraction of the height.", 0.9),
               _factor("width_factor", None, "Largest horizontal zoom; None zooms both sides alike.", 0.9,
                       optional=True)),
              "RandomZoom", "random_zoom", needs_image=True),
    LayerSpec("RandomTranslation", "augmentation",
              "During training, randomly shifts images by up to this fraction of their size.",
              (_factor("height_factor", 0.1, "Largest vertical shift as a fraction of the height."),
               _factor("width_factor", 0.1, "Largest horizontal shift as a fraction of the width.")),
              "RandomTranslation", "random_translation", needs_image=True),
)

_BY_TYPE = {spec.type: spec for spec in _SPECS}


def get(layer_type) -> LayerSpec:
    """The catalog entry for a layer type; anything else is an ArchitectureError."""
    if isinstance(layer_type, str) and layer_type in _BY_TYPE:
        return _BY_TYPE[layer_type]
    close = difflib.get_close_matches(layer_type, list(_BY_TYPE), n=1) if isinstance(layer_type, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ArchitectureError(f"unknown layer type {short(layer_type)}{hint} (available: {', '.join(_BY_TYPE)})")


def types(group: str | None = None) -> list[str]:
    """Layer types in catalog order, optionally of one group."""
    return [spec.type for spec in _SPECS if group is None or spec.group == group]


def layer_names(layer_types) -> list[str]:
    """Keras layer names for a stack: conv2d_1, conv2d_2, fire_1, ... readable and stable."""
    seen = Counter()
    names = []
    for layer_type in layer_types:
        stem = get(layer_type).name_stem
        seen[stem] += 1
        names.append(f"{stem}_{seen[stem]}")
    return names


def to_dict() -> dict:
    """The whole catalog as JSON-ready data, for rendering the builder's palette and forms."""
    return {"groups": list(GROUPS), "layers": [spec.to_dict() for spec in _SPECS]}
