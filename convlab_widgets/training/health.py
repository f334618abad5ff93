"""Gradient and activation health: how each layer fares while the network trains, and what it means.

The "without a PhD" codelab's lesson: a deep stack of sigmoid layers barely
learns, because each sigmoid shrinks the gradient flowing back through it and
the first layers receive almost none; relu keeps it.  A learner sees it here:
at every epoch end (and every ``health_every`` batches when asked) the run's
callback measures, on one fixed probe batch (a few training images of each
class), each weighted layer's gradient norm, weight norm, update/weight ratio,
activation mean and standard deviation and its share of dead relu units, and
publishes a :class:`~.events.HealthSnapshot`.  :func:`diagnose` turns the latest
snapshot into a tag ("vanishing gradients in layers 1–3") and one sentence on
what it means and what to try.

The probe runs on the training thread between two batches, stateless (it reads
the variables, writes none) and compiled once per run; it never touches a
widget.  Gradients come from :mod:`.gradients`, the one module that differentiates.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import keras
import numpy as np

from .events import HealthSnapshot
from .gradients import gradient_function

#: A layer whose typical gradient per weight (``HealthSnapshot.gradient_rms``) is below this fraction
#: of the largest layer's has a vanishing gradient.
VANISHING_RATIO = 0.1
#: A gradient norm above this many times the layer's weight norm (or not finite) is exploding.
EXPLODING_RATIO = 10.0
#: A relu layer with at least this share of units silent on every probe image has dead units.
DEAD_SHARE = 0.5


#: The probe of each model still alive: the next run with the same recipe retrains a compiled model
#: (``models.WARM_MODELS``), and the probe's compiled gradient goes on with it (JAX compiles
#: it in about a second, TensorFlow traces it in a fifth of one).
_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class HealthProbe:
    """Measures ``model``'s layers on ``images``/``labels`` (the probe batch) each time it is called.

    Get one with :meth:`for_run` on the training thread; call it between two batches, after the
    variables were made current (``jax_state_sync`` on JAX).
    """

    @classmethod
    def for_run(cls, model, images, labels) -> HealthProbe:
        """The probe of ``model`` on this probe batch, compiled once per model; it starts a run afresh
        (the first snapshot of a run has no update ratio)."""
        probe = _PROBES.get(model)
        if probe is None or probe.images is not images:
            probe = _PROBES[model] = cls(model, images, labels)
        probe.before = None
        return probe

    def __init__(self, model, images, labels):
        from .adapter import outputs_probabilities

        self.layers = [layer for layer in _layers(model) if layer.trainable_weights]
        self.images, self.labels = images, np.asarray(labels)
        probe = keras.Model(model.inputs[0], [layer.output for layer in self.layers] + [model.outputs[0]])
        self.trainable = list(probe.trainable_variables)
        self.non_trainable = list(probe.non_trainable_variables)
        where = {id(variable): i for i, variable in enumerate(self.trainable)}
        self.variables = [[where[id(v)] for v in layer.trainable_weights if id(v) in where] for layer in self.layers]
        self.relu = [_is_relu(layer) for layer in self.layers]
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(model))

        def probed(weights, given):
            images, labels, *state = given
            (*inside, predicted), _ = probe.stateless_call(weights, state, images, training=False)
            return loss(labels, predicted), inside

        self.gradients = gradient_function(probed)
        self.before = None  # each layer's weights at the previous snapshot

    def __call__(self, epoch: int, batch: int) -> HealthSnapshot:
        weights = [np.asarray(keras.ops.convert_to_numpy(v.value), np.float32) for v in self.trainable]
        state = [keras.ops.convert_to_numpy(v.value) for v in self.non_trainable]
        _, grads, outputs = self.gradients(weights, [self.images, self.labels, *state])
        flat = [np.concatenate([weights[i].ravel() for i in where]) for where in self.variables]
        gradient_norm = [_norm(np.concatenate([grads[i].ravel() for i in where])) for where in self.variables]
        weight_norm = [_norm(w) for w in flat]
        if self.before is None:
            update_ratio = [math.nan] * len(flat)
        else:
            update_ratio = [_norm(w - b) / n if n > 0 else math.nan for w, b, n in zip(flat, self.before, weight_norm)]
        self.before = flat
        outputs = [np.asarray(out, np.float32) for out in outputs]
        dead = [_dead_share(out) if relu else math.nan for out, relu in zip(outputs, self.relu)]
        column = lambda values: np.asarray(values, np.float32)  # noqa: E731
        return HealthSnapshot(
            epoch, batch, tuple(layer.name for layer in self.layers), np.asarray([f.size for f in flat], np.int64),
            column(gradient_norm), column(weight_norm),
            column(update_ratio), column([out.mean() for out in outputs]), column([out.std() for out in outputs]),
            column(dead))


def _layers(model):
    """The model's layers, input side first, nested models opened."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _is_relu(layer) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def _norm(values) -> float:
    return float(np.sqrt(np.sum(np.square(values, dtype=np.float64))))


