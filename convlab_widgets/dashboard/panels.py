"""The dashboard's panels: bqplot figures that draw a :class:`RunHistory`.

Every assignment to a widget trait is a message to the browser, and the
dashboard redraws all panels up to five times a second, in Colab too.  So
``update(history)`` compares the history's revisions with what the panel last
drew and assigns nothing when they match; lines never exceed ``max_points``
points and travel as float32, half the bytes of float64 for no visible loss.

One colour per metric family; training is solid, validation dashed, and the
raw batch curve only on request.  Fonts and lines are larger than bqplot's
defaults because these plots are often projected in a classroom.
Panels are used from the main thread only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import bqplot
import ipywidgets as widgets
import numpy as np

from ..compare import overfitting
from ..html import escape
from ..training.history import MAX_POINTS, SERIES
from .imaging import encode_png, filter_mosaic
from .style import (ENLARGED_HEIGHT, FIGURE_LAYOUT, FIGURE_MARGIN, LINE_WIDTH, MARKER_SIZE, READOUT_STYLE,
                    THIN_LINE_WIDTH, TICK_STYLE, TITLE_STYLE, Y_LABEL_OFFSET, text_html, title, y_axis)

LOSS_COLOR = "#d95f02"
ACCURACY_COLOR = "#1b9e77"
LR_COLOR = "#7570b3"
TURN_COLOR = "#b2182b"  # the overfitting mark: a warning, in no run's colour
BEST_COLOR = "#222222"  # the best-epoch mark of a run that stops early: in no run's colour either

NO_CONV2D_MESSAGE = "No Conv2D layer in this model: add one to watch its filters form."
WAITING_MESSAGE = "The filters of the first Conv2D layer appear here when training starts."


@dataclass(frozen=True)
class Curve:
    """One series as a panel draws it: a line, points with the hover readout, or both.

    ``series`` names a ``RunHistory`` series, or a mark the panel feeds itself
    (the planned learning rate).  Points are bqplot Scatter marks because a
    Lines mark's tooltip knows the line, not the point under the pointer.
    ``optional`` curves (each batch, the epoch means) are drawn only while the
    learner asks for them: by default a run is two lines, train solid and
    validation dashed, which a room can tell apart.
    """

    series: str
    label: str
    line: dict | None = None
    points: str | None = None
    optional: bool = False

    @property
    def names(self) -> list[str]:
        """Its marks' keys in ``panel.marks``: the series for the line (else the points), ``_points`` after it."""
        if self.line is None:
            return [self.series]
        return [self.series] + ([f"{self.series}_points"] if self.points else [])


def _readout(label):
    """The hover text of a point: its epoch and value, named with the run's name."""
    return bqplot.Tooltip(fields=["x", "y"], labels=["epoch", label], formats=["~g", ".4~g"])


def _marks_of(curve, scales, color, readout_label):
    marks = []
    if curve.line is not None:
        marks.append(bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color],
                                  visible=not curve.optional, **curve.line))
    if curve.points is not None:
        marks.append(bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color],
                                    marker=curve.points, default_size=MARKER_SIZE, visible=not curve.optional,
                                    tooltip=_readout(readout_label), tooltip_style=READOUT_STYLE))
    return dict(zip(curve.names, marks))


def _legend(color, curves):
    """A legend row under the plot.  bqplot's own legend sits inside the
    plot area, where it hides the curves once its text is large enough to
    read from the back of a classroom."""
    return widgets.HTML(_legend_html(color, curves))


def _legend_html(color, curves, name=None):
    """The legend row's markup; ``name``: the watched run's, ahead of its curves, so that beside overlaid
    runs a room can tell which run the full-size lines are."""
    items = [f'<b style="margin: 0 4px">{escape(name)}:</b>'] if name else []
    for curve in curves:
        style = curve.line or {}
        sample = ""
        if curve.line is not None:
            dash = ' stroke-dasharray="6 4"' if style.get("line_style") == "dashed" else ""
            width = style.get("stroke_width", LINE_WIDTH)
            sample += f'<line x1="1" y1="8" x2="31" y2="8" stroke="{color}" stroke-width="{width}"{dash}/>'
        if curve.points == "circle":
            sample += f'<circle cx="16" cy="8" r="4.5" fill="{color}"/>'
        elif curve.points == "square":
            sample += f'<rect x="12" y="4" width="8" height="8" fill="{color}"/>'
        opacity = style.get("opacities", [1.0])[0]
        items.append(f'<span style="margin: 0 8px; white-space: nowrap"><svg width="32" height="16" '
                     f'style="vertical-align: middle; opacity: {opacity}">{sample}</svg> {curve.label}</span>')
    return f'<div style="font-size: 14px; text-align: center; line-height: 1.5">{"".join(items)}</div>'


