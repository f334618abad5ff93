"""Hostile and broken lab files (issue #13): resource bombs, values that crashed the loader, plain
messages for odd files, and a fuzz of a real saved lab.

Every case ends in a loaded lab or a LabFileError that names the file and the place, under a memory
bound (tracemalloc's peak while loading).  Set CONVLAB_HYPOTHESIS_EXAMPLES for a longer fuzz.
"""

import contextlib
import json
import math
import os
import shutil
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from convlab_widgets import ConvLab, persistence
from convlab_widgets.architecture import presets
from convlab_widgets.persistence import LabFileError, load_lab, save_lab
from convlab_widgets.training import Trainer, datasets

EXAMPLES = int(os.environ.get("CONVLAB_HYPOTHESIS_EXAMPLES", "60"))
MB = 1 << 20
MEMORY = 50 * MB  # the most a refused file may cost while loading it (tracemalloc's peak)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real small lab: one run on digits, 1 epoch, filters and predictions, its model kept."""
    # One step per host call: a batch row per step, which the row-order cases below count on.
    run = Trainer("conv_small", datasets.load("digits")).start(epochs=1, batch_size=64, seed=0, filter_every=10,
                                                               steps_per_execution=1)
    assert run.wait(timeout=180) and run.status == "completed", run.message
    run.name = "tiny"
    path = tmp_path_factory.mktemp("labs") / "tiny.convlab"
    return save_lab(path, architecture=presets.get("conv_small"), dataset="digits", runs=[run], models="all")


@pytest.fixture
def copy(saved, tmp_path):
    shutil.copy(saved / "runs" / "1.npz", tmp_path / "original.npz")
    return shutil.copytree(saved, tmp_path / "copy.convlab")


@contextlib.contextmanager
def bounded(limit=MEMORY, seconds=60):
    """Fails unless what runs inside allocates at most ``limit`` bytes at its peak and takes at most ``seconds``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    began = time.monotonic()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    took = time.monotonic() - began
    assert peak < limit, f"loading peaked at {peak / MB:.0f} MB"
    assert took < seconds, f"loading took {took:.0f} s"


def refused(copy, *fragments, limit=MEMORY):
    """load_lab(copy) raises a LabFileError naming the lab and holding each fragment, within the bound."""
    with bounded(limit), pytest.raises(LabFileError) as error:
        load_lab(copy)
    message = str(error.value)
    assert message.startswith(str(copy)), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def edit(copy, change):
    document = json.loads((copy / "lab.json").read_text())
    change(document)
    (copy / "lab.json").write_text(json.dumps(document))


def npz(path, members):
    """A zip of ``(name, bytes or iterable of chunks)``, written as np.savez_compressed writes one."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            with archive.open(name, "w", force_zip64=True) as out:
                for chunk in ([data] if isinstance(data, bytes) else data):
                    out.write(chunk)


def npy_header(shape, descr="<f4"):
    import io

    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def stored(copy):
    """The copy's arrays as saved."""
    with np.load(copy.parent / "original.npz") as arrays:
        return dict(arrays)


def replace_member(copy, key, header, data):
    """runs/1.npz with the member ``key`` replaced by ``header`` and ``data`` (bytes or chunks)."""
    kept = stored(copy)
    import io

    members = []
    for name, array in kept.items():
        if name == key:
            members.append((name + ".npy", [header, *([data] if isinstance(data, bytes) else data)]))
        else:
            out = io.BytesIO()
            np.lib.format.write_array(out, array)
            members.append((name + ".npy", out.getvalue()))
    npz(copy / "runs" / "1.npz", members)


# -- resource bombs: bounded before they are read ---------------------------------------------------


def test_an_array_that_inflates_to_a_gigabyte_is_refused_before_it_is_unpacked(copy):
    zeros = bytes(16 * MB)
    replace_member(copy, "filters_0_kernel", npy_header((1 << 28,)), (zeros for _ in range(64)))
    assert (copy / "runs" / "1.npz").stat().st_size < 2 * MB
    refused(copy, "1.npz: not a readable array file", "filters_0_kernel.npy", "unpacks to 1,073,741,952 bytes",
            f"{persistence.MAX_ARRAYS_BYTES:,} bytes")


