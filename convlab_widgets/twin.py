"""The static twin of a displayed lab: what its notebook shows where no kernel runs.

A widget lives in its kernel: in a notebook reopened without one, on GitHub or
nbviewer, after ``jupyter nbconvert --to html`` or in VS Code, a widget output
is "Loading widget...", "model not found" or nothing.  So beside the widget
the lab displays a second output, this twin: one HTML block (every text in it
escaped by :func:`convlab_widgets.html.escape`) with the loss, accuracy and
learning-rate charts and the first-layer filters as PNG images drawn in the
kernel (:mod:`.dashboard.still`), the gradient-health rows (the panel's own
markup), the runs table and the architecture summary.
The lab refreshes it through its display handle when a run ends and when the
lab is saved, so the ``.ipynb`` keeps the final picture.

While the live widget is on screen, the twin's own style rule hides it: the
rule matches an output area that also holds the live lab (``:has``), so it
shows exactly where the widget cannot.  A dashboard displayed on its own (your
own ``model.fit``) has a twin of its run the same way, and a builder one of its
architecture.  Displaying and redrawing: :mod:`convlab_widgets.twinned`.
"""

from __future__ import annotations

import numpy as np

from .dashboard import still
from .dashboard.health_panel import health_html
from .dashboard.imaging import data_uri
from .html import escape
from .runs_table import COLUMNS, cell_texts, changes_text

#: The most a twin may weigh in a notebook (its PNGs included); tests/test_twin.py holds a lab to it.
BUDGET_BYTES = 300_000
#: Snapshots per layer in the twin's gradient-health rows (the live panel draws more).
TWIN_HEALTH_CELLS = 16
#: Runs listed in the twin's table (the newest): a lesson of a hundred runs keeps its notebook small.
MAX_TABLE_RUNS = 30

# Output areas of JupyterLab / Notebook 7, classic Notebook and Colab that hold a live lab.
_HIDE = ("<style>.jp-OutputArea:has(.convlab-live) .convlab-twin, .output:has(.convlab-live) .convlab-twin, "
         "#output-area:has(.convlab-live) .convlab-twin { display: none; }</style>")
NO_RUNS = "<p><i>No runs yet.</i></p>"
_TABLE = "border-collapse: collapse; font-size: 13px; margin: 6px 0"
_CELL = "padding: 2px 8px; border-bottom: 1px solid #e1e5ea"


def lab_html(lab) -> str:
    """The twin of ``lab`` as one HTML block (the latest run in full, the runs ticked in the table overlaid)."""
    architecture = lab.architecture
    summary = architecture.summary()
    title = (f"ConvLab · {lab.settings.dataset or 'own data'} · {len(architecture)} layers · "
             f"{summary.total_params:,} parameters")
    run = lab.run
    parts = [NO_RUNS]
    if run is not None:
        overlaid = [other for other in lab.runs if id(other) in lab.table.selected and other is not run]
        parts = [*_run_parts(run, overlaid), _runs_table(lab)]
    parts.append(f'<details><summary>Architecture</summary><pre style="font-size: 12px">{escape(str(summary))}'
                 "</pre></details>")
    return _block(title, parts, "the live lab")


def builder_html(builder) -> str:
    """The twin of a builder shown on its own: the architecture's summary, as ``print(summary)`` writes it."""
    summary = builder.architecture.summary()
    return _block(f"Architecture · {summary.total_params:,} parameters",
                  [f'<pre style="font-size: 12px">{escape(str(summary))}</pre>'], "the live builder")


def dashboard_html(dashboard) -> str:
    """The twin of a dashboard shown on its own (your own ``model.fit``): its run's charts and filters."""
    run = dashboard.run
    return _block("Training dashboard", _run_parts(run, []) if run is not None else [NO_RUNS], "the live dashboard")


def _block(title: str, parts: list[str], live: str) -> str:
    return "".join([
        _HIDE, '<div class="convlab-twin" style="font-family: sans-serif; color: #1d232b; max-width: 1220px">',
        f'<div style="font-size: 16px; font-weight: bold; margin: 4px 0">{escape(title)}</div>',
        *parts,
        f'<div style="color: #5a626e; font-size: 12px">A still, saved with the notebook: with a running kernel '
        f"{escape(live)} shows instead.</div></div>"])


def _run_parts(run, overlaid) -> list[str]:
    """A run's status line, its charts (``overlaid`` runs drawn too) and its last first-layer filters."""
    name = getattr(run, "name", None) or "your model.fit"
    status = f"{name}: {run.status}" + (f" — {run.message}" if getattr(run, "message", "") else "")
    names = ", ".join(other.name for other in overlaid)
    charts = still.panels(run, overlaid)
    parts = [f'<div style="margin: 2px 0 6px">{escape(status)}</div>',
             '<div style="display: flex; flex-wrap: wrap; gap: 4px">' + "".join(
                 _image(image, f"{what} of {name}" + (f", with {names}" if names and what != "Learning rate"
                                                          else ""))
                 for what, image in zip(("Loss", "Accuracy", "Learning rate"), charts)) + "</div>"]
    snapshots = run.filters
    if snapshots:
        last = snapshots[-1]
        when = "at initialisation" if last.epoch == 0 and last.batch == 0 else f"in epoch {last.epoch + 1}"
        parts.append(f'<div style="margin-top: 6px">First-layer filters ({escape(last.layer)}, {when}):</div>')
        parts.append(_image(still.filters(last.kernel), f"First-layer filters of {name}"))
    health = getattr(run, "health", None)
    if health:
        parts.append('<div style="margin-top: 6px">Gradient health:</div>')
        parts.append(health_html(health, max_cells=TWIN_HEALTH_CELLS, tooltips=False))
    return parts


def _image(image, alt: str) -> str:
    return f'<img src="{data_uri(np.asarray(image))}" alt="{escape(alt)}" style="max-width: 100%">'


def _runs_table(lab) -> str:
    runs = lab.runs[-MAX_TABLE_RUNS:]
    headings = ["run", *(label for label, _, _ in COLUMNS[3:10])]
    head = "".join(f'<th style="{_CELL}; text-align: {"left" if i == 0 else "right"}">{escape(h)}</th>'
                   for i, h in enumerate(headings))
    rows = []
    for run in runs:
        swatch = (f'<span style="display: inline-block; width: 11px; height: 11px; border-radius: 2px; '
                  f'background: {escape(run.color)}; margin-right: 5px"></span>')
        cells = "".join(f'<td style="{_CELL}; text-align: right; font-variant-numeric: tabular-nums">{escape(text)}'
                        "</td>" for text in cell_texts(run, lab.table.param_count(run)))
        rows.append(f'<tr><td style="{_CELL}" title="{escape(changes_text(run))}">{swatch}{escape(run.name)}</td>'
                    f"{cells}</tr>")
    hidden = len(lab.runs) - len(runs)
    more = f"<div><i>and {hidden} earlier runs</i></div>" if hidden else ""
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'