def _nice_step(raw):
    """The smallest 1, 2 or 5 times a power of ten that is at least ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw * (1 - 1e-9))


def _linear_range(low, high):
    """Round bounds around ``[low, high]`` with four or five ticks between them."""
    step = _nice_step((high - low) / 4 if high > low else abs(high) / 4 or 0.25)
    bottom = round(math.floor(low / step + 1e-9) * step, 12)
    top = round(max(math.ceil(high / step - 1e-9) * step, bottom + step), 12)
    return bottom, top, np.round(np.arange(bottom, top + step / 2, step), 12)


def _log_range(low, high):
    """Bounds and ticks on 1, 2 and 5 times powers of ten around ``[low, high]``; whole decades only
    when the data spans more than two, where 2 and 5 would crowd the axis."""
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
    factors = (1, 2, 5) if math.log10(high / low) <= 2 else (1,)
    candidates = sorted(round(f * 10.0 ** k, 12) for k in decades for f in factors)
    bottom = max(v for v in candidates if v <= low * (1 + 1e-9))
    top = min(v for v in candidates if v >= high * (1 - 1e-9) and v > bottom)
    ticks = [v for v in candidates if bottom <= v <= top]
    return bottom, top, np.array(ticks)


def _set_ticks(axis, values):
    """Explicit ticks, or none at all: on an empty axis bqplot's defaults crowd 0–1 with ten labels at 14 px."""
    with axis.hold_sync():
        axis.tick_values = values
        axis.num_ticks = None if values is not None and len(values) else 0


