"""The runs table: every run of a lab, to compare, rename, clone or delete.

A teacher's lesson is a sequence of runs that differ by one change each, so
the table says what changed (the diff against the previous run) next to the
numbers that show its effect: best and final validation accuracy and the
train−validation gap.  Ticking a row overlays that run on the loss and
accuracy panels.  The table only shows and reports; the lab owns the runs and
decides what a click does.  Main thread only.
"""

from __future__ import annotations

import time

import ipywidgets as widgets

from .html import escape
from .training.status import ACTIVE, INTERRUPTED
from .widget_base import TOOLTIP

# (heading, width, a number: right-aligned in tabular figures, so digits line up down the column)
COLUMNS = (
    ("", "1.8em", False), ("", "1.2em", False), ("run", "7.6em", False), ("parameters", "90px", True),
    ("best val acc", "58px", True), ("final val acc", "58px", True), ("train−val gap", "84px", True),
    ("epochs", "64px", True), ("time", "46px", True), ("status", "84px", False), ("", "max-content", False),
)
# The actions stay at the right edge of a narrow output while the numbers scroll under them, and the
# scroll bar is drawn (overlay scroll bars hide it until touched, so nobody knows the table scrolls).
STYLE = """<style>
.convlab-runs .convlab-runs-cell, .convlab-runs .convlab-runs-cell .widget-label,
.convlab-runs .convlab-runs-cell input { font-size: 14px; }
.convlab-runs .convlab-runs-head .widget-html-content { font-weight: bold; font-size: 14px; line-height: 1.2; }
.convlab-runs .widget-html-content { font-size: 14px; line-height: 1.3; }
.convlab-runs .convlab-runs-number .widget-html-content { text-align: right; font-variant-numeric: tabular-nums;
  padding-right: 4px; }
.convlab-runs .convlab-runs-changes .widget-html-content { color: #444; margin-bottom: 6px; }
.convlab-runs .convlab-runs-actions { position: sticky; right: 0; background: var(--jp-layout-color0, #fff);
  box-shadow: -6px 0 6px -6px rgba(0, 0, 0, 0.35); }
.convlab-runs .convlab-runs-scroll { scrollbar-width: auto; scrollbar-color: #8a939c #e8ebee; }
.convlab-runs .convlab-runs-scroll::-webkit-scrollbar { height: 12px; }
.convlab-runs .convlab-runs-scroll::-webkit-scrollbar-thumb { background: #8a939c; border-radius: 6px; }
.convlab-runs .convlab-runs-scroll::-webkit-scrollbar-track { background: #e8ebee; }
</style>"""
EMPTY_MESSAGE = "No runs yet: press Train. Every run is kept here to compare with the next."


