"""The bqplot panels: bounded, change-only traffic; the filter mosaic and its scrubber."""

import struct
import warnings
import zlib

import bqplot
import ipywidgets as widgets
import numpy as np
import pytest

from convlab_widgets.dashboard import AccuracyPanel, FilterPanel, LearningRatePanel, LossPanel
from convlab_widgets.dashboard.imaging import BLUE, GAP, GAP_COLOR, RED, encode_png, filter_mosaic
from convlab_widgets.dashboard.panels import NO_CONV2D_MESSAGE, WAITING_MESSAGE, _log_range
from convlab_widgets.training.history import RunHistory

from .test_training_history import batch, epoch_end, event, filters, real_run, started  # noqa: F401 (fixture)


class Traffic:
    """Counts changes of synced traits on every widget under a panel: each is
    a message to the browser when a kernel is connected."""

    def __init__(self, root):
        self.changes = []
        self.widgets = []
        self._watch(root)

    def _watch(self, value):
        if isinstance(value, widgets.Widget):
            if any(value is seen for seen in self.widgets):
                return
            self.widgets.append(value)
            value.observe(lambda change: self.changes.append((change["owner"], change["name"])),
                          names=list(value.keys))
            for key in value.keys:
                self._watch(getattr(value, key))
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._watch(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._watch(item)

    def take(self):
        changes, self.changes = self.changes, []
        return changes


def history_with(epochs=2, steps=4, snapshots=True):
    history = RunHistory()
    history.apply(started(epochs, steps))
    if snapshots:
        history.apply(filters(0, 0))
    for epoch in range(epochs):
        for step in range(steps):
            history.apply(batch(epoch, step, steps, loss=2.0 / (1 + epoch * steps + step), lr=1e-3 * 0.5 ** epoch))
        history.apply(epoch_end(epoch, lr=1e-3 * 0.5 ** epoch))
        if snapshots:
            history.apply(filters(epoch, steps))
    return history


def all_panels():
    return [LossPanel(), AccuracyPanel(), LearningRatePanel(), FilterPanel()]


def test_panels_send_nothing_when_nothing_changed():
    history = history_with()
    for panel in all_panels():
        traffic = Traffic(panel.widget)
        panel.update(history)
        assert traffic.take()
        panel.update(history)
        panel.update(history)
        assert traffic.take() == [], type(panel).__name__


def test_a_new_batch_redraws_only_the_batch_lines_shown():
    history = history_with()
    panel = LossPanel()
    panel.update(history)
    traffic = Traffic(panel.widget)
    history.apply(batch(2, 0, 4, loss=0.3))
    panel.update(history)
    changed = traffic.take()
    assert {mark for mark, _ in changed} == {panel.marks["batch_loss_smooth"]}  # the raw curve is hidden
    assert sorted(name for _, name in changed) == ["x", "y"]
    panel.batches.value = True
    history.apply(batch(2, 1, 4, loss=0.3))
    traffic.take()
    panel.update(history)
    assert {mark for mark, _ in traffic.take()} == {panel.marks["batch_loss"], panel.marks["batch_loss_smooth"]}


def test_a_20000_step_run_never_draws_more_than_3000_points_per_line():
    history = RunHistory()
    history.apply(started(20, 1000))
    panels = all_panels()[:3]
    longest = 0
    for i in range(20_000):
        history.apply(batch(i // 1000, i % 1000, 1000, loss=1 + np.sin(i)))
        if i % 1000 == 999:
            history.apply(epoch_end(i // 1000))
        if i % 500 == 499:  # a redraw every ~50 events at 10 events/s would be far fewer; this is the worst case
            for panel in panels:
                panel.update(history)
                longest = max(longest, *(len(mark.x) for mark in panel.marks.values()))
    assert len(history.batch["loss"]) == 20_000
    assert longest == 3000
    assert panels[0].marks["batch_loss_smooth"].x.dtype == np.float32


def test_lines_follow_the_house_style_and_the_axes_are_labelled():
    loss, accuracy = LossPanel(), AccuracyPanel()
    for panel, label in ((loss, "loss"), (accuracy, "accuracy")):
        assert (panel.x_axis.label, panel.y_axis.label) == ("epoch", label)
        metric = label
        assert panel.marks[f"val_{metric}"].line_style == "dashed"
        assert panel.marks[f"batch_{metric}_smooth"].line_style == "solid"
        assert panel.marks[f"batch_{metric}"].opacities[0] < 1
        assert len({tuple(m.colors) for m in panel.marks.values()}) == 1  # one colour per metric family
        assert panel.figure.layout.height == "240px" and int(panel.x_axis.tick_style["font-size"][:-2]) >= 14
        assert int(panel.y_axis.tick_style["font-size"][:-2]) >= 14
        assert all(mark.stroke_width >= 2 for mark in panel.marks.values() if isinstance(mark, bqplot.Lines))
        legend = panel.legend.value
        assert legend.count("stroke-dasharray") == 1 and "validation" in legend and "train" in legend
    assert (accuracy.y_scale.min, accuracy.y_scale.max) == (0.0, 1.0)
    assert loss.marks["batch_loss"].colors != accuracy.marks["batch_accuracy"].colors


def test_a_run_is_two_lines_until_each_batch_is_asked_for():
    panel = LossPanel()
    panel.update(history_with())
    shown = [mark for mark in panel.marks.values() if mark.visible and isinstance(mark, bqplot.Lines)]
    assert shown == [panel.marks["batch_loss_smooth"], panel.marks["val_loss"]]
    assert len(panel.marks["batch_loss"].x) == 0  # a hidden curve is not even sent
    assert "each batch" not in panel.legend.value
    panel.batches.value = True
    assert panel.marks["batch_loss"].visible and len(panel.marks["batch_loss"].x) == 8
    assert panel.marks["epoch_loss"].visible and panel.marks["epoch_loss"].x.tolist() == [1.0, 2.0]
    assert "each batch" in panel.legend.value and "train, per epoch" in panel.legend.value
    panel.batches.value = False
    assert not panel.marks["batch_loss"].visible and "each batch" not in panel.legend.value


def test_hovering_a_point_reads_out_its_epoch_value_and_run():
    panel = LossPanel()
    panel.use_run("#123456", "run 3")
    points = panel.marks["val_loss_points"]
    assert isinstance(points, bqplot.Scatter) and list(points.tooltip.fields) == ["x", "y"]
    assert list(points.tooltip.labels) == ["epoch", "validation loss (run 3)"]
    assert list(panel.marks["epoch_loss"].tooltip.labels) == ["epoch", "train, per epoch loss (run 3)"]
    panel.update(history_with())
    assert points.x.tolist() == panel.marks["val_loss"].x.tolist() == [1.0, 2.0]
    panel.overlay([("other", "run 1", "#1f77b4", history_with())])
    (entry,) = panel.overlays.values()
    assert list(entry.validation_points.tooltip.labels) == ["epoch", "validation loss (run 1)"]
    assert entry.train_points.y.tolist() == pytest.approx(entry.train.y.tolist())


def test_a_chart_can_be_enlarged_across_the_notebook_and_back():
    for panel in (LossPanel(), AccuracyPanel(), LearningRatePanel()):
        panel.enlarge.value = True  # the browser's click
        assert panel.widget.layout.grid_column == "1 / -1" and panel.figure.layout.height == "520px"
        assert panel.enlarge.description == "shrink"
        panel.enlarge.value = False
        assert panel.widget.layout.grid_column is None and panel.figure.layout.height == "240px"
        assert panel.enlarge.description == "enlarge"


def test_an_empty_chart_has_no_crowded_default_ticks():
    panel = LossPanel()
    assert panel.y_axis.num_ticks == 0 and panel.x_axis.num_ticks == 0  # bqplot draws no ticks at all
    history = RunHistory()
    history.apply(started(3, 4))
    panel.update(history)
    assert panel.x_axis.num_ticks is None and panel.x_axis.tick_values.tolist() == [0, 1, 2, 3]
    assert panel.y_axis.num_ticks == 0  # no loss yet
    history.apply(batch(0, 0, 4, loss=2.3))
    panel.update(history)
    assert panel.y_axis.num_ticks is None and len(panel.y_axis.tick_values) >= 2
    assert LearningRatePanel().y_axis.num_ticks == 0 and AccuracyPanel().y_axis.num_ticks is None


def test_a_loss_beyond_float32_is_drawn_without_a_warning():
    history = RunHistory()
    history.apply(started(1, 3))
    for step, loss in enumerate((2.0, 1e39, 1.0)):
        history.apply(batch(0, step, 3, loss=loss))
    panel = LossPanel()
    panel.batches.value = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        panel.update(history)
    assert np.isinf(panel.marks["batch_loss"].y[1]) and np.isfinite(panel.y_scale.max)


def test_the_epoch_axis_spans_the_planned_run_from_the_start():
    panel = LossPanel()
    history = RunHistory()
    history.apply(started(7, 10))
    panel.update(history)
    assert (panel.x_scale.min, panel.x_scale.max) == (0.0, 7.0)
    assert panel.x_axis.tick_values.tolist() == list(range(8))  # whole epochs, not 0.5s
    history.apply(started(40, 10))
    panel.update(history)
    assert panel.x_axis.tick_values.tolist() == list(range(0, 41, 5))


def test_the_loss_axis_zooms_to_the_data_after_the_first_epoch():
    panel = LossPanel()
    history = RunHistory()
    history.apply(started(3, 4))
    for step, loss in enumerate((2.3, 1.9, 1.6, 1.5)):
        history.apply(batch(0, step, 4, loss=loss))
    panel.update(history)  # within the first epoch: all of it
    drawn = panel.marks["batch_loss_smooth"].y
    assert 0 < panel.y_scale.min <= drawn.min() and panel.y_scale.max >= drawn.max() > 2.0
    history.apply(epoch_end(0, loss=1.8, val_loss=0.42))
    for step in range(4):
        history.apply(batch(1, step, 4, loss=0.40 - 0.01 * step))
    history.apply(epoch_end(1, loss=0.38, val_loss=0.36))
    traffic = Traffic(panel.widget)
    panel.update(history)
    assert (panel.y_scale, "max") in traffic.take()
    # the first epoch's 2.3 is no longer on the axis, which starts near what came after, not at 0
    after = [mark.y[mark.x > 1] for mark in (panel.marks["batch_loss_smooth"], panel.marks["val_loss"])]
    low, high = min(y.min() for y in after), max(y.max() for y in after)
    assert high < panel.y_scale.max < 2.0 and 0 < panel.y_scale.min <= low
    ticks = panel.y_axis.tick_values.tolist()
    assert ticks[0] == panel.y_scale.min and ticks[-1] == panel.y_scale.max and 4 <= len(ticks) <= 7


@pytest.mark.parametrize("low, high, expected", [
    (0.17, 2.6, [0.1, 0.2, 0.5, 1, 2, 5]), (0.2, 2.0, [0.2, 0.5, 1, 2]), (0.3, 0.4, [0.2, 0.5]),
    (1e-4, 3.0, [1e-4, 1e-3, 1e-2, 1e-1, 1, 10]),
])
def test_a_log_axis_ends_on_1_2_5_ticks_around_the_data(low, high, expected):
    bottom, top, ticks = _log_range(low, high)
    assert ticks.tolist() == pytest.approx(expected) and (bottom, top) == pytest.approx((expected[0], expected[-1]))


def test_the_loss_axis_can_be_logarithmic():
    panel = LossPanel()
    history = history_with()  # losses from 2.0 down to 0.25
    panel.overlay([("other", "run 1", "#1f77b4", history_with())])
    panel.update(history)
    panel.log_y.value = True
    assert isinstance(panel.y_scale, bqplot.LogScale) and panel.y_axis.scale is panel.y_scale
    marks = list(panel.marks.values()) + panel.extra_marks + panel.overlays["other"].marks
    assert all(mark.scales["y"] is panel.y_scale for mark in marks)
    assert (panel.y_scale.min, panel.y_scale.max) == (0.2, 2.0) and panel.y_axis.label == "loss (log scale)"
    assert panel.y_axis.tick_values.tolist() == pytest.approx([0.2, 0.5, 1, 2])
    panel.log_y.value = False
    assert isinstance(panel.y_scale, bqplot.LinearScale) and panel.y_axis.label == "loss"
    assert all(mark.scales["y"] is panel.y_scale for mark in marks)


def test_a_run_without_accuracy_or_validation_draws_only_the_loss():
    history = RunHistory()
    history.apply(started(1, 2))
    for step in range(2):
        history.apply(batch(0, step, 2, accuracy=None))
    history.apply(epoch_end(0, accuracy=None, val_loss=None, val_accuracy=None))
    loss, accuracy = LossPanel(), AccuracyPanel()
    loss.batches.value = accuracy.batches.value = True
    loss.update(history)
    accuracy.update(history)
    assert all(len(mark.x) == 0 for mark in accuracy.marks.values())
    assert len(loss.marks["epoch_loss"].x) == 1 and len(loss.marks["val_loss"].x) == 0


def test_the_learning_rate_preview_is_a_dashed_staircase_on_a_log_axis():
    panel = LearningRatePanel()
    traffic = Traffic(panel.widget)
    panel.preview([1e-2, 5e-3, 2.5e-3])
    assert panel.planned.line_style == "dashed"
    assert panel.planned.x.tolist() == [0, 1, 1, 2, 2, 3]
    assert np.allclose(panel.planned.y, [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3])
    assert panel.x_scale.max == 3.0 and "log" in panel.y_axis.label
    assert panel.y_scale.min == 1e-3 and panel.y_scale.max == 1e-1  # whole decades around the data
    assert panel.y_axis.tick_values.tolist() == [1e-3, 1e-2, 1e-1]
    traffic.take()
    panel.preview((0.01, 0.005, 0.0025))
    assert traffic.take() == []  # the same plan again: nothing sent
    panel.preview([1e-2] * 3)
    assert panel.planned.y.tolist() == pytest.approx([1e-2] * 6)


def test_the_actual_learning_rate_is_drawn_per_batch_and_per_epoch():
    panel = LearningRatePanel()
    history = history_with(epochs=2, steps=4)
    panel.update(history)
    assert len(panel.marks["batch_lr"].x) == 8
    assert panel.marks["epoch_lr"].x.tolist() == [1.0, 2.0]
    assert np.allclose(panel.marks["epoch_lr"].y, [1e-3, 5e-4])
    assert panel.y_scale.min == 1e-4 and panel.y_scale.max == 1e-2


# Filter mosaic ---------------------------------------------------------------


def decode_png(data):
    """Just enough PNG to check what encode_png wrote (8-bit RGB, filter 0)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        tag, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(tag + body)
        chunks[tag] = chunks.get(tag, b"") + body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, 1 + 3 * width)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(height, width, 3)


@pytest.mark.parametrize("count, size, scale, grid", [
    (16, 3, 8, (6, 3)), (32, 3, 4, (8, 4)), (6, 5, 2, (4, 2)), (1, 3, 10, (1, 1)),
])
def test_the_mosaic_has_a_cell_per_filter_with_visible_gaps(count, size, scale, grid):
    kernel = np.random.default_rng(0).normal(size=(size, size, 1, count))
    pixels, mode, _ = filter_mosaic(kernel, scale=scale)
    cols, rows = grid
    cell = size * scale
    assert pixels.shape == (rows * (cell + GAP) + GAP, cols * (cell + GAP) + GAP, 3) and mode == "diverging"
    assert (pixels[:GAP] == GAP_COLOR).all() and (pixels[:, GAP + cell:2 * GAP + cell] == GAP_COLOR).all()
    assert np.array_equal(decode_png(encode_png(pixels)), pixels)


def test_the_default_scale_makes_a_3x3_kernel_clearly_visible():
    pixels, _, _ = filter_mosaic(np.ones((3, 3, 1, 32)))
    assert pixels.shape[0] >= 100 and pixels.shape[1] <= 640 and pixels.shape[0] <= 200


def test_the_diverging_map_is_white_at_zero_red_positive_blue_negative():
    kernel = np.zeros((1, 1, 1, 3))
    kernel[0, 0, 0] = [0.0, 2.0, -2.0]
    pixels, mode, extent = filter_mosaic(kernel, scale=1)
    assert mode == "diverging" and extent == 2.0
    first, second, third = (GAP + k * (1 + GAP) for k in range(3))  # left edges of the 1×1 cells
    assert pixels[GAP, first].tolist() == [255, 255, 255]
    assert pixels[GAP, second].tolist() == RED.tolist() and pixels[GAP, third].tolist() == BLUE.tolist()
    half = filter_mosaic(kernel * [1, 0.5, 1], scale=1)[0][GAP, second]
    assert (half > RED).all() and (half < 255).all()  # halfway to white


def test_rgb_kernels_are_shown_in_true_colour_each_filter_normalised():
    kernel = np.zeros((2, 2, 3, 2))
    kernel[..., 0, 0] = 1.0  # a red filter
    kernel[..., 2, 1] = 100.0  # a blue filter, much larger weights
    kernel[1, 1, :, 1] = 100.0  # with one white pixel
    pixels, mode, extent = filter_mosaic(kernel, scale=1)
    assert mode == "rgb" and extent is None
    second = GAP + 2 + GAP  # left edge of the second 2×2 cell
    assert pixels[GAP, GAP].tolist() == [255, 0, 0]
    assert pixels[GAP, second].tolist() == [0, 0, 255] and pixels[GAP + 1, second + 1].tolist() == [255, 255, 255]
    panel = FilterPanel()
    history = RunHistory()
    history.apply(event("filters", epoch=0, batch=0, layer="conv2d", kernel=kernel))
    panel.update(history)
    assert "3 input channels shown as colour" in panel.caption.value


def test_other_channel_counts_show_the_channel_mean_and_say_so():
    kernel = np.zeros((3, 3, 16, 4))
    kernel[..., :8, 0] = 1.0
    kernel[..., 8:, 0] = -1.0  # averages to zero: white
    pixels, mode, _ = filter_mosaic(kernel, scale=1)
    assert mode == "mean" and pixels[GAP, GAP].tolist() == [255, 255, 255]
    panel = FilterPanel()
    history = RunHistory()
    history.apply(started(1, 1))
    history.apply(event("filters", epoch=0, batch=0, layer="conv2d_1", kernel=kernel))
    panel.update(history)
    assert "mean of its 16 input channels" in panel.caption.value


def test_without_a_conv2d_the_panel_says_so():
    panel = FilterPanel()
    assert panel.state == "waiting" and WAITING_MESSAGE in panel.message.value
    panel.set_conv2d(False)
    assert panel.state == "no_conv2d" and NO_CONV2D_MESSAGE in panel.message.value
    assert panel.filters_box.layout.display == "none"
    panel.set_conv2d(True)
    assert panel.state == "waiting"
    panel.update(history_with(snapshots=False))  # batches trained and no snapshot came
    assert panel.state == "no_conv2d" and "add one" in panel.message.value
    panel.update(history_with())
    assert panel.state == "filters" and panel.message.layout.display == "none"
    assert panel.filters_box.layout.display == "flex"


def test_the_scrubber_follows_the_newest_snapshot_until_moved_back():
    history = RunHistory()
    history.apply(started(5, 10))
    history.apply(filters(0, 0))
    panel = FilterPanel()
    panel.update(history)
    assert (panel.slider.max, panel.slider.value, panel.slider.disabled) == (0, 0, True)
    assert panel.position.value == "init (random filters)" and panel.image.value[:4] == b"\x89PNG"
    rng = np.random.default_rng(1)
    for epoch in range(2):
        history.apply(event("filters", epoch=epoch, batch=10, layer="conv2d", kernel=rng.normal(size=(3, 3, 1, 4))))
        panel.update(history)
    assert (panel.slider.max, panel.slider.value, panel.position.value) == (2, 2, "after epoch 2")
    newest = panel.image.value

    panel.slider.value = 0  # the learner replays the start
    assert panel.position.value == "init (random filters)" and panel.image.value != newest
    history.apply(filters(2, 5))
    panel.update(history)
    assert (panel.slider.max, panel.slider.value) == (3, 0)  # not yanked forward
    panel.slider.value = 3
    assert panel.position.value == "epoch 3, batch 5"
    history.apply(filters(2, 10))
    panel.update(history)
    assert (panel.slider.value, panel.position.value) == (4, "after epoch 3")  # following again


def test_a_new_run_resets_the_scrubber():
    panel = FilterPanel()
    panel.update(history_with(epochs=3))
    assert panel.slider.value == 3
    fresh = RunHistory()
    fresh.apply(started(2, 4))
    fresh.apply(filters(0, 0))
    panel.update(fresh)
    assert (panel.slider.max, panel.slider.value, panel.position.value) == (0, 0, "init (random filters)")


def test_a_real_run_fills_every_panel(real_run):
    run, history = real_run
    panels = all_panels()
    panels[2].preview(run.schedule.preview(2, run.config["learning_rate"]))
    for panel in panels:
        panel.update(history)
    assert len(panels[0].marks["val_loss"].x) == 2 and len(panels[1].marks["val_accuracy_points"].x) == 2
    assert len(panels[2].marks["batch_lr"].x) > 0 and len(panels[2].planned.x) == 4
    assert panels[3].state == "filters" and panels[3].slider.max == 2
    assert "16 filters of 3×3, 1 input channel" in panels[3].caption.value


def test_the_panels_never_grow_wider_than_a_narrow_output():
    from convlab_widgets.dashboard.dashboard import Dashboard

    grid = Dashboard().children[1]
    assert grid.layout.grid_template_columns == "repeat(auto-fit, minmax(min(360px, 100%), 1fr))"
    assert LossPanel().tools.layout.flex_flow == "row wrap"  # the chart's buttons wrap rather than overflow


def test_escape_in_the_browser_puts_an_enlarged_chart_back():
    from convlab_widgets.dashboard.dashboard import Dashboard

    dashboard = Dashboard()
    dashboard.accuracy.enlarge.value = True
    dashboard.monitor._on_message(dashboard.monitor, {"escape": 1}, [])  # what monitor.js sends on Escape
    assert not dashboard.accuracy.enlarge.value and dashboard.accuracy.figure.layout.height == "240px"


def test_the_batch_curve_says_it_has_a_point_per_host_call(real_run):
    """Keras trains several batches per host call (steps_per_execution): the batch curve, one point per call,
    says so on its toggle, for the run watched."""
    from convlab_widgets.dashboard.dashboard import Dashboard

    panel = LossPanel()
    assert panel.batches.description == "each batch"
    panel.use_resolution(8)
    assert panel.batches.description == "each 8 batches" and "mean of 8 batches" in panel.batches.tooltip
    panel.batches.value = True
    assert "each 8 batches" in panel.legend.value  # the legend names the curve as the toggle does
    panel.use_resolution(1)
    assert panel.batches.description == "each batch" and "every batch's value" in panel.batches.tooltip
    run, _ = real_run
    per_call = run.config["steps_per_execution"]
    dashboard = Dashboard()
    dashboard.show_run(run)
    words = "each batch" if per_call == 1 else f"each {per_call} batches"
    assert dashboard.loss.batches.description == dashboard.accuracy.batches.description == words


def test_an_overlay_taken_off_closes_its_widgets(live_widgets):
    """A lab overlays the run before each new one: the marks of the run no longer overlaid are
    closed (gone from the kernel's widget registry), not left behind run after run."""
    panel = LossPanel()
    panel.overlay([("first", "run 1", "#1f77b4", history_with())])
    first = panel.overlays["first"]
    tooltips = [first.train_points.tooltip, first.validation_points.tooltip]
    owned = [*first.marks, *tooltips, *(tooltip.layout for tooltip in tooltips)]  # a tooltip's layout is a widget too
    assert all(widget.model_id in live_widgets for widget in owned)
    panel.overlay([("first", "run 1", "#1f77b4", history_with())])  # unchanged: kept
    assert panel.overlays["first"] is first and all(widget.model_id in live_widgets for widget in owned)
    panel.overlay([("second", "run 2", "#ff7f0e", history_with())])
    assert all(widget.comm is None for widget in owned)
    assert not any(mark in panel.figure.marks for mark in first.marks)
    panel.overlay([("second", "run 2", "#d62728", history_with())])  # another colour: drawn anew
    second = panel.overlays["second"]
    assert all(mark.comm is not None for mark in second.marks) and len(panel.figure.marks) == len(
        panel.marks) + len(panel.extra_marks) + len(second.marks)