class _CurvePanel:
    """Curves against the epoch axis, with a tool row above and a legend row under the figure.

    ``curves`` lists :class:`Curve` s; a curve whose series is a
    ``RunHistory`` series is drawn from the history, any other is a mark the
    subclass feeds itself.  Tick positions are set explicitly: bqplot's
    ``num_ticks`` spaces ticks evenly over the padded domain, at values like
    2.38, and d3's defaults crowd a 240-px axis at 14 px.

    "enlarge" spans the chart across the notebook's width at twice the height,
    for the back of the room; the toggle's value is the browser's request and
    the panel lays itself out from it.
    """

    def __init__(self, title, y_label, y_scale, color, curves, max_points, y_tick_format="~g", tools=()):
        self.max_points = max_points
        self.x_scale = bqplot.LinearScale(min=0.0)
        self.y_scale = y_scale
        scales = {"x": self.x_scale, "y": y_scale}
        self.marks = {}
        self._series = {}  # mark key -> the series it draws
        for curve in curves:
            for name, mark in _marks_of(curve, scales, color, self._readout_label(curve)).items():
                self.marks[name] = mark
                self._series[name] = curve.series
        self.recorded = [name for name, series in self._series.items() if series in SERIES]
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="epoch", tick_format="~g", tick_style=TICK_STYLE,
                                  num_ticks=0)
        self.y_axis = y_axis(scale=y_scale, label=y_label, tick_format=y_tick_format,
                             tick_style=TICK_STYLE, label_offset=Y_LABEL_OFFSET, num_ticks=0)
        self.figure = bqplot.Figure(
            marks=list(self.marks.values()), axes=[self.x_axis, self.y_axis], title=title, title_style=TITLE_STYLE,
            fig_margin=FIGURE_MARGIN, layout=widgets.Layout(**FIGURE_LAYOUT),
        )
        self.color, self._curves = color, curves
        self.legend = _legend(color, self._shown_curves())
        self.enlarge = _tool("enlarge", "expand", "Show this chart across the notebook's width; click again to "
                                                  "return")
        self.enlarge.observe(self._enlarged, names="value")
        self.tools = widgets.HBox([*tools, self.enlarge],
                                  layout=widgets.Layout(justify_content="flex-end", flex_flow="row wrap"))
        self.widget = widgets.VBox([self.tools, self.figure, self.legend], layout=widgets.Layout(min_width="300px"))
        self._drawn = {}
        self._history = None
        self._epochs = None
        self._y_range = None
        self._height = FIGURE_LAYOUT["height"]

    def _readout_label(self, curve):
        return curve.label

    def _shown_curves(self):
        return [curve for curve in self._curves if self.marks[curve.names[0]].visible]

    def update(self, history):
        """Draw what changed in ``history`` since the last call; nothing if nothing did."""
        self._history = history
        self._show_epochs(self._planned_epochs(history))
        changed = False
        for name in self.recorded:
            revision = history.revision(self._series[name])
            mark = self.marks[name]
            if mark.visible and self._drawn.get(name) != revision:
                _set_xy(mark, *history.series(self._series[name], self.max_points))
                self._drawn[name] = revision
                changed = True
        if changed:
            self._fit_y()

    def set_height(self, height: str) -> None:
        """The figure's height while not enlarged (the lab's compact layout draws its charts shorter)."""
        self._height = height
        if not self.enlarge.value:
            self.figure.layout.height = height

    def _enlarged(self, change):
        enlarged = change["new"]
        self.widget.layout.grid_column = "1 / -1" if enlarged else None
        self.figure.layout.height = ENLARGED_HEIGHT if enlarged else self._height
        self.enlarge.description = "shrink" if enlarged else "enlarge"
        self.enlarge.icon = "compress" if enlarged else "expand"

    def _planned_epochs(self, history):
        return history.planned_epochs

    def _show_epochs(self, epochs):
        """The x axis spans the planned run from the start, so learners see
        how far through it they are, with ticks on whole epochs."""
        if epochs == self._epochs:
            return
        self._epochs = epochs
        self.x_scale.max = float(epochs) if epochs else None
        _set_ticks(self.x_axis, np.arange(0, epochs + 1, max(1, int(_nice_step(epochs / 8)))) if epochs else None)

    def _drawn_marks(self):
        return [mark for mark in self.marks.values() if mark.visible]

    def _drawn_points(self):
        """``(x, y)`` of every point drawn, finite values only."""
        marks = self._drawn_marks()
        if not marks:
            return np.zeros(0), np.zeros(0)
        x = np.concatenate([np.asarray(mark.x, dtype=float) for mark in marks])
        y = np.concatenate([np.asarray(mark.y, dtype=float) for mark in marks])
        keep = np.isfinite(y)
        return x[keep], y[keep]

    def _fit_y(self):
        """Fixed y axes need nothing; see the subclasses."""

    def _set_y_range(self, low, high, ticks):
        """Only when the range moves: it changes rarely, so the axis does not jitter."""
        if (low, high) == self._y_range:
            return
        self._y_range = (low, high)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = low, high
        _set_ticks(self.y_axis, ticks)


def _batch_tool_words(steps_per_call: int) -> tuple[str, str]:
    """The "each batch" toggle's (description, tooltip) for a run whose host calls train
    ``steps_per_call`` batches: its batch curve has one point per call, which it says."""
    if steps_per_call <= 1:
        return "each batch", "Also draw every batch's value and the training mean of each epoch"
    return (f"each {steps_per_call} batches",
            f"Also draw the training values as they come, and the training mean of each epoch. Keras trains "
            f"{steps_per_call} batches per call here (faster, the same numbers), so each point is the mean of "
            f"{steps_per_call} batches")


def _tool(description, icon, tooltip):
    """A toggle in a panel's tool row: the browser asks, the panel changes itself."""
    return widgets.ToggleButton(value=False, description=description, icon=icon, tooltip=tooltip,
                                layout=widgets.Layout(width="auto"))


def _set_xy(mark, x, y):
    # A loss beyond float32's range (a diverged run) is drawn as infinite, which the axes ignore, and says nothing.
    with mark.hold_sync(), np.errstate(over="ignore"):
        mark.x = np.asarray(x, dtype=np.float32)
        mark.y = np.asarray(y, dtype=np.float32)


