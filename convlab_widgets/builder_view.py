"""What the builder's browser view shows, made from ``Architecture.summary()``.

Every number here comes from the architecture model (Keras' arithmetic); this
module only picks and words them: the short parameter label of a row
("3×3 ×32 same relu"), which row is the heaviest, and the totals.
"""

from __future__ import annotations


def size_text(value) -> str:
    if value is None:
        return "auto"
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value) if len(set(value)) > 1 else f"{value[0]}×{value[0]}"
    return f"{value}×{value}"


def _activation(params) -> str:
    activation = params.get("activation")
    return "" if activation in (None, "linear") else activation


def _strides(params) -> str:
    strides = params.get("strides")
    if strides in (None, 1, [1, 1], (1, 1)):
        return ""
    if isinstance(strides, (list, tuple)):
        strides = "×".join(str(s) for s in strides) if len(set(strides)) > 1 else strides[0]
    return f"/{strides}"


def label(layer_type: str, params: dict) -> str:
    """Key parameters in the short form learners scan a stack with."""
    p = params
    if layer_type in ("Conv2D", "SeparableConv2D"):
        parts = [f"{size_text(p['kernel_size'])} ×{p['filters']}", _strides(p), p["padding"], _activation(p)]
    elif layer_type == "DepthwiseConv2D":
        parts = [size_text(p["kernel_size"]), f"×{p.get('depth_multiplier', 1)}/ch", _strides(p), p["padding"], _activation(p)]
    elif layer_type in ("MaxPooling2D", "AveragePooling2D"):
        parts = [size_text(p["pool_size"]), _strides(p) if p.get("strides") is not None else "", p["padding"]]
    elif layer_type == "Dense":
        parts = [str(p["units"]), _activation(p)]
    elif layer_type in ("Dropout", "SpatialDropout2D"):
        parts = [f"rate {p['rate']:g}"]
    elif layer_type == "BatchNormalization":
        parts = [name for name in ("center", "scale") if p.get(name)] or ["no center, no scale"]
    elif layer_type == "Activation":
        parts = [p["activation"]]
    elif layer_type == "Reshape":
        parts = ["→ " + "×".join(str(d) for d in p["target_shape"])]
    elif layer_type == "Rescaling":
        parts = [f"×{p['scale']:.4g}" + (f" {p['offset']:+g}" if p.get("offset") else "")]
    elif layer_type == "Fire":
        parts = [f"squeeze {p['squeeze']}", f"expand {p['expand']}"]
    else:
        parts = [f"{k} {v}" for k, v in p.items() if not isinstance(v, (list, dict)) and v not in (None, "")][:3]
    return " ".join(part for part in parts if part)


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
