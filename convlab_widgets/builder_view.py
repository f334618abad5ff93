"""What the builder's browser view shows, made from ``Architecture.summary()``.

Every number here comes from the architecture model (Keras' arithmetic); this
module only picks and words them: the short parameter label of a row
("3×3 ×32 same relu"), which row is the heaviest, and the totals.
"""

from __future__ import annotations

from .architecture import catalog
from .architecture.errors import short, too_long_to_print


_MAX_LABEL_VALUE = 24


def value_text(value, _depth: int = 0) -> str:
    """Any value a row keeps, as short text: numbers as learners write them, the rest as typed.

    Out-of-range or wrong-typed values are kept on purpose (the row reports
    them), so the view shows whatever is there rather than assume a type.
    """
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = "(…)" if _depth > 2 else "(" + ", ".join(value_text(v, _depth + 1) for v in value[:8]) + ")"
    elif isinstance(value, str):
        text = repr(value) if not value.strip() or value != value.strip() else value
    elif too_long_to_print(value):
        text = "a huge number"
    elif value is None or isinstance(value, int):
        text = str(value)
    else:  # dicts and anything else: a bounded repr, whatever the nesting
        text = short(value, _MAX_LABEL_VALUE)
    return text if len(text) <= _MAX_LABEL_VALUE else text[: _MAX_LABEL_VALUE - 1] + "…"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _distinct(values) -> bool:
    return len({catalog.typed_key(v) for v in values}) > 1


def size_text(value) -> str:
    if value is None:
        return "auto"
    if isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
        side = value_text(value[0])
        return "×".join(value_text(v) for v in value) if _distinct(value) else f"{side}×{side}"
    if _is_number(value):
        return f"{value_text(value)}×{value_text(value)}"
    return value_text(value)


def _activation(params) -> str:
    activation = params.get("activation")
    return "" if activation is None or activation == "linear" else value_text(activation)


def _strides(params) -> str:
    strides = params.get("strides")
    if strides is None or any(catalog.same(strides, one) for one in (1, [1, 1], (1, 1))):
        return ""
    if isinstance(strides, (list, tuple)) and strides and all(_is_number(s) for s in strides):
        return "/" + ("×".join(value_text(s) for s in strides) if _distinct(strides) else value_text(strides[0]))
    return f"/{value_text(strides)}"


def label(layer_type: str, params: dict) -> str:
    """Key parameters in the short form learners scan a stack with.

    Total: whatever a row keeps (a rate typed as text, padding=1) is shown as
    text, since the row already carries the error that explains it.
    """
    p = params if isinstance(params, dict) else {}
    get = p.get
    if layer_type in ("Conv2D", "SeparableConv2D"):
        parts = [f"{size_text(get('kernel_size'))} ×{value_text(get('filters'))}", _strides(p),
                 value_text(get("padding")), _activation(p)]
    elif layer_type == "DepthwiseConv2D":
        parts = [size_text(get("kernel_size")), f"×{value_text(get('depth_multiplier', 1))}/ch", _strides(p),
                 value_text(get("padding")), _activation(p)]
    elif layer_type in ("MaxPooling2D", "AveragePooling2D"):
        parts = [size_text(get("pool_size")), _strides(p), value_text(get("padding"))]
    elif layer_type == "Dense":
        parts = [value_text(get("units")), _activation(p)]
    elif layer_type in ("Dropout", "SpatialDropout2D"):
        parts = [f"rate {value_text(get('rate'))}"]
    elif layer_type == "BatchNormalization":
        flags = [get(name) for name in ("center", "scale")]
        if all(isinstance(flag, bool) for flag in flags):
            parts = [name for name, flag in zip(("center", "scale"), flags) if flag] or ["no center, no scale"]
        else:
            parts = [f"{name} {value_text(flag)}" for name, flag in zip(("center", "scale"), flags)]
    elif layer_type == "Activation":
        parts = [value_text(get("activation"))]
    elif layer_type == "Reshape":
        shape = get("target_shape")
        shown = ("×".join(value_text(d) for d in shape)
                 if isinstance(shape, (list, tuple)) and all(_is_number(d) for d in shape) else value_text(shape))
        parts = ["→ " + shown]
    elif layer_type == "Rescaling":
        scale, offset = get("scale"), get("offset")
        parts = [f"×{scale:.4g}" if _is_number(scale) else f"×{value_text(scale)}",
                 (f"{offset:+g}" if _is_number(offset) else value_text(offset)) if offset else ""]
    elif layer_type == "Fire":
        parts = [f"squeeze {value_text(get('squeeze'))}", f"expand {value_text(get('expand'))}"]
    else:
        parts = [f"{k} {value_text(v)}" for k, v in p.items()
                 if not isinstance(v, (list, tuple, dict)) and v is not None and v != ""][:3]
    return " ".join(part for part in parts if part)


def output_index(rows: list, num_classes: int) -> int | None:
    """Where the classifier's head starts, so that a clicked palette card goes above it: the last row
    when it is a Dense with one unit per class, or that Dense when an Activation closes the stack.
    None when the stack has no head yet (a card then goes at the end)."""
    end = len(rows) - (1 if rows and rows[-1]["type"] == "Activation" else 0)
    if end and rows[end - 1]["type"] == "Dense" and rows[end - 1]["params"].get("units") == num_classes:
        return end - 1
    return None


def view(summary, *, dataset: str, revision: int, can_undo: bool, can_redo: bool, dataset_locked: bool = False,
         data_mismatch: dict | None = None) -> dict:
    data = summary.to_dict()
    rows = data["rows"]
    shares = [row["param_share"] or 0 for row in rows]
    heaviest = max(range(len(rows)), key=shares.__getitem__) if rows and max(shares) > 0 else None
    for row in rows:
        row["label"] = label(row["type"], row["params"])
        row["unknown"] = row["output_shape"] is None
        row["share"] = row.pop("param_share")
        row["macs"] = row.pop("multiply_adds")
        row["heaviest"] = row["index"] == heaviest
        row["error"] = {"message": row["error"], "fix": row["fix"]["label"] if row["fix"] else None} if row["error"] else None
        del row["fix"]
        for inner in row["inner"]:
            inner["label"] = label(inner["type"], inner["params"])
    return {
        "revision": revision,
        "dataset": dataset,
        "input_shape": data["input_shape"],
        "num_classes": data["num_classes"],
        "rows": rows,
        "output_index": output_index(rows, data["num_classes"]),
        "totals": {
            "params": data["total_params"],
            "trainable": data["trainable_params"],
            "non_trainable": data["non_trainable_params"],
            "macs": data["multiply_adds"],
            "activations": data["activations"],
        },
        "problems": data["errors"],
        "valid": data["is_valid"] and not data_mismatch,
        "dataset_locked": dataset_locked,
        "data_mismatch": data_mismatch,
        "can_undo": can_undo,
        "can_redo": can_redo,
    }