def _metric_curves(metric):
    return [
        Curve(f"batch_{metric}", _batch_tool_words(1)[0],
              line={"opacities": [0.35], "stroke_width": THIN_LINE_WIDTH}, optional=True),
        Curve(f"epoch_{metric}", "train, per epoch", points="circle", optional=True),
        Curve(f"batch_{metric}_smooth", "train", line={"stroke_width": LINE_WIDTH}),
        Curve(f"val_{metric}", "validation", line={"stroke_width": LINE_WIDTH, "line_style": "dashed"},
              points="square"),
    ]


class _MetricPanel(_CurvePanel):
    """A metric of the run being watched, with other runs overlaid.

    The watched run is its smoothed training curve and its validation per
    epoch; "each batch" adds the raw batch curve and the training means per
    epoch.  An overlaid run is drawn per epoch only, in its own colour (train
    solid, validation dashed): batch curves of several runs on one axis are
    noise.  It sits behind the watched run, drawn in that run's colour
    (``use_run``).  Hovering any point reads out its epoch, value and run.
    """

    def __init__(self, metric, title, y_scale, color, max_points, tools=(), names_overlays=True, **kwargs):
        self.metric = metric
        self.names_overlays = names_overlays  # the overlay legend, shown once: under the loss
        self.run_name = None
        description, tooltip = _batch_tool_words(1)
        self.batches = _tool(description, "bars", tooltip)
        super().__init__(title, metric, y_scale, color, _metric_curves(metric), max_points,
                         tools=(*tools, self.batches), **kwargs)
        self.batches.observe(self._show_batches, names="value")
        self.overlays = {}  # run key -> _Overlay
        # The best epoch of a run with early stopping: a triangle on its validation point (training, without one).
        self.best_mark = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales={"x": self.x_scale, "y": self.y_scale},
                                        colors=[BEST_COLOR], marker="triangle-up", default_size=3 * MARKER_SIZE,
                                        tooltip=_readout(f"best epoch's {metric}"), tooltip_style=READOUT_STYLE)
        self.extra_marks = [self.best_mark]  # drawn above everything, e.g. the overfitting mark
        self.figure.marks = list(self.figure.marks) + self.extra_marks
        self._best_drawn = ()
        self.overlay_legend = widgets.HTML("", layout=widgets.Layout(display="none"))
        self.widget.children = (*self.widget.children, self.overlay_legend)
        self._live_epochs = None

    def update(self, history):
        """Draw as any panel, and mark the best epoch of a run that stops early (``history.best``)."""
        super().update(history)
        best = getattr(history, "best", None)
        point = ()
        if best is not None and best.epoch in history.epoch["epoch"]:
            row = history.epoch["epoch"].index(best.epoch)
            values = [history.epoch[key][row] for key in (f"val_{self.metric}", self.metric)]
            finite = [value for value in values if math.isfinite(value)]
            point = (best.epoch + 1.0, finite[0]) if finite else ()
        if point != self._best_drawn:
            self._best_drawn = point
            _set_xy(self.best_mark, point[:1], point[1:])

    def _readout_label(self, curve):
        name = f"{curve.label} {self.metric}"
        return f"{name} ({self.run_name})" if self.run_name else name

    def use_run(self, color: str, name: str | None = None) -> None:
        """Draw the watched run in its own colour, the one it has in the runs table and overlays,
        and name it in the hover readout."""
        if (color, name) == (self.color, self.run_name):
            return
        self.color, self.run_name = color, name
        for mark in self.marks.values():
            mark.colors = [color]
        for curve in self._curves:
            if curve.points is not None:
                self.marks[curve.names[-1]].tooltip.labels = ["epoch", self._readout_label(curve)]
        self.legend.value = _legend_html(color, self._shown_curves(), name)

    def use_resolution(self, steps_per_call: int) -> None:
        """Name the watched run's batch curve for what it is: one point per host call of
        ``steps_per_call`` batches (``Settings.steps_per_execution``)."""
        description, tooltip = _batch_tool_words(steps_per_call)
        if self.batches.description == description:
            return
        with self.batches.hold_sync():
            self.batches.description, self.batches.tooltip = description, tooltip
        # The curve's name in the legend and the hover readout is the toggle's.
        self._curves = [replace(curve, label=description) if curve.series == f"batch_{self.metric}" else curve
                        for curve in self._curves]
        self.legend.value = _legend_html(self.color, self._shown_curves(), self.run_name)

    def _show_batches(self, change):
        for curve in self._curves:
            if curve.optional:
                for name in curve.names:
                    self.marks[name].visible = change["new"]
        self.legend.value = _legend_html(self.color, self._shown_curves(), self.run_name)
        if self._history is not None:
            self.update(self._history)
        self._fit_y()

    def overlay(self, runs):
        """Overlay ``runs``, a list of ``(key, label, colour, history)``;
        runs left out are removed.  Unchanged runs send nothing."""
        scales = {"x": self.x_scale, "y": self.y_scale}
        previous, self.overlays = self.overlays, {}
        changed = False
        for key, label, color, history in runs:
            entry = previous.get(key)
            if entry is None or entry.color != color:
                entry = _Overlay(color, scales)
            entry.name(label, self.metric)
            changed = entry.draw(history, self.metric) or changed
            self.overlays[key] = entry
        if list(previous.values()) != list(self.overlays.values()):
            self._place_marks()
            changed = True
        kept = set(map(id, self.overlays.values()))
        for entry in previous.values():  # off the figure now: their widgets would live on in the kernel
            if id(entry) not in kept:
                entry.close()
        self.overlay_legend.value = _overlay_legend(self.overlays.values())
        self.overlay_legend.layout.display = None if self.overlays and self.names_overlays else "none"
        self._show_epochs(self._planned_epochs(None))
        if changed:
            self._fit_y()

    def _place_marks(self):
        """Overlays behind the watched run, the extra marks above it."""
        self.figure.marks = [mark for entry in self.overlays.values() for mark in entry.marks] + list(
            self.marks.values()) + self.extra_marks

    def _planned_epochs(self, history):
        if history is not None:
            self._live_epochs = history.planned_epochs
        spans = [entry.epochs for entry in self.overlays.values()] + [self._live_epochs or 0]
        return max(spans) or None

    def _drawn_marks(self):
        return super()._drawn_marks() + [mark for entry in self.overlays.values() for mark in entry.marks]


