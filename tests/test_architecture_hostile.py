"""Hostile and broken input to the architecture model (issue #13).

Values that Python compares equal across types (False == 0 == 0.0, True == 1)
must never share a cache entry or hide an edit; every offered fix must change
the architecture and clear its error; imports of absurd JSON fail with a
located ArchitectureError. Set CONVLAB_HYPOTHESIS_EXAMPLES for a longer run.
"""

import os

import pytest
from hypothesis import HealthCheck, event, given, settings
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


# -- every offered fix works ------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                    st.sampled_from(["same", "valid", "sam", "relu", "relux", "softmax", "horizontal"]))
VALUES = st.one_of(SCALARS, st.lists(st.one_of(st.integers(-2, 9), st.booleans(), st.floats(-2, 9)),
                                     max_size=4))


def _good_value(spec):
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind in ("int", "size"):
        return st.integers(int(spec.minimum), min(int(spec.maximum), 6)).map(
            lambda n: n + 1 if spec.even and n % 2 else n)
    if spec.kind == "float":
        return st.floats(spec.minimum, min(spec.maximum, 0.5))
    return st.sampled_from([(-1,), (4, -1)])


@st.composite
def hostile_architectures(draw):
    input_shape = draw(st.one_of(st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 3)),
                                 st.tuples(st.integers(1, 20))))
    layers = []
    for _ in range(draw(st.integers(0, 5))):
        spec = catalog.get(draw(st.sampled_from(catalog.types())))
        params = {p.name: draw(st.one_of(_good_value(p), _good_value(p), VALUES))
                  for p in spec.params if draw(st.booleans())}
        layers.append((spec.type, params))
    return Architecture(input_shape, draw(st.integers(2, 5)), draw(st.sampled_from(["probabilities", "logits"])),
                        layers)


def _apply_like_the_builder(arch, row):
    """What the builder's one-click fix does (builder.py ``_intent_fix``)."""
    arch.apply([{**action, "index": row.index} if "index" in action and action["index"] is None else action
                for action in row.fix["actions"]])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_architectures())
def test_every_offered_fix_changes_the_architecture_and_its_error(arch):
    for row in arch.summary().rows:
        if row.fix is None:
            continue
        event(row.fix["label"].split("=")[0])
        fixed = arch.copy()
        _apply_like_the_builder(fixed, row)
        assert fixed.to_json() != arch.to_json(), (row.error, row.fix)
        ops = {action["op"] for action in row.fix["actions"]}
        if ops == {"remove"}:
            assert len(fixed) == len(arch) - 1
            continue
        index = row.index + 1 if ops == {"insert"} else row.index  # the row itself moved down one
        after = fixed.summary()
        still = index < len(after) and after.rows[index].error == row.error
        assert not still, (row.error, row.fix)
    for problem in arch.summary().errors:  # model-wide problems (no layers yet) too
        if problem.index is None and problem.fix:
            fixed = arch.copy().apply(problem.fix["actions"])
            assert problem.message not in [p.message for p in fixed.summary().errors]


def _assert_fix_works(arch, index):
    row = arch.summary().rows[index]
    assert row.fix is not None, row.error
    fixed = arch.copy()
    _apply_like_the_builder(fixed, row)
    assert fixed.to_json() != arch.to_json()
    assert fixed.summary().rows[index].error is None, fixed.summary().rows[index].error


def test_the_reshape_fix_never_suggests_a_side_over_the_limit():
    arch = Architecture((8, 8, 1), 10).add("Flatten").add("Dense", units=65536).add("Reshape", target_shape=(2, 3))
    _assert_fix_works(_with_head(arch), 2)


def test_no_fix_is_offered_that_would_exceed_the_layer_limit():
    from convlab_widgets.architecture import MAX_LAYERS

    arch = Architecture((10,), 10, layers=[("Dropout", {"rate": 0.1})] * MAX_LAYERS)
    row = arch.summary().rows[-1]
    assert row.error and "probabilities" in row.error
    if row.fix is not None:
        arch.copy().apply(row.fix["actions"])  # must not raise


# -- absurd imports ---------------------------------------------------------------------------------


def _deep(depth):
    outer = inner = []
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


