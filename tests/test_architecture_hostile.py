"""Hostile and broken input to the architecture model (issue #13).

Values that Python compares equal across types (False == 0 == 0.0, True == 1)
must never share a cache entry or hide an edit; every offered fix must change
the architecture and clear its error; imports of absurd JSON fail with a
located ArchitectureError. Set CONVLAB_HYPOTHESIS_EXAMPLES for a longer run.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlab_widgets.architecture import Architecture, ArchitectureError, catalog

EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "100"))


# -- equal-but-different values ---------------------------------------------------------------------


def _with_head(arch):
    return arch.add("Flatten").add("Dense", units=10, activation="softmax")


def _dense(use_bias):
    return Architecture((8, 8, 1), 10).add("Flatten").add("Dense", units=10, activation="softmax",
                                                          use_bias=use_bias)


def test_validity_does_not_depend_on_what_was_checked_before():
    assert not _dense(0).summary().is_valid  # checked first: an int is not a bool
    fresh = _dense(False).summary()
    assert fresh.is_valid, fresh.errors
    assert fresh.total_params == 64 * 10
    assert _dense(1).summary().rows[1].error is not None
    assert _dense(True).summary().is_valid
    assert _dense(1.0).summary().rows[1].error is not None


def test_an_update_to_an_equal_value_of_another_type_is_an_edit():
    arch = _with_head(Architecture((8, 8, 1), 10).add("BatchNormalization", center=1))
    changes = []
    arch.observe(changes.append)
    arch.update(0, center=True)
    assert arch[0].params["center"] is True and len(changes) == 1
    assert arch.summary().is_valid


def test_the_offered_fix_for_an_equal_value_of_another_type_applies():
    arch = _with_head(Architecture((8, 8, 1), 10).add("BatchNormalization", center=1))
    row = arch.summary().rows[0]
    assert row.fix["label"] == "Use center=True"
    before = arch.to_json()
    arch.apply(row.fix["actions"])
    assert arch.to_json() != before and arch[0].params["center"] is True
    assert arch.summary().is_valid


def test_architectures_differing_only_in_value_types_are_not_equal():
    assert _dense(0) != _dense(False)
    assert _dense(True) == _dense(True)
    assert Architecture((8, 8, 1), 10).add("Rescaling", scale=float("nan")) == \
        Architecture((8, 8, 1), 10).add("Rescaling", scale=float("nan"))


def test_strides_equal_to_pool_size_only_when_of_the_same_type():
    arch = Architecture((8, 8, 1), 10).add("MaxPooling2D", pool_size=1, strides=True)
    assert arch[0].params["strides"] is True
    assert arch.summary().rows[0].error is not None
    square = Architecture((8, 8, 1), 10).add("Conv2D", kernel_size=(1, True))
    assert square[0].params["kernel_size"] == (1, True)
    assert square.summary().rows[0].error is not None
