"""Gradients on every backend: the one place that knows how each backend differentiates.

Keras 3 offers no backend-neutral gradient: TensorFlow records a
``GradientTape``, JAX transforms a pure function (``jax.value_and_grad``),
PyTorch runs autograd on tensors that require a gradient.  The health
snapshots (gradients of the loss with respect to each layer's weights) and
Grad-CAM (gradients of a class score with respect to a layer's feature maps)
both go through :func:`gradient_function`, so nothing else in the package
branches on the backend to differentiate.  The function it differentiates is
written with Keras ops and ``stateless_call``, which every backend runs alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import keras
import numpy as np

#: What a gradient function returns: the scalar, its gradient with respect to each ``wrt`` array
#: (float32 numpy, in their order), and ``aux`` (numpy, not differentiated).
Gradients = tuple[float, list[np.ndarray], object]


def gradient_function(fn: Callable, *, compiled: bool = True) -> Callable[[Sequence, Sequence], Gradients]:
    """``fn(wrt, given)`` (two lists of tensors) returns ``(scalar, aux)``; the result, called
    with numpy arrays ``(wrt, given)``, returns the scalar, its gradient with respect to each of
    ``wrt`` and ``aux`` (what ``fn`` computed on the way, activations say, without a second pass).

    ``compiled``: trace ``fn`` once (``jax.jit``, ``tf.function``) and reuse the trace while the
    arrays keep their shapes: build the function once, call it many times.  PyTorch runs eagerly.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def tape(wrt, given):
            with tf.GradientTape(watch_accessed_variables=False) as recorder:
                for tensor in wrt:
                    recorder.watch(tensor)
                value, aux = fn(wrt, given)
            return value, recorder.gradient(value, wrt, unconnected_gradients=tf.UnconnectedGradients.ZERO), aux

        traced = tf.function(tape, autograph=False, reduce_retracing=True) if compiled else tape

        def run(wrt, given):
            return traced([tf.convert_to_tensor(a) for a in wrt], [tf.convert_to_tensor(a) for a in given])
    elif backend == "jax":
        import jax

        grad = jax.value_and_grad(fn, has_aux=True)
        traced = jax.jit(grad) if compiled else grad

        def run(wrt, given):
            (value, aux), grads = traced([jax.numpy.asarray(a) for a in wrt], [jax.numpy.asarray(a) for a in given])
            return value, grads, aux
    elif backend == "torch":
        import torch

        def run(wrt, given):
            # On the device Keras computes on, each a leaf of its own.
            leaves = [keras.ops.convert_to_tensor(a).detach().requires_grad_(True) for a in wrt]
            value, aux = fn(leaves, [keras.ops.convert_to_tensor(a) for a in given])
            grads = torch.autograd.grad(value, leaves, allow_unused=True)
            grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]
            return value.detach(), grads, keras.tree.map_structure(lambda t: t.detach(), aux)
    else:  # pragma: no cover - Keras 3 has no other backend with gradients
        raise RuntimeError(f"gradients are not available on the {backend!r} backend: use tensorflow, jax or torch")

    def gradients(wrt: Sequence, given: Sequence = ()) -> Gradients:
        value, grads, aux = run(list(wrt), list(given))
        return (float(keras.ops.convert_to_numpy(value)),
                [np.asarray(keras.ops.convert_to_numpy(g), dtype=np.float32) for g in grads],
                keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), aux))

    return gradients


class _DeliberateRetracing(logging.Filter):
    """TensorFlow warns once one Python function has been traced five times, advising to define it
    outside a loop; the package traces some on purpose once per new model (the validation predictor,
    each gradient function), and the warning would only alarm a learner in the notebook."""

    names: set[str] = set()

    def filter(self, record):
        message = record.getMessage()
        return not ("retracing" in message and any(name in message for name in self.names))


def deliberately_traced(name: str) -> None:
    """Keep TensorFlow's retracing warning quiet for the function called ``name``, traced per model on purpose."""
    _DeliberateRetracing.names.add(name)


logging.getLogger("tensorflow").addFilter(_DeliberateRetracing())
deliberately_traced(gradient_function.__name__)
