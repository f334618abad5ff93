"""The Builder widget: drag layers into a stack and watch shapes and counts follow.

The browser sends intents ("add Conv2D at 2", "set kernel_size of row 3");
Python applies them to the live ``Architecture``, validates, and sends back
one new view. Changes made from Python (``builder.architecture.add(...)``,
``builder.load_preset(...)``) reach the view through the architecture's
observers, so a notebook cell and the mouse edit the same model.
"""

from __future__ import annotations

import logging
import re

import anywidget
import traitlets

from ._static import bundle
from .architecture import Architecture, ArchitectureError, catalog, presets, resolve
from .architecture.errors import describe_shape
from .builder_view import view
from .twinned import Twinned
from .widget_base import check_keywords

log = logging.getLogger(__name__)

_UNDO_LIMIT = 200
_NUMBER = re.compile(r"-?\d+")


def _parse(spec, text: str):
    """A form field's text as the value its catalog kind expects, or ArchitectureError."""
    text = text.strip()
    if text == "" and spec.optional:
        return None
    try:
        if spec.kind == "int":
            return int(text)
        if spec.kind == "float":
            return float(text)
        if spec.kind in ("size", "shape"):
            numbers = [int(n) for n in _NUMBER.findall(text)]
            if not numbers or re.sub(r"[-\d\s,x×()\[\]]", "", text):
                raise ValueError(text)
            if spec.kind == "size" and len(numbers) == 1:
                return numbers[0]
            return tuple(numbers)
    except ValueError:
        raise ArchitectureError(f"{spec.name}: {text!r} is not {spec.rule().split(' must be ', 1)[-1]}") from None
    return text


def _fits(choice: dict, architecture: Architecture) -> bool:
    return tuple(choice["input_shape"]) == tuple(architecture.input_shape) and \
        choice["num_classes"] == architecture.num_classes


def _dataset_choices():
    from .training import datasets

    return datasets.known()


