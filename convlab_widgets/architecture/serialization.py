"""The versioned JSON form of an architecture, and its strict import.

Architectures travel as files between learners and teachers, so import treats
its input as untrusted: every field is checked against the catalog, only
catalog names are ever looked up, sizes are bounded, and every problem is an
ArchitectureError naming what is wrong and where.

Schema, version 1::

    {"format": "convlab-architecture", "version": 1,
     "input_shape": [28, 28, 1], "num_classes": 10, "output": "probabilities",
     "layers": [{"type": "Conv2D", "params": {"filters": 12, ...}}, ...]}

``output`` may be omitted ("probabilities"); ``params`` may omit parameters
(their defaults apply). Limits: at most ``MAX_JSON_CHARS`` characters,
``MAX_LAYERS`` layers, input sides up to ``catalog.MAX_DIM``.
"""

from __future__ import annotations

import json

from . import catalog
from .architecture import MAX_LAYERS
from .errors import ArchitectureError, short

__all__ = ["FORMAT", "MAX_JSON_CHARS", "VERSION", "from_dict", "from_json", "to_dict", "to_json"]

FORMAT = "convlab-architecture"
VERSION = 1
MAX_JSON_CHARS = 1_000_000

_REQUIRED = ("format", "version", "input_shape", "num_classes", "layers")
_OPTIONAL = ("output",)
#: Longest key quoted in full in a message; longer ones are not names anybody typed.
_MAX_KEY = 300



def to_dict(arch) -> dict:
    return {"format": FORMAT, "version": VERSION, "input_shape": list(arch.input_shape),
            "num_classes": arch.num_classes, "output": arch.output,
            "layers": [{"type": entry.type, "params": catalog.json_params(entry.params)} for entry in arch]}


def to_json(arch, indent: int | None = 2) -> str:
    return json.dumps(to_dict(arch), indent=indent)


def from_dict(cls, data, *, strict: bool = True):
    if not isinstance(data, dict):
        raise ArchitectureError(f"an architecture must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ArchitectureError(f"not a convlab architecture: 'format' must be {FORMAT!r}, "
                                f"got {short(data.get('format'))}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        raise ArchitectureError(
            f"this file was written by a newer convlab_widgets (format version {version}); "
            f"upgrade to read it" if newer else f"unsupported format version {short(version)}; expected {VERSION}")
    unknown = [key for key in data if key not in _REQUIRED + _OPTIONAL]
    missing = [key for key in _REQUIRED if key not in data]
    if unknown or missing:
        raise ArchitectureError("; ".join(filter(None, (
            unknown and f"unknown fields: {_keys(unknown, quote=False)} "
                        f"(an architecture has {', '.join(_REQUIRED + _OPTIONAL)})",
            missing and f"missing fields: {', '.join(missing)}"))))
    layers = data["layers"]
    if not isinstance(layers, list):
        raise ArchitectureError(f"'layers' must be a list, got {type(layers).__name__}")
    if len(layers) > MAX_LAYERS:
        raise ArchitectureError(f"{len(layers)} layers is more than the {MAX_LAYERS} an architecture can have")
    arch = cls(input_shape=data["input_shape"], num_classes=data["num_classes"],
               output=data.get("output", "probabilities"), layers=[_pair(layer, i) for i, layer in enumerate(layers)])
    if strict:
        for index, entry in enumerate(arch):
            failure = catalog.get(entry.type).failure(entry.params)
            if failure:
                problem = failure.render(entry.type, index)
                raise ArchitectureError(problem.message, index=index, fix=problem.fix)
    return arch


def _keys(keys, shown: int = 5, quote: bool = True) -> str:
    """Offending keys named in full (up to ``_MAX_KEY`` characters each), the first few of them."""
    def name(key):
        if quote:
            return short(key, _MAX_KEY)
        text = str(key)
        return text if len(text) <= _MAX_KEY else text[: _MAX_KEY - 3] + "..."

    names = ", ".join(name(key) for key in keys[:shown])
    return names + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def _pair(layer, index: int) -> tuple:
    if not isinstance(layer, dict) or "type" not in layer:
        raise ArchitectureError(f"Layer #{index + 1} must be an object with a 'type' and optional 'params', "
                                f"got {short(layer)}")
    unknown = [key for key in layer if key not in ("type", "params")]
    if unknown:
        raise ArchitectureError(f"Layer #{index + 1} has unknown key{'s' if len(unknown) > 1 else ''} "
                                f"{_keys(unknown)}: a layer has only 'type' and 'params'")
    params = layer.get("params", {})
    if not isinstance(params, dict):
        raise ArchitectureError(f"Layer #{index + 1}: 'params' must be an object, got {short(params)}")
    return layer["type"], params


def from_json(cls, text):
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")  # a byte order mark, as some editors write, is fine
        except UnicodeDecodeError as error:
            raise ArchitectureError(f"the file is not UTF-8 text: {error}") from None
    if not isinstance(text, str):
        raise ArchitectureError(f"from_json expects JSON text, got {type(text).__name__}")
    if len(text) > MAX_JSON_CHARS:
        raise ArchitectureError(f"the JSON text has {len(text):,} characters, more than the "
                                f"{MAX_JSON_CHARS:,} an architecture can need")
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError) as error:
        raise ArchitectureError(f"not valid JSON: {str(error)[:200]}") from None
    return from_dict(cls, data)
