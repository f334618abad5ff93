"""The health panel: one row per layer, its gradient norm as a colour over the run, and what it means.

It draws a run's ``HealthSnapshot`` events (``training/health.py``) from the
history, on the main thread, only when a new snapshot came.  Each row is a layer
with weights, input side first; its cells, oldest on the left, are the snapshots
(the start, each epoch's end, every ``health_every`` batches), coloured by the
gradient norm on a log scale fixed for every run, so that two runs compare at a
glance: the seeds' deep sigmoid network shows dark first rows (vanishing
gradients), its relu twin does not.  The latest snapshot's numbers sit beside
the cells, and a tag above says what :func:`~..training.health.diagnose` found,
with one sentence on what it means and what to try.

Plain HTML (no bqplot figure), every layer name escaped: the same markup is the
panel's still in the notebook's static twin (:func:`health_html`, fewer cells, no tooltips).
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from ..html import escape
from ..training.health import diagnose
from ..training.status import TERMINAL
from .style import text_html, title

#: The colour scale's ends, as powers of ten of the gradient norm; norms beyond are drawn at the ends.
LOG_RANGE = (-3.0, 1.0)
#: Dark (vanishing) to bright (large): viridis' stops, readable on a projector, and for colour-blind eyes.
PALETTE = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
MAX_CELLS = 48  # snapshots drawn per row at most: the newest, and older ones thinned evenly
CELL_WIDTH = 14
TAG_COLORS = {"vanishing": "#8a5a00", "exploding": "#c62828", "dead": "#c62828", "": "#2e7d32"}
WAITING = "Each layer's gradient and activation health appears here once a run starts."
NOTHING_MEASURED = "This run measured no health (only runs the lab trains do)."
HEALTHY_TAG = "gradients look healthy"
HEALTHY_ADVICE = ("Every layer gets a gradient of a similar size per weight and its relu units fire: "
                  "nothing to fix here.")


def color(gradient_norm: float) -> str:
    """The cell colour of a gradient norm: its log10 placed on ``LOG_RANGE``; grey when not finite."""
    if not math.isfinite(gradient_norm) or gradient_norm < 0:
        return "#9e9e9e"
    low, high = LOG_RANGE
    where = (math.log10(max(gradient_norm, 1e-30)) - low) / (high - low)
    where = min(max(where, 0.0), 1.0) * (len(PALETTE) - 1)
    i = min(int(where), len(PALETTE) - 2)
    a, b = (np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)]) for c in PALETTE[i:i + 2])
    r, g, bl = np.rint(a + (b - a) * (where - i)).astype(int)
    return f"#{r:02x}{g:02x}{bl:02x}"


def _number(value: float, percent: bool = False) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:.0%}" if percent else f"{value:.2g}"


def _picked(count: int, most: int) -> list[int]:
    """Which snapshots a row draws: all up to ``most``, else evenly thinned, the first and last always."""
    if count <= most:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, most).round().astype(int).tolist()))


def health_html(health: list, max_cells: int = MAX_CELLS, tooltips: bool = True) -> str:
    """The panel's body for a run's health snapshots (oldest first): tag, advice, rows, legend.
    ``max_cells`` per row and no ``tooltips``: the lighter markup of the notebook's still."""
    if not health:
        return text_html(WAITING, italic=True)
    latest = health[-1]
    found = diagnose(latest)
    tag, advice = (found.tag, found.advice) if found.kind else (HEALTHY_TAG, HEALTHY_ADVICE)
    picked = [health[i] for i in _picked(len(health), max_cells)]
    head = (f'<div style="font-size: 15px; padding: 4px 8px"><b style="color: {TAG_COLORS[found.kind]}">'
            f"{escape(tag)}</b> — {escape(advice)}</div>")
    shown = f" ({len(picked)} shown)" if len(picked) < len(health) else ""
    rows = []
    flagged = set(found.layers)
    for k, name in enumerate(latest.layers):
        cells = "".join(_cell(snapshot, k, name, tooltips) for snapshot in picked if k < len(snapshot.layers))
        weight = "bold" if k + 1 in flagged else "normal"
        numbers = " · ".join((
            f"gradient {_number(float(latest.gradient_norm[k]))}", f"weights {_number(float(latest.weight_norm[k]))}",
            f"update/weight {_number(float(latest.update_ratio[k]))}",
            f"activation {_number(float(latest.activation_mean[k]))} ± {_number(float(latest.activation_std[k]))}",
            f"dead relu {_number(float(latest.dead_share[k]), percent=True)}"))
        rows.append(f'<div style="font-weight: {weight}; max-width: 14em; overflow-wrap: anywhere">{k + 1}. '
                    f'{escape(name)}</div><div style="display: flex; gap: 1px">{cells}</div>'
                    f'<div style="grid-column: 2; font-size: 12px; color: #555; margin-bottom: 4px">{numbers}</div>')
    stops = ", ".join(PALETTE)
    legend = (f'<div style="display: flex; flex-wrap: wrap; align-items: center; gap: 2px 6px; justify-content: center;'
              f' font-size: 13px">gradient norm at each of {len(health)} snapshots{shown}, oldest left: 1e'
              f'{LOG_RANGE[0]:.0f}<span style="display: inline-block; width: 120px; height: 12px; background: '
              f"linear-gradient(to right, {stops})\"></span>1e{LOG_RANGE[1]:.0f} (log scale); numbers at "
              f"{_when(latest)}</div>")
    grid = ('<div style="display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: 0 8px; '
             'align-items: center; padding: 0 8px; font-size: 14px">' + "".join(rows) + "</div>")
    return head + grid + legend


def _when(snapshot) -> str:
    """"the start", or "epoch 3, batch 24" (batches done in that epoch, learners' count of epochs)."""
    if not (snapshot.epoch or snapshot.batch):
        return "the start"
    return f"epoch {snapshot.epoch + 1}, batch {snapshot.batch}"


def _cell(snapshot, k: int, name: str, tooltip: bool) -> str:
    norm = float(snapshot.gradient_norm[k])
    tip = f' title="{escape(f"{name} at {_when(snapshot)}: gradient norm {_number(norm)}")}"' if tooltip else ""
    return (f'<span{tip} style="flex: 0 1 {CELL_WIDTH}px; min-width: 1px; height: 18px; '
            f'background: {color(norm)}"></span>')


class HealthPanel:
    """``widget``: the title and the body; ``update(history)`` redraws when a snapshot came."""

    def __init__(self):
        # As wide as the panel and no wider: the table scrolls sideways inside it in a narrow column,
        # instead of widening the widget past the panel's edge, where the grid would cut it off.
        self.body = widgets.HTML(text_html(WAITING, italic=True), layout=widgets.Layout(width="100%", min_width="0"))
        self.widget = widgets.VBox([title("Gradient health"), self.body], layout=widgets.Layout(min_width="300px"))
        self.widget.add_class("convlab-health")
        self._drawn = None

    def update(self, history) -> None:
        """Draw ``history.health`` if it changed since the last call; send nothing otherwise."""
        ended = history.status in TERMINAL
        revision = (history.generation, len(history.health), ended and not history.health)
        if revision == self._drawn:
            return
        self._drawn = revision
        if not history.health and ended:
            self.body.value = text_html(NOTHING_MEASURED, italic=True)
        else:
            self.body.value = health_html(history.health)