class Builder(Twinned, anywidget.AnyWidget):
    """A live, editable view of an ``Architecture``.

    ``builder.observe(callback, names="view")`` lets other widgets react to
    every edit, whether it came from the browser or from Python.
    ``static_snapshot`` (bool, default True): displayed on its own, a static twin (the architecture's
    summary, redrawn at every edit) goes beside it, which the saved notebook keeps (:mod:`.twin`).
    """

    _esm = bundle("builder.js")
    _css = bundle("builder.css")

    # The model contract with js/src/builder (Python -> browser unless said otherwise).
    catalog = traitlets.Dict(help="The layer catalog (``catalog.to_dict()``): the palette and the forms. "
                                  "Default: set at construction, never changes.").tag(sync=True)
    presets = traitlets.List(traitlets.Dict(), help="``[{name, title, description}]`` of the presets menu.").tag(
        sync=True)
    datasets = traitlets.List(traitlets.Dict(), help="``[{name, title, input_shape, num_classes, download}]``: "
                                                     "the data the input can be read from.").tag(sync=True)
    dataset = traitlets.Unicode("", help="The dataset the input is read from (\"\": custom input). In a lab, "
                                         "the lab's Data control sets it.").tag(sync=True)
    view = traitlets.Dict(help="Everything the stack shows, from ``builder_view.view``: rows with shapes and "
                               "counts (Keras' own), totals, problems, validity, the data mismatch.").tag(sync=True)
    code = traitlets.Unicode("", help="Keras code of the architecture, while ``show_code``.").tag(sync=True)
    show_code = traitlets.Bool(False, help="Whether the code view is open (the browser asks; Python "
                                           "answers).").tag(sync=True)
    notice = traitlets.Dict(help="``{kind, text}`` of the last refused edit; {} when none.").tag(sync=True)

    def _twin_html(self) -> str:
        from .twin import builder_html

        return builder_html(self)

    def __init__(self, architecture: Architecture | str | None = None, *, input_shape=None, num_classes=None,
                 dataset: str = "", dataset_locked: bool = False, static_snapshot: bool = True, **kwargs):
        check_keywords(type(self), kwargs)
        self._check_twin(static_snapshot)
        super().__init__(**kwargs)
        self._setup_twin(static_snapshot)
        self.observe(lambda _change: self.refresh_static_snapshot(), names="view")
        self._dataset_locked = bool(dataset_locked)
        self._data_fix_callbacks: list = []
        architecture = resolve(architecture)
        if architecture is None:
            architecture = Architecture(input_shape=input_shape or (8, 8, 1), num_classes=num_classes or 10)
        elif input_shape is not None or num_classes is not None:
            architecture.configure(input_shape=input_shape, num_classes=num_classes)
        self._undo: list[dict] = []
        self._redo: list[dict] = []
        self._restoring = False
        self._revision = 0
        self._architecture = architecture
        self._snapshot = architecture.to_dict()
        architecture.observe(self._on_change)
        self.catalog = catalog.to_dict()
        self.presets = [{"name": name, "title": name, "description": presets.describe(name)}
                        for name in presets.names()]
        self.datasets = _dataset_choices()
        self.dataset = dataset
        self._refresh()
        self.on_msg(self._on_intent)

    def __repr__(self) -> str:
        return f"Builder({len(self._architecture)} layers, {self._architecture.summary().total_params:,} parameters)"

    # -- Python API --------------------------------------------------------------------------------

    @property
    def architecture(self) -> Architecture:
        """The live architecture: edit it in Python and the view follows."""
        return self._architecture

    def load_preset(self, name: str) -> None:
        """Replace the stack with a preset (undoable), e.g. ``"conv_mnist"``."""
        self._architecture.restore(presets.get(name).to_dict())

    def undo(self) -> bool:
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        return self._step(self._redo, self._undo)

    def cannot_train(self) -> str:
        """Why the architecture cannot train now, in the stack's own words; "" when it can.  The lab
        disables Train with it, so the button never looks ready for a model that will not build."""
        problems = self.view["problems"]
        if problems:
            more = len(problems) - 1
            return problems[0]["message"] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        mismatch = self.view["data_mismatch"]
        return mismatch["text"] if mismatch else ""

    def on_data_fix(self, callback) -> None:
        """``callback(action)`` when the learner clicks a fix for an input that is not the data:
        ``"adapt"`` (make the input the data's) or a dataset name (switch the data to it)."""
        self._data_fix_callbacks.append(callback)

    def data_mismatch(self, dataset: str | None = None) -> str:
        """Why the architecture cannot train on ``dataset`` (default: the chosen one); "" when it can."""
        choice = self._choice(dataset or self.dataset)
        arch = self._architecture
        if choice is None or _fits(choice, arch):
            return ""
        have = f"{describe_shape(arch.input_shape)} images in {arch.num_classes} classes"
        need = f"{describe_shape(tuple(choice['input_shape']))} in {choice['num_classes']} classes"
        return f"This architecture takes {have}, but the data, {choice['name']}, is {need}."

    def _data_fixes(self) -> list:
        if not self.data_mismatch():
            return []
        arch = self._architecture
        fixes = [{"label": f"Adapt the input to {self.dataset}", "action": "adapt"}]
        fits = next((d["name"] for d in self.datasets if _fits(d, arch)), None)
        if fits is not None:
            fixes.append({"label": f"Switch the data to {fits}", "action": fits})
        return fixes

    def _choice(self, name: str):
        return next((d for d in self.datasets if d["name"] == name), None)

    def use_dataset(self, name: str) -> None:
        """Read the input shape and class count from a dataset, e.g. when the lab switches data."""
        choice = self._choice(name)
        if choice is None:
            raise ArchitectureError(f"unknown dataset {name!r}; choose one of "
                                    + ", ".join(d["name"] for d in self.datasets))
        self.dataset = name
        self._architecture.configure(input_shape=choice["input_shape"], num_classes=choice["num_classes"])
        self._refresh()

    # -- keeping the view in step ------------------------------------------------------------------

    def _on_change(self, _change) -> None:
        if not self._restoring:
            self._undo.append(self._snapshot)
            del self._undo[:-_UNDO_LIMIT]
            self._redo.clear()
        self._snapshot = self._architecture.to_dict()
        self._refresh()

    def _step(self, source: list, target: list) -> bool:
        if not source:
            return False
        target.append(self._snapshot)
        self._restoring = True
        try:
            self._architecture.restore(source.pop())
        finally:
            self._restoring = False
        return True

    def _matching_dataset(self) -> str:
        """The chosen dataset while it still fits the input, else the first one that fits.  In a lab
        the lab's controls choose the data: it stays, and a mismatch is shown with its fixes."""
        arch = self._architecture
        if self._dataset_locked or any(d["name"] == self.dataset and _fits(d, arch) for d in self.datasets):
            return self.dataset
        return next((d["name"] for d in self.datasets if _fits(d, arch)), "")

    def _refresh(self) -> None:
        self._revision += 1
        with self.hold_sync():
            self.dataset = self._matching_dataset()
            mismatch = self.data_mismatch() if self._dataset_locked else ""
            self.view = view(self._architecture.summary(), dataset=self.dataset, revision=self._revision,
                             can_undo=bool(self._undo), can_redo=bool(self._redo),
                             dataset_locked=self._dataset_locked,
                             data_mismatch={"text": mismatch, "fixes": self._data_fixes()} if mismatch else None)
            if self.show_code:
                self.code = self._code()

    def _code(self) -> str:
        if not self._architecture.summary().is_valid:
            return "# Fix the problems shown in red first: this model cannot be built yet."
        return self._architecture.to_code()

    # -- intents from the browser ------------------------------------------------------------------

    def _on_intent(self, _widget, content, _buffers) -> None:
        handler = getattr(self, f"_intent_{content.get('intent')}", None)
        if handler is None:
            return
        try:
            handler(content)
        except ArchitectureError as error:
            self.notice = {"kind": "error", "text": error.message}
        except Exception as error:  # never a traceback in the learner's face; the log keeps it
            log.exception("builder intent %r failed", content)
            self.notice = {"kind": "error", "text": f"Could not apply that edit: {error}"}
        else:
            if self.notice:
                self.notice = {}

    def _intent_add(self, content):
        index = content.get("index")
        if index is None or index >= len(self._architecture):
            self._architecture.add(content["type"])
        else:
            self._architecture.insert(index, content["type"])

    def _intent_remove(self, content):
        self._architecture.remove(content["index"])

    def _intent_move(self, content):
        self._architecture.move(content["from"], content["to"])

    def _intent_update(self, content):
        index, name, value = content["index"], content["name"], content["value"]
        if content.get("raw") and isinstance(value, str):
            spec = catalog.get(self._architecture[index].type).param(name)
            value = _parse(spec, value)
        self._architecture.update(index, **{name: value})

    def _intent_fix(self, content):
        row = self._architecture.summary()[content["index"]]
        if row.fix is None:
            raise ArchitectureError(f"{row.type} #{row.index + 1} has no suggested fix")
        actions = [{**action, "index": row.index} if "index" in action and action["index"] is None else action
                   for action in row.fix["actions"]]
        self._architecture.apply(actions)

    def _intent_undo(self, _content):
        self.undo()

    def _intent_redo(self, _content):
        self.redo()

    def _intent_preset(self, content):
        self.load_preset(content["name"])

    def _intent_dataset(self, content):
        if self._dataset_locked:
            raise ArchitectureError("The lab's Data control below chooses the data.")
        if content["name"]:  # "custom" only means: keep typing the input shape by hand
            self.use_dataset(content["name"])

    def _intent_data_fix(self, content):
        action = content["action"]
        if not self._data_fix_callbacks and action == "adapt":
            self.use_dataset(self.dataset)
        for callback in list(self._data_fix_callbacks):
            callback(action)

    def _intent_input(self, content):
        shape = content["input_shape"]
        if isinstance(shape, str):
            shape = tuple(int(n) for n in _NUMBER.findall(shape))
        num_classes = int(content["num_classes"]) if str(content.get("num_classes", "")).strip() else None
        self._architecture.configure(input_shape=shape, num_classes=num_classes)

    def _intent_code(self, content):
        self.show_code = bool(content["show"])
        if self.show_code:
            self.code = self._code()