class _Overlay:
    """The two lines of one overlaid run, with hoverable points, redrawn only when its history grew.

    An overlaid run that turned to memorising keeps its turn marked on the loss panel (the diamond of
    the watched run's turn, in the run's own place), so a lesson's overfitting run still shows it once
    the runs that cure it are trained: ``turn`` is the detector's finding, or None."""

    def __init__(self, color, scales):
        self.color = color
        self.label = ""
        self.epochs = 0
        self.revision = None
        self.train = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color],
                                  stroke_width=LINE_WIDTH)
        self.validation = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color],
                                       stroke_width=LINE_WIDTH, line_style="dashed")
        self.train_points, self.validation_points = (
            bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color], marker=marker,
                           default_size=MARKER_SIZE // 2, tooltip=_readout(""), tooltip_style=READOUT_STYLE)
            for marker in ("circle", "square"))
        self.turn_point = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[TURN_COLOR],
                                         marker="diamond", default_size=2 * MARKER_SIZE)
        self.turn = None
        self.marks = [self.train, self.validation, self.train_points, self.validation_points, self.turn_point]

    def close(self) -> None:
        """Close its marks and their readouts: a lab overlays the run before each new one, and the
        widgets of every run once overlaid would otherwise stay in the kernel (and the browser)."""
        for mark in self.marks:
            if mark.tooltip is not None:  # a DOM widget: its layout is a widget of its own, not closed with it
                mark.tooltip.layout.close()
                mark.tooltip.close()
            mark.close()

    def name(self, label, metric):
        """The run's name in the legend and the hover readout; sends nothing when it is unchanged."""
        if label == self.label:
            return
        self.label = label
        self.train_points.tooltip.labels = ["epoch", f"train {metric} ({label})"]
        self.validation_points.tooltip.labels = ["epoch", f"validation {metric} ({label})"]

    def draw(self, history, metric):
        revision = history.revision(f"epoch_{metric}")
        if revision == self.revision:
            return False
        self.revision = revision
        self.epochs = max(history.planned_epochs or 0, history.epochs_completed)
        for line, points, series in ((self.train, self.train_points, f"epoch_{metric}"),
                                     (self.validation, self.validation_points, f"val_{metric}")):
            x, y = history.series(series)
            _set_xy(line, x, y)
            _set_xy(points, x, y)
        if metric == "loss":
            self.turn = overfitting.detect(history.epoch)
            _set_xy(self.turn_point, *(([self.turn.x], [self.turn.val_loss]) if self.turn else ([], [])))
        return True


