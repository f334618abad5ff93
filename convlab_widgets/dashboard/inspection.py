"""Looking inside a trained network: its predictions, its confusions, its feature maps.

As in the MNIST codelab, learners judge a classifier by its mistakes: the
predictions grid shows validation images with what the model called them,
mistakes first, and the confusion matrix counts which classes it mixes up.
Both draw the run's ``PredictionSnapshot`` events, so they follow a live run
at epoch ends.  The activation maps run a finished model on one image to
show what each filter of a layer responds to, and where that layer looked
(Grad-CAM, ``training/attention.py``); the grid's "where it looked" toggle lays
the same heatmap over each image, once the run has ended.

Main thread only, like the panels.  Images travel as inline PNGs in one HTML
value, one message per update, and every widget sends nothing when what it
would draw has not changed.
"""

from __future__ import annotations


import bqplot
import ipywidgets as widgets
import numpy as np

from ..html import escape
from ..training.attention import GradCam, convolution_layers, feature_layers
from .imaging import CELL_PX, data_uri, encode_png, filter_mosaic, pixels_for_display, with_heatmap
from .style import FIGURE_MARGIN, TICK_STYLE, Y_LABEL_OFFSET, text_html, title, title_html, y_axis

PAGE_SIZE = 12  # images in the predictions grid at first, and how many more "show more" adds
PICKED_PX = 96  # about how large the image under the activation maps is drawn
MAX_MAPS = 64  # feature maps shown at most: more would shrink each to a few pixels
WRONG_COLOR = "#c62828"
RIGHT_COLOR = "#444444"
CONFUSION_COLORS = ["white", "#3182bd"]  # black counts stay readable on the darkest cell

LOOKED_TIP = ("Lay over each image where the network looked for the class it predicted (Grad-CAM of its last "
              "convolution): on a mistake, did it look at the object or at the background?")
LOOKED_WAITING = "Where the network looked is shown once the run has ended (Grad-CAM reads a finished model)."
LOOKED_NO_CONV = "This model has no convolutional layer, so there is no map of where it looked."
WAITING_PREDICTIONS = "Validation images with the model's predictions appear here after the first epoch."
NO_DATA_PREDICTIONS = "These predictions cannot be shown: the grid has no dataset (call set_data with the run's data)."
CONFUSION_TITLE = "Confusion matrix (validation)"
CONFUSION_MARGIN = {**FIGURE_MARGIN, "top": 12}  # its title is above the figure
WAITING_CONFUSION = "The confusion matrix appears here after the first epoch."
WAITING_ACTIVATIONS = ("Activation maps are available when a run has ended: pick a validation image and a layer "
                       "to see what each of its filters responds to.")
NO_FEATURE_LAYERS = ("This model has no convolutional or pooling layer, so there are no feature maps to look at: "
                     "add a Conv2D layer to see some.")
NO_VALIDATION = ("This dataset has no validation images to look at: load it with validation_split > 0 "
                 "(e.g. datasets.load(name, validation_split=0.2)).")


def mistakes_first(snapshot):
    """Positions in ``snapshot`` in the grid's order: mistakes, the most
    confident first (the most surprising), then right answers, the least
    confident first (the close calls)."""
    correct = snapshot.correct
    key = np.where(correct, snapshot.confidence, -snapshot.confidence)
    return np.lexsort((key, correct))


