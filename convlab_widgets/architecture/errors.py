"""One exception type and the learner-facing wording of every problem.

Learners read these messages in a notebook or next to a row in the builder, so
each one names the layer the way the learner sees it ("MaxPooling2D #7"),
says what it received and why that fails, and, where one exists, carries a
fix as data the builder can offer as a one-click action.
"""

from __future__ import annotations

import itertools
import re
import reprlib
from dataclasses import dataclass, field

__all__ = ["ArchitectureError", "Failure", "Problem", "describe_shape", "explain_rejection", "fix", "located", "short",
           "too_long_to_print"]


def describe_shape(shape) -> str:
    """Shapes as learners read them in the codelabs: 28×28×32, or a vector."""
    if len(shape) == 1:
        return f"a vector of {shape[0]:,} values"
    return "×".join(str(d) for d in shape)


def located(layer_type: str, index: int) -> str:
    return f"{layer_type} #{index + 1}"


@dataclass(frozen=True)
class Problem:
    """A problem found in an architecture; ``index`` is 0-based, None for the whole model."""

    index: int | None
    message: str
    fix: dict | None = None

    def to_dict(self) -> dict:
        return {"index": self.index, "message": self.message, "fix": self.fix}


class ArchitectureError(Exception):
    """The only exception the architecture API raises; its text is the learner message."""

    def __init__(self, message: str, *, index: int | None = None, fix: dict | None = None,
                 problems: tuple[Problem, ...] = ()):
        super().__init__(message)
        self.message = message
        self.index = index
        self.fix = fix
        self.problems = problems or (Problem(index, message, fix),)

    @classmethod
    def from_problems(cls, problems) -> ArchitectureError:
        problems = tuple(problems)
        first = problems[0]
        message = first.message
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return cls(message, index=first.index, fix=first.fix, problems=problems)


def fix(label: str, *actions: dict) -> dict:
    """A suggested fix: a label for the button and the actions ``Architecture.apply`` runs."""
    return {"label": label, "actions": list(actions)}


@dataclass(frozen=True)
class Failure:
    """Why one layer fails, independent of where it sits in the stack.

    Evaluation results are cached per (type, params, input shape) and the same
    layer can sit at any position, so the position is filled in only when the
    failure is rendered for a row. ``actions`` use ``index=None`` for "this row".
    """

    reason: str
    receives: tuple | None = None
    fix_label: str | None = None
    actions: tuple = field(default=())
    window_too_large: bool = False  # the image reached this layer smaller than its window

    def render(self, layer_type: str, index: int, cause: str = "") -> Problem:
        """The learner's message for the row at ``index``; ``cause`` says what shrank its input."""
        where = located(layer_type, index)
        if self.receives is not None:
            where += f" receives {describe_shape(self.receives)}"
        if cause:
            where += f" ({cause})"
        suggestion = None
        if self.fix_label:
            suggestion = fix(self.fix_label, *(
                {**action, "index": index} if "index" in action and action["index"] is None else dict(action)
                for action in self.actions
            ))
        return Problem(index, f"{where}: {self.reason}", suggestion)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _gist(detail: str) -> str:
    """The gist of a Keras message, without its colour codes and call-site dump."""
    lines = [line.strip() for line in _ANSI.sub("", detail).splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(("Exception encountered", "Arguments received", "•"))]
    gist = (meaningful or lines or ["no reason given"])[0]
    return gist if len(gist) <= 300 else gist[:297] + "..."


def _size_words(size) -> str:
    h, w = (size, size) if isinstance(size, int) else size
    return f"{h}×{w}"


