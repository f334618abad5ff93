"""The one gradient helper (training/gradients.py), on whichever backend the tests run with
(``KERAS_BACKEND=tensorflow``, ``jax`` or ``torch``): exact gradients of a real Keras layer."""

import keras
import numpy as np
import pytest

from convlab_widgets.training.gradients import gradient_function

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(5, 3)).astype(np.float32)


def _dense():
    layer = keras.layers.Dense(2, use_bias=False)
    layer.build((None, 3))
    return layer


@pytest.mark.parametrize("compiled", [True, False])
def test_the_gradient_of_a_layers_sum_is_its_inputs_summed(compiled):
    layer = _dense()
    kernel = keras.ops.convert_to_numpy(layer.kernel.value)

    def total(wrt, given):
        outputs, _ = layer.stateless_call(wrt, [], given[0])
        return keras.ops.sum(outputs * outputs), outputs

    value, (grad,), outputs = gradient_function(total, compiled=compiled)([kernel], [IMAGES])
    expected_outputs = IMAGES @ kernel
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-5, atol=1e-6)
    assert value == pytest.approx(float((expected_outputs ** 2).sum()), rel=1e-5)
    np.testing.assert_allclose(grad, 2 * IMAGES.T @ expected_outputs, rtol=1e-4, atol=1e-5)  # d/dW sum((XW)^2)
    assert grad.dtype == np.float32 and isinstance(value, float)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel.value), kernel)  # read, never written


def test_an_argument_the_value_does_not_depend_on_has_a_zero_gradient():
    def first_only(wrt, given):
        return keras.ops.sum(wrt[0]), ()

    _, grads, _ = gradient_function(first_only)([np.ones(3, np.float32), np.ones((2, 2), np.float32)])
    np.testing.assert_array_equal(grads[0], np.ones(3))
    np.testing.assert_array_equal(grads[1], np.zeros((2, 2)))


def test_a_compiled_gradient_is_reused_with_new_values():
    def square(wrt, given):
        return keras.ops.sum(wrt[0] * given[0]), ()

    gradients = gradient_function(square)
    for scale in (1.0, 3.0):
        _, (grad,), _ = gradients([np.ones(4, np.float32)], [np.full(4, scale, np.float32)])
        np.testing.assert_allclose(grad, np.full(4, scale))
