"""Output shapes and parameter counts of one layer, computed by Keras, cached.

Rebuilding the whole Keras model after every edit costs hundreds of
milliseconds (variables are created and initialised), too slow for a builder
that updates as the learner types. Instead each (type, params, input shape) is
asked of Keras once and remembered, so an edit only costs the rows whose type,
params or input shape actually changed.

Asking Keras is done with one reusable "probe" layer per (type, params): it is
built for each input shape with ``add_weight`` recording the weight shapes
instead of creating variables, then asked for its output spec. The checks,
the build and the shape arithmetic are Keras' own, the same steps a model
runs when it calls the layer on a symbolic tensor, so the counts equal
``count_params()`` and a rejection here is a rejection there (the property
tests compare both on random architectures). No memory is allocated for the
weights, so a learner's 500-million-parameter Dense layer costs nothing to
inspect.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import keras

from . import catalog
from .build import fire_convs, make_layer
from .errors import Failure, explain_rejection

__all__ = ["MAX_LAYER_PARAMS", "Inner", "Outcome", "clear_cache", "evaluate"]

#: One layer with more parameters than this cannot be trained in a notebook
#: (about 400 MB of float32 weights, three times that with Adam's state).
MAX_LAYER_PARAMS = 100_000_000

_OUTCOME_CACHE_SIZE = 50_000
_PROBE_CACHE_SIZE = 1_000

# Rescaling and (inference-time) batch normalisation cost one multiply-add per value.
_AFFINE_PER_VALUE = frozenset({"BatchNormalization", "Rescaling"})


@dataclass(frozen=True)
class Inner:
    """A Keras layer inside a block row (the fire module's convolutions and concatenation)."""

    role: str
    type: str
    params: tuple
    outcome: Outcome


@dataclass(frozen=True)
class Outcome:
    """What one layer does to one input shape.

    ``output_shape`` is None when the layer cannot be applied; a failure with
    a known output shape (too many parameters) does not stop the rows after it.
    """

    output_shape: tuple | None
    param_count: int | None = None
    trainable_count: int | None = None
    activations: int | None = None
    multiply_adds: int | None = None
    failure: Failure | None = None
    inner: tuple[Inner, ...] = field(default=())


_ADD_WEIGHT = inspect.signature(keras.layers.Layer.add_weight)


class _Probe:
    """A Keras layer that can be built again and again for different input shapes."""

    def __init__(self, layer_type: str, params: dict):
        self.weights: list[tuple[tuple, bool]] = []
        self.layer = make_layer(layer_type, params, name=f"probe_{catalog.get(layer_type).name_stem}")
        self.initial_input_spec = self.layer.input_spec
        # Bypass Keras' attribute tracking: this is a plain instance override.
        object.__setattr__(self.layer, "add_weight", self._record_weight)

    def _record_weight(self, *args, **kwargs):
        bound = _ADD_WEIGHT.bind(self.layer, *args, **kwargs)
        bound.apply_defaults()
        shape = tuple(int(d) for d in bound.arguments["shape"])
        self.weights.append((shape, bool(bound.arguments["trainable"])))
        return keras.KerasTensor(shape, dtype="float32")

    def output_shape(self, input_shape: tuple) -> tuple:
        """The steps of ``Layer.__call__`` on a symbolic tensor: check, build, check, infer."""
        layer = self.layer
        self.weights.clear()
        layer.built = False
        layer.input_spec = self.initial_input_spec
        x = keras.KerasTensor((None, *input_shape))
        layer._assert_input_compatibility(x)
        layer.build((None, *input_shape))
        layer._assert_input_compatibility(x)
        return tuple(layer.compute_output_spec(x).shape[1:])


_lock = threading.RLock()
_outcomes: OrderedDict = OrderedDict()
_probes: OrderedDict = OrderedDict()


def _remember(cache: OrderedDict, key, value, size: int):
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
    return value


def clear_cache() -> None:
    """Forget every evaluated layer (benchmarks use it to measure a cold summary)."""
    with _lock:
        _outcomes.clear()
        _probes.clear()


def evaluate(layer_type: str, params: tuple, input_shape: tuple) -> Outcome:
    """The outcome of a layer (params as ``tuple(params_dict.items())``) on an input shape."""
    key = (layer_type, catalog.typed_key(params), input_shape)  # use_bias=0 must not answer for False
    with _lock:
        outcome = _outcomes.get(key)
        if outcome is None:
            outcome = _remember(_outcomes, key, _evaluate(layer_type, dict(params), input_shape),
                                _OUTCOME_CACHE_SIZE)
        else:
            _outcomes.move_to_end(key)
        return outcome


def _evaluate(layer_type: str, params: dict, input_shape: tuple) -> Outcome:
    spec = catalog.get(layer_type)
    failure = spec.failure(params)
    if failure:
        return Outcome(None, failure=failure)
    if layer_type == "Fire":
        return _evaluate_fire(spec, params, input_shape)
    probe_key = (layer_type, catalog.typed_key(tuple(params.items())))
    probe = _probes.get(probe_key)
    try:
        if probe is None:
            probe = _remember(_probes, probe_key, _Probe(layer_type, params), _PROBE_CACHE_SIZE)
        output_shape = probe.output_shape(input_shape)
    except Exception as exc:  # Keras rejects it: say why, in learner words.
        return Outcome(None, failure=explain_rejection(spec, params, input_shape, str(exc)))
    if any(d is not None and d <= 0 for d in output_shape):
        # Keras before 3.14 returns an empty output (e.g. 0×0×4) where later versions raise.
        detail = f"negative or zero dimension in output shape {output_shape}"
        return Outcome(None, failure=explain_rejection(spec, params, input_shape, detail))
    return _measured(layer_type, output_shape, probe.weights)


def _measured(layer_type: str, output_shape: tuple, weights) -> Outcome:
    values = math.prod(output_shape)
    # Each kernel weight is used once per output position (all axes but the last).
    positions = values // output_shape[-1] if output_shape[-1] else 0
    multiply_adds = positions * sum(math.prod(shape) for shape, _ in weights if len(shape) >= 2)
    if layer_type in _AFFINE_PER_VALUE:
        multiply_adds += values
    param_count = sum(math.prod(shape) for shape, _ in weights)
    return Outcome(output_shape, param_count, sum(math.prod(shape) for shape, t in weights if t),
                   values, multiply_adds, _too_many(param_count))


def _too_many(param_count: int) -> Failure | None:
    if param_count <= MAX_LAYER_PARAMS:
        return None
    return Failure(f"holds {param_count:,} parameters, more than the {MAX_LAYER_PARAMS:,} a notebook can train; "
                   "shrink its input first (pooling, strides) or use fewer units or filters")


_CONCATENATE = keras.layers.Concatenate(name="probe_concatenate")


def _evaluate_fire(spec, params: dict, input_shape: tuple) -> Outcome:
    """The codelab's fire(): each inner convolution is an ordinary (cached) Conv2D evaluation."""
    inner, outcomes = [], {}
    for role, conv_params in fire_convs(params["squeeze"], params["expand"]):
        source = outcomes["squeeze"].output_shape if role != "squeeze" else input_shape
        outcome = evaluate("Conv2D", tuple(conv_params.items()), source)
        if outcome.output_shape is None:
            return Outcome(None, failure=explain_rejection(spec, params, input_shape, outcome.failure.reason))
        outcomes[role] = outcome
        inner.append(Inner(role, "Conv2D", tuple(conv_params.items()), outcome))
    shape = tuple(_CONCATENATE.compute_output_shape(
        [(None, *outcomes["expand1x1"].output_shape), (None, *outcomes["expand3x3"].output_shape)])[1:])
    concat = Outcome(shape, 0, 0, math.prod(shape), 0)
    inner.append(Inner("concat", "Concatenate", (("axis", -1),), concat))
    parts = [part.outcome for part in inner]
    param_count = sum(o.param_count for o in parts)
    return Outcome(shape, param_count, sum(o.trainable_count for o in parts), sum(o.activations for o in parts),
                   sum(o.multiply_adds for o in parts), _too_many(param_count), tuple(inner))
