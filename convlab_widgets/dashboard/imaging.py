"""Images without widgets: filter mosaics, images for display, PNG bytes.

Pure numpy (and zlib): the panels show these, and so can anything that needs
a picture of a run without a browser.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib

import numpy as np

CELL_PX = 64  # about how large an image of the predictions grid, or a feature map, is drawn
MOSAIC_BOX = (640, 200)  # px the mosaic is sized to fit, shown at natural size so the browser never blurs it
MAX_CELL = 64  # px per filter at most, so a single filter is not a giant block
GAP = 3  # px between filters: thin gaps vanish and the mosaic reads as one big kernel
GAP_COLOR = (90, 90, 90)  # not white: white means a zero weight
WHITE = np.array([255.0, 255.0, 255.0])
RED = np.array([178.0, 24.0, 43.0])  # positive weights
BLUE = np.array([33.0, 102.0, 172.0])  # negative weights


def diverging(values, extent):
    """RGB uint8 for ``values`` in ``[-extent, extent]``: blue, white at exactly 0, red."""
    t = np.clip(np.asarray(values, dtype=float) / extent, -1.0, 1.0) if extent > 0 else np.zeros(np.shape(values))
    rgb = WHITE + np.clip(t, 0, None)[..., None] * (RED - WHITE) + np.clip(-t, 0, None)[..., None] * (BLUE - WHITE)
    return np.rint(rgb).astype(np.uint8)


def filter_mosaic(kernel, scale=None):
    """All filters of a Conv2D kernel ``(kh, kw, in_channels, filters)`` as one image.

    Returns ``(pixels, mode, extent)``: ``pixels`` is uint8 ``(height, width,
    3)``, each filter a ``kh*scale`` × ``kw*scale`` cell (nearest-neighbour,
    so 3×3 weights read as 9 squares) with ``GAP``-px gaps and border; ``mode`` is
    "diverging" (one input channel), "rgb" (three: the filter is a colour
    patch, each stretched to its own range) or "mean" (other counts: the mean
    over input channels, on the diverging map).  All cells share one diverging
    scale ``±extent``, so filters can be compared with each other.
    """
    kernel = np.asarray(kernel, dtype=float)
    kh, kw, channels, count = kernel.shape
    if channels == 3:
        mode, extent = "rgb", None
        flat = kernel.reshape(-1, count)
        low, span = flat.min(axis=0), np.ptp(flat, axis=0)
        normalised = (kernel - low) / np.where(span > 0, span, 1.0)
        normalised[..., span == 0] = 0.5
        cells = np.rint(np.moveaxis(normalised, 3, 0) * 255).astype(np.uint8)
    else:
        mode = "diverging" if channels == 1 else "mean"
        weights = kernel.mean(axis=2)
        extent = float(np.abs(weights).max())
        cells = diverging(np.moveaxis(weights, 2, 0), extent)
    cols = min(count, math.ceil(math.sqrt(2 * count)))  # wider than tall, like the panels beside it
    rows = math.ceil(count / cols)
    if scale is None:
        box_w, box_h = MOSAIC_BOX
        scale = max(1, min((box_w - (cols + 1) * GAP) // (cols * kw), (box_h - (rows + 1) * GAP) // (rows * kh),
                           MAX_CELL // max(kh, kw)))
    cell_h, cell_w = kh * scale, kw * scale
    pixels = np.empty((rows * (cell_h + GAP) + GAP, cols * (cell_w + GAP) + GAP, 3), dtype=np.uint8)
    pixels[:] = GAP_COLOR
    for index, cell in enumerate(cells):
        row, col = divmod(index, cols)
        top, left = GAP + row * (cell_h + GAP), GAP + col * (cell_w + GAP)
        pixels[top:top + cell_h, left:left + cell_w] = cell.repeat(scale, axis=0).repeat(scale, axis=1)
    return pixels, mode, extent


def encode_png(pixels):
    """PNG bytes of an RGB uint8 image, with zlib alone (no Pillow dependency)."""
    height, width, _ = pixels.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # filter byte 0: rows stored as they are
    rows[:, 1:] = pixels.reshape(height, -1)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def pixels_for_display(image, size=CELL_PX):
    """uint8 RGB of a [0, 1] image at about ``size`` px.  Small images grow
    by whole pixels (nearest-neighbour: 8×8 digits must stay crisp, not
    blur), large ones shrink by striding, so a page of photos stays light."""
    rgb = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    longest = max(rgb.shape[:2])
    if longest > size:
        step = -(-longest // size)
        return rgb[::step, ::step]
    factor = size // longest
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1)


HOT_ALPHA = 0.65  # how much of a pixel the heatmap covers where it is strongest


def with_heatmap(image, heatmap):
    """``image`` ([0, 1], H×W×C, grey or RGB) with a Grad-CAM ``heatmap`` (H×W in [0, 1]) laid over it:
    dark red where it is weak, yellow where it is strongest, the image showing through, so that both
    the object and where the network looked stay readable.  RGB in [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)[..., None]
    hot = np.concatenate([np.ones_like(heat), heat, np.zeros_like(heat)], axis=2)  # red → yellow
    alpha = HOT_ALPHA * heat
    return rgb * (1 - alpha) + hot * alpha


def data_uri(pixels):
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels)).decode("ascii")