def _exported():
    return Architecture((8, 8, 1), 10).add("Flatten").add("Dense", units=10, activation="softmax").to_dict()


@pytest.mark.parametrize("where, located", [
    ("param", "Dense #2: units"),
    ("layer", "Layer #3"),
    ("type", "Layer #1"),
    ("input_shape", "input_shape"),
    ("num_classes", "num_classes"),
    ("format", "'format'"),
    ("version", "version"),
])
def test_deeply_nested_imports_fail_with_a_located_error(where, located):
    data = _exported()
    if where == "param":
        data["layers"][1]["params"]["units"] = _deep(2000)
    elif where == "layer":
        data["layers"].append(_deep(2000))
    elif where == "type":
        data["layers"][0]["type"] = _deep(2000)
    else:
        data[where] = _deep(2000)
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_dict(data)
    assert located in str(error.value) and len(str(error.value)) < 400, str(error.value)
    with pytest.raises(ArchitectureError):
        Architecture((8, 8, 1), 10).restore(data)


def test_json_with_a_utf8_byte_order_mark_is_accepted():
    text = Architecture.from_dict(_exported()).to_json()
    assert Architecture.from_json("\ufeff" + text) == Architecture.from_dict(_exported())
    assert Architecture.from_json(("\ufeff" + text).encode("utf-8")) == Architecture.from_dict(_exported())
    assert Architecture.from_json(b"\xef\xbb\xbf" + text.encode("utf-8")) == Architecture.from_dict(_exported())


def test_unknown_keys_are_named_in_full():
    key = "params_but_with_a_long_and_distinctive_suffix_" + "k" * 100
    data = _exported()
    data["layers"][1][key] = {}
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_dict(data)
    assert "Layer #2" in str(error.value) and repr(key) in str(error.value)
    data = _exported()
    data["layers"][1]["params"][key] = 1
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_dict(data)
    assert "Dense #2" in str(error.value) and repr(key) in str(error.value)
    data = _exported()
    data[key] = 1
    data["another_" + key] = 2
    with pytest.raises(ArchitectureError) as error:
        Architecture.from_dict(data)
    assert key in str(error.value) and "another_" + key in str(error.value)


def test_numbers_too_long_to_print_are_refused_with_a_message():
    with pytest.raises(ArchitectureError, match="units"):
        Architecture((8, 8, 1), 10).add("Dense", units=10**5000)
    with pytest.raises(ArchitectureError, match="input_shape"):
        Architecture((10**5000,), 10)
    arch = Architecture((8, 8, 1), 10).add("Flatten").add("Dense", units=10**40)
    assert "units" in arch.summary().rows[1].error
    arch.to_json()


# -- resolving an architecture argument -------------------------------------------------------------


def test_resolve_accepts_an_architecture_a_preset_name_or_none():
    from convlab_widgets.architecture import presets, resolve

    arch = Architecture((8, 8, 1), 10)
    assert resolve(arch) is arch
    assert resolve("conv_small") == presets.get("conv_small") and resolve("conv_small") is not resolve("conv_small")
    assert resolve(None) is None
    with pytest.raises(ArchitectureError, match="unknown preset 'conv_smal'"):
        resolve("conv_smal")


@pytest.mark.parametrize("given, words", [
    (3, "got int 3"), (b"conv_small", "got bytes b'conv_small'"), ([("Dense", {})], "got list"),
    (None, None),
])
def test_resolve_names_what_was_given_and_what_is_accepted(given, words):
    from convlab_widgets.architecture import resolve

    if words is None:  # None itself is accepted unless the caller needs an architecture
        with pytest.raises(TypeError, match=r"a preset name like 'conv_small'; got None"):
            resolve(None, allow_none=False)
        return
    with pytest.raises(TypeError) as error:
        resolve(given)
    message = str(error.value)
    assert message.startswith("architecture must be an Architecture, a preset name like 'conv_small', or None; ")
    assert words in message


def test_resolve_can_accept_duck_typed_models_for_the_trainer():
    from convlab_widgets.architecture import resolve

    class Model:
        def to_keras(self):
            return None

    model = Model()
    assert resolve(model, allow_none=False, duck_typed=True) is model
    with pytest.raises(TypeError, match="got Model"):
        resolve(model)
