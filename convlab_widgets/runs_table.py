"""The runs table: every run of a lab, to compare, rename, clone or delete.

A teacher's lesson is a sequence of runs that differ by one change each, so
the table says what changed (the diff against the previous run) next to the
numbers that show its effect: best and final validation accuracy and the
train−validation gap.  Ticking a row overlays that run on the loss and
accuracy panels.  The table only shows and reports; the lab owns the runs and
decides what a click does.  Main thread only.

It is one widget, whatever the number of runs: its rows are synced state
(``rows``), drawn by ``js/src/runs_table.js``, and the browser sends intents
(tick, rename, clone, delete, resume) that Python answers with new state.  A
lab that keeps a hundred runs keeps a hundred small dicts, not a hundred rows
of ipywidgets (57 each, with their layouts and styles: 0.25 MB a run).
"""

from __future__ import annotations

import logging
import time

import anywidget
import traitlets

from ._static import bundle
from .threads import note_widget_message
from .training.status import ACTIVE, INTERRUPTED

log = logging.getLogger(__name__)

# (heading, width, a number: right-aligned in tabular figures, so digits line up down the column)
COLUMNS = (
    ("", "24px", False), ("", "16px", False), ("run", "99px", False), ("parameters", "90px", True),
    ("best val acc", "58px", True), ("final val acc", "58px", True), ("train−val gap", "84px", True),
    ("epochs", "64px", True), ("time", "46px", True), ("status", "84px", False), ("", "max-content", False),
)


