"""The dashboard's panels: bqplot figures that draw a :class:`RunHistory`.

Every assignment to a widget trait is a message to the browser, and the
dashboard redraws all panels up to five times a second, in Colab too.  So
``update(history)`` compares the history's revisions with what the panel last
drew and assigns nothing when they match; lines never exceed ``max_points``
points and travel as float32, half the bytes of float64 for no visible loss.

One colour per metric family; training is solid, validation dashed; the raw
batch curve is faint behind its smoothed version.  Fonts are larger than
bqplot's defaults because these plots are often projected in a classroom.
Panels are used from the main thread only.
"""

from __future__ import annotations

import math

import bqplot
import ipywidgets as widgets
import numpy as np

from ..compare import overfitting
from ..html import escape
from ..training.history import MAX_POINTS, SERIES
from .imaging import encode_png, filter_mosaic
from .style import (FIGURE_LAYOUT, FIGURE_MARGIN, MARKER_SIZE, TICK_STYLE, TITLE_STYLE, Y_LABEL_OFFSET, text_html, title,
                    y_axis)

LOSS_COLOR = "#d95f02"
ACCURACY_COLOR = "#1b9e77"
LR_COLOR = "#7570b3"
TURN_COLOR = "#b2182b"  # the overfitting mark: a warning, in no run's colour

NO_CONV2D_MESSAGE = "No Conv2D layer in this model: add one to watch its filters form."
WAITING_MESSAGE = "The filters of the first Conv2D layer appear here when training starts."


def _legend(color, curves):
    """A legend row under the plot.  bqplot's own legend sits inside the
    plot area, where it hides the curves once its text is large enough to
    read from the back of a classroom."""
    return widgets.HTML(_legend_html(color, curves))


def _legend_html(color, curves):
    items = []
    for _, label, mark, style in curves:
        opacity = style.get("opacities", [1.0])[0]
        sample = ""
        if mark is bqplot.Lines:
            dash = ' stroke-dasharray="6 4"' if style.get("line_style") == "dashed" else ""
            width = style.get("stroke_width", 2)
            sample += f'<line x1="1" y1="8" x2="31" y2="8" stroke="{color}" stroke-width="{width}"{dash}/>'
        if style.get("marker") == "circle":
            sample += f'<circle cx="16" cy="8" r="4.5" fill="{color}"/>'
        elif style.get("marker") == "square":
            sample += f'<rect x="12" y="4" width="8" height="8" fill="{color}"/>'
        items.append(f'<span style="margin: 0 8px; white-space: nowrap"><svg width="32" height="16" '
                     f'style="vertical-align: middle; opacity: {opacity}">{sample}</svg> {label}</span>')
    return f'<div style="font-size: 14px; text-align: center; line-height: 1.5">{"".join(items)}</div>'