class PredictionsGrid:
    """A page of validation images with the latest predictions under them.

    ``set_data(bundle)`` gives the dataset the snapshots' indices point
    into (images and class names); ``update(history)`` draws the newest
    ``history.predictions`` snapshot once.  The grid starts with one page
    (``page_size`` images, the most telling mistakes first) so it does not
    push the rest of the dashboard a screen down; "show more" adds a page.
    """

    def __init__(self, page_size=PAGE_SIZE):
        self.page_size = page_size
        self.shown = page_size  # images drawn; the learner's "show more" raises it
        self.body = widgets.HTML(text_html(WAITING_PREDICTIONS, italic=True))
        self.more = widgets.Button(description="show more",
                                   layout=widgets.Layout(display="none", align_self="center", width="auto"))
        self.more.on_click(self._show_more)
        self.looked = widgets.ToggleButton(value=False, description="where it looked", icon="eye", disabled=True,
                                           tooltip=LOOKED_WAITING, layout=widgets.Layout(width="auto"))
        self.looked.observe(lambda _change: self.update(self._history) if self._history else None, names="value")
        self.widget = widgets.VBox([title("Predictions"), widgets.HBox([self.looked], layout=widgets.Layout(
            justify_content="center")), self.body, self.more], layout=widgets.Layout(min_width="300px"))
        self._data = None
        self._model = None  # the finished model "where it looked" reads, or None
        self._cam = None  # its GradCam, once the toggle was on
        self._cells = {}  # validation index -> data URI: the images do not change between epochs
        self._looked_cells = {}  # validation index -> data URI of the image with its heatmap, for self._cam
        self._drawn = None
        self._history = None
        self._reason = ""

    def set_data(self, data, reason: str = ""):
        """The run's dataset, or None with the ``reason`` there will be no predictions to show."""
        self._reason = reason
        if data is not self._data:
            self._data = data
            self._cells.clear()

    def set_model(self, model) -> None:
        """The finished model whose heatmaps "where it looked" lays over the images; None while a run
        trains (or when there is none).  Its Grad-CAM is built the first time the toggle is on."""
        if model is self._model:
            return
        self._model, self._cam, self._looked_cells = model, None, {}
        usable = model is not None and bool(convolution_layers(model))
        tip = LOOKED_TIP if usable else LOOKED_WAITING if model is None else LOOKED_NO_CONV
        with self.looked.hold_sync():
            self.looked.disabled, self.looked.tooltip = not usable, tip
            if not usable:
                self.looked.value = False

    def update(self, history):
        """Draw the newest snapshot if it is not the one on show; send nothing otherwise."""
        snapshots = history.predictions
        looking = self.looked.value and self._model is not None
        revision = (history.generation, len(snapshots), id(self._data), self._reason, self.shown,
                    id(self._model) if looking else None)
        if revision == self._drawn:
            return
        self._drawn, self._history = revision, history
        hidden = 0
        if not snapshots:
            self.body.value = text_html(escape(self._reason) or WAITING_PREDICTIONS, italic=True)
        elif self._data is None:
            self.body.value = text_html(NO_DATA_PREDICTIONS, italic=True)
        else:
            self.body.value = self._page(snapshots[-1])
            hidden = len(snapshots[-1].labels) - self.shown
        self._offer_more(hidden)

    def _offer_more(self, hidden):
        """The button names how many images one click adds, and is gone when none are left."""
        if hidden > 0:
            self.more.description = f"show {min(hidden, self.page_size)} more (of {hidden} not shown)"
        self.more.layout.display = None if hidden > 0 else "none"

    def _show_more(self, _button):
        self.shown += self.page_size
        self.update(self._history)

    def _page(self, snapshot):
        names = self._data.class_names
        page = mistakes_first(snapshot)[:self.shown]
        indices = snapshot.indices[page]
        missing = [int(i) for i in indices if int(i) not in self._cells]
        if missing:
            images, _ = self._data.validation_images(missing)
            self._cells.update((i, data_uri(pixels_for_display(image))) for i, image in zip(missing, images))
        looking = self.looked.value and self._model is not None
        cells_of = self._looked(indices) if looking else self._cells
        cells = []
        for position, index in zip(page, indices):
            true, predicted = names[snapshot.labels[position]], names[snapshot.predicted[position]]
            wrong = not snapshot.correct[position]
            label = f"{predicted} ({true})" if wrong else predicted
            sure = snapshot.confidence[position]
            tip = f"validation image {index}: predicted {predicted} ({sure:.0%} sure), true class {true}"
            border = f"outline: 3px solid {WRONG_COLOR}; " if wrong else ""
            colour = WRONG_COLOR if wrong else RIGHT_COLOR
            cells.append(
                f'<div style="text-align: center; min-width: 0" title="{escape(tip)}">'
                f'<img src="{cells_of[int(index)]}" style="{border}image-rendering: pixelated">'
                f'<div style="font-size: 15px; color: {colour}; overflow-wrap: anywhere">{escape(label)}</div>'
                '</div>'
            )
        looked = (f"; in red to yellow, where the network looked ({escape(self._cam.layer)}, Grad-CAM of the "
                  "final model's prediction)") if looking else ""
        return text_html(self._header(snapshot, len(page)) + looked) + (
            f'<div style="display: grid; grid-template-columns: repeat(auto-fill, minmax({CELL_PX + 16}px, 1fr)); '
            f'gap: 8px 4px; padding: 4px 8px">{"".join(cells)}</div>'
        )

    def _looked(self, indices):
        """Data URIs of the images at ``indices`` with their heatmaps, computed once per image."""
        if self._cam is None:
            self._cam = GradCam(self._model, where="where it looked")
        missing = [int(i) for i in indices if int(i) not in self._looked_cells]
        if missing:
            images, _ = self._data.validation_images(missing)
            heatmaps, _ = self._cam(images)
            self._looked_cells.update((i, data_uri(pixels_for_display(with_heatmap(image, heat))))
                                      for i, image, heat in zip(missing, images, heatmaps))
        return self._looked_cells

    def _header(self, snapshot, shown):
        total = len(snapshot.labels)
        right = int(snapshot.correct.sum())
        head = f"<b>epoch {snapshot.epoch + 1}: {right}/{total} right ({100 * right / total:.1f} %)</b>"
        size = self._data.validation_size
        if total < size:
            head += f" on a sample of {total} of the {size} validation images"
        wrong = total - right
        if not wrong:
            return f"{head}: no mistakes"
        mistakes = f"the {wrong} mistake{'s' if wrong > 1 else ''} first" if wrong <= shown else \
            f"{shown} of the {wrong} mistakes"
        return f"{head}; {mistakes}, in red: predicted (true class)"