class RunsTable(widgets.VBox):
    """Rows of runs, newest last; ``on_select(keys)``, ``on_clone(run)``,
    ``on_delete(run)``, ``on_rename(run, name)`` and ``on_resume(run)`` (the Resume button of an
    interrupted run) report the learner's clicks.

    ``show(runs, live=None)`` (re)draws the rows for ``runs`` — objects with
    ``name``, ``color``, ``changes``, ``previous``, ``config``, ``history``, ``status``,
    ``started_at``, ``ended_at`` and ``architecture`` — and changes only the
    cells whose text changed, so it can be called at every redraw.
    """

    def __init__(self, on_select=None, on_clone=None, on_delete=None, on_rename=None, on_resume=None):
        self.on_select, self.on_clone, self.on_delete, self.on_rename = on_select, on_clone, on_delete, on_rename
        self.on_resume = on_resume
        self.selected = set()  # keys of the runs ticked for overlay
        self._rows = {}  # key -> _Row
        self._params = {}  # key -> parameter count (an architecture snapshot never changes)
        self.rows = widgets.VBox(layout=widgets.Layout(width="100%", overflow="auto hidden"))
        self.rows.add_class("convlab-runs-scroll")
        self.empty = widgets.HTML(f"<i>{EMPTY_MESSAGE}</i>")
        title = widgets.HTML('<div style="font-size: 18px; margin: 6px 0 2px">Runs '
                             '<span style="font-size: 14px; color: #555">— tick runs to overlay them on the loss '
                             'and accuracy panels; click a name to rename it</span></div>')
        # Each run's "what changed" line can be long; a lesson of ten runs reads better without them.
        self.show_changes = widgets.ToggleButton(value=True, description="what changed", icon="list",
                                                 tooltip="show or hide the line under each run that says what "
                                                         "changed since the run before it",
                                                 layout=widgets.Layout(width="auto"))
        self.show_changes.observe(self._changes_shown, names="value")
        heading = widgets.HBox([title, self.show_changes], layout=widgets.Layout(
            align_items="center", flex_flow="row wrap", justify_content="space-between"))
        super().__init__([widgets.HTML(STYLE), heading, self.empty, self.rows],
                         layout=widgets.Layout(width="100%", padding="4px"))
        self.add_class("convlab-runs")
        self._header = _grid([_head(label, number) for label, _, number in COLUMNS])

    def show(self, runs, live=None):
        keys = [id(run) for run in runs]
        for key in set(self._rows) - set(keys):
            self._rows.pop(key).close()
            self.selected.discard(key)
            self._params.pop(key, None)
        for key, run in zip(keys, runs):
            if key not in self._rows:
                self._rows[key] = _Row(self, run)
            self._rows[key].show(run, self.param_count(run), run is live)
        children = [self._header] + [self._rows[key].box for key in keys] if runs else []
        if tuple(children) != tuple(self.rows.children):
            self.rows.children = children
        self.empty.layout.display = "none" if runs else None

    def select(self, keys):
        """Tick exactly ``keys`` (the lab's choice, e.g. the previous run when a new one starts)."""
        self.selected = set(keys) & set(self._rows)
        for key, row in self._rows.items():
            row.set_ticked(key in self.selected)

    def _changes_shown(self, change):
        for row in self._rows.values():
            row.show_changes(change["new"])

    def param_count(self, run):
        """A run's parameter count from its architecture snapshot (kept: a snapshot never changes)."""
        key = id(run)
        if run.architecture is None:  # a model.fit not begun yet, or one the catalog cannot describe
            return run.param_count
        if key not in self._params:
            summary = run.architecture.summary()
            self._params[key] = summary.total_params if summary.is_valid else None
        return self._params[key]

    # Clicks ------------------------------------------------------------------------

    def _ticked(self, key, ticked):
        if ticked:
            self.selected.add(key)
        else:
            self.selected.discard(key)
        if self.on_select:
            self.on_select(set(self.selected))


