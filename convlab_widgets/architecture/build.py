"""Turning catalog entries into Keras layers and models.

The shape engine and ``to_keras`` construct layers through the same function,
so what the summary reports and what training runs cannot drift apart.
"""

from __future__ import annotations

import keras

from . import catalog

__all__ = ["fire_convs", "make_layer", "to_keras"]


def make_layer(layer_type: str, params: dict, name: str):
    """A fresh Keras layer for a catalog entry (not for blocks, see ``fire_convs``)."""
    return getattr(keras.layers, catalog.get(layer_type).keras_class)(name=name, **params)


def fire_convs(squeeze: int, expand: int) -> list[tuple[str, dict]]:
    """The convolutions of the squeezenet codelab's ``fire()``, as (role, Conv2D params).

    The squeeze output feeds both expand convolutions, whose outputs are
    concatenated along the channels.
    """
    conv = catalog.get("Conv2D")
    same = {"padding": "same", "activation": "relu"}
    return [
        ("squeeze", conv.complete({"filters": squeeze, "kernel_size": 1, **same})),
        ("expand1x1", conv.complete({"filters": expand // 2, "kernel_size": 1, **same})),
        ("expand3x3", conv.complete({"filters": expand // 2, "kernel_size": 3, **same})),
    ]


def _fire(x, name: str, squeeze: int, expand: int):
    convs = {role: make_layer("Conv2D", params, f"{name}_{role}") for role, params in fire_convs(squeeze, expand)}
    y = convs["squeeze"](x)
    return keras.layers.Concatenate(name=f"{name}_concat")([convs["expand1x1"](y), convs["expand3x3"](y)])


def to_keras(input_shape: tuple, entries, name: str):
    """Sequential when the stack is linear, functional as soon as a block branches."""
    entries = list(entries)
    names = catalog.layer_names(entry.type for entry in entries)
    inputs = keras.Input(shape=input_shape, name="input")
    if not any(entry.type == "Fire" for entry in entries):
        return keras.Sequential(
            [inputs, *(make_layer(entry.type, entry.params, n) for entry, n in zip(entries, names))], name=name)
    y = inputs
    for entry, layer_name in zip(entries, names):
        if entry.type == "Fire":
            y = _fire(y, layer_name, **entry.params)
        else:
            y = make_layer(entry.type, entry.params, layer_name)(y)
    return keras.Model(inputs, y, name=name)