def _dead_share(outputs) -> float:
    """The share of units (channels of a feature map) that output 0 for every probe image everywhere."""
    units = outputs.reshape(outputs.shape[0], -1, outputs.shape[-1])
    return float((units <= 0).all(axis=(0, 1)).mean())


@dataclass(frozen=True)
class Diagnosis:
    """What a snapshot says: ``tag`` (short: "vanishing gradients in layers 1–3", "" when all is
    well), ``advice`` (one sentence: what it means and what to try), ``layers`` (1-based numbers
    of the layers concerned) and ``kind`` ("vanishing", "exploding", "dead", or "" for none)."""

    kind: str
    tag: str
    advice: str
    layers: tuple = ()


HEALTHY = Diagnosis("", "", "")


def diagnose(snapshot: HealthSnapshot | None) -> Diagnosis:
    """The tag and advice of ``snapshot`` (the latest of a run): exploding gradients first (they
    wreck a run soonest), then vanishing gradients from the input side, then dead relu units."""
    if snapshot is None or not len(snapshot.layers):
        return HEALTHY
    grads, weights = snapshot.gradient_norm.astype(float), snapshot.weight_norm.astype(float)
    exploding = [i + 1 for i, (g, w) in enumerate(zip(grads, weights))
                 if not math.isfinite(g) or g > EXPLODING_RATIO * max(w, 1e-12)]
    if exploding:
        return Diagnosis("exploding", f"exploding gradients in {_named(exploding)}",
                         "The gradients are far larger than the weights they update, so each step throws the "
                         "weights about: lower the learning rate (try 10× lower), or add BatchNormalization.",
                         tuple(exploding))
    typical = snapshot.gradient_rms.astype(float)
    largest = typical.max()
    vanishing = []
    for i, g in enumerate(typical):
        if largest > 0 and g < VANISHING_RATIO * largest:
            vanishing.append(i + 1)
        else:
            break
    if vanishing and len(vanishing) < len(grads):
        return Diagnosis("vanishing", f"vanishing gradients in {_named(vanishing)}",
                         f"The first layers get gradients over {1 / VANISHING_RATIO:.0f}× smaller per weight than the "
                         "layer that gets the most, so they barely learn: each sigmoid or tanh shrinks the gradient "
                         "passed back through it; use relu activations (or add BatchNormalization).", tuple(vanishing))
    dead = [i + 1 for i, share in enumerate(snapshot.dead_share) if math.isfinite(share) and share >= DEAD_SHARE]
    if dead:
        worst = max(float(snapshot.dead_share[i - 1]) for i in dead)
        return Diagnosis("dead", f"dead units in {_named(dead)}",
                         f"Up to {worst:.0%} of the relu units output 0 for every probe image, so no gradient "
                         "reaches them and they stop learning: a too-high learning rate kills them, so lower it "
                         "(or try a leaky relu).", tuple(dead))
    return HEALTHY


def _named(layers) -> str:
    """"layer 2", "layers 1–3", "layers 1, 3 and 4"."""
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}\u2013{layers[-1]}"
    return "layers " + ", ".join(map(str, layers[:-1])) + f" and {layers[-1]}"
