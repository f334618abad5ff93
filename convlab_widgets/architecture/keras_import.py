"""Importing a Keras model a learner (or a codelab) already wrote.

Only what the builder can represent is imported: a chain of catalog layers,
with the codelab's fire pattern (1×1 squeeze, parallel 1×1 and 3×3 expand,
concatenated) recognised as one Fire row. Each imported layer is rebuilt from
catalog parameters and its Keras config compared with the original, so a
setting the builder cannot show (dilation, regularisers, a frozen layer) is
reported instead of silently dropped.
"""

from __future__ import annotations

import keras

from . import catalog
from .build import fire_convs, make_layer
from .errors import ArchitectureError, short

__all__ = ["from_keras"]

_BY_CLASS = {catalog.get(t).keras_class: t for t in catalog.types() if catalog.get(t).keras_class}
# Config entries that do not change what the layer computes or how it trains.
_IGNORED = {"name", "seed", "batch_input_shape", "batch_shape", "input_shape"}


def from_keras(cls, model, *, num_classes=None, output=None):
    if not isinstance(model, keras.Model):
        raise ArchitectureError(f"from_keras expects a Keras model, got {type(model).__name__}")
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except Exception:
        inputs = outputs = []
    if len(inputs) != 1 or len(outputs) != 1:
        raise ArchitectureError("only models with exactly one input and one output can be imported; "
                                "start the model with keras.Input(shape=...)")
    input_shape = tuple(inputs[0].shape[1:])
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    unsupported = [f"{type(layer).__name__} {layer.name!r}" for layer in layers
                   if type(layer).__name__ not in _BY_CLASS and not isinstance(layer, keras.layers.Concatenate)]
    if unsupported:
        raise ArchitectureError(f"the builder has no equivalent for: {', '.join(unsupported)}")
    pairs = _chain(inputs[0], outputs[0], layers)
    last_shape = tuple(outputs[0].shape[1:])
    if num_classes is None:
        if len(last_shape) != 1:
            raise ArchitectureError(f"the model ends with shape {last_shape}; pass num_classes=...")
        num_classes = last_shape[0]
    if output is None:
        output = "logits" if pairs and pairs[-1][1].get("activation") == "linear" else "probabilities"
    arch = cls(input_shape=input_shape, num_classes=num_classes, output=output, layers=pairs)
    for index, entry in enumerate(arch):
        failure = catalog.get(entry.type).failure(entry.params)
        if failure:
            raise ArchitectureError(failure.render(entry.type, index).message, index=index)
    return arch


def _chain(start, end, layers) -> list[tuple[str, dict]]:
    """Follow the tensors from input to output; only fire modules may branch."""
    consumers: dict[int, list] = {}
    try:
        for layer in layers:
            sources = layer.input if isinstance(layer.input, list) else [layer.input]
            for tensor in sources:
                consumers.setdefault(id(tensor), []).append(layer)
            layer.output  # raises for a layer called more than once
    except (AttributeError, ValueError):
        raise ArchitectureError(f"layer {layer.name!r} is used more than once; the builder needs "
                                "each layer once, in a chain") from None
    pairs, tensor, visited = [], start, 0
    while consumers.get(id(tensor)):
        readers = consumers[id(tensor)]
        layer = readers[0]
        fire = _fire(layer, consumers)
        if len(readers) != 1 or (isinstance(layer, keras.layers.Concatenate) and not fire):
            names = ", ".join(repr(reader.name) for reader in readers)
            raise ArchitectureError(f"the model branches at {names}; only the fire module's branches "
                                    "can be imported")
        if fire:
            squeeze, expand, concat = fire
            pairs.append(("Fire", {"squeeze": squeeze, "expand": expand}))
            tensor, visited = concat.output, visited + 4
        else:
            pairs.append(_row(layer))
            tensor, visited = layer.output, visited + 1
    if tensor is not end or visited != len(layers):
        raise ArchitectureError("some layers are not on the path from the model's input to its output")
    return pairs


def _fire(squeeze, consumers):
    """(squeeze, expand, concatenate layer) when ``squeeze`` starts a codelab fire module."""
    if not isinstance(squeeze, keras.layers.Conv2D):
        return None
    readers = consumers.get(id(squeeze.output), [])
    if len(readers) != 2 or not all(isinstance(r, keras.layers.Conv2D) for r in readers):
        return None
    concat = consumers.get(id(readers[0].output), [None])[0]
    if (not isinstance(concat, keras.layers.Concatenate) or concat.axis not in (-1, 3)
            or consumers.get(id(readers[1].output)) != [concat] or len(consumers[id(readers[0].output)]) != 1):
        return None
    expand1x1, expand3x3 = sorted(readers, key=lambda r: [id(t) for t in concat.input].index(id(r.output)))
    params = fire_convs(squeeze.filters, 2 * expand1x1.filters)
    if any(_differences(layer, "Conv2D", conv) for layer, (_, conv) in zip((squeeze, expand1x1, expand3x3), params)):
        return None
    return squeeze.filters, 2 * expand1x1.filters, concat


def _row(layer) -> tuple[str, dict]:
    layer_type = _BY_CLASS[type(layer).__name__]
    spec = catalog.get(layer_type)
    config = layer.get_config()
    params = {p.name: _canonical(p, config.get(p.name)) for p in spec.params}
    try:
        differences = _differences(layer, layer_type, spec.complete(params))
    except ArchitectureError as error:
        raise ArchitectureError(f"{layer_type} {layer.name!r}: {error.message}") from None
    if differences:
        raise ArchitectureError(f"{layer_type} {layer.name!r} uses settings the builder cannot show: "
                                f"{', '.join(differences)}")
    return layer_type, params


def _canonical(spec, value):
    """Keras' config spelling → the catalog's: kernel_size (3, 3) → 3, rotation factor (-0.1, 0.1) → 0.1."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and len(value) == 2:
        if spec.kind == "size" and value[0] == value[1]:
            return value[0]
        if spec.kind == "float" and value[0] == -value[1]:
            return abs(value[1])
    return value


def _differences(layer, layer_type: str, params: dict) -> list[str]:
    original = layer.get_config()
    rebuilt = make_layer(layer_type, params, layer.name).get_config()
    return [f"{key}={short(original.get(key))}" for key in sorted(set(original) | set(rebuilt))
            if key not in _IGNORED and original.get(key) != rebuilt.get(key)]
