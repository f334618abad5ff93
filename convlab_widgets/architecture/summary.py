"""The per-row report the builder shows and the learner prints.

Rows are assembled from cached per-layer outcomes (see ``shapes``), so a
summary after an edit only asks Keras about what the edit changed. The whole
report is plain data (``to_dict``) because the builder sends it to the
browser as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .architecture import MAX_LAYERS
from .errors import Failure, Problem, describe_shape, fix, located

__all__ = ["InnerRow", "Row", "Summary", "summarize"]


def _shape_list(shape):
    return None if shape is None else list(shape)



@dataclass(frozen=True)
class InnerRow:
    """A Keras layer inside a block, e.g. the 3×3 expand convolution of a fire module."""

    role: str
    name: str
    type: str
    params: dict
    output_shape: tuple
    param_count: int
    trainable_count: int
    activations: int
    multiply_adds: int

    def to_dict(self) -> dict:
        return {"role": self.role, "name": self.name, "type": self.type, "params": catalog.json_params(self.params),
                "output_shape": _shape_list(self.output_shape), "param_count": self.param_count,
                "trainable_count": self.trainable_count, "activations": self.activations,
                "multiply_adds": self.multiply_adds}


@dataclass(frozen=True)
class Row:
    """One layer of the stack. Counts are None ("unknown") after a layer that cannot be applied.

    ``activations`` counts the values the row produces per example (for a
    block, all its inner tensors); ``multiply_adds`` counts each kernel weight
    once per output position, plus one per value for BatchNormalization and
    Rescaling; ``param_share`` is this row's fraction of all known parameters.
    """

    index: int
    name: str
    type: str
    params: dict
    output_shape: tuple | None
    param_count: int | None
    trainable_count: int | None
    activations: int | None
    multiply_adds: int | None
    param_share: float | None
    error: str | None
    fix: dict | None
    inner: tuple[InnerRow, ...]

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type, "params": catalog.json_params(self.params),
                "output_shape": _shape_list(self.output_shape), "param_count": self.param_count,
                "trainable_count": self.trainable_count, "activations": self.activations,
                "multiply_adds": self.multiply_adds, "param_share": self.param_share,
                "error": self.error, "fix": self.fix, "inner": [row.to_dict() for row in self.inner]}


@dataclass(frozen=True)
class Summary:
    input_shape: tuple
    num_classes: int
    output: str
    rows: tuple[Row, ...]
    output_shape: tuple | None
    total_params: int
    trainable_params: int
    activations: int
    multiply_adds: int
    errors: tuple[Problem, ...]

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]

    def to_dict(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "output": self.output,
                "rows": [row.to_dict() for row in self.rows], "output_shape": _shape_list(self.output_shape),
                "total_params": self.total_params, "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params, "activations": self.activations,
                "multiply_adds": self.multiply_adds, "errors": [p.to_dict() for p in self.errors],
                "is_valid": self.is_valid}

    def __str__(self) -> str:
        """A table in the spirit of ``model.summary()``, with shapes as the codelabs write them."""
        header = ("#", "Layer (type)", "Output shape", "Param #", "Share")
        lines = [header]
        for row in self.rows:
            shape = "unknown" if row.output_shape is None else describe_shape(row.output_shape).replace(
                "a vector of ", "").replace(" values", "")
            lines.append((str(row.index + 1), f"{row.name} ({row.type})", shape,
                          "?" if row.param_count is None else f"{row.param_count:,}",
                          "" if row.param_share is None else f"{row.param_share:.1%}"))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
        text.append(f"Input: {'×'.join(map(str, self.input_shape))}, {self.num_classes} classes ({self.output})")
        text.append(f"Total params: {self.total_params:,} (trainable: {self.trainable_params:,}, "
                    f"non-trainable: {self.non_trainable_params:,})")
        text.append(f"Multiply-adds per example: {self.multiply_adds:,}; "
                    f"activations per example: {self.activations:,}")
        text += [f"Problem: {p.message}" for p in self.errors] or ["No problems: ready to train."]
        return "\n".join(text)


def summarize(arch, evaluate) -> Summary:
    """Walk the stack once, asking ``evaluate`` (cached) about each row."""
    entries = list(arch)
    names = catalog.layer_names(entry.type for entry in entries)
    shape = arch.input_shape
    measured = []
    for index, entry in enumerate(entries):
        if shape is None:  # an earlier row cannot be applied: only the params can still be checked
            failure = catalog.get(entry.type).failure(entry.params)
            measured.append((None, failure.render(entry.type, index) if failure else None))
            continue
        outcome = evaluate(entry.type, entry.key, shape)
        shape = outcome.output_shape
        failure = outcome.failure
        cause = _strided_before(entries, index) if failure and failure.window_too_large else ""
        measured.append((outcome, failure.render(entry.type, index, cause) if failure else None))
    problems = [problem for _, problem in measured if problem]
    if shape is not None:
        last = _output_problem(entries, shape, arch.num_classes, arch.output)
        if last:
            problems.append(last)
            if entries and measured[-1][1] is None:
                measured[-1] = (measured[-1][0], last)
    known = [outcome for outcome, _ in measured if outcome and outcome.output_shape is not None]
    total = sum(o.param_count for o in known)
    rows = tuple(_row(index, name, entry, outcome, problem, total)
                 for index, (name, entry, (outcome, problem)) in enumerate(zip(names, entries, measured)))
    return Summary(arch.input_shape, arch.num_classes, arch.output, rows, shape, total,
                   sum(o.trainable_count for o in known), sum(o.activations for o in known),
                   sum(o.multiply_adds for o in known), tuple(problems))


def _strided_before(entries, index: int) -> str:
    """"Conv2D #2's strides=2 shrank it": the last layer before ``index`` that steps by more than one
    pixel on purpose, when a window no longer fits.  Pools step by their own size unless told
    otherwise, which is what a pool is for, so only a pool's explicit strides count."""
    for earlier in range(index - 1, -1, -1):
        entry = entries[earlier]
        strides = entry.params.get("strides")
        if strides is not None and not any(catalog.same(strides, one) for one in (1, [1, 1], (1, 1))):
            shown = strides if isinstance(strides, int) else tuple(strides)
            return f"{located(entry.type, earlier)}'s strides={shown} shrank it"
    return ""