class ConfusionMatrix:
    """Counts of (true class, predicted class) for the newest snapshot, as a
    bqplot grid heat map: the diagonal holds the right answers, and a dark
    cell off it is a pair of classes the model mixes up."""

    def __init__(self):
        self.column_scale = bqplot.OrdinalScale()
        self.row_scale = bqplot.OrdinalScale(reverse=True)  # class 0 at the top, as a matrix is read
        self.color_scale = bqplot.ColorScale(colors=CONFUSION_COLORS, min=0.0)
        self.mark = bqplot.GridHeatMap(
            row=np.array(["0", "1"]), column=np.array(["0", "1"]), color=np.zeros((2, 2)),  # until the first snapshot
            scales={"row": self.row_scale, "column": self.column_scale, "color": self.color_scale},
            display_format="d", font_style={"font-size": "16px", "fill": "black"}, stroke="#cccccc",
        )
        self.x_axis = bqplot.Axis(scale=self.column_scale, label="predicted", tick_style=TICK_STYLE,
                                  grid_lines="none")
        self.y_axis = y_axis(scale=self.row_scale, label="true", tick_style=TICK_STYLE,
                            grid_lines="none", label_offset=Y_LABEL_OFFSET)
        self.figure = bqplot.Figure(
            marks=[self.mark], axes=[self.x_axis, self.y_axis], fig_margin=dict(CONFUSION_MARGIN),
            layout=widgets.Layout(width="100%", height="420px"),
        )
        # The title is HTML above the figure, not bqplot's: an SVG title does not wrap, and
        # "Confusion matrix (validation, epoch 12)" is cut off in a narrow panel.
        self.heading = title(CONFUSION_TITLE)
        self.message = widgets.HTML(text_html(WAITING_CONFUSION, italic=True))
        # Hidden but laid out: a bqplot figure first drawn inside a display-none box never
        # learns its size, and stays invisible when the box is shown.  Until then the box is
        # 0 px tall, so the waiting panel leaves no 420-px hole in the dashboard.
        self.figure_box = widgets.VBox([self.figure], layout=widgets.Layout(
            visibility="hidden", width="100%", height="0px", overflow="hidden"))
        self.widget = widgets.VBox([self.heading, self.message, self.figure_box],
                                   layout=widgets.Layout(min_width="300px"))
        self._names = None
        self._drawn = None

    def set_data(self, data, reason: str = ""):
        """Class names (tick labels) and the number of rows, from a ``DataBundle``; or None with
        the ``reason`` there will be no matrix to show."""
        self._names = list(data.class_names) if data is not None else None
        self.message.value = text_html(escape(reason) or WAITING_CONFUSION, italic=True)

    def update(self, history):
        snapshots = history.predictions
        revision = (history.generation, len(snapshots), tuple(self._names or ()))
        if revision == self._drawn:
            return
        self._drawn = revision
        if not snapshots:
            self._show_figure(False)
            self.message.layout.display = None
            return
        snapshot = snapshots[-1]
        names = self._names or [str(c) for c in range(int(max(snapshot.labels.max(), snapshot.predicted.max())) + 1)]
        labels = np.array(names)
        with self.mark.hold_sync():  # the colours first: bqplot checks the rows against them
            self.mark.color = snapshot.confusion(len(names))
            if self.mark.row.tolist() != names:
                self.mark.row, self.mark.column = labels, labels
                self._fit_margins(names)
        self.heading.value = title_html(f"{CONFUSION_TITLE[:-1]}, epoch {snapshot.epoch + 1})")
        self.message.layout.display = "none"
        self._show_figure(True)

    def _show_figure(self, shown):
        with self.figure_box.layout.hold_sync():
            self.figure_box.layout.visibility = "visible" if shown else "hidden"
            self.figure_box.layout.height = None if shown else "0px"

    def _fit_margins(self, names):
        """Room for the class names: slanted under the matrix when longer than a digit or two."""
        longest = max(len(name) for name in names)
        slanted = longest > 3
        self.x_axis.tick_rotate = -40 if slanted else 0
        self.x_axis.label_offset = f"{5 * longest + 30}px" if slanted else None
        self.figure.fig_margin = {**CONFUSION_MARGIN, "left": max(FIGURE_MARGIN["left"], 9 * longest + 44),
                                  "bottom": 6 * longest + 48 if slanted else FIGURE_MARGIN["bottom"]}


