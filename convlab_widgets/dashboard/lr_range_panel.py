"""The learning-rate range test's panel: its curve on a log axis, its suggestion, and "Use it".

The panel draws a :class:`~..training.lr_range.RangeTest` on the main thread
(a heartbeat, or the cell that waits for it); the test's training thread only
records batches.  Its buttons send intents: "Find learning rate" asks the lab
to start a test, "Use it" asks the lab to take the suggestion into its
settings; the panel itself changes no setting.
"""

from __future__ import annotations

import math

import bqplot
import ipywidgets as widgets
import numpy as np

from ..html import escape
from ..training.lr_range import smooth
from .panels import LR_COLOR, _linear_range, _set_ticks, _set_xy
from .style import (FIGURE_LAYOUT, FIGURE_MARGIN, LINE_WIDTH, MARKER_SIZE, THIN_LINE_WIDTH, TICK_STYLE, TITLE_STYLE,
                    Y_LABEL_OFFSET, text_html, y_axis)

SUGGESTION_COLOR = "#222222"


class LRRangePanel:
    """``widget``: the buttons, a caption and (once a test ran) its curve: each batch's loss
    (thin) and its smoothed loss against the learning rate, the suggestion marked."""

    def __init__(self):
        self.x_scale, self.y_scale = bqplot.LogScale(), bqplot.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.raw = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[LR_COLOR],
                                stroke_width=THIN_LINE_WIDTH, opacities=[0.35])
        self.smoothed = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[LR_COLOR],
                                     stroke_width=LINE_WIDTH)
        self.suggestion = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[SUGGESTION_COLOR],
                                         marker="triangle-up", default_size=3 * MARKER_SIZE)
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="learning rate (log scale)", tick_format=".0e",
                                  tick_style=TICK_STYLE, num_ticks=0)
        self.y_axis = y_axis(scale=self.y_scale, label="loss", tick_format="~g", tick_style=TICK_STYLE,
                             label_offset=Y_LABEL_OFFSET)
        self.figure = bqplot.Figure(marks=[self.raw, self.smoothed, self.suggestion], axes=[self.x_axis, self.y_axis],
                                    title="Learning-rate range test", title_style=TITLE_STYLE,
                                    fig_margin=FIGURE_MARGIN, layout=widgets.Layout(**FIGURE_LAYOUT))
        # Hidden but laid out, as the confusion matrix is: a bqplot figure first drawn inside a
        # display-none box never learns its size again.  0 px tall until a test has run.
        self.figure_box = widgets.VBox([self.figure], layout=widgets.Layout(
            visibility="hidden", width="100%", height="0px", overflow="hidden"))
        self.find_button = widgets.Button(description="Find learning rate", icon="search", tooltip=(
            "Train a copy of the model for 100 batches while the learning rate grows from 1e-6 to 1, and suggest "
            "where to start; your model and settings stay as they are"), layout=widgets.Layout(width="auto"))
        self.use_button = widgets.Button(description="Use it", icon="check", disabled=True, tooltip=(
            "Set the learning rate control to the suggestion"), layout=widgets.Layout(width="auto"))
        self.caption = widgets.HTML("")
        self.widget = widgets.VBox([widgets.HBox([self.find_button, self.use_button],
                                                 layout=widgets.Layout(flex_flow="row wrap")),
                                    self.caption, self.figure_box],
                                   layout=widgets.Layout(min_width="300px"))  # without it, it never narrows
        self.widget.add_class("convlab-lr-range")
        self.suggested = None  # the finished test's suggestion, what "Use it" takes
        self._drawn = None

    def on_find(self, callback) -> None:
        """Call ``callback()`` when "Find learning rate" is clicked."""
        self.find_button.on_click(lambda _button: callback())

    def on_use(self, callback) -> None:
        """Call ``callback(lr)`` with the suggestion when "Use it" is clicked."""
        self.use_button.on_click(lambda _button: callback(self.suggested) if self.suggested else None)

    def draw(self, test) -> None:
        """Draw what ``test`` has recorded since the last call (main thread); nothing if nothing changed."""
        batches = test.batch_history
        revision = (id(test), len(batches["lr"]), test.done)
        if revision == self._drawn:
            return
        self._drawn = revision
        lrs, losses = np.asarray(batches["lr"], float), np.asarray(batches["loss"], float)
        smoothed = smooth(losses)
        finite, steady = np.isfinite(losses), np.isfinite(smoothed)
        low, high = self._fit(losses[finite], smoothed[steady], test)
        with self.figure.hold_sync():
            # bqplot does not clip a line to its axes: the batches of an exploding loss are drawn at the top.
            _set_xy(self.raw, lrs[finite], np.clip(losses[finite], low, high))
            _set_xy(self.smoothed, lrs[steady], np.clip(smoothed[steady], low, high))
        with self.figure_box.layout.hold_sync():
            self.figure_box.layout.visibility, self.figure_box.layout.height = "visible", None
        self.suggested = test.result["suggested"] if test.done else None
        if self.suggested is not None:
            at = int(np.argmin(np.abs(np.log(lrs) - math.log(self.suggested))))
            _set_xy(self.suggestion, [self.suggested], [smoothed[at]])
        else:
            _set_xy(self.suggestion, [], [])
        self.use_button.disabled = self.suggested is None
        self.use_button.description = f"Use it ({self.suggested:.2g})" if self.suggested is not None else "Use it"
        self.find_button.disabled = not test.done
        words = test.message if test.done else f"range test: {len(lrs)} of {test.steps} batches…"
        self.caption.value = text_html(escape(words))

    def _fit(self, losses, smoothed, test):
        """The whole ramp on x from the start; y from the lowest loss to the first smoothed one (where
        the loss started) and a little more, so an exploding loss does not flatten the curve.
        Returns the y range."""
        self.x_scale.min, self.x_scale.max = test.min_lr, test.max_lr
        decades = np.arange(math.ceil(math.log10(test.min_lr) - 1e-9), math.floor(math.log10(test.max_lr) + 1e-9) + 1)
        step = max(1, math.ceil(len(decades) / 7))  # "1e-6" is ~40 px at 14 px: seven fit a 300-px panel
        _set_ticks(self.x_axis, 10.0 ** decades[::step] if len(decades) else None)
        if not len(smoothed):
            return -np.inf, np.inf
        low = float(min(smoothed.min(), losses.min() if len(losses) else np.inf))
        high = float(smoothed[0] * 1.25)
        # Round bounds on four or five ticks: d3's own ten crowd each other on this short figure.
        low, high, ticks = _linear_range(max(low, 0.0), high)
        self.y_scale.min, self.y_scale.max = low, high
        _set_ticks(self.y_axis, ticks)
        return low, high
