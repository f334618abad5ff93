"""Run colours: a run gets its colour when it enters a lab and keeps it everywhere.

The runs table's swatch, the live charts, the overlays and their legends all
read ``run.color``; none of them picks a colour of its own for a run.
"""

from __future__ import annotations

#: Distinct on a projector, none of them the overfitting mark's red.
RUN_COLORS = ("#1f77b4", "#d95f02", "#1b9e77", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
              "#393b79")
#: A run watched outside a lab (a ``Trainer`` run in a plain ``Dashboard``) has no colour: this one.
DEFAULT_COLOR = RUN_COLORS[0]


def run_color(index: int) -> str:
    """The colour of the lab's ``index``-th run (from 0), cycling through ``RUN_COLORS``."""
    return RUN_COLORS[index % len(RUN_COLORS)]