class ActivationMaps:
    """The feature maps of one layer of a finished model for one validation image.

    ``set_model(model, data)`` after a run; ``set_model(None)`` while one
    trains, since the weights keep changing and the training thread owns the
    model.  The sub-model that stops at a layer is built once per layer.
    """

    def __init__(self):
        self.image_index = widgets.IntSlider(value=0, min=0, max=0, description="validation image",
                                             continuous_update=False, style={"description_width": "initial"},
                                             layout=widgets.Layout(width="360px", max_width="100%"))
        self.layer = widgets.Dropdown(options=[], description="layer", layout=widgets.Layout(width="260px"))
        self.picked = widgets.Image(format="png")
        self.picked_label = widgets.HTML("")
        self.looked = widgets.Image(format="png")  # the picked image with the layer's Grad-CAM heatmap over it
        self.looked_label = widgets.HTML("")
        self.maps = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.caption = widgets.HTML("")
        self.message = widgets.HTML(text_html(WAITING_ACTIVATIONS, italic=True))
        # At most as wide as the panel: the slider narrows in a 330-px column instead of running out of it.
        choose = widgets.VBox([self.image_index, self.layer], layout=widgets.Layout(max_width="100%"))
        picker = widgets.HBox(
            [choose, widgets.VBox([self.picked, self.picked_label], layout=widgets.Layout(align_items="center")),
             widgets.VBox([self.looked, self.looked_label], layout=widgets.Layout(align_items="center"))],
            layout=widgets.Layout(justify_content="center", align_items="center", flex_flow="row wrap",
                                  max_width="100%"))
        self.maps_box = widgets.VBox([picker, self.maps, self.caption],
                                     layout=widgets.Layout(display="none", align_items="center", width="100%"))
        self.widget = widgets.VBox([title("Activation maps"), self.message, self.maps_box],
                                   layout=widgets.Layout(min_width="300px"))
        self._model = None
        self._data = None
        self._layers = {}
        self._submodels = {}
        self._cams = {}  # layer label -> GradCam
        self._shown = None
        self._configuring = False
        self.image_index.observe(self._picked, names="value")
        self.layer.observe(self._picked, names="value")

    def set_model(self, model, data=None, reason: str = ""):
        """Look inside ``model`` (a Keras model) with ``data``'s validation
        images; None shows the waiting message, or the ``reason`` there will be none."""
        if model is self._model and data is self._data and not reason:
            return
        self._model, self._data, self._layers, self._submodels, self._shown = model, data, {}, {}, None
        self._cams = {}
        if reason:
            self._say(escape(reason))
            return
        if model is None:
            self._say(WAITING_ACTIVATIONS)
            return
        layers = feature_layers(model)
        if not layers:
            self._say(NO_FEATURE_LAYERS)
        elif data is None or not data.validation_size:
            self._say(NO_VALIDATION)
        else:
            self._show(layers)

    def _show(self, layers):
        self._layers = dict(layers)
        self._configuring = True
        try:
            self.image_index.max = self._data.validation_size - 1
            kept = self.layer.value if self.layer.value in self._layers else layers[0][0]
            self.layer.options = list(self._layers)
            self.layer.value = kept
        finally:
            self._configuring = False
        self._draw()

    def _say(self, message):
        self.message.value = text_html(message, italic=True)
        self.message.layout.display = None
        self.maps_box.layout.display = "none"

    def _picked(self, change):
        if not self._configuring and self._layers:
            self._draw()

    def _draw(self):
        index, label = self.image_index.value, self.layer.value
        if (index, label) == self._shown:
            return
        self._shown = (index, label)
        images, labels = self._data.validation_images([index])
        true = self._data.class_names[labels[0]]
        picked = pixels_for_display(images[0], PICKED_PX)
        with self.picked.hold_sync():  # at its own size, or the flex layout stretches it
            self.picked.value = encode_png(picked)
            self.picked.width, self.picked.height = str(picked.shape[1]), str(picked.shape[0])
        self.picked_label.value = text_html(f"true class: {escape(true)}")
        self._draw_looked(label, images)
        maps = self._activations(label, images)
        height, width, count = maps.shape
        head = (f"{label}: {count} feature maps of {height}×{width} for validation image {index} "
                f"(true: {escape(true)})")
        if not np.isfinite(maps).all():
            self.maps.layout.display = "none"
            self.caption.value = text_html(f"{head} are not finite numbers: training diverged. Train again with a "
                                       "lower learning rate to look inside.")
        else:
            shown = maps[..., :MAX_MAPS]
            pixels, _, extent = filter_mosaic(shown[:, :, None, :], scale=max(1, CELL_PX // max(height, width)))
            self.maps.value = encode_png(pixels)
            self.maps.layout.display = None
            first = f"; the first {MAX_MAPS} are shown" if count > MAX_MAPS else ""
            colours = (f"red = positive, white = 0, blue = negative (±{extent:.2g})" if shown.min() < 0
                       else f"white = 0, red = strong response (up to {extent:.2g})")
            self.caption.value = text_html(f"{head}{first}; {colours}, one scale for all maps")
        self.message.layout.display = "none"
        self.maps_box.layout.display = "flex"

    def _draw_looked(self, label, images):
        """The picked image with where ``label`` looked for the class the model predicts (Grad-CAM)."""
        if label not in self._cams:
            self._cams[label] = GradCam(self._model, label, where="activation maps")
        heatmaps, predicted = self._cams[label](images)
        if not np.isfinite(heatmaps).all():
            self.looked.layout.display, self.looked_label.value = "none", ""
            return
        looked = pixels_for_display(with_heatmap(images[0], heatmaps[0]), PICKED_PX)
        with self.looked.hold_sync():
            self.looked.value = encode_png(looked)
            self.looked.width, self.looked.height = str(looked.shape[1]), str(looked.shape[0])
        self.looked.layout.display = None
        name = self._data.class_names[int(predicted[0])]
        self.looked_label.value = text_html(f"where {escape(label)} looked for {escape(name)}")

    def _activations(self, label, images):
        import keras

        if label not in self._submodels:
            self._submodels[label] = keras.Model(self._model.inputs[0], self._layers[label].output)
        maps = keras.ops.convert_to_numpy(self._submodels[label](images, training=False))
        return np.asarray(maps, dtype=np.float32)[0]