class _Row:
    """The widgets of one run's row, updated cell by cell."""

    def __init__(self, table, run):
        self.run = run
        key = id(run)
        self._updating = False
        self.tick = widgets.Checkbox(value=False, indent=False, layout=widgets.Layout(width="2em"),
                                     **{TOOLTIP: "overlay this run on the panels"})
        self.swatch = widgets.HTML("")
        self.name = widgets.Text(value=run.name, continuous_update=False, layout=widgets.Layout(width="7.2em"))
        self.labels = [widgets.HTML("") for _ in range(7)]
        for label, (_, _, number) in zip(self.labels, COLUMNS[3:]):
            if number:
                label.add_class("convlab-runs-number")
        self.changes = widgets.HTML("", layout=widgets.Layout(margin="0 0 0 3.4em"))  # under the name
        self.changes.add_class("convlab-runs-changes")
        self.show_changes(table.show_changes.value)
        self.clone = widgets.Button(description="Clone & tweak", icon="clone", layout=widgets.Layout(width="10.2em"),
                                    tooltip="load this run's architecture and settings into the builder and controls")
        self.delete = widgets.Button(icon="trash", layout=widgets.Layout(width="2.8em"), tooltip="delete this run")
        self.actions = widgets.HBox([self.clone, self.delete])
        # Only an interrupted run (its kernel stopped while it trained) has this line: what happened and Resume,
        # under its numbers (in the actions column, which stays at the right edge, it would hide them).
        self.resume = widgets.Button(description="Resume", icon="play", button_style="success",
                                     layout=widgets.Layout(width="7em", flex="none"),
                                     tooltip="continue this run from its last checkpoint, its curves going on")
        self.interruption = widgets.HTML("")
        self.interrupted = widgets.HBox([self.resume, self.interruption], layout=widgets.Layout(
            display="none", margin="2px 0 4px 3.4em", align_items="center", grid_gap="8px"))
        self.interrupted.add_class("convlab-runs-interrupted")
        self.actions.add_class("convlab-runs-actions")
        self.cells = [self.tick, self.swatch, self.name, *self.labels, self.actions]
        for cell in self.cells:
            cell.add_class("convlab-runs-cell")
        # The diff gets a line of its own under the run's numbers: it can be long.  The row is as wide as
        # its columns (min-content), so that all rows scroll together in a narrow output and the diff
        # wraps at the columns' width.
        self.box = widgets.VBox([_grid(self.cells), self.interrupted, self.changes],
                                layout=widgets.Layout(width="min-content", overflow="visible"))
        self.tick.observe(lambda change: None if self._updating else table._ticked(key, change["new"]), names="value")
        self.name.observe(lambda change: self._renamed(table, change["new"]), names="value")
        self.clone.on_click(lambda _b: table.on_clone and table.on_clone(self.run))
        self.delete.on_click(lambda _b: table.on_delete and table.on_delete(self.run))
        self.resume.on_click(lambda _b: table.on_resume and table.on_resume(self.run))

    def show(self, run, params, live):
        self.run = run
        for label, text in zip(self.labels, cell_texts(run, params)):
            _set(label, text)
        _set(self.changes, escape(changes_text(run)))
        _set(self.swatch, f'<div style="width: 14px; height: 14px; background: {escape(run.color)}; '
                          f'border-radius: 3px" title="{escape(run.name)}&#39;s colour"></div>')
        if self.name.value != run.name:
            self.name.value = run.name
        self._updating = True
        try:
            if live:
                self.tick.value = True
            self.tick.disabled = live
            setattr(self.tick, TOOLTIP, "the run being watched is always shown in full" if live
                    else "overlay this run on the panels")
        finally:
            self._updating = False
        interrupted = run.status == INTERRUPTED
        self.interrupted.layout.display = None if interrupted else "none"
        _set(self.interruption, escape(run.message) if interrupted else "")
        running = run.status in ACTIVE
        self.delete.disabled = running
        self.delete.tooltip = "stop the run before deleting it" if running else "delete this run"

    def show_changes(self, shown):
        self.changes.layout.display = None if shown else "none"

    def set_ticked(self, ticked):
        if self.tick.disabled:
            return
        self._updating = True
        try:
            self.tick.value = ticked
        finally:
            self._updating = False

    def _renamed(self, table, name):
        name = name.strip()
        if not name or name == self.run.name:
            self.name.value = self.run.name  # an empty name would leave a legend nobody can read
            return
        if table.on_rename:
            table.on_rename(self.run, name)
        if self.name.value != self.run.name:  # a refused name goes back to the run's own
            self.name.value = self.run.name

    def close(self):
        for widget in (*self.cells, self.clone, self.delete, self.resume, self.interruption, self.changes,
                       *self.box.children, self.box):
            widget.close()


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


def _grid(cells):
    """One row of the table: every row has the same fixed columns, so they line up."""
    return widgets.GridBox(cells, layout=widgets.Layout(
        grid_template_columns=" ".join(width for _, width, _ in COLUMNS), grid_gap="2px 4px", align_items="center",
        width="min-content", overflow="visible"))


def _head(text, number):
    head = widgets.HTML(text)
    head.add_class("convlab-runs-head")
    if number:
        head.add_class("convlab-runs-number")
    return head


def _set(widget, value):
    if widget.value != value:
        widget.value = value


def _duration(seconds):
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
