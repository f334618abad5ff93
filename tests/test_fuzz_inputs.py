"""One fuzz across the public inputs (issue #13): architectures, the builder's drawing of them, settings
and datasets, each given values of any type.

The contract each case holds: it succeeds, or it raises the error its API documents
(``ArchitectureError``; ``SettingsError``, or ``TypeError`` for a keyword that is not a setting;
``DatasetError``) with a message that says where and what, never another exception; and it stays under a
memory bound (tracemalloc's peak).  Set CONVLAB_HYPOTHESIS_EXAMPLES for a longer run (the default keeps
the file to about a minute here).
"""

import contextlib
import json
import math
import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from convlab_widgets.architecture import Architecture, ArchitectureError, catalog
from convlab_widgets.builder import Builder
from convlab_widgets.training import datasets
from convlab_widgets.training.dataset_checks import DatasetError
from convlab_widgets.training.settings import Settings, SettingsError

EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "250"))
MB = 1 << 20
MEMORY = 64 * MB  # the most one case may allocate at its peak
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["same", "valid", "relu", "softmax", "0.5", "", "\u202e"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
NUMPY = st.one_of(
    st.integers(-2**63, 2**63 - 1).map(np.int64), st.integers(0, 255).map(np.uint8),
    st.floats(width=32).map(np.float32), st.floats().map(np.float64), st.booleans().map(np.bool_))
ANY = JSON | NUMPY | st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**30), b"bytes", (1, 2), object()])
LAYER_TYPES = st.sampled_from(catalog.types()) | st.text(max_size=12) | SCALARS


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Imports (Keras, scikit-learn) and first-use caches, so that each case's memory is its own."""
    arch = Architecture((8, 8, 1), 10).add("Conv2D", filters=4).add("Flatten").add("Dense", units=10,
                                                                                    activation="softmax")
    json.dumps(Builder(arch).view)
    datasets.load((np.zeros((20, 8, 8)), np.arange(20) % 2))


@contextlib.contextmanager
def contract(*documented):
    """What runs inside succeeds, or raises one of ``documented`` with a message of some substance; either
    way within ``MEMORY``.  Yields a list that holds the error, if any."""
    caught = []
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield caught
    except documented as error:
        caught.append(error)
        message = str(error)
        assert 10 < len(message) < 2000, repr(message)
        assert "Traceback" not in message, message
        event(f"refused: {type(error).__name__}")
    else:
        event("accepted")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY, f"peaked at {peak / MB:.0f} MB"


def _drawn(arch):
    """The builder's view of an architecture it keeps: built without exceptions, sendable to the browser."""
    view = Builder(arch).view
    json.dumps(view)
    assert len(view["rows"]) == len(arch)
    return view


# -- architectures, and the builder drawing them -----------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_architecture_edits(data):
    shape = data.draw(st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4))
                      | st.lists(SCALARS, max_size=4), label="input_shape")
    with contract(ArchitectureError) as refused:
        arch = Architecture(shape, data.draw(SCALARS | st.integers(2, 12), label="num_classes"))
    if refused:
        return
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        how = data.draw(st.sampled_from(["add", "add", "update", "insert"]), label="how")
        params = data.draw(st.dictionaries(st.sampled_from(["units", "filters", "kernel_size", "strides",
                                                            "padding", "activation", "rate", "pool_size"])
                                           | st.text(max_size=10), ANY, max_size=4), label="params")
        with contract(ArchitectureError):
            if how == "update":
                arch.update(data.draw(SCALARS | st.integers(-2, len(arch)), label="index"), **params)
            elif how == "insert":
                arch.insert(data.draw(SCALARS | st.integers(-2, len(arch)), label="index"),
                            data.draw(LAYER_TYPES, label="type"), **params)
            else:
                arch.add(data.draw(LAYER_TYPES, label="type"), **params)
    with contract():  # an architecture kept, however wrong, is summarised, exported and drawn
        arch.summary()
        again = Architecture.from_dict(arch.to_dict(), strict=False)
        assert again.to_dict() == arch.to_dict()
        _drawn(arch)


@st.composite
def exported(draw):
    """An architecture's JSON with parts replaced by any JSON, deleted, or nested."""
    data = Architecture((8, 8, 1), 10).add("Conv2D", filters=4).add("Flatten").add("Dense", units=10).to_dict()
    for _ in range(draw(st.integers(1, 4))):
        layers = data.get("layers") if isinstance(data.get("layers"), list) else []
        places = [((), key) for key in data] + [(("layers",), i) for i in range(len(layers))] + [
            (("layers", i, "params"), key) for i, layer in enumerate(layers)
            if isinstance(layer, dict) and isinstance(layer.get("params"), dict) for key in layer["params"]]
        if not places:
            break
        path, key = draw(st.sampled_from(places))
        parent = data
        for part in path:
            parent = parent[part]
        how = draw(st.sampled_from(["replace", "delete", "nest"]))
        if how == "delete":
            del parent[key]
        elif how == "nest":
            value = parent[key]
            for _ in range(draw(st.integers(1, 50))):
                value = draw(st.sampled_from([[value], {"x": value}]))
            parent[key] = value
        else:
            parent[key] = draw(JSON)
    return data


@FUZZ
@given(data=exported(), as_text=st.booleans(), garbage=st.text(max_size=40))
def test_fuzz_architecture_import(data, as_text, garbage):
    with contract(ArchitectureError) as refused:
        if as_text:
            try:
                text = json.dumps(data)
            except (TypeError, ValueError):
                text = garbage
            arch = Architecture.from_json(text)
        else:
            arch = Architecture.from_dict(data)
    if not refused:
        with contract():
            _drawn(arch)
    with contract(ArchitectureError) as refused:
        kept = Architecture.from_dict(data, strict=False)  # as a lab keeps the builder's own
    if not refused:
        with contract():
            _drawn(kept)


