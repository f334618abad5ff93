"""Keras source code for an architecture: what the learner takes home.

The code is written the way the codelabs write it: a Sequential list when the
stack is linear, the functional style with the codelab's ``fire()`` helper as
soon as a fire module branches. Only parameters that differ from Keras'
defaults are spelled out, so the code reads like hand-written code.
"""

from __future__ import annotations

from . import catalog

__all__ = ["to_code"]

_FIRE_HELPER = '''\
def fire(x, squeeze, expand):
    y = layers.Conv2D(filters=squeeze, kernel_size=1, padding="same", activation="relu")(x)
    y1 = layers.Conv2D(filters=expand // 2, kernel_size=1, padding="same", activation="relu")(y)
    y3 = layers.Conv2D(filters=expand // 2, kernel_size=3, padding="same", activation="relu")(y)
    return layers.concatenate([y1, y3])
'''

# The datasets of convlab_widgets give integer labels (3, not [0, 0, 0, 1, ...]),
# hence the sparse variant of the codelabs' categorical cross-entropy.
_LOSS = {
    "probabilities": '"sparse_categorical_crossentropy"',
    "logits": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
}


def _literal(value) -> str:
    """Python literal in the codelabs' style; catalog strings never contain quotes."""
    return repr(value).replace("'", '"')


def _call(entry) -> str:
    spec = catalog.get(entry.type)
    params = entry.params
    args = ", ".join(f"{p.name}={_literal(params[p.name])}" for p in spec.params
                     if p.required or params[p.name] != p.default)
    return f"layers.{spec.keras_class}({args})"


def to_code(arch) -> str:
    entries = list(arch)
    lines = ["import keras", "from keras import layers", ""]
    if not any(entry.type == "Fire" for entry in entries):
        lines += ["model = keras.Sequential([", f"    keras.Input(shape={_literal(arch.input_shape)}),"]
        lines += [f"    {_call(entry)}," for entry in entries]
        lines.append("])")
    else:
        lines += ["", _FIRE_HELPER, "", f"x = keras.Input(shape={_literal(arch.input_shape)})"]
        source = "x"
        for entry in entries:
            if entry.type == "Fire":
                squeeze, expand = entry.params["squeeze"], entry.params["expand"]
                lines.append(f"y = fire({source}, squeeze={squeeze}, expand={expand})")
            else:
                lines.append(f"y = {_call(entry)}({source})")
            source = "y"
        lines.append("model = keras.Model(x, y)")
    lines += [
        "",
        "# Labels are class numbers (3, not one-hot), hence the sparse cross-entropy.",
        "model.compile(",
        '    optimizer="adam",',
        f"    loss={_LOSS[arch.output]},",
        '    metrics=["accuracy"],',
        ")",
        "model.summary()",
    ]
    return "\n".join(lines) + "\n"
