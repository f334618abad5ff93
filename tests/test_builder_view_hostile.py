"""The builder view draws whatever value a row keeps on purpose (issue #13).

Out-of-range and wrong-typed values stay on their row with an error, so the
short label next to them must show them as text instead of crashing.
"""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlab_widgets import builder_view
from convlab_widgets.architecture import Architecture, catalog

EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "100"))

STORABLE = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(),
                     st.text(max_size=12), st.sampled_from(["", " ", "same", "relu", "0.5"]))
KEPT = st.one_of(STORABLE, st.lists(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(),
                                               st.text(max_size=3)), max_size=8))
JSONISH = st.recursive(STORABLE, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                       max_leaves=10)


def _view(arch):
    return builder_view.view(arch.summary(), dataset="custom", revision=0, can_undo=False, can_redo=False)


@pytest.mark.parametrize("layer_type, params, shown", [
    ("Dropout", {"rate": "0.5"}, "0.5"),
    ("Conv2D", {"padding": 1}, "1"),
    ("Conv2D", {"activation": 0.5}, "0.5"),
    ("Conv2D", {"kernel_size": "3"}, "3"),
    ("Conv2D", {"strides": (1, True)}, "True"),
    ("Dense", {"units": "ten"}, "ten"),
    ("Rescaling", {"scale": "x", "offset": "y"}, "y"),
    ("Reshape", {"target_shape": "4x4"}, "4x4"),
    ("BatchNormalization", {"center": 1, "scale": "no"}, "no"),
    ("MaxPooling2D", {"pool_size": [], "strides": [2, "a"]}, "a"),
    ("Fire", {"squeeze": None, "expand": 2.5}, "2.5"),
])
def test_kept_values_are_drawn_as_text(layer_type, params, shown):
    arch = Architecture((8, 8, 1), 10).add(layer_type, **params)
    row = _view(arch)["rows"][0]
    assert shown in row["label"] and row["error"] is not None


def test_valid_rows_keep_their_short_labels():
    arch = (Architecture((28, 28, 1), 10).add("Conv2D", filters=32, kernel_size=(3, 1), strides=2, padding="same",
                                              activation="relu")
            .add("MaxPooling2D", pool_size=2, strides=(1, 2)).add("Rescaling", scale=1 / 255, offset=-1)
            .add("BatchNormalization", center=True, scale=False).add("Dropout", rate=0.25))
    labels = [row["label"] for row in _view(arch)["rows"]]
    assert labels == ["3×1 ×32 /2 same relu", "2×2 /1×2 valid", "×0.003922 -1", "center", "rate 0.25"]


def test_a_huge_number_and_deep_nesting_are_drawn():
    assert builder_view.label("Dense", {"units": 10**5000}) == "a huge number"
    deep = outer = {}
    for _ in range(2000):
        deep["a"] = [{}]
        deep = deep["a"][0]
    deep_list = [[]]
    for _ in range(2000):
        deep_list = [deep_list]
    for value in (outer, deep_list, [10**5000], {"a": 10**5000}):
        for layer_type in ("Dense", "Reshape", "Unknown", "Conv2D"):
            assert isinstance(builder_view.label(layer_type, {"units": value, "target_shape": value,
                                                              "kernel_size": value, "x": value}), str)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_catalog_row_draws_any_kept_value(data):
    layer_type = data.draw(st.sampled_from(catalog.types()))
    spec = catalog.get(layer_type)
    params = {p.name: data.draw(KEPT) for p in spec.params if data.draw(st.booleans())}
    view = _view(Architecture((8, 8, 3), 10).add(layer_type, **params))
    assert isinstance(view["rows"][0]["label"], str)
    json.dumps(view)  # what the browser receives


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(catalog.types() + ["Unknown"]), st.dictionaries(st.text(max_size=12), JSONISH, max_size=6))
def test_label_is_total_for_any_json_params(layer_type, params):
    names = {p.name: None for p in catalog.get(layer_type).params} if layer_type != "Unknown" else {}
    assert isinstance(builder_view.label(layer_type, {**names, **params}), str)
    assert isinstance(builder_view.label(layer_type, params), str)