def explain_rejection(spec, params: dict, input_shape: tuple, detail: str) -> Failure:
    """Word a Keras rejection (``detail`` is its message) for a learner, with a fix where one exists.

    Keras decides *whether* a layer fits; this only decides how to say why.
    """
    remove = ({"op": "remove", "index": None},)
    if spec.needs_image and len(input_shape) != 3:
        noun = "a fire module" if spec.type == "Fire" else f"{spec.type}"
        return Failure(
            f"{noun} works on images (height×width×channels); move it before the layer that "
            "flattened the data, or remove it",
            input_shape, "Remove this layer", remove)
    if "negative" in detail:
        if spec.group == "pooling":
            return _explain_pool(params["pool_size"], input_shape)
        return Failure(
            f"a {_size_words(params['kernel_size'])} kernel cannot fit; use padding='same' or a "
            "smaller kernel_size",
            input_shape, "Use padding='same'",
            ({"op": "update", "index": None, "params": {"padding": "same"}},), window_too_large=True)
    if spec.type == "Reshape":
        return _explain_reshape(params["target_shape"], input_shape)
    return Failure(f"Keras cannot apply it here: {_gist(detail)}", input_shape)


def _explain_pool(pool_size, input_shape: tuple) -> Failure:
    """A pool larger than its input: offer the largest pool that fits, unless only 1×1 would (a pool that
    does nothing), where removing it is the fix."""
    h, w = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    fits = (min(h, input_shape[0]), min(w, input_shape[1]))
    words = f"a {_size_words(pool_size)} pool cannot fit"
    if max(fits) < 2:
        return Failure(f"{words}; remove this pool or use padding='same' earlier", input_shape, "Remove this pool",
                       ({"op": "remove", "index": None},), window_too_large=True)
    size = fits[0] if fits[0] == fits[1] else fits
    return Failure(f"{words}; use pool_size={size}, the largest that fits, or remove this pool", input_shape,
                   f"Use pool_size={size}", ({"op": "update", "index": None, "params": {"pool_size": size}},),
                   window_too_large=True)


def _explain_reshape(target: tuple, input_shape: tuple) -> Failure:
    values = 1
    for d in input_shape:
        values *= d
    known = 1
    for d in target:
        known *= d if d != -1 else 1
    needs = "a multiple of " if -1 in target else ""
    reason = (f"{values:,} values cannot be arranged as {'×'.join(str(d) for d in target)} "
              f"(that needs {needs}{known:,} values)")
    from .catalog import MAX_DIM  # the catalog words its own errors with this module

    if (-1 not in target and len(target) > 1 and values % (known // target[-1]) == 0
            and values // (known // target[-1]) <= MAX_DIM):
        suggestion = (*target[:-1], values // (known // target[-1]))
        return Failure(reason, input_shape, f"Use target_shape={suggestion}",
                       ({"op": "update", "index": None, "params": {"target_shape": list(suggestion)}},))
    return Failure(reason, input_shape, "Use target_shape=(-1,)",
                   ({"op": "update", "index": None, "params": {"target_shape": [-1]}},))



#: Ints with more bits than this are never printed in full (Python refuses past 4,300 digits).
_MAX_PRINTED_BITS = 1_000


class _Bounded(reprlib.Repr):
    """``repr`` that stops at a few levels of nesting and never prints an enormous number.

    Untrusted JSON can nest a list 2,000 deep, deeper than ``repr`` can recurse.
    """

    def __init__(self, limit: int):
        super().__init__()
        self.maxlevel = 6
        self.maxtuple = self.maxlist = self.maxarray = self.maxdict = self.maxset = self.maxfrozenset = limit
        self.maxdeque = limit
        self.maxstring = self.maxother = self.maxlong = 10 * limit

    def repr_dict(self, x, level):  # reprlib sorts keys; keep them in the order they were written
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                 for k, v in itertools.islice(x.items(), self.maxdict)]
        return "{" + ", ".join(items) + (", ..." if len(x) > self.maxdict else "") + "}"

    def repr_int(self, x, level):
        if x.bit_length() > _MAX_PRINTED_BITS:
            return f"<a {x.bit_length():,}-bit number>"
        return super().repr_int(x, level)


def short(value, limit: int = 80) -> str:
    """A repr bounded in length and depth: messages quote untrusted input."""
    text = _Bounded(limit).repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def too_long_to_print(value) -> bool:
    """An int Python cannot even turn into text: no parameter can hold one."""
    return isinstance(value, int) and value.bit_length() > _MAX_PRINTED_BITS