def _row(index, name, entry, outcome, problem, total) -> Row:
    error = problem.message if problem else None
    suggestion = problem.fix if problem else None
    if outcome is None or outcome.output_shape is None:
        return Row(index, name, entry.type, entry.params, None, None, None, None, None, None, error, suggestion, ())
    inner = tuple(InnerRow(part.role, f"{name}_{part.role}", part.type, dict(part.params),
                           part.outcome.output_shape, part.outcome.param_count, part.outcome.trainable_count,
                           part.outcome.activations, part.outcome.multiply_adds) for part in outcome.inner)
    share = outcome.param_count / total if total else 0.0
    return Row(index, name, entry.type, entry.params, outcome.output_shape, outcome.param_count,
               outcome.trainable_count, outcome.activations, outcome.multiply_adds, share, error, suggestion,
               inner)


def _output_problem(entries, shape: tuple, num_classes: int, output: str) -> Problem | None:
    """A classifier must end with ``num_classes`` probabilities (or logits when asked for)."""
    probabilities = output == "probabilities"
    final = "softmax" if probabilities else "linear"
    what = "probabilities" if probabilities else "scores (logits)"
    head = f"Dense({num_classes}, activation='softmax')" if probabilities else f"Dense({num_classes})"
    add_dense = {"op": "add", "type": "Dense", "params": {"units": num_classes, "activation": final}}
    if not entries:
        return Problem(None, f"The model has no layers yet: add Flatten and {head}",
                       fix(f"Add Flatten and {head}", {"op": "add", "type": "Flatten", "params": {}}, add_dense))
    index, last = len(entries) - 1, entries[-1]
    activation = last.params.get("activation")
    if len(shape) != 1:
        failure = Failure(f"the model ends with {describe_shape(shape)} values but a classifier must end with "
                          f"{num_classes} {what}; add Flatten and {head}",
                          fix_label=f"Add Flatten and {head}",
                          actions=({"op": "add", "type": "Flatten", "params": {}}, add_dense))
    elif last.type == "Dense" and (shape[0] != num_classes or activation != final):
        change = {k: v for k, v in (("units", num_classes), ("activation", final)) if last.params[k] != v}
        words = " and ".join(f"{k}={v!r}" for k, v in change.items())
        if shape[0] != num_classes:
            reason = f"outputs {shape[0]} values but there are {num_classes} classes"
        elif probabilities:
            reason = f"outputs {num_classes} values that are not probabilities"
        else:
            reason = f"applies {activation!r} but output='logits' expects raw scores"
        failure = Failure(f"{reason}; set {words}", fix_label=f"Set {words}",
                          actions=({"op": "update", "index": None, "params": change},))
    elif last.type == "Activation" and shape[0] != num_classes:
        failure = Failure(f"outputs {shape[0]} values but there are {num_classes} classes; "
                          f"insert Dense({num_classes}) before it", fix_label=f"Insert Dense({num_classes})",
                          actions=({"op": "insert", "index": None, "type": "Dense",
                                    "params": {"units": num_classes}},))
    elif last.type == "Activation" and activation != final:
        if probabilities:
            failure = Failure(f"outputs {num_classes} values that are not probabilities; use activation='softmax'",
                              fix_label="Use activation='softmax'",
                              actions=({"op": "update", "index": None, "params": {"activation": "softmax"}},))
        else:
            failure = Failure(f"output='logits' expects raw scores but this applies {activation!r}; remove it",
                              fix_label="Remove this activation", actions=({"op": "remove", "index": None},))
    elif last.type not in ("Dense", "Activation") and shape[0] != num_classes:
        failure = Failure(f"the model ends with {shape[0]} values but there are {num_classes} classes; add {head}",
                          fix_label=f"Add {head}", actions=(add_dense,))
    elif last.type not in ("Dense", "Activation") and probabilities:
        failure = Failure(f"the model ends with {num_classes} values that are not probabilities; "
                          "add Activation('softmax')", fix_label="Add Activation('softmax')",
                          actions=({"op": "add", "type": "Activation", "params": {"activation": "softmax"}},))
    else:
        return None
    head_at = next((i for i in range(index - 1, -1, -1) if entries[i].type == "Dense"
                    and entries[i].params.get("units") == num_classes
                    and entries[i].params.get("activation") == final), None)
    if head_at is not None and last.type != "Activation":
        # A layer dropped below a finished head: the fix is to move it up, not to grow a second head.
        failure = Failure(f"comes after the output layer, {located('Dense', head_at)}; move it above the output",
                          fix_label="Move above output", actions=({"op": "move", "index": None, "to": head_at},))
    problem = failure.render(last.type, index)
    added = sum(action["op"] in ("add", "insert") for action in failure.actions)
    if len(entries) + added > MAX_LAYERS:  # the fix could not apply: offer none
        return Problem(problem.index, problem.message)
    return problem
