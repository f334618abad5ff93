"""Still images of the panels, drawn in the kernel with Pillow: no browser, no screenshot.

The static twin of a lab (:mod:`convlab_widgets.twin`) shows them where no
kernel runs.  They are drawn from the runs' own per-epoch histories — the
numbers the live panels plot — in the runs' own colours: the run watched in
full (training solid, validation with dots), overlaid runs thinner.  Small on
purpose: a PNG of a few tens of kilobytes that a notebook can carry.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..colors import DEFAULT_COLOR
from .imaging import filter_mosaic

WIDTH, HEIGHT = 400, 250  # one chart; a projector reads the live panels, a report reads these
MARGIN = (58, 34, 16, 36)  # left, top, right, bottom: room for tick labels and the title
INK, GRID, MUTED = (29, 35, 43), (225, 229, 234), (90, 98, 110)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font
    except TypeError:  # older Pillow: its one bitmap font
        return ImageFont.load_default()


def _rgb(color: str) -> tuple:
    color = color.lstrip("#")
    return tuple(int(color[i:i + 2], 16) for i in (0, 2, 4)) if len(color) == 6 else INK


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 × 10^k apart) spanning [low, high]."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _log_ticks(low: float, high: float) -> list[float]:
    """Values 1, 2 or 5 × 10^k between 10^low and 10^high (log10 units in and out), as the live loss panel
    labels its log axis; round linear values when the span holds fewer than two of them."""
    found = [math.log10(m * 10.0 ** k) for k in range(math.floor(low), math.ceil(high) + 1) for m in (1, 2, 5)
             if low <= math.log10(m * 10.0 ** k) <= high]
    if len(found) > 6:
        found = [t for t in found if abs(t - round(t)) < 1e-9] or found[::3]
    if len(found) >= 2:
        return found
    return [math.log10(v) for v in _ticks(10 ** low, 10 ** high, 4) if v > 0]


def _label(value: float) -> str:
    return f"{value:.0e}" if value and (abs(value) < 1e-3 or abs(value) >= 1e4) else f"{value:.4g}"


def chart(title: str, lines: list[dict], log_y: bool = False) -> Image.Image:
    """One chart.  ``lines``: dicts of ``x`` (epochs from 1), ``y``, ``color`` ("#rrggbb"), ``dots``
    (validation: dots on the line) and ``width``.  Missing or non-finite values leave gaps."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = MARGIN
    draw.text((left, 8), title, fill=INK, font=_font(15))
    values = [(x, y) for line in lines for x, y in zip(line["x"], line["y"])
              if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    if not values:
        draw.text((left, HEIGHT // 2), "no epochs yet", fill=MUTED, font=_font(13))
        return image
    xs, ys = zip(*values)
    x_low, x_high = 1, max(max(xs), 2)
    scale = math.log10 if log_y else float
    y_low, y_high = scale(min(ys)), scale(max(ys))
    pad = (y_high - y_low) * 0.08 or abs(y_high) * 0.1 or 0.1
    y_low, y_high = y_low - pad, y_high + pad
    width, height = WIDTH - left - right, HEIGHT - top - bottom

    def at(x, y):
        return (left + (x - x_low) / (x_high - x_low) * width, top + (1 - (scale(y) - y_low) / (y_high - y_low)) * height)

    small = _font(12)
    for tick in (_log_ticks if log_y else _ticks)(y_low, y_high):
        y = top + (1 - (tick - y_low) / (y_high - y_low)) * height
        draw.line([(left, y), (left + width, y)], fill=GRID)
        text = _label(10 ** tick if log_y else tick)
        draw.text((left - 6 - draw.textlength(text, font=small), y - 7), text, fill=MUTED, font=small)
    for tick in _ticks(x_low, x_high, 6):
        if tick == int(tick):
            x = left + (tick - x_low) / (x_high - x_low) * width
            draw.text((x - 4, top + height + 4), str(int(tick)), fill=MUTED, font=small)
    draw.text((left + width - 40, HEIGHT - 16), "epoch", fill=MUTED, font=small)
    draw.rectangle([left, top, left + width, top + height], outline=(190, 196, 204))
    for line in lines:
        color, stroke = _rgb(line["color"]), line.get("width", 3)
        points = []
        for x, y in zip(line["x"], line["y"]):
            if y is None or not math.isfinite(y) or (log_y and y <= 0):
                points = _flush(draw, points, color, stroke)
                continue
            points.append(at(x, y))
        _flush(draw, points, color, stroke)
        if line.get("dots"):
            for x, y in zip(line["x"], line["y"]):
                if y is not None and math.isfinite(y) and (y > 0 or not log_y):
                    cx, cy = at(x, y)
                    draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill="white", outline=color, width=2)
    return image


def _flush(draw, points, color, stroke):
    if len(points) > 1:
        draw.line(points, fill=color, width=stroke, joint="curve")
    elif points:
        x, y = points[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
    return []


def panels(watched, overlaid=()) -> list[Image.Image]:
    """Charts of the loss, accuracy and learning rate of ``watched`` (and the loss and accuracy of
    ``overlaid`` runs), one image each so that a narrow page wraps them.

    Runs are anything with ``history`` (per-epoch columns as ``run.history``) and ``color``."""

    def color(run):
        return getattr(run, "color", None) or DEFAULT_COLOR

    def lines(key, run, main):
        history = run.history
        x = [epoch + 1 for epoch in history.get("epoch", [])]
        train = {"x": x, "y": history.get(key) or [], "color": color(run), "width": 3 if main else 2}
        val = {"x": x, "y": history.get(f"val_{key}") or [], "color": color(run), "dots": main, "width": 3 if main else 1}
        return [train, val]

    runs = [*overlaid, watched]
    return [
        chart("Loss: training (line), validation (dots)", [line for run in runs for line in lines("loss", run, run is watched)],
              log_y=True),
        chart("Accuracy", [line for run in runs for line in lines("accuracy", run, run is watched)]),
        chart("Learning rate", [{"x": [e + 1 for e in watched.history.get("epoch", [])],
                                 "y": watched.history.get("lr") or [], "color": color(watched)}], log_y=True),
    ]


def filters(kernel) -> Image.Image:
    """The first-layer filters as the live mosaic draws them (one shared diverging scale, or RGB patches)."""
    pixels, _mode, _extent = filter_mosaic(np.asarray(kernel))
    return Image.fromarray(pixels, "RGB")
