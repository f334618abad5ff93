"""Where the network looked: Grad-CAM heatmaps of a trained model, on every backend.

The flowers codelab's "Feeling hot hot hot" picture is a channel of the last
convolution drawn over the image.  Grad-CAM (Selvaraju et al., 2017) makes it
the picture of one decision: the feature maps of a layer, each weighted by how
much the predicted class's score grows with it (its gradient, averaged over
the map), summed, clipped at 0 and scaled to [0, 1], then stretched to the
image's size.  A learner overlays it on the mistakes of the predictions grid to
see whether the network looked at the shape or at the background.

It runs on the main thread on a finished model (``run.model``), never during
training: the training thread owns a live model.  The gradient comes from
:mod:`.gradients`, the one module that differentiates on each backend.
"""

from __future__ import annotations

import difflib

import keras
import numpy as np

from .gradients import gradient_function

FIRE_OUTPUT = "_concat"  # architecture.build names a Fire block's output "<block>_concat"


def feature_layers(model) -> list[tuple[str, object]]:
    """``(label, layer)`` for each layer that outputs feature maps (a
    convolution, a Fire block, a pooling that keeps the image's layout),
    labelled as the builder names them: a Fire block is one entry, read at
    its concatenated output."""
    from ..architecture import catalog

    kinds = tuple(getattr(keras.layers, catalog.get(name).keras_class)
                  for name in catalog.types("convolution") + catalog.types("pooling"))
    blocks = {layer.name[:-len(FIRE_OUTPUT)] for layer in model.layers
              if isinstance(layer, keras.layers.Concatenate) and layer.name.endswith(FIRE_OUTPUT)}
    found = []
    for layer in model.layers:
        block = next((b for b in blocks if layer.name.startswith(b + "_")), None)
        if block is not None:
            if layer.name == block + FIRE_OUTPUT:
                found.append((block, layer))
        elif isinstance(layer, kinds) and len(layer.output.shape) == 4:
            found.append((layer.name, layer))
    return found


def convolution_layers(model) -> list[tuple[str, object]]:
    """The feature layers that convolve (Conv2D and its kin, Fire blocks): pooling only resamples."""
    from ..architecture import catalog

    kinds = tuple(getattr(keras.layers, catalog.get(name).keras_class) for name in catalog.types("convolution"))
    return [(label, layer) for label, layer in feature_layers(model)
            if isinstance(layer, kinds) or layer.name.endswith(FIRE_OUTPUT)]


class GradCam:
    """Grad-CAM of ``model`` at its feature layer ``layer`` (a label of :func:`feature_layers`;
    None: the last convolution).  Build it once per model and layer, call it on image batches.

    ``where`` prefixes the messages of refused arguments ("run.attention").
    """

    def __init__(self, model, layer: str | None = None, where: str = "attention"):
        available = dict(feature_layers(model))
        if layer is None:
            convs = convolution_layers(model)
            if not convs:
                raise ValueError(f"{where}: this model has no convolutional layer, so there is no map of where it "
                                 "looked: Grad-CAM weighs the feature maps of a Conv2D (or Fire) layer; add one")
            layer = convs[-1][0]
        elif not isinstance(layer, str) or layer not in available:
            close = difflib.get_close_matches(str(layer), available, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            names = ", ".join(available) or "none: add a Conv2D layer"
            raise ValueError(f"{where}: {layer!r} is not a layer with feature maps in this model; {hint}"
                             f"choose one of {names}")
        self.model, self.layer = model, layer
        maps = available[layer].output
        pre, finish = _scores(model)
        self.features = keras.Model(model.inputs[0], maps)
        tail = keras.Model(maps, pre)

        def predicted_score(wrt, given):
            scores = finish(tail(wrt[0], training=False))
            # The gradient of each image's largest score is that of its predicted class (images are independent).
            return keras.ops.sum(keras.ops.max(scores, axis=-1)), scores

        self.gradients = gradient_function(predicted_score)

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
        """``(heatmaps, predicted)`` for float32 ``images`` (N, H, W, C) in [0, 1]: N heatmaps of H×W in
        [0, 1] (all 0 where no feature map speaks for the class) and the N predicted classes."""
        images = np.asarray(images, np.float32)
        maps = np.asarray(keras.ops.convert_to_numpy(self.features(images, training=False)), np.float32)
        _, (grads,), scores = self.gradients([maps])
        weights = grads.mean(axis=(1, 2), keepdims=True)  # one weight per feature map and image
        cams = np.maximum((weights * maps).sum(axis=-1), 0.0)
        resized = keras.ops.image.resize(cams[..., None], images.shape[1:3], interpolation="bilinear")
        cams = np.maximum(np.asarray(keras.ops.convert_to_numpy(resized), np.float32)[..., 0], 0.0)
        peak = cams.max(axis=(1, 2), keepdims=True)  # scaled once at the image's size: its peak is exactly 1
        heatmaps = np.divide(cams, peak, out=np.zeros_like(cams), where=peak > 0)
        return heatmaps, np.asarray(scores).argmax(axis=-1)


def _scores(model):
    """(the tensor before the class scores' softmax, a function from it to the scores): Grad-CAM
    differentiates the score before the softmax, which does not saturate as a probability does."""
    from .adapter import outputs_probabilities

    last = model.layers[-1]
    if not outputs_probabilities(model):
        return model.outputs[0], lambda x: x
    if isinstance(last, (keras.layers.Softmax, keras.layers.Activation)):
        return last.input, lambda x: x
    kernel = keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(last.kernel.value))  # constants, copied
    bias = keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(last.bias.value) if last.bias is not None else 0.0)
    return last.input, lambda x: keras.ops.add(keras.ops.matmul(x, kernel), bias)  # the Dense without its softmax
