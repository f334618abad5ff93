"""The dashboard's look in one place: sizes a projector can read, titles, captions, axes.

bqplot's defaults are sized for a laptop screen; these are for a classroom.
"""

from __future__ import annotations

import bqplot
import ipywidgets as widgets

FIGURE_LAYOUT = {"width": "100%", "height": "240px"}
ENLARGED_HEIGHT = "520px"  # an enlarged chart spans the notebook's width
FIGURE_MARGIN = {"top": 40, "bottom": 52, "left": 76, "right": 16}
Y_LABEL_OFFSET = "54px"  # clear of tick labels such as "1e-3" at 14 px
TITLE_STYLE = {"font-size": "18px"}
TICK_STYLE = {"font-size": "14px"}
MARKER_SIZE = 40
LINE_WIDTH = 3  # px; the thinnest line is 2 px, which a projector still shows
THIN_LINE_WIDTH = 2
READOUT_STYLE = {"opacity": 0.95, "font-size": "15px"}  # a point's hover text


def title(text: str) -> widgets.HTML:
    """A panel title above a figure (``text`` is markup: escape what came from a user)."""
    return widgets.HTML(title_html(text))


def title_html(text: str) -> str:
    """A title's markup, for a title whose text changes."""
    return f'<div style="font-size: {TITLE_STYLE["font-size"]}; text-align: center">{text}</div>'


def text_html(text: str, italic: bool = False) -> str:
    """A centred caption line (``text`` is markup: escape what came from a user)."""
    style = "font-size: 14px; line-height: 1.35; text-align: center; padding: 4px 8px"
    return f'<div style="{style}{"; font-style: italic" if italic else ""}">{text}</div>'


def y_axis(**kwargs) -> bqplot.Axis:
    """A vertical axis on the left: bqplot 0.12 (Colab's) says so with ``orientation``, 0.13 with ``side``."""
    if "orientation" in bqplot.Axis.class_trait_names():
        kwargs["orientation"] = "vertical"
    return bqplot.Axis(side="left", **kwargs)