def _turn_note(turn):
    if turn is None:
        return ""
    return f' <span style="color: {TURN_COLOR}; white-space: nowrap">◆ memorising from epoch {turn.epoch}</span>'


def _overlay_legend(overlays):
    items = [
        f'<span style="margin: 0 8px"><svg width="32" height="16" style="vertical-align: middle">'
        f'<line x1="1" y1="5" x2="31" y2="5" stroke="{entry.color}" stroke-width="{LINE_WIDTH}"/>'
        f'<line x1="1" y1="12" x2="31" y2="12" stroke="{entry.color}" stroke-width="{LINE_WIDTH}" '
        f'stroke-dasharray="6 4"/></svg> {escape(entry.label)}{_turn_note(entry.turn)}</span>'
        for entry in overlays
    ]
    if not items:
        return ""
    return ('<div style="font-size: 14px; text-align: center; line-height: 1.5">compared with, on loss and accuracy '
            f'(train solid, validation dashed): {"".join(items)}</div>')


class LossPanel(_MetricPanel):
    """Training and validation loss, on an axis zoomed to the data: after the
    first epoch it fits the losses from epoch 1 on, so the first batches'
    high losses do not flatten the rest of the run into the floor.  "log y"
    shows the loss on a logarithmic axis, where a loss that keeps falling by
    the same factor reads as a straight line."""

    def __init__(self, max_points=MAX_POINTS):
        self.log_y = _tool("log y", "signal", "Show the loss on a logarithmic axis")
        super().__init__("loss", "Loss", bqplot.LinearScale(), LOSS_COLOR, max_points, tools=(self.log_y,))
        self.log_y.observe(self._use_log_y, names="value")
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.turn = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[TURN_COLOR],
                                 stroke_width=LINE_WIDTH, line_style="dashed")
        self.turn_point = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[TURN_COLOR],
                                         marker="diamond", default_size=3 * MARKER_SIZE)
        self.extra_marks = [*self.extra_marks, self.turn, self.turn_point]
        self.figure.marks = list(self.figure.marks) + [self.turn, self.turn_point]
        self.notice = widgets.HTML("", layout=widgets.Layout(display="none"))
        self.widget.children = (*self.widget.children, self.notice)
        self.overfitting = None  # the detector's finding on the watched run, or None
        self._checked = None
        self._turn_drawn = ()

    def update(self, history):
        """Draw as any panel, and say whether the run has turned to memorising its training images."""
        super().update(history)
        revision = history.revision("val_loss")
        if revision != self._checked:
            self._checked = revision
            self._show_overfitting(overfitting.detect(history.epoch))

    def _use_log_y(self, change):
        """Every mark, the overlays' too, moves to the new scale; the range is fitted again for it.

        The axis is a new one, given its scale and range before the figure shows it: bqplot's axis view
        keeps the mapping of the scale it was drawn with (seen: log ticks placed on the linear axis)."""
        old = self.y_axis
        self.y_scale = bqplot.LogScale() if change["new"] else bqplot.LinearScale()
        self.y_axis = y_axis(scale=self.y_scale, label=f"{self.metric} (log scale)" if change["new"] else self.metric,
                             tick_format=old.tick_format, tick_style=TICK_STYLE, label_offset=Y_LABEL_OFFSET,
                             num_ticks=0)
        self._y_range = None
        self._fit_y()
        marks = list(self.marks.values()) + self.extra_marks + [m for e in self.overlays.values() for m in e.marks]
        for mark in marks:
            mark.scales = {**mark.scales, "y": self.y_scale}
        self.figure.axes = [self.x_axis, self.y_axis]
        old.close()

    def _show_overfitting(self, finding):
        """A dashed line and a diamond at the turning point, and the detector's words under the plot."""
        if finding == self.overfitting:
            return
        self.overfitting = finding
        if finding is None:
            _set_xy(self.turn_point, [], [])
            self.notice.layout.display = "none"
        else:
            _set_xy(self.turn_point, [finding.x], [finding.val_loss])
            self.notice.value = (f'<div style="font-size: 15px; color: {TURN_COLOR}; text-align: center; '
                                 f'padding: 2px 8px">⚠ {escape(finding.message)}</div>')
            self.notice.layout.display = None
        self._draw_turn()

    def _draw_turn(self):
        line = () if self.overfitting is None or self._y_range is None else (self.overfitting.x, self._y_range)
        if line != self._turn_drawn:
            self._turn_drawn = line
            _set_xy(self.turn, [line[0]] * 2 if line else [], list(line[1]) if line else [])

    def _fit_y(self):
        x, y = self._drawn_points()
        if self.log_y.value:
            y = y[y > 0]
        elif len(x) and x.max() > 1:
            y = y[x > 1]  # the second epoch has begun: fit what came after the first
        if not len(y):
            return
        low, high = y.min(), y.max()
        self._set_y_range(*(_log_range(low, high) if self.log_y.value else _linear_range(low, high)))
        self._draw_turn()