class RunsTable(anywidget.AnyWidget):
    """Rows of runs, newest last; ``on_select(keys)``, ``on_clone(run)``,
    ``on_delete(run)``, ``on_rename(run, name)`` and ``on_resume(run)`` (the Resume button of an
    interrupted run) report the learner's clicks.

    ``show(runs, live=None)`` (re)draws the rows for ``runs`` — objects with
    ``name``, ``color``, ``changes``, ``previous``, ``config``, ``history``, ``status``,
    ``started_at``, ``ended_at`` and ``architecture`` — and sends nothing when no text
    changed, so it can be called at every redraw.  A run's key is ``id(run)``.
    """

    _esm = bundle("runs_table.js")
    _css = bundle("runs_table.css")

    # The model contract with js/src/runs_table.js (Python -> browser; the browser sends intents).
    columns = traitlets.List(traitlets.Dict(), help="``[{label, width, number}]`` of ``COLUMNS``: a heading, "
                                                    "a CSS grid width, and whether the column holds numbers "
                                                    "(right-aligned, tabular figures). Default: ``COLUMNS``, "
                                                    "never changes.").tag(sync=True)
    rows = traitlets.List(traitlets.Dict(), help="One dict per run, oldest first: ``key`` (str of ``id(run)``), "
                                                 "``name``, ``color``, ``cells`` (the texts under columns 3-9, "
                                                 "from :func:`cell_texts`), ``changes`` (:func:`changes_text`), "
                                                 "``ticked``, ``live`` (the run being watched: always ticked), "
                                                 "``running`` (cannot be deleted yet), ``interruption`` (what "
                                                 "stopped an interrupted run, else ''). Plain text: the browser "
                                                 "sets it as text, never as markup. Default: [].").tag(sync=True)
    show_changes = traitlets.Bool(True, help="Whether each run's \"what changed\" line is shown (the browser "
                                             "asks; Python answers). Default: True.").tag(sync=True)
    answered = traitlets.Int(0, help="How many intents Python has answered. The browser redraws from state at "
                                     "each answer, so an edit Python refused (an empty name) goes back to what "
                                     "Python holds. Default: 0.").tag(sync=True)

    def __init__(self, on_select=None, on_clone=None, on_delete=None, on_rename=None, on_resume=None):
        super().__init__(columns=[{"label": label, "width": width, "number": number}
                                  for label, width, number in COLUMNS])
        self.on_select, self.on_clone, self.on_delete, self.on_rename = on_select, on_clone, on_delete, on_rename
        self.on_resume = on_resume
        self.selected: set[int] = set()  # keys of the runs ticked for overlay
        self._runs: dict[int, object] = {}  # key -> run, in the order shown
        self._live = None
        self._params: dict[int, int | None] = {}  # key -> parameter count (an architecture snapshot never changes)
        self.on_msg(self._on_intent)

    def show(self, runs, live=None) -> None:
        self._runs = {id(run): run for run in runs}
        self._live = live
        self.selected &= set(self._runs)
        for key in set(self._params) - set(self._runs):
            del self._params[key]
        self._draw()

    def select(self, keys) -> None:
        """Tick exactly ``keys`` (the lab's choice, e.g. the previous run when a new one starts)."""
        self.selected = set(keys) & set(self._runs)
        self._draw()

    def param_count(self, run):
        """A run's parameter count from its architecture snapshot (kept: a snapshot never changes)."""
        key = id(run)
        if run.architecture is None:  # a model.fit not begun yet, or one the catalog cannot describe
            return run.param_count
        if key not in self._params:
            summary = run.architecture.summary()
            self._params[key] = summary.total_params if summary.is_valid else None
        return self._params[key]

    def _draw(self) -> None:
        rows = [self._row(key, run) for key, run in self._runs.items()]
        if rows != self.rows:
            self.rows = rows

    def _row(self, key, run) -> dict:
        live = run is self._live
        return {"key": str(key), "name": run.name, "color": run.color, "cells": cell_texts(run, self.param_count(run)),
                "changes": changes_text(run), "ticked": live or key in self.selected, "live": live,
                "running": run.status in ACTIVE,
                "interruption": str(run.message) if run.status == INTERRUPTED else ""}

    # Intents from the browser ----------------------------------------------------------------

    def _on_intent(self, _widget, content, _buffers) -> None:
        note_widget_message()
        if not isinstance(content, dict):
            return
        handler = getattr(self, f"_intent_{content.get('intent')}", None)
        if handler is None:
            return
        with self.hold_sync():
            try:
                handler(content)
            except Exception:  # the lab's callbacks say what went wrong; never a traceback in the browser
                log.exception("runs table intent %r failed", content)
            self.answered += 1

    def _run(self, content):
        try:  # a key no row has now (a run deleted meanwhile) finds nothing to act on...
            return self._runs.get(int(content.get("key")))
        except (TypeError, ValueError):  # ...and so does a key that is no number (a hostile message)
            return None

    def _intent_tick(self, content):
        run = self._run(content)
        if run is None or run is self._live:  # the run being watched is always shown in full
            return
        key = id(run)
        if content.get("ticked") is True:
            self.selected.add(key)
        else:
            self.selected.discard(key)
        self._draw()
        if self.on_select:
            self.on_select(set(self.selected))

    def _intent_rename(self, content):
        run, name = self._run(content), content.get("name")
        if run is None or not isinstance(name, str):
            return
        name = name.strip()
        if name and name != run.name and self.on_rename:  # an empty name would leave a legend nobody can read
            self.on_rename(run, name)

    def _intent_clone(self, content):
        run = self._run(content)
        if run is not None and self.on_clone:
            self.on_clone(run)

    def _intent_delete(self, content):
        run = self._run(content)
        if run is not None and self.on_delete:
            self.on_delete(run)

    def _intent_resume(self, content):
        run = self._run(content)
        if run is not None and run.status == INTERRUPTED and self.on_resume:
            self.on_resume(run)

    def _intent_changes(self, content):
        self.show_changes = content.get("show") is True


def cell_texts(run, params) -> list[str]:
    """The numbers of a run's row, as the table shows them under ``COLUMNS[3:10]`` (the static twin too)."""
    history = run.history
    val = [v for v in history.get("val_accuracy", []) if v is not None and v == v]
    train = history.get("accuracy", [])
    gap = (train[-1] - val[-1]) if val and train and train[-1] is not None else None
    epochs_done, planned = len(history.get("epoch", [])), run.config.get("epochs")
    end = run.ended_at or time.time()
    return [
        "—" if params is None else f"{params:,}",
        f"{max(val):.1%}" if val else "—",
        f"{val[-1]:.1%}" if val else "—",
        "—" if gap is None else f"{gap * 100:+.1f} pts",
        f"{epochs_done}/{planned}" if planned else str(epochs_done),
        _duration(end - run.started_at),
        run.status,
    ]


def changes_text(run) -> str:
    """The line under a run's row: what changed since the run before it (plain text, to escape)."""
    changes = "; ".join(getattr(run, "changes", None) or ())
    previous = getattr(run, "previous", None)
    return f"changed since {previous.name}: {changes}" if previous else f"first run: {changes}"


def _duration(seconds):
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
