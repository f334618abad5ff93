"""What changed from one run to the next, in the few words a legend has room for.

Teachers overlay runs to show the effect of one change at a time; a legend
that reads "+Dropout(0.25) after Dense(200), lr 0.01→0.003" says which change
each curve shows without opening either run.  Only ``run.architecture`` and
``run.config`` are read, so runs restored from disk are described the same
way as live ones.

A layer is named by its required parameters, the ones that identify it in
the codelabs ("Conv2D(16, 3×3)", "Dense(200)"), rather than by the
builder's full row label: a legend names a layer, the diff then says which
of its parameters changed.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from ..architecture import catalog
from ..architecture.errors import describe_shape
from ..builder_view import size_text

__all__ = ["MAX_LABEL", "describe_changes", "label", "shorten"]

#: Characters of a legend entry: about what fits beside a 240-px plot at 14 px.
MAX_LABEL = 60

_SHORTEST_LABEL = 12  # room for a few characters, "…" and " +9 more"
_SEPARATOR = ", "
_ARROW = "→"


def describe_changes(before, after) -> list[str]:
    """The changes from run ``before`` to run ``after``, most structural first.

    ``before=None`` describes ``after`` as a first run: its layer stack (and
    training subset); the next run's legend gives the old value of anything
    it changes ("lr 0.01→0.003"), so a first legend needs no settings.
    Runs are anything with ``.architecture`` (an ``Architecture``) and
    ``.config`` (the trainer's config dict).
    """
    after_arch, after_config = _parts(after, "after")
    if after_arch is None:
        return ["your own model"]  # a model.fit whose model the catalog cannot describe
    before_arch, before_config = _parts(before, "before") if before is not None else (None, None)
    if before_arch is None:
        return [_stack(after_arch), *_first_run_notes(after_config)]
    changes = _architecture_changes(before_arch, after_arch) + _config_changes(before_config, after_config)
    if changes:
        return changes
    return ["same settings (new seed)" if after_config.get("seed") is None else "rerun, no change"]


def label(run, previous=None, max_length: int = MAX_LABEL) -> str:
    """One legend line: the changes since ``previous``, the ones that do not fit counted as "+2 more"."""
    return shorten(describe_changes(previous, run), max_length)


def shorten(pieces, max_length: int = MAX_LABEL) -> str:
    """``pieces`` (from :func:`describe_changes`) joined into at most ``max_length`` characters."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < _SHORTEST_LABEL:
        raise ValueError(f"label: max_length must be a whole number of characters, at least {_SHORTEST_LABEL}, "
                         f"got {max_length!r}")
    for shown in range(len(pieces), 0, -1):
        rest = len(pieces) - shown
        text = _SEPARATOR.join(pieces[:shown]) + (f"{_SEPARATOR}+{rest} more" if rest else "")
        if len(text) <= max_length:
            return text
    more = f" +{len(pieces) - 1} more" if len(pieces) > 1 else ""
    return pieces[0][:max_length - len(more) - 1] + "…" + more


def _parts(run, what):
    """(architecture, chosen settings) of a run: the config's values, with the optimizer as the
    learner named it ("momentum", not Keras' "SGD")."""
    architecture, config = getattr(run, "architecture", None), getattr(run, "config", None)
    if not isinstance(config, dict) or not hasattr(run, "architecture"):
        raise TypeError(f"describe_changes: {what} must be a run with .architecture and a .config dict "
                        f"(a Run from Trainer.start() or one restored from disk), got {type(run).__name__}")
    settings = getattr(run, "settings", None)
    if settings is not None:
        config = {**config, "optimizer": settings.optimizer_name}
    return architecture, config


# -- architecture -------------------------------------------------------------------------------------


def _value(spec, value) -> str:
    """A parameter as the builder shows it; None is Keras' "work it out" default."""
    if spec.kind == "size" or value is None:
        return size_text(value)
    if spec.kind == "shape" and isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    if spec.kind == "float" and isinstance(value, (int, float)):
        return f"{value:g}"
    return str(value)


def _name(entry) -> str:
    """"Dense(200)", "Conv2D(16, 3×3)", "Flatten": the type and its required parameters."""
    spec = catalog.get(entry.type)
    params = entry.params
    shown = [_value(p, params[p.name]) for p in spec.params if p.required]
    return f"{entry.type}({', '.join(shown)})" if shown else entry.type


def _changed(before, after) -> str:
    """One layer edited in place: "Dense(200→100)", "Conv2D(16→32 filters)", "Dense(200, relu→sigmoid)".

    A parameter needs no name when its value says what it is: the layer's
    only required one, a required window size, an activation.  Counts read
    "16→32 filters", other parameters "padding valid→same".
    """
    spec = catalog.get(after.type)
    old, new = before.params, after.params
    required = [p for p in spec.params if p.required]
    pieces = []
    for p in spec.params:
        if old[p.name] == new[p.name]:
            continue
        change = f"{_value(p, old[p.name])}{_ARROW}{_value(p, new[p.name])}"
        evident = (p.required and (len(required) == 1 or p.kind == "size")) or p.name == "activation"
        if evident:
            pieces.append(change)
        elif p.kind == "int":
            pieces.append(f"{change} {p.name}")
        else:
            pieces.append(f"{p.name} {change}")
    lead = required[0] if required else None
    if lead is not None and old[lead.name] == new[lead.name]:
        pieces.insert(0, _value(lead, new[lead.name]))
    return f"{after.type}({', '.join(pieces)})"


def _placed(sign, entries, layers, start) -> str:
    """"+Dropout(0.25) after Dense(200)": rows added (or removed) at ``start`` of ``layers``."""
    names = ", ".join(_name(entry) for entry in entries)
    if start > 0:
        return f"{sign}{names} after {_name(layers[start - 1])}"
    if start + len(entries) < len(layers):
        return f"{sign}{names} before {_name(layers[start + len(entries)])}"
    return f"{sign}{names}"


def _layer_changes(old, new) -> list[str]:
    """Align whole rows first, so that an inserted Dense among Dense rows reads as an insertion;
    rows left unmatched are then aligned by type, so an edited row reads as an edit."""
    changes = []
    rows = SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in rows.get_opcodes():
        if op == "equal":
            continue
        old_block, new_block = old[i1:i2], new[j1:j2]
        types = SequenceMatcher(None, [e.type for e in old_block], [e.type for e in new_block], autojunk=False)
        for kind, a1, a2, b1, b2 in types.get_opcodes():
            if kind == "equal":
                changes += [_changed(a, b) for a, b in zip(old_block[a1:a2], new_block[b1:b2]) if a != b]
            elif kind == "replace" and a2 - a1 == b2 - b1:
                changes += [f"{_name(a)}{_ARROW}{_name(b)}" for a, b in zip(old_block[a1:a2], new_block[b1:b2])]
            else:
                if a2 > a1:
                    changes.append(_placed("−", old_block[a1:a2], old, i1 + a1))
                if b2 > b1:
                    changes.append(_placed("+", new_block[b1:b2], new, j1 + b1))
    return changes


def _architecture_changes(before, after) -> list[str]:
    changes = []
    if tuple(before.input_shape) != tuple(after.input_shape):
        changes.append(f"input {describe_shape(before.input_shape)}{_ARROW}{describe_shape(after.input_shape)}")
    if before.num_classes != after.num_classes:
        changes.append(f"{before.num_classes}{_ARROW}{after.num_classes} classes")
    changes += _layer_changes(list(before), list(after))
    if before.output != after.output:
        changes.append(f"output {before.output}{_ARROW}{after.output}")
    return changes


def _in_stack(entry) -> bool:
    """Layers that set a model's capacity, and its dropout: what a first run's legend lists."""
    return catalog.get(entry.type).group in ("convolution", "blocks") or entry.type in (
        "Dense", "Dropout", "SpatialDropout2D")


def _stack(architecture) -> str:
    """A first run's layers, neighbours of one type folded.

    "Conv2D(16/32) → Dense(64) → Dropout(0.25) → Dense(10)": short enough
    for a legend, and the numbers a teacher changes next are all there.
    """
    groups = []
    for entry in [entry for entry in architecture if _in_stack(entry)] or list(architecture):
        if groups and groups[-1][0].type == entry.type:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    parts = []
    for group in groups:
        lead = next((p for p in catalog.get(group[0].type).params if p.required), None)
        if len(group) == 1:
            parts.append(_name(group[0]))
        elif lead is None:
            parts.append(f"{len(group)}×{group[0].type}")
        else:
            parts.append(f"{group[0].type}({'/'.join(_value(lead, entry.params[lead.name]) for entry in group)})")
    return " → ".join(parts) or "no layers"


# -- config -------------------------------------------------------------------------------------------


def _number(value) -> str:
    """3 significant digits, exponents without padding: 0.003, 1e-5."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    text = f"{value:.3g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


def _schedule(text) -> str:
    """"schedules.exponential(decay=0.6)" → "exponential(decay=0.6)", "schedules.constant()" → "constant"."""
    text = str(text).removeprefix("schedules.")
    return text.removesuffix("()")


def _seed(seed) -> str:
    return "random" if seed is None else str(seed)


def _images(config) -> tuple:
    """(is a subset, training images); the subset is known only when the config records ``train_subset``."""
    subset = config.get("train_subset") is not None if "train_subset" in config else None
    return subset, config.get("train_size")


def _first_run_notes(config) -> list[str]:
    """What a first run's legend says besides its layers: a training subset, a range test's learning rate."""
    subset, size = _images(config)
    lr = [f"lr {_number(config.get('learning_rate'))} from range test"] if _from_range_test(config) else []
    return ([f"subset {size}"] if subset else []) + lr


def _images_change(before, after) -> list[str]:
    (old_subset, old_size), (new_subset, new_size) = _images(before), _images(after)
    if (old_subset, old_size) == (new_subset, new_size):
        return []
    if new_subset is None or old_subset is None:
        return [f"{old_size}{_ARROW}{new_size} training images"]
    if not new_subset:
        return [f"all {new_size} images"]
    return [f"subset {old_size}{_ARROW}{new_size}" if old_subset else f"subset {new_size}"]


def _from_range_test(config) -> bool:
    return config.get("lr_source") == "range test"


def _learning_rate_change(before, after) -> list[str]:
    """"lr 0.001→0.0066 from range test": the learning rate, and where a new one came from."""
    old, new = before.get("learning_rate"), after.get("learning_rate")
    if old == new:
        return []
    source = " from range test" if _from_range_test(after) else ""
    return [f"lr {_number(old)}{_ARROW}{_number(new)}{source}"]


def _stopping(value) -> str:
    """A run's early stopping as its config records it (``EarlyStopping.to_dict``), or "off"."""
    if not isinstance(value, dict):
        return "off"
    from ..training.early_stopping import EarlyStopping

    try:
        return EarlyStopping(**value).describe()
    except (TypeError, ValueError):  # a config of another version, or a damaged file: kept as it is, not read
        return "on"


def _setting(key, say):
    def change(before, after):
        old, new = before.get(key), after.get(key)
        return [say(old, new)] if old != new else []
    return change


#: The settings a learner chooses, in legend order; bookkeeping keys (steps_per_epoch,
#: strategy, replicas, ...) follow from these and are left out, as is steps_per_execution:
#: it changes how often the host looks in, not a number of the run.
_SETTINGS = (
    _setting("data", lambda old, new: f"data {old}{_ARROW}{new}"),
    _images_change,
    _setting("epochs", lambda old, new: f"{old}{_ARROW}{new} epochs"),
    _setting("batch_size", lambda old, new: f"batch {old}{_ARROW}{new}"),
    _setting("optimizer", lambda old, new: f"optimizer {old}{_ARROW}{new}"),
    _learning_rate_change,
    _setting("lr_schedule", lambda old, new: f"schedule {_schedule(old)}{_ARROW}{_schedule(new)}"),
    _setting("seed", lambda old, new: f"seed {_seed(old)}{_ARROW}{_seed(new)}"),
    _setting("early_stopping", lambda old, new: f"early stopping {_stopping(old)}{_ARROW}{_stopping(new)}"),
)


def _config_changes(before, after) -> list[str]:
    return [text for change in _SETTINGS for text in change(before, after)]