class AccuracyPanel(_MetricPanel):
    """Accuracy on a fixed 0–1 axis, so chance level and progress read at a glance."""

    def __init__(self, max_points=MAX_POINTS):
        super().__init__("accuracy", "Accuracy", bqplot.LinearScale(min=0.0, max=1.0), ACCURACY_COLOR, max_points,
                         names_overlays=False, y_tick_format=".1f")
        _set_ticks(self.y_axis, np.linspace(0, 1, 6))


class LearningRatePanel(_CurvePanel):
    """The schedule's plan (dashed) and the learning rate actually used.

    The y axis is logarithmic, as schedules multiply the rate, with its
    bounds on whole decades padded around the data: a constant rate sits
    mid-plot, and the bounds rarely change.
    """

    def __init__(self, max_points=MAX_POINTS):
        curves = [
            Curve("planned", "planned (schedule)", line={"line_style": "dashed", "stroke_width": LINE_WIDTH,
                                                         "opacities": [0.8]}),
            Curve("batch_lr", "actual, each batch", line={"stroke_width": LINE_WIDTH}),
            Curve("epoch_lr", "actual, per epoch", points="circle"),
        ]
        super().__init__("Learning rate", "learning rate (log scale)", bqplot.LogScale(), LR_COLOR, curves,
                         max_points, y_tick_format=".0e")
        self.planned = self.marks["planned"]
        self._plan = ()

    def preview(self, values):
        """Draw the planned learning rate of each epoch, e.g. from
        ``schedule.preview(epochs, lr0)``; drawn as steps, since a rate holds
        for its whole epoch.  Redrawing the same plan sends nothing."""
        values = tuple(float(v) for v in values)
        if values == self._plan:
            return
        self._plan = values
        x = np.repeat(np.arange(len(values) + 1), 2)[1:-1]
        _set_xy(self.planned, x, np.repeat(values, 2))
        self._show_epochs(len(values) or None)
        self._fit_y()

    def _planned_epochs(self, history):
        return history.planned_epochs or len(self._plan) or None

    def _fit_y(self):
        _, values = self._drawn_points()
        values = values[values > 0]
        if not len(values):
            return
        low = math.floor(math.log10(values.min() / 1.5))
        high = math.ceil(math.log10(values.max() * 1.5))
        self._set_y_range(10.0 ** low, 10.0 ** high, np.array([10.0 ** k for k in range(low, high + 1)]))


def _caption(snapshot, mode, extent):
    kh, kw, channels, count = snapshot.kernel.shape
    head = f"{snapshot.layer}: {count} filters of {kh}×{kw}"
    if mode == "rgb":
        return f"{head}, 3 input channels shown as colour, each filter stretched to its own range"
    colours = f"red = positive weight, white = 0, blue = negative (±{extent:.2g})"
    if mode == "diverging":
        return f"{head}, 1 input channel; {colours}"
    return f"{head}; the mean of its {channels} input channels is shown; {colours}"