def test_a_tightly_packed_array_under_the_size_bound_is_refused_as_a_zip_bomb(copy):
    replace_member(copy, "filters_0_kernel", npy_header((3, 3, 1, 8 << 20)), (bytes(16 * MB) for _ in range(18)))
    refused(copy, "filters_0_kernel.npy", "at most 100 times packed", "refused before unpacking it")


def test_an_array_header_declaring_more_than_it_holds_is_refused_unread(copy):
    replace_member(copy, "filters_0_kernel", npy_header((3, 3, 1, 1 << 26)), bytes(1024))
    refused(copy, "filters_0_kernel.npy", "declares a float32 array of shape (3, 3, 1, 67108864) (2,415,919,104 "
            "bytes)", f"({persistence.MAX_ARRAY_BYTES:,} bytes)")
    replace_member(copy, "filters_0_kernel", npy_header((3, 3, 1, 16)), bytes(100))
    refused(copy, "declares shape (3, 3, 1, 16) of float32 (576 bytes) but holds 100 bytes of data: it was cut short")


def test_the_arrays_of_a_lab_together_are_bounded(copy, monkeypatch):
    edit(copy, lambda d: d["runs"].append(d["runs"][0]))  # two runs, one array file read twice
    size = sum(array.nbytes for array in stored(copy).values())  # what loading counts: the arrays' data
    monkeypatch.setattr(persistence, "MAX_ARRAYS_BYTES", int(size * 1.5))
    refused(copy, "1.npz: member '", "with it, the lab's arrays come to more than a lab may hold "
            f"({int(size * 1.5):,} bytes in all)")


def test_a_zip_listing_too_many_members_is_refused_before_zipfile_reads_its_list(copy, monkeypatch):
    npz(copy / "runs" / "1.npz", [(f"a{i}.npy", b"") for i in range(300)])
    monkeypatch.setattr(persistence, "MAX_ZIP_MEMBERS", 200)
    refused(copy, "lists 300 members in", "at most 200 in")


def test_a_huge_lab_json_is_refused_before_it_is_read(copy):
    document = json.loads((copy / "lab.json").read_text())
    document["runs"][0]["name"] = "x" * (100 * MB)
    with open(copy / "lab.json", "w") as out:
        json.dump(document, out)
    del document
    refused(copy, "lab.json: 104,8", f"more than a lab file may hold ({persistence.MAX_LAB_BYTES:,} bytes)")


