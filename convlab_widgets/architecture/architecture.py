"""The stack of layers a learner builds, edited by code or by the builder widget.

Python owns the architecture; the builder only sends actions and renders the
summary. Every edit goes through one path (``apply``), which works on a copy
and commits only when every action is acceptable, so a bad argument never
leaves a half-edited model. Values that are merely out of range (filters=0
while the learner is still typing) are kept and reported on their row, so
nothing typed is lost; arguments that cannot describe a layer at all (an
unknown type or parameter name, a missing row) raise ArchitectureError.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .errors import ArchitectureError, located, short

__all__ = ["MAX_CLASSES", "MAX_INPUT_VALUES", "MAX_LAYERS", "OUTPUTS", "Architecture", "LayerEntry"]

#: More rows than any seed architecture needs many times over; bounds JSON import.
MAX_LAYERS = 200
#: The largest input: a 4096×4096 image with 4 channels.
MAX_INPUT_VALUES = catalog.MAX_DIM * catalog.MAX_DIM * 4
MAX_CLASSES = 65536
OUTPUTS = ("probabilities", "logits")

_ACTION_KEYS = {
    "add": {"type", "params"},
    "insert": {"index", "type", "params"},
    "update": {"index", "params"},
    "replace": {"index", "type", "params"},
    "move": {"index", "to"},
    "remove": {"index"},
}


@dataclass(frozen=True, eq=False)
class LayerEntry:
    """One row: its type and complete, canonical params (hashable, so it can key caches).

    Rows compare by value *and* type (``catalog.typed_key``): ``use_bias=1``
    is not ``use_bias=True``, so changing one into the other is an edit.
    """

    type: str
    key: tuple

    def __eq__(self, other) -> bool:
        if not isinstance(other, LayerEntry):
            return NotImplemented
        return self.type == other.type and catalog.same(self.key, other.key)

    def __hash__(self) -> int:
        return hash((self.type, catalog.typed_key(self.key)))

    @property
    def params(self) -> dict:
        return dict(self.key)

    def __repr__(self) -> str:
        return f"{self.type}({', '.join(f'{k}={v!r}' for k, v in self.key)})"



def make_entry(layer_type, params, index: int) -> LayerEntry:
    """Validate the *names* in a row description; out-of-range values are kept for the row to report."""
    try:
        spec = catalog.get(layer_type)
    except ArchitectureError as error:
        raise ArchitectureError(f"Layer #{index + 1}: {error.message}", index=index) from None
    if not isinstance(params, dict) or not all(isinstance(name, str) for name in params):
        raise ArchitectureError(f"{located(spec.type, index)}: params must be a dict of parameter names",
                                index=index)
    try:
        return LayerEntry(spec.type, tuple(spec.complete(params).items()))
    except ArchitectureError as error:
        raise ArchitectureError(f"{located(spec.type, index)}: {error.message}", index=index) from None


def _int(value, what: str, low: int, high: int) -> int:
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ArchitectureError(f"{what} must be a whole number from {low} to {high}, got {short(value)}")
    return value


def check_input_shape(shape) -> tuple:
    """1 to 3 sizes (height, width, channels, or a flat vector) within the documented limits."""
    if not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3:
        raise ArchitectureError(f"input_shape must list 1 to 3 sizes like (28, 28, 1), got {short(shape)}")
    shape = tuple(_int(d, "each input_shape size", 1, catalog.MAX_DIM) for d in shape)
    values = 1
    for d in shape:
        values *= d
    if values > MAX_INPUT_VALUES:
        raise ArchitectureError(f"input_shape {shape} holds {values:,} values per example, more than the "
                                f"{MAX_INPUT_VALUES:,} allowed")
    return shape


def check_output(output) -> str:
    if output not in OUTPUTS:
        raise ArchitectureError(f"output must be 'probabilities' or 'logits', got {short(output)}")
    return output


class Architecture:
    """A classifier as a stack of catalog layers, with live shapes, counts and located errors.

    >>> arch = Architecture(input_shape=(28, 28, 1), num_classes=10)
    >>> arch.add("Flatten").add("Dense", units=10, activation="softmax").summary().total_params
    7850
    """

    def __init__(self, input_shape=(28, 28, 1), num_classes: int = 10, output: str = "probabilities",
                 layers=()):
        """``layers``: (type, params) pairs, or the entries of another architecture."""
        self._input_shape = check_input_shape(input_shape)
        self._num_classes = _int(num_classes, "num_classes", 2, MAX_CLASSES)
        self._output = check_output(output)
        self._layers: tuple[LayerEntry, ...] = ()
        self._observers: list = []
        self._summary = None
        self.apply([_pair_action(pair) for pair in layers])

    # -- reading -----------------------------------------------------------------------------------

    @property
    def input_shape(self) -> tuple:
        return self._input_shape

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def output(self) -> str:
        return self._output

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def __getitem__(self, index: int) -> LayerEntry:
        return self._layers[_index(index, len(self._layers), "layer")]

    def __eq__(self, other) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        rows = "".join(f"\n    {entry!r}," for entry in self._layers)
        return (f"Architecture(input_shape={self._input_shape}, num_classes={self._num_classes}, "
                f"output={self._output!r}, layers=[{rows}{chr(10) if rows else ''}])")

    def _state(self) -> tuple:
        return self._input_shape, self._num_classes, self._output, self._layers

    def summary(self):
        """Shapes, counts and problems of every row; cached until the next edit."""
        if self._summary is None:
            from .shapes import evaluate  # imports Keras: only when a summary is first needed
            from .summary import summarize
            self._summary = summarize(self, evaluate)
        return self._summary

    # -- editing -----------------------------------------------------------------------------------

    def add(self, layer_type: str, /, **params) -> Architecture:
        """Append a layer; returns the architecture so calls can be chained."""
        return self.apply({"op": "add", "type": layer_type, "params": params})

    def insert(self, index: int, layer_type: str, /, **params) -> Architecture:
        """Insert a layer before row ``index`` (``len(arch)`` appends)."""
        return self.apply({"op": "insert", "index": index, "type": layer_type, "params": params})

    def update(self, index: int, /, **params) -> Architecture:
        """Change some params of row ``index``; the others keep their values."""
        return self.apply({"op": "update", "index": index, "params": params})

    def replace(self, index: int, layer_type: str, /, **params) -> Architecture:
        """Swap row ``index`` for another layer (the builder's type menu)."""
        return self.apply({"op": "replace", "index": index, "type": layer_type, "params": params})

    def move(self, index: int, to: int) -> Architecture:
        """Move row ``index`` so that it ends up at position ``to``."""
        return self.apply({"op": "move", "index": index, "to": to})

    def remove(self, index: int) -> Architecture:
        return self.apply({"op": "remove", "index": index})

    def apply(self, actions) -> Architecture:
        """Run one action or a list of actions, all or nothing.

        Actions are the dicts found in a problem's ``fix["actions"]``, so the
        builder applies a suggested fix with ``arch.apply(fix["actions"])``.
        Observers get the action as applied (indices resolved), or
        ``{"op": "batch", "actions": [...]}`` for a list.
        """
        single = isinstance(actions, dict)
        if not single and not isinstance(actions, (list, tuple)):
            raise ArchitectureError(f"actions must be a dict or a list of dicts, got {type(actions).__name__}")
        layers = list(self._layers)
        done = [_run(action, layers) for action in ([actions] if single else actions)]
        if tuple(layers) != self._layers:
            self._layers = tuple(layers)
            self._changed(done[0] if single else {"op": "batch", "actions": done})
        return self

    def configure(self, *, input_shape=None, num_classes=None, output=None) -> Architecture:
        """Change what the model reads and predicts, e.g. when the builder switches datasets."""
        state = (check_input_shape(input_shape) if input_shape is not None else self._input_shape,
                 _int(num_classes, "num_classes", 2, MAX_CLASSES) if num_classes is not None else self._num_classes,
                 check_output(output) if output is not None else self._output)
        if state != self._state()[:3]:
            self._input_shape, self._num_classes, self._output = state
            self._changed({"op": "configure", "input_shape": list(state[0]), "num_classes": state[1],
                           "output": state[2]})
        return self

    def restore(self, snapshot: dict) -> Architecture:
        """Replace everything with a ``to_dict()`` snapshot (undo/redo), in place.

        Snapshots may hold out-of-range values the learner was typing, so they
        are accepted here, unlike ``from_dict`` which imports strictly.
        """
        other = type(self).from_dict(snapshot, strict=False)
        if other != self:
            self._input_shape, self._num_classes, self._output, self._layers = other._state()
            self._changed({"op": "restore"})
        return self

    def _changed(self, change: dict) -> None:
        self._summary = None
        for callback in list(self._observers):
            callback(change)

    # -- observing and copying ---------------------------------------------------------------------

    def observe(self, callback) -> None:
        """Call ``callback(change)`` after every successful edit (the builder re-renders on it)."""
        if callback not in self._observers:
            self._observers.append(callback)

    def unobserve(self, callback) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def copy(self) -> Architecture:
        """An independent architecture with the same layers and no observers."""
        twin = object.__new__(type(self))
        twin._input_shape, twin._num_classes, twin._output, twin._layers = self._state()
        twin._observers, twin._summary = [], self._summary
        return twin

    # -- conversions -------------------------------------------------------------------------------

    def to_keras(self, name: str = "convlab_model"):
        """A fresh, untrained Keras model; raises ArchitectureError while the summary lists problems.

        Rows become layers named as in the summary (``conv2d_1``, ``fire_1_squeeze``, ...).
        """
        summary = self.summary()
        if not summary.is_valid:
            raise ArchitectureError.from_problems(summary.errors)
        from .build import to_keras
        return to_keras(self._input_shape, self._layers, name)

    def to_code(self) -> str:
        """Runnable Keras source for this model, compile call included."""
        from .export import to_code
        return to_code(self)

    def to_dict(self) -> dict:
        """The versioned JSON-ready form; also the undo snapshot (see ``restore``)."""
        from .serialization import to_dict
        return to_dict(self)

    @classmethod
    def from_dict(cls, data, *, strict: bool = True) -> Architecture:
        """Import a ``to_dict()`` form; ``strict`` also rejects out-of-range values."""
        from .serialization import from_dict
        return from_dict(cls, data, strict=strict)

    def to_json(self, indent: int | None = 2) -> str:
        from .serialization import to_json
        return to_json(self, indent)

    @classmethod
    def from_json(cls, text) -> Architecture:
        """Import JSON text, validated against the catalog; anything else is an ArchitectureError."""
        from .serialization import from_json
        return from_json(cls, text)

    @classmethod
    def from_keras(cls, model, *, num_classes: int | None = None, output: str | None = None) -> Architecture:
        """Import a Sequential or simple functional Keras model made of catalog layers.

        ``num_classes`` defaults to the size of the model's output vector and
        ``output`` to 'logits' when the last layer has no softmax.
        """
        from .keras_import import from_keras
        return from_keras(cls, model, num_classes=num_classes, output=output)


def _index(value, size: int, what: str, *, end: bool = False) -> int:
    """A Python-style index (negatives count from the end); ``end`` admits ``size`` for inserting."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    high = size if end else size - 1
    if not isinstance(value, int) or isinstance(value, bool) or not -size <= value <= high:
        rows = f"{size} layer{'s' if size != 1 else ''}"
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value:
            raise ArchitectureError(f"there is no {what} #{value + 1}: the model has {rows}")
        raise ArchitectureError(f"{what} index must be a whole number from {-size} to {high} "
                                f"(the model has {rows}), got {short(value)}")
    return value + size if value < 0 else value


def _pair_action(pair) -> dict:
    if isinstance(pair, LayerEntry):
        return {"op": "add", "type": pair.type, "params": pair.params}
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[1], dict)):
        raise ArchitectureError(f"layers must be (type, params) pairs like ('Dense', {{'units': 10}}), "
                                f"got {short(pair)}")
    return {"op": "add", "type": pair[0], "params": pair[1]}


def _run(action, layers: list) -> dict:
    """Apply one action to ``layers`` in place and return it as applied."""
    if not isinstance(action, dict) or action.get("op") not in _ACTION_KEYS:
        raise ArchitectureError(f"an action must be a dict whose 'op' is one of {', '.join(_ACTION_KEYS)}, "
                                f"got {short(action)}")
    op = action["op"]
    extra = set(action) - _ACTION_KEYS[op] - {"op"}
    if extra:
        raise ArchitectureError(f"a {op!r} action takes {', '.join(sorted(_ACTION_KEYS[op]))}, "
                                f"not {', '.join(sorted(map(str, extra)))}")
    params = action.get("params", {})
    if op in ("add", "insert"):
        if len(layers) >= MAX_LAYERS:
            raise ArchitectureError(f"the model already has {MAX_LAYERS} layers, the most it can have")
        index = len(layers) if op == "add" else _index(action.get("index"), len(layers), "position", end=True)
        layers.insert(index, make_entry(action.get("type"), params, index))
        return {"op": op, "index": index, "type": layers[index].type, "params": catalog.json_params(layers[index].params)}
    index = _index(action.get("index"), len(layers), "layer")
    if op == "update":
        if not isinstance(params, dict):
            raise ArchitectureError(f"{located(layers[index].type, index)}: params must be a dict")
        layers[index] = make_entry(layers[index].type, {**layers[index].params, **params}, index)
        changed = {name: layers[index].params[name] for name in params}
        return {"op": op, "index": index, "params": catalog.json_params(changed)}
    if op == "replace":
        layers[index] = make_entry(action.get("type"), params, index)
        return {"op": op, "index": index, "type": layers[index].type, "params": catalog.json_params(layers[index].params)}
    if op == "move":
        to = _index(action.get("to"), len(layers), "position")
        layers.insert(to, layers.pop(index))
        return {"op": op, "index": index, "to": to}
    del layers[index]
    return {"op": op, "index": index}
