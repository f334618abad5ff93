"""How many training steps Keras runs per host call (``steps_per_execution``): one decision, here.

Keras runs one step per call by default, and every call goes back to Python:
the callbacks run, the next batch is fetched, the traced function is called
again.  For a classroom model on a CPU that round-trip is a large share of a
step (8 steps per call train digits' epochs in about 0.72 of the time, with
bit-identical numbers); on a GPU or a TPU it is most of the step.  Running
several steps per call keeps the numbers (the same steps in the same order,
the metrics accumulated alike) and costs only what happens between calls:
Stop, Pause and a new learning rate act between two calls, and the batch
curve gets one point per call (each call's mean loss, see
``adapter.KerasAdapter``).  So a call should last about ``HOST_CALL_S``: short
enough that Stop acts within 50 ms, long enough that the round-trip no longer
counts.  A step that already takes that long runs one per call.

The step time is estimated before the run, from the architecture's
multiply-adds (its summary counts them) and a sustained rate per kind of
device, since changing the value mid-run would trace the train step again.
"""

from __future__ import annotations

#: Seconds one host call should take: Stop and Pause wait at most about this long.
HOST_CALL_S = 0.04
#: An automatic choice never exceeds this many steps per call...
MAX_AUTOMATIC = 64
#: ...and leaves at least this many calls (points of the batch curve) per epoch.
MIN_CALLS_PER_EPOCH = 8
#: Multiply-adds per second one device sustains on a small convnet's training step (forward and
#: backward), and the fixed cost of one step on it, in seconds.  CPU: measured on conv_small (digits,
#: batch 32: ~4.5 ms a step on two cores); GPU and TPU: orders of magnitude, which only cap the value.
DEVICE_RATES = {"cpu": (2.5e9, 0.0005), "gpu": (1e12, 0.0005), "tpu": (1e13, 0.0002)}
#: A training step costs about three forward passes (forward, and two for the backward pass).
TRAINING_PASSES = 3


def estimated_step_s(multiply_adds: int, batch_size: int, replicas: int, kind: str) -> float:
    """Seconds one training step of ``batch_size`` images (split across ``replicas``) takes on one ``kind``."""
    rate, fixed = DEVICE_RATES.get(kind, DEVICE_RATES["cpu"])
    return fixed + TRAINING_PASSES * multiply_adds * batch_size / max(replicas, 1) / rate


def multi_step_works(info) -> bool:
    """False under a TensorFlow strategy of several replicas: Keras' multi-step loop over a distributed
    iterator fails there (TensorFlow 2.21, Keras 3.15: "You must feed a value for placeholder tensor
    'while/body/.../while/cond/Placeholder_1'", the ``tf.cond`` inside its ``tf.while_loop``; open as
    keras-team/keras#19246; reproduced with plain Keras on two logical CPUs), so those runs take one step
    per call."""
    return not (info.backend == "tensorflow" and info.replicas > 1)


def automatic_steps_per_execution(architecture, info, batch_size: int, steps_per_epoch: int) -> int:
    """The steps per host call for a run of ``architecture`` under ``info`` (a ``StrategyInfo``).

    1 on PyTorch (Keras runs one step per call there), under a TensorFlow strategy of several replicas
    (:func:`multi_step_works`), when the architecture cannot say its
    multiply-adds, and when a step already takes ``HOST_CALL_S``; else as many steps as fill
    ``HOST_CALL_S``, at most ``MAX_AUTOMATIC`` and an epoch's steps over ``MIN_CALLS_PER_EPOCH``.
    """
    if info.backend == "torch" or not multi_step_works(info):
        return 1
    summary = getattr(architecture, "summary", None)
    multiply_adds = getattr(summary(), "multiply_adds", None) if callable(summary) else None
    if not isinstance(multiply_adds, int) or multiply_adds <= 0:
        return 1
    step_s = estimated_step_s(multiply_adds, batch_size, info.replicas, info.kind)
    return max(1, min(int(HOST_CALL_S // step_s), MAX_AUTOMATIC, steps_per_epoch // MIN_CALLS_PER_EPOCH))