# -- settings ----------------------------------------------------------------------------------------------

SETTING_NAMES = ["dataset", "train_subset", "epochs", "batch_size", "optimizer", "learning_rate", "schedule",
                 "lr_schedule", "schedule_params", "seed", "filter_every", "jit_compile", "steps_per_execution"]
GOOD = {"dataset": st.sampled_from(datasets.names()), "epochs": st.integers(1, 50), "optimizer": st.sampled_from(
    ["adam", "sgd", "momentum", "Adam ", "rmsprop"]), "learning_rate": st.floats(1e-6, 1.0),
    "lr_schedule": st.sampled_from(["constant", "exponential", "step", "cosine", "plateau", "warmup"]),
    "schedule_params": st.dictionaries(st.sampled_from(["decay", "every", "factor", "warmup", "patience"]), ANY,
                                       max_size=2),
    "train_subset": st.none() | st.integers(0, 10**6), "batch_size": st.integers(1, 512),
    "seed": st.none() | st.integers(0, 2**32 - 1), "filter_every": st.none() | st.integers(1, 100),
    "jit_compile": st.sampled_from([None, True, False]), "steps_per_execution": st.none() | st.integers(1, 64)}


def _mostly(good):
    """``good`` three times in four, anything the rest."""
    return st.one_of(good, good, good, ANY)


@FUZZ
@given(data=st.data())
def test_fuzz_settings(data):
    names = data.draw(st.lists(st.sampled_from(SETTING_NAMES), max_size=5, unique=True), label="names")
    if data.draw(st.integers(0, 9), label="unknown") == 0:
        names.append(data.draw(st.text(max_size=12), label="unknown name"))
    keywords = {name: data.draw(_mostly(GOOD[name]) if name in GOOD else ANY, label=name) for name in names}
    with contract(SettingsError, TypeError) as refused:
        made = Settings.make(**keywords)
    if refused:
        error = refused[0]
        if isinstance(error, SettingsError):
            assert str(error).startswith(f"{error.field}: "), error
        else:  # a keyword that is not a setting, or the schedule given twice
            assert "unknown setting" in str(error) or "give the schedule once" in str(error), error
        return
    with contract():  # what was accepted round-trips as a saved lab keeps it
        again = Settings.from_dict(made.to_dict())
        assert again.to_dict() == made.to_dict()
        made.lr_preview()


# -- datasets ----------------------------------------------------------------------------------------------

DTYPES = ["float32", "float64", "uint8", "int64", "bool", "float16", "int8", "complex64", "U2", "O"]
LABELS = st.one_of(
    st.lists(st.integers(0, 3), min_size=1, max_size=40),
    st.lists(st.integers(-2, 2**63 - 1) | st.integers(-2**70, 2**70), min_size=1, max_size=40),
    st.lists(st.floats() | st.sampled_from([0.0, 1.0, 2.0, math.nan, math.inf, 1e300, -1.0]), min_size=1, max_size=40),
    st.lists(st.sampled_from(["cat", "dog", "", "\u202e"]), min_size=1, max_size=40),
    st.lists(st.booleans(), min_size=1, max_size=40),
)


@st.composite
def arrays(draw):
    """(x, y): images of any small shape and dtype, labels of any kind and length (one-hot too)."""
    if draw(st.booleans()):  # images and labels that could train, so that more cases get past the checks
        n, classes = draw(st.integers(8, 40)), draw(st.integers(2, 4))
        shape = (n, draw(st.integers(4, 10)), draw(st.integers(4, 10)), *draw(st.sampled_from([(), (1,), (3,)])))
        x = np.random.default_rng(n).random(shape).astype(draw(st.sampled_from(["float32", "uint8", "float64"])))
        return x, np.arange(n) % classes
    n = draw(st.integers(0, 40))
    shape = (n, *draw(st.lists(st.integers(0, 10), min_size=0, max_size=4)))
    dtype = draw(st.sampled_from(DTYPES))
    if dtype in ("U2", "O"):
        x = np.full(shape, "a", dtype)
    else:
        x = (np.random.default_rng(draw(st.integers(0, 9))).random(shape) * draw(st.sampled_from([1, 255, 300, -1])))
        x = x.astype(dtype)
        if dtype.startswith("float") and x.size and draw(st.booleans()):
            x.flat[0] = draw(st.sampled_from([math.nan, math.inf]))
    labels = draw(LABELS)
    y = np.array(labels, dtype=object if any(isinstance(v, int) and abs(v) >= 2**63 for v in labels) else None)
    if draw(st.integers(0, 4)) == 0 and y.dtype.kind in "iu" and len(y) and 0 <= y.min() and y.max() < 8:
        y = np.eye(int(y.max()) + 1, dtype=draw(st.sampled_from(["int64", "float32"])))[y]  # one-hot
    return x, y


@FUZZ
@given(data=arrays(), validation_split=_mostly(st.floats(0.05, 0.5)),
       train_subset=_mostly(st.none() | st.integers(1, 50)), seed=_mostly(st.integers(0, 2**32 - 1)))
def test_fuzz_datasets(data, validation_split, train_subset, seed):
    with contract(DatasetError) as refused:
        bundle = datasets.load(data, validation_split=validation_split, train_subset=train_subset, seed=seed)
    if not refused:
        assert bundle.num_classes >= 2 and bundle.train_size >= 1
        assert bundle.train_size + bundle.validation_size <= len(data[1])