def _nice_step(raw):
    """The smallest 1, 2 or 5 times a power of ten that is at least ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw * (1 - 1e-9))


class _CurvePanel:
    """Curves against the epoch axis, with a legend row under the figure.

    ``curves`` lists ``(key, legend label, mark class, style)``; a key that
    names a ``RunHistory`` series is drawn from the history, any other key
    is a mark the subclass feeds itself.  Tick positions are set explicitly:
    bqplot's ``num_ticks`` spaces ticks evenly over the padded domain, at
    values like 2.38, and d3's defaults crowd a 240-px axis at 14 px.
    """

    def __init__(self, title, y_label, y_scale, color, curves, max_points, y_tick_format="~g"):
        self.max_points = max_points
        self.x_scale = bqplot.LinearScale(min=0.0)
        self.y_scale = y_scale
        scales = {"x": self.x_scale, "y": y_scale}
        self.marks = {key: mark(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color], **style)
                      for key, _, mark, style in curves}
        self.recorded = [key for key in self.marks if key in SERIES]
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="epoch", tick_format="~g", tick_style=TICK_STYLE)
        self.y_axis = y_axis(scale=y_scale, label=y_label, tick_format=y_tick_format,
                             tick_style=TICK_STYLE, label_offset=Y_LABEL_OFFSET)
        self.figure = bqplot.Figure(
            marks=list(self.marks.values()), axes=[self.x_axis, self.y_axis], title=title, title_style=TITLE_STYLE,
            fig_margin=FIGURE_MARGIN, layout=widgets.Layout(**FIGURE_LAYOUT),
        )
        self.color, self._curves = color, curves
        self.legend = _legend(color, curves)
        self.widget = widgets.VBox([self.figure, self.legend], layout=widgets.Layout(min_width="300px"))
        self._drawn = {}
        self._epochs = None
        self._y_range = None

    def update(self, history):
        """Draw what changed in ``history`` since the last call; nothing if nothing did."""
        self._show_epochs(self._planned_epochs(history))
        changed = False
        for key in self.recorded:
            revision = history.revision(key)
            if self._drawn.get(key) != revision:
                _set_xy(self.marks[key], *history.series(key, self.max_points))
                self._drawn[key] = revision
                changed = True
        if changed:
            self._fit_y()

    def _planned_epochs(self, history):
        return history.planned_epochs

    def _show_epochs(self, epochs):
        """The x axis spans the planned run from the start, so learners see
        how far through it they are, with ticks on whole epochs."""
        if epochs == self._epochs:
            return
        self._epochs = epochs
        self.x_scale.max = float(epochs) if epochs else None
        self.x_axis.tick_values = np.arange(0, epochs + 1, max(1, int(_nice_step(epochs / 8)))) if epochs else None

    def _drawn_values(self):
        values = np.concatenate([np.asarray(mark.y, dtype=float) for mark in self.marks.values()])
        return values[np.isfinite(values)]

    def _fit_y(self):
        """Fixed y axes need nothing; see the subclasses."""

    def _set_y_range(self, low, high, ticks):
        """Only when the range moves: it changes rarely, so the axis does not jitter."""
        if (low, high) == self._y_range:
            return
        self._y_range = (low, high)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = low, high
        self.y_axis.tick_values = ticks


def _set_xy(mark, x, y):
    with mark.hold_sync():
        mark.x = np.asarray(x, dtype=np.float32)
        mark.y = np.asarray(y, dtype=np.float32)


def _metric_curves(metric):
    return [
        (f"batch_{metric}", "each batch", bqplot.Lines, {"opacities": [0.35], "stroke_width": 1.5}),
        (f"batch_{metric}_smooth", "train (smoothed)", bqplot.Lines, {"stroke_width": 2.5}),
        (f"epoch_{metric}", "train, per epoch", bqplot.Lines,
         {"marker": "circle", "marker_size": MARKER_SIZE, "stroke_width": 1.5}),
        (f"val_{metric}", "validation", bqplot.Lines,
         {"marker": "square", "marker_size": MARKER_SIZE, "stroke_width": 2, "line_style": "dashed"}),
    ]


class _MetricPanel(_CurvePanel):
    """A metric of the run being watched, in full, with other runs overlaid.

    An overlaid run is drawn per epoch only, in its own colour (train solid,
    validation dashed): batch curves of several runs on one axis are noise.
    It sits behind the watched run, drawn in that run's colour (``use_color``).
    """

    def __init__(self, metric, title, y_scale, color, max_points, **kwargs):
        super().__init__(title, metric, y_scale, color, _metric_curves(metric), max_points, **kwargs)
        self.metric = metric
        self.overlays = {}  # run key -> _Overlay
        self.extra_marks = []  # drawn above everything, e.g. the overfitting mark
        self.overlay_legend = widgets.HTML("", layout=widgets.Layout(display="none"))
        self.widget.children = (*self.widget.children, self.overlay_legend)
        self._live_epochs = None

    def use_color(self, color):
        """Draw the watched run in its own colour, the one it has in the runs table and overlays."""
        if color == self.color:
            return
        self.color = color
        for mark in self.marks.values():
            mark.colors = [color]
        self.legend.value = _legend_html(color, self._curves)

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
            entry.label = label
            changed = entry.draw(history, self.metric) or changed
            self.overlays[key] = entry
        if list(previous.values()) != list(self.overlays.values()):
            self.figure.marks = [mark for entry in self.overlays.values() for mark in entry.marks] + list(
                self.marks.values()) + self.extra_marks
            changed = True
        self.overlay_legend.value = _overlay_legend(self.overlays.values())
        self.overlay_legend.layout.display = None if self.overlays else "none"
        self._show_epochs(self._planned_epochs(None))
        if changed:
            self._fit_y()

    def _planned_epochs(self, history):
        if history is not None:
            self._live_epochs = history.planned_epochs
        spans = [entry.epochs for entry in self.overlays.values()] + [self._live_epochs or 0]
        return max(spans) or None

    def _drawn_values(self):
        marks = list(self.marks.values()) + [mark for entry in self.overlays.values() for mark in entry.marks]
        values = np.concatenate([np.asarray(mark.y, dtype=float) for mark in marks])
        return values[np.isfinite(values)]


class _Overlay:
    """The two lines of one overlaid run, redrawn only when its history grew."""

    def __init__(self, color, scales):
        self.color = color
        self.label = ""
        self.epochs = 0
        self.revision = None
        self.train = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color], stroke_width=2,
                                  marker="circle", marker_size=MARKER_SIZE // 2)
        self.validation = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[color], stroke_width=2,
                                       line_style="dashed", marker="square", marker_size=MARKER_SIZE // 2)
        self.marks = [self.train, self.validation]

    def draw(self, history, metric):
        revision = history.revision(f"epoch_{metric}")
        if revision == self.revision:
            return False
        self.revision = revision
        self.epochs = max(history.planned_epochs or 0, history.epochs_completed)
        _set_xy(self.train, *history.series(f"epoch_{metric}"))
        _set_xy(self.validation, *history.series(f"val_{metric}"))
        return True


def _overlay_legend(overlays):
    items = [
        f'<span style="margin: 0 8px"><svg width="32" height="16" style="vertical-align: middle">'
        f'<line x1="1" y1="5" x2="31" y2="5" stroke="{entry.color}" stroke-width="2.5"/>'
        f'<line x1="1" y1="12" x2="31" y2="12" stroke="{entry.color}" stroke-width="2.5" stroke-dasharray="6 4"/>'
        f'</svg> {escape(entry.label)}</span>'
        for entry in overlays
    ]
    if not items:
        return ""
    return ('<div style="font-size: 14px; text-align: center; line-height: 1.5">compared with (train solid, '
            f'validation dashed): {"".join(items)}</div>')


class LossPanel(_MetricPanel):
    """Training loss per batch and per epoch, validation loss per epoch, from 0
    up to a round number above the highest loss drawn."""

    def __init__(self, max_points=MAX_POINTS):
        super().__init__("loss", "Loss", bqplot.LinearScale(min=0.0), LOSS_COLOR, max_points)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.turn = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[TURN_COLOR], stroke_width=2,
                                 line_style="dashed")
        self.turn_point = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[TURN_COLOR],
                                         marker="diamond", default_size=3 * MARKER_SIZE)
        self.extra_marks = [self.turn, self.turn_point]
        self.figure.marks = list(self.figure.marks) + self.extra_marks
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
        values = self._drawn_values()
        top = values.max() if len(values) else 0.0
        if top <= 0:
            return
        step = _nice_step(top / 5)
        high = math.ceil(top / step * (1 - 1e-9)) * step
        self._set_y_range(0.0, high, np.round(np.arange(0, high + step / 2, step), 12))
        self._draw_turn()


class AccuracyPanel(_MetricPanel):
    """Accuracy on a fixed 0–1 axis, so chance level and progress read at a glance."""

    def __init__(self, max_points=MAX_POINTS):
        super().__init__("accuracy", "Accuracy", bqplot.LinearScale(min=0.0, max=1.0), ACCURACY_COLOR, max_points,
                         y_tick_format=".1f")
        self.y_axis.tick_values = np.linspace(0, 1, 6)


class LearningRatePanel(_CurvePanel):
    """The schedule's plan (dashed) and the learning rate actually used.

    The y axis is logarithmic, as schedules multiply the rate, with its
    bounds on whole decades padded around the data: a constant rate sits
    mid-plot, and the bounds rarely change.
    """

    def __init__(self, max_points=MAX_POINTS):
        curves = [
            ("planned", "planned (schedule)", bqplot.Lines, {"line_style": "dashed", "stroke_width": 2,
                                                             "opacities": [0.8]}),
            ("batch_lr", "actual, each batch", bqplot.Lines, {"stroke_width": 2}),
            ("epoch_lr", "actual, per epoch", bqplot.Scatter, {"marker": "circle", "default_size": MARKER_SIZE}),
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
        values = self._drawn_values()
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