def test_a_lab_json_of_many_small_values_is_refused_before_it_is_parsed(copy):
    """64 MiB of "[]," took 1.4 GB and 15 s to parse; the values are counted first."""
    (copy / "lab.json").write_bytes(b"[" + b"[]," * (persistence.MAX_LAB_BYTES // 3 - 1) + b"0]")
    refused(copy, "lab.json: holds up to 44,739,242 values (numbers, texts, lists, objects), more than a lab file may "
            "hold (4,000,000); refused before parsing it", limit=80 * MB)


@pytest.mark.parametrize("unit, marks", [(b'"ab",', 1), (b'{"a":0},', 3), (b"[],", 2), (b"0.5,", 1)],
                         ids=["short texts", "small objects", "empty lists", "numbers"])
def test_parsing_a_lab_json_at_the_value_bound_is_bounded(copy, unit, marks):
    """The costliest values a byte (a text object is 50 bytes for 5 of JSON), just under the bound: parsed
    within 300 MB, then refused as not a lab."""
    count = (persistence.MAX_LAB_VALUES - 10) // marks
    (copy / "lab.json").write_bytes(b"[" + unit * count + b"0]")
    refused(copy, "lab.json: must be an object, got [", limit=300 * MB)
    with resident(400 * MB), pytest.raises(LabFileError):  # tracemalloc's own records (off here) would count
        load_lab(copy)


def test_a_realistic_big_lab_fits_the_bounds():
    """1,000 runs of 20 epochs of 23 batches (digits at batch size 64), each with filters every 10 batches
    and predictions every epoch, as save_lab writes them: within the value bound with room to spare."""
    epochs, steps = 20, 23
    number = 0.123456789012345  # a loss as JSON writes a float: 17 digits
    run = {"history": {"epoch": list(range(epochs)), **{key: [number] * epochs for key in (
               "loss", "accuracy", "val_loss", "val_accuracy", "lr", "duration")}},
           "batch_history": {"epoch": [epoch for epoch in range(epochs) for _ in range(steps)],
                             "step": list(range(steps)) * epochs,
                             **{key: [number] * epochs * steps for key in ("loss", "accuracy", "lr")}},
           "filters": [{"values": {"epoch": 1, "batch": 2, "layer": "conv2d", "time": number},
                        "arrays": {"kernel": f"filters_{i}_kernel"}} for i in range(epochs * steps // 10)],
           "predictions": [{"values": {"epoch": 1, "time": number},
                            "arrays": {key: f"predictions_{i}_{key}" for key in ("indices", "labels", "predicted",
                                                                                  "confidence")}}
                           for i in range(epochs + 1)]}
    text = json.dumps({"runs": [run] * persistence.MAX_RUNS}, separators=(",", ":"))
    assert 3_000_000 < persistence._values(text) < 0.9 * persistence.MAX_LAB_VALUES
    assert len(text) < persistence.MAX_LAB_BYTES


@pytest.mark.parametrize("field, limit", [("name", persistence.MAX_NAME), ("message", persistence.MAX_MESSAGE),
                                          ("status", persistence.MAX_TEXT), ("arrays", persistence.MAX_TEXT)])
def test_long_text_is_refused_with_its_limit(copy, field, limit):
    edit(copy, lambda d: d["runs"][0].__setitem__(field, "y" * MB))
    refused(copy, f"runs[0].{field} is 1,048,576 characters long; at most {limit:,} are allowed here")


def test_long_text_inside_a_config_is_refused(copy):
    edit(copy, lambda d: d["runs"][0]["config"].__setitem__("note", ["z" * MB]))
    refused(copy, "runs[0].config.note[0] is 1,048,576 characters long, more than 10,000")
    deep = 1
    for _ in range(33):
        deep = [deep]
    edit(copy, lambda d: d["runs"][0]["config"].__setitem__("note", deep))
    refused(copy, "runs[0].config.note", "is nested more than 32 deep")


def test_the_runs_of_a_lab_are_counted_before_they_are_read(copy):
    edit(copy, lambda d: d["runs"].extend([d["runs"][0]] * persistence.MAX_RUNS))
    refused(copy, "lab.json: runs holds 1,001 runs, more than a lab may hold (1,000)")


def test_epochs_batches_and_snapshots_are_bounded(copy, monkeypatch):
    original = (copy / "lab.json").read_text()
    edit(copy, lambda d: d["runs"][0]["history"].update(
        {k: v * (persistence.MAX_EPOCH_ROWS + 1) for k, v in d["runs"][0]["history"].items()}))
    refused(copy, "runs[0].history holds 10,001 epochs, more than a lab may hold (10,000)")
    (copy / "lab.json").write_text(original)
    batches = len(json.loads(original)["runs"][0]["batch_history"]["step"])
    monkeypatch.setattr(persistence, "MAX_BATCH_ROWS", batches - 1)
    refused(copy, f"lab.json: runs (all together) holds {batches} batches, more than a lab may hold ({batches - 1})")
    monkeypatch.setattr(persistence, "MAX_BATCH_ROWS", batches)
    monkeypatch.setattr(persistence, "MAX_FILTER_SNAPSHOTS", 2)
    snapshots = len(json.loads(original)["runs"][0]["filters"])
    refused(copy, f"runs[0].filters holds {snapshots} filter snapshots, more than a lab may hold (2)")


def test_saving_refuses_what_loading_would(saved, tmp_path):
    state = load_lab(saved)
    run = state.runs[0]
    run.name = "n" * (persistence.MAX_NAME + 1)
    with pytest.raises(ValueError, match=r"cannot be saved, as loading it would be refused: run 1's name is 201 "
                                         r"characters long, more than 200: rename it"):
        save_lab(tmp_path / "lab", architecture=state.architecture, dataset="digits", runs=[run])
    run.name, run.message = "tiny", "m" * 20_000
    again = save_lab(tmp_path / "lab", architecture=state.architecture, dataset="digits", runs=[run])
    message = load_lab(again).runs[0].message
    assert len(message) == persistence.MAX_MESSAGE and message.endswith("m\u2026")


# -- values that crashed the loader, or a panel after it -----------------------------------------


CRASHERS = [
    ("started_at", math.nan, "runs[0].started_at must be a finite time (seconds since 1970), got nan"),
    ("ended_at", math.inf, "runs[0].ended_at must be a finite time (seconds since 1970), got inf"),
    ("ended_at", 0.0, "runs[0].ended_at (0.0) is before started_at"),
]


@pytest.mark.parametrize("field, value, message", CRASHERS, ids=[m[:40] for *_, m in CRASHERS])
def test_times_must_be_finite_and_in_order(copy, field, value, message):
    edit(copy, lambda d: d["runs"][0].__setitem__(field, value))
    refused(copy, message)


@pytest.mark.parametrize("table, column, value", [("batch_history", "step", 2**63), ("batch_history", "epoch", -1),
                                                  ("history", "epoch", 10**9 + 1)])
def test_whole_numbers_in_tables_are_bounded(copy, table, column, value):
    edit(copy, lambda d: d["runs"][0][table][column].__setitem__(0, value))
    refused(copy, f"runs[0].{table}.{column}[0] must be from 0 to 1,000,000,000, got {value}")


ORDER = [
    ("batch_history", "epoch", 0, 72, "runs[0].batch_history row 1 (epoch 0, step 1) is not after the row before "
                                      "(epoch 72, step 0): a run records its batches in order"),
    ("batch_history", "step", 3, 2, "runs[0].batch_history row 3 (epoch 0, step 2) is not after the row before"),
    ("batch_history", "step", 5, 10_000, "runs[0].batch_history.step[5] is 10000, but an epoch of this run has "),
]


@pytest.mark.parametrize("table, column, row, value, message", ORDER, ids=[m[:50] for *_, m in ORDER])
def test_rows_out_of_order_are_refused_not_left_to_break_the_dashboard(copy, table, column, row, value, message):
    """Found by the fuzz below: batch 0 of epoch 72 before batch 1 of epoch 0 made ConvLab.load's smoothing
    raise OverflowError (math.exp of a count of batches done that went backwards)."""
    edit(copy, lambda d: d["runs"][0][table][column].__setitem__(row, value))
    refused(copy, message)


def test_epochs_out_of_order_are_refused(copy):
    edit(copy, lambda d: d["runs"][0]["history"].update({k: v * 2 for k, v in d["runs"][0]["history"].items()}))
    refused(copy, "runs[0].history.epoch[1] is 0, not after the epoch before (0): a run records its epochs in order")


def test_whole_numbers_elsewhere_are_bounded(copy):
    edit(copy, lambda d: d["runs"][0].__setitem__("param_count", 2**63))
    refused(copy, "runs[0].param_count must be from -9,007,199,254,740,992 to 9,007,199,254,740,992")
    edit(copy, lambda d: (d["runs"][0].__setitem__("param_count", 1000),
                          d["runs"][0]["filters"][0]["values"].__setitem__("batch", 2**70)))
    refused(copy, "runs[0].filters[0].values.batch must be from 0 to 1,000,000,000")


SETTINGS = [
    ("optimizer", "warp-drive", "runs[0].settings: optimizer: unknown optimizer 'warp-drive'; choose one of sgd"),
    ("schedule", "zigzag", "runs[0].settings: schedule: "),
    ("learning_rate", "fast", "runs[0].settings: learning_rate: must be a positive number such as 0.001, got 'fast'"),
    ("schedule_params", "x", "runs[0].settings: schedule: schedule_params must be a dict"),
    ("dataset", "imagenet", "runs[0].settings: dataset: unknown dataset 'imagenet'; choose one of digits"),
    ("epochs", 10**12, "runs[0].settings: epochs: must be a whole number from 1 to 10,000"),
]


@pytest.mark.parametrize("field, value, message", SETTINGS, ids=[f for f, *_ in SETTINGS])
def test_bad_run_settings_are_located(copy, field, value, message):
    edit(copy, lambda d: d["runs"][0]["settings"].__setitem__(field, value))
    refused(copy, message)


def test_the_lab_settings_are_located_too(copy):
    edit(copy, lambda d: d["settings"].__setitem__("optimizer", "warp-drive"))
    refused(copy, "lab.json: settings: optimizer: unknown optimizer 'warp-drive'")


def test_a_run_on_an_unknown_dataset_is_refused_not_left_for_clone_to_trip_on(copy):
    edit(copy, lambda d: d["runs"][0]["settings"].__setitem__("dataset", "cifar100"))
    refused(copy, "runs[0].settings: dataset: unknown dataset 'cifar100'; did you mean 'cifar10'?")


def test_a_loaded_run_clones(saved):
    lab = ConvLab.load(saved)
    lab.clone(lab.runs[0])
    assert lab.settings.dataset == "digits" and lab.architecture.to_dict() == lab.runs[0].architecture.to_dict()


def test_a_float_activation_is_refused_in_a_run_and_kept_drawable_in_the_builder(copy):
    edit(copy, lambda d: d["runs"][0]["architecture"]["layers"][0]["params"].__setitem__("activation", 1.5))
    refused(copy, "runs[0].architecture: Conv2D #1", "activation")
    edit(copy, lambda d: (d["runs"][0]["architecture"]["layers"][0]["params"].__setitem__("activation", "relu"),
                          d["architecture"]["layers"][0]["params"].__setitem__("activation", 1.5)))
    lab = ConvLab.load(copy)  # the builder keeps what a learner was typing, and draws it with its error
    view = lab.builder.view
    assert view["rows"][0]["error"] and "activation" in json.dumps(view["rows"][0])


ARRAYS = [
    ("raw bytes", [("filters_0_kernel", b"\x00" * 64)], "member 'filters_0_kernel' is not a .npy array"),
    ("garbage .npy", [("filters_0_kernel.npy", b"\x93NUMPY garbage")], "member 'filters_0_kernel.npy': "),
    ("structured", [("filters_0_kernel.npy", npy_header((4,), [("a", "<f4")]) + bytes(16))], "structured dtype"),
    ("object", [("filters_0_kernel.npy", npy_header((1,), "|O") + bytes(8))], "holds Python objects"),
    ("version 3", [("filters_0_kernel.npy", b"\x93NUMPY\x03\x00" + bytes(8))], "array format version (3, 0)"),
]


@pytest.mark.parametrize("what, members, message", ARRAYS, ids=[w for w, *_ in ARRAYS])
def test_odd_array_members_are_located(copy, what, members, message):
    npz(copy / "runs" / "1.npz", members)
    refused(copy, "1.npz: not a readable array file", message)


def test_a_void_array_is_refused_as_not_numeric(copy):
    kept = stored(copy)
    kept["filters_0_kernel"] = np.zeros(4, "V8")
    np.savez(copy / "runs" / "1.npz", **kept)
    refused(copy, "runs[0].filters[0].arrays.kernel must be a numeric array, got dtype |V8")


@pytest.mark.parametrize("key, array, message", [
    ("predictions_0_indices", lambda n: np.full(n, 10**6), "predictions[0].indices must be from 0 to 358, got"),
    ("predictions_0_labels", lambda n: np.full(n, -1), "predictions[0].labels must be from 0 to 9, got -1"),
    ("predictions_0_predicted", lambda n: np.full(n, 10), "predictions[0].predicted must be from 0 to 9, got 10 to 10"),
    ("predictions_0_confidence", lambda n: np.zeros((n, 2)), "predictions[0].confidence must be a 1-D array"),
    ("predictions_0_labels", lambda n: np.zeros(n, np.float32), "predictions[0].labels must hold whole numbers"),
    ("predictions_0_labels", lambda n: np.zeros(n - 1, np.int64), "predictions[0].labels must be a 1-D array, as "
                                                                  "long as indices"),
    ("filters_0_kernel", lambda n: np.zeros((3, 3, 1, 0), np.float32),
     "filters[0].kernel must be a 4-D float array, not empty"),
])
def test_snapshot_arrays_that_would_break_a_panel_are_refused(copy, key, array, message):
    kept = stored(copy)
    assert key in kept and json.loads((copy / "lab.json").read_text())["runs"][0]["config"]["validation_size"] == 359
    kept[key] = array(len(kept["predictions_0_indices"]))
    np.savez_compressed(copy / "runs" / "1.npz", **kept)
    refused(copy, message)


# -- plain messages for odd files -----------------------------------------------------------------


def test_a_lab_json_with_a_byte_order_mark_loads(copy):
    text = (copy / "lab.json").read_text(encoding="utf-8")
    (copy / "lab.json").write_text(text, encoding="utf-8-sig")
    assert (copy / "lab.json").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert [run.name for run in load_lab(copy).runs] == ["tiny"]


def _load_in_time(copy, seconds=20):
    """load_lab in a thread: it must answer, not wait on a FIFO for a writer that never comes."""
    result = []
    thread = threading.Thread(target=lambda: result.append(_outcome(copy)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "loading hung"
    return result[0]


def _outcome(copy):
    try:
        return load_lab(copy)
    except LabFileError as error:
        return error


@pytest.mark.parametrize("member, where", [("runs/1.npz", "runs[0].arrays"), ("runs/1.keras", "runs[0].model"),
                                           ("lab.json", "lab.json:")])
def test_a_fifo_is_not_a_regular_file_and_is_never_opened(copy, member, where):
    (copy / member).unlink()
    os.mkfifo(copy / member)
    error = _load_in_time(copy)
    assert isinstance(error, LabFileError), error
    message = str(error)
    assert where in message and "is not a regular file: it is a FIFO (named pipe)" in message, message
    assert "missing" not in message and "put the file saved with the lab in its place" in message


def test_a_folder_in_place_of_a_file_is_named(copy):
    (copy / "runs" / "1.npz").unlink()
    (copy / "runs" / "1.npz").mkdir()
    refused(copy, "runs[0].arrays names 'runs/1.npz', but", "is not a regular file: it is a folder")


def test_a_legacy_hdf5_model_renamed_keras_says_so(copy):
    import keras

    model = keras.saving.load_model(copy / "runs" / "1.keras")
    model.save(copy / "legacy.h5")
    os.replace(copy / "legacy.h5", copy / "runs" / "1.keras")
    message = refused(copy, "1.keras: an HDF5 file (Keras' legacy .h5 format) named .keras",
                      "save it again as model.save('model.keras')", limit=200 * MB)
    assert "File not found" not in message


def test_a_model_zip_bomb_is_refused_before_keras_unpacks_it(copy):
    with zipfile.ZipFile(copy / "runs" / "1.keras") as original:
        members = [(info.filename, original.read(info)) for info in original.infolist()]
    npz(copy / "runs" / "1.keras", members + [("config.json.pad", (bytes(16 * MB) for _ in range(80)))])
    refused(copy, "1.keras: not a readable Keras model: member 'config.json.pad' unpacks to 1,342,177,280 bytes")


def _rewrite_model(copy, **members):
    """runs/1.keras with the members given replaced (bytes), the others as saved."""
    file = copy / "runs" / "1.keras"
    with zipfile.ZipFile(file) as original:
        kept = {info.filename: original.read(info) for info in original.infolist()}
    with zipfile.ZipFile(file, "w") as archive:
        for name, data in {**kept, **members}.items():
            archive.writestr(name, data)


def _model_config(copy):
    with zipfile.ZipFile(copy / "runs" / "1.keras") as archive:
        return json.loads(archive.read("config.json"))


@contextlib.contextmanager
def resident(limit):
    """Fails unless the process' resident memory grows by less than ``limit`` bytes inside (the kernel's
    high-water mark, reset first: TensorFlow's own allocations count, which tracemalloc misses)."""
    def high_water():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) << 10 for line in status if line.startswith("VmHWM:"))

    with open("/proc/self/clear_refs", "w") as reset:
        reset.write("5")  # the high-water mark starts again from what is resident now
    before = high_water()
    yield
    grown = high_water() - before
    assert grown < limit, f"resident memory grew by {grown / MB:.0f} MB"


def test_a_model_config_declaring_huge_layers_is_never_built(copy):
    """config.json says Dense(700,000) and Conv2D(1,000,000): load_model built them (1.4 GB, 36 MB) before any
    check.  The model is built from the run's architecture instead, so what config.json declares is not built."""
    config = _model_config(copy)
    layers = {layer["class_name"] + str(i): layer["config"] for i, layer in enumerate(config["config"]["layers"])}
    layers["Conv2D1"]["filters"], layers["Dense4"]["units"] = 10**6, 700_000
    _rewrite_model(copy, **{"config.json": json.dumps(config)})
    with resident(300 * MB), bounded(limit=200 * MB):
        model = load_lab(copy).runs[0].model
    assert [layer.get_config().get("units") for layer in model.layers if "units" in layer.get_config()] == [64, 10]


def test_an_architecture_outweighing_its_model_file_is_refused_before_it_is_built(copy):
    edit(copy, lambda d: (d["runs"][0]["architecture"]["layers"][3]["params"].__setitem__("units", 65536),
                          d["runs"][0].__setitem__("param_count", None)))
    with resident(300 * MB):
        refused(copy, "1.keras: member model.weights.h5 holds ", " bytes, too few for the 34,280,138",
                "parameters of the run's architecture (4 bytes each): the model is not this run's")
    edit(copy, lambda d: d["runs"][0].__setitem__("param_count", 1234))
    refused(copy, "runs[0].param_count is 1,234, but the run's architecture has 34,280,138 parameters")


def _weights(copy, build):
    """runs/1.keras with its weights replaced by an HDF5 file that ``build(h5py.File)`` writes."""
    import io

    import h5py

    out = io.BytesIO()
    with h5py.File(out, "w") as h5:
        build(h5)
    _rewrite_model(copy, **{"model.weights.h5": out.getvalue() + bytes(488_820)})  # padded to the weights' size


def test_weights_that_inflate_when_read_are_refused_before_keras_reads_them(copy):
    _weights(copy, lambda h5: h5.create_dataset("layers/dense/vars/0", shape=(1 << 28,), dtype="f4",
                                                 chunks=(1 << 20,), compression="gzip", fillvalue=0))
    refused(copy, "1.keras: member model.weights.h5 refused: 'layers/dense/vars/0' brings the declared weights to "
            "1,073,741,824 bytes, more than the")


@pytest.mark.parametrize("what, build, message", [
    ("external link", lambda h5: h5.__setitem__("layers", __import__("h5py").ExternalLink("/etc/passwd", "/")),
     "'layers' is a link (ExternalLink)"),
    ("text", lambda h5: h5.create_dataset("layers/x", data=np.array([b"run me"])), "holds |S6 values, not numbers"),
    ("external data", lambda h5: h5.create_dataset("layers/x", shape=(4,), dtype="f4", external=[("/dev/zero", 0,
                                                                                                    16)]),
     "'layers/x' keeps its data outside the file"),
])
def test_weights_pointing_outside_their_file_are_refused(copy, what, build, message):
    _weights(copy, build)
    refused(copy, "1.keras: member model.weights.h5 refused: ", message)


def test_a_model_file_swapped_after_its_checks_is_never_read(copy, monkeypatch):
    """Keras opened the .keras again by its path after the zip checks: a FIFO swapped in then made loading
    wait for ever.  Everything is read from the descriptor that was checked."""
    checked = persistence._zip

    def then_swap(file, *args, **kwargs):
        archive = checked(file, *args, **kwargs)
        if file.suffix == ".keras":
            file.unlink()
            os.mkfifo(file)
        return archive

    monkeypatch.setattr(persistence, "_zip", then_swap)
    state = _load_in_time(copy)
    assert not isinstance(state, LabFileError), state
    assert state.runs[0].model is not None and (copy / "runs" / "1.keras").is_fifo()


@pytest.mark.parametrize("member", ["runs/1.npz", "runs/1.keras"])
def test_a_member_swapped_between_its_check_and_its_opening_is_refused(copy, member, tmp_path):
    """_member checks a path (inside the lab, a regular file), and the file is opened after: another file put
    in its place meanwhile (here a copy, so the same bytes, another inode) is refused, not read."""
    checked = persistence._member

    def then_swap(root, name, where):
        found = checked(root, name, where)
        if name == member:
            shutil.copy(copy / member, tmp_path / "other")
            os.replace(tmp_path / "other", copy / member)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(persistence, "_member", then_swap)
        refused(copy, f"{Path(member).name} was replaced by another file while the lab was loading")


# -- fuzz: a real saved lab, damaged at random ---------------------------------------------------

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
JSON = st.recursive(st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=8)
SAME_KIND = {str: st.text(max_size=60) | st.sampled_from(['"><img src=x onerror="window.__pwned=1">', "", "\u202e",
                                                         "a" * 201]),
             int: st.integers(-3, 2**64), bool: st.booleans(), float: st.floats() | st.integers(-3, 10**6)}
DTYPES = ["<f4", "<f8", "<i8", "|u1", "|b1", "<U3", "|V4", "<c8", "<M8[s]", "<f2"]


def _paths(value, path=()):
    """Every place in a JSON document, the document itself first."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*path, key))


def _at_path(document, path):
    for key in path:
        document = document[key]
    return document


def _loads_or_refuses(lab, *, full=False):
    """The one contract: a lab, or a LabFileError naming the lab; never another exception, within the bound.
    ``full``: a lab that loads is opened as ConvLab.load opens it too (table, panels, builder)."""
    with bounded(limit=MEMORY * (4 if full else 1)):
        try:
            state = load_lab(lab)
        except LabFileError as error:
            assert str(error).startswith(str(lab)), error
            event(f"refused: {str(error)[len(str(lab)):].split(':')[1].strip()[:40]}")
            return None
    event("loaded")
    if full:
        ConvLab.load(lab)
    return state


@contextlib.contextmanager
def _fresh(saved):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        yield Path(shutil.copytree(saved, os.path.join(folder, "lab.convlab")))


def _damage(file, data, how):
    """``file`` cut at a random byte (``how="truncate"``) or with up to 8 random bytes changed."""
    raw = bytearray(file.read_bytes())
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), label="at")]
    else:
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            raw[data.draw(st.integers(0, len(raw) - 1), label="byte")] = data.draw(st.integers(0, 255))
    file.write_bytes(bytes(raw))


@FUZZ
@given(data=st.data())
def test_fuzz_lab_json_fields_deleted_or_replaced(saved, data):
    with _fresh(saved) as lab:
        document = json.loads((lab / "lab.json").read_text())
        if data.draw(st.integers(0, 19), label="whole") == 0:
            document = data.draw(JSON, label="document")  # not a lab at all
        for _ in range(data.draw(st.integers(1, 3), label="edits") if isinstance(document, dict) else 0):
            places = list(_paths(document))[1:]
            if not places:
                break
            path = data.draw(st.sampled_from(places), label="path")
            parent, key = _at_path(document, path[:-1]), path[-1]
            how = data.draw(st.sampled_from(["same kind", "delete", "replace", "same kind"]), label="how")
            if how == "delete":
                del parent[key]
            elif how == "replace" or not isinstance(parent[key], (str, int, float)):
                parent[key] = data.draw(JSON, label="value")
            else:  # a value of the kind the field holds, so that more cases get past the type checks
                parent[key] = data.draw(SAME_KIND[type(parent[key])], label="value")
        (lab / "lab.json").write_text(json.dumps(document))
        _loads_or_refuses(lab, full=True)


@FUZZ
@given(data=st.data())
def test_fuzz_lab_json_truncated_or_its_bytes_flipped(saved, data):
    with _fresh(saved) as lab:
        _damage(lab / "lab.json", data, data.draw(st.sampled_from(["truncate", "flip"]), label="how"))
        _loads_or_refuses(lab, full=True)


@FUZZ
@given(data=st.data())
def test_fuzz_the_array_file_truncated_flipped_or_its_members_replaced(saved, data):
    with _fresh(saved) as lab:
        file = lab / "runs" / "1.npz"
        how = data.draw(st.sampled_from(["truncate", "flip", "replace", "raw"]), label="how")
        if how in ("truncate", "flip"):
            _damage(file, data, how)
        else:
            with np.load(file) as arrays:
                kept = dict(arrays)
            key = data.draw(st.sampled_from(sorted(kept)), label="member")
            if how == "raw":
                members = [(name + ".npy", _npy(array)) for name, array in kept.items() if name != key]
                npz(file, members + [(data.draw(st.sampled_from([key, key + ".npy"])),
                                      data.draw(st.binary(max_size=300), label="bytes"))])
            else:
                dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
                shape = tuple(data.draw(st.lists(st.integers(0, 6), max_size=4), label="shape"))
                kept[key] = np.zeros(shape, dtype) if dtype[1] in "UVM" else \
                    (np.arange(math.prod(shape)) - data.draw(st.integers(-5, 400))).astype(dtype).reshape(shape)
                np.savez_compressed(file, **kept)
        _loads_or_refuses(lab, full=True)


def _npy(array):
    import io

    out = io.BytesIO()
    np.lib.format.write_array(out, array)
    return out.getvalue()


@settings(FUZZ, max_examples=max(10, EXAMPLES // 3))
@given(data=st.data())
def test_fuzz_the_model_file_truncated_or_flipped(saved, data):
    with _fresh(saved) as lab:
        _damage(lab / "runs" / "1.keras", data, data.draw(st.sampled_from(["truncate", "flip"]), label="how"))
        with bounded(limit=200 * MB):  # Keras' own reading of a model allocates more than the rest
            try:
                load_lab(lab)
                event("loaded")
            except LabFileError as error:
                assert str(error).startswith(str(lab)), error
                event("refused")