class FilterPanel:
    """The first Conv2D layer's kernels as one mosaic, with a replay scrubber.

    Fed by ``update(history)`` from ``history.filters``.  While a run is live
    the scrubber follows the newest snapshot, unless the learner has moved it
    back; moving it to the end follows again.  ``state`` is "waiting" (no
    snapshot yet), "filters", or "no_conv2d": a run that trains batches
    without sending snapshots, or ``set_conv2d(False)`` before any snapshot.
    """

    def __init__(self):
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        # Not continuous: a continuous slider echoes its old value back to the kernel whenever its range
        # grows, which would read as the learner scrubbing back and stop the mosaic following the run.
        self.slider = widgets.IntSlider(value=0, min=0, max=0, description="replay", readout=False, disabled=True,
                                        continuous_update=False, layout=widgets.Layout(width="340px", max_width="65%"))
        self.position = widgets.Label("", layout=widgets.Layout(min_width="11em"))
        self.caption = widgets.HTML("")
        self.message = widgets.HTML(text_html(WAITING_MESSAGE, italic=True))
        scrubber = widgets.HBox([self.slider, self.position],
                                layout=widgets.Layout(width="100%", justify_content="center", align_items="center"))
        self.filters_box = widgets.VBox([self.image, scrubber, self.caption],
                                        layout=widgets.Layout(display="none", align_items="center", width="100%"))
        self.widget = widgets.VBox([title("First-layer filters"), self.message, self.filters_box],
                                   layout=widgets.Layout(min_height=FIGURE_LAYOUT["height"], min_width="300px"))
        self.widget.add_class("convlab-filters")
        self.state = "waiting"
        self._conv2d = None
        self._history = None
        self._generation = None
        self._count = 0
        self._shown = None
        self._cache = {}
        self.slider.observe(self._scrubbed, names="value")

    def set_conv2d(self, present):
        """Whether the model about to train has a Conv2D, so that the panel
        says so before the run rather than waiting for snapshots."""
        self._conv2d = present
        self._show_state()

    def update(self, history):
        """Show new snapshots of ``history``; nothing is sent if there are none."""
        new_run = history.generation != self._generation
        self._history, self._generation = history, history.generation  # the latest copy of the record
        if new_run:
            self._cache.clear()
            self._count = 0
            with self.slider.hold_sync():
                self.slider.value = 0
                self.slider.max = 0
        count = len(history.filters)
        if count != self._count:
            follow = self._count == 0 or self.slider.value == self.slider.max
            self._count = count
            with self.slider.hold_sync():
                self.slider.max = count - 1
                self.slider.disabled = count < 2
                if follow:
                    self.slider.value = count - 1
            self._draw(self.slider.value)
        self._show_state()

    def _show_state(self):
        history = self._history
        if self._count:
            state = "filters"
        elif self._conv2d is False or (history is not None and history.batch["epoch"]):
            state = "no_conv2d"
        else:
            state = "waiting"
        if state == self.state:
            return
        self.state = state
        self.filters_box.layout.display = "flex" if state == "filters" else "none"
        self.message.layout.display = "none" if state == "filters" else None
        if state != "filters":
            self.message.value = text_html(NO_CONV2D_MESSAGE if state == "no_conv2d" else WAITING_MESSAGE, italic=True)

    def _scrubbed(self, change):
        self._draw(change["new"])

    def _draw(self, index):
        if (self._generation, index) == self._shown or index >= self._count:
            return
        self._shown = (self._generation, index)
        if index not in self._cache:
            snapshot = self._history.filters[index]
            pixels, mode, extent = filter_mosaic(snapshot.kernel)
            self._cache[index] = (encode_png(pixels), _label(self._history, snapshot),
                                  text_html(_caption(snapshot, mode, extent)))
        png, label, caption = self._cache[index]
        self.image.value = png
        self.position.value = label
        self.caption.value = caption


def _label(history, snapshot):
    """How learners count: "init", "after epoch 3", or a mid-epoch position."""
    position = history.filter_position(snapshot)
    if position == 0:
        return "init (random filters)"
    if position.is_integer():
        return f"after epoch {int(position)}"
    return f"epoch {snapshot.epoch + 1}, batch {snapshot.batch}"
