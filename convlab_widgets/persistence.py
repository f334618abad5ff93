"""Saving a lab to a folder and loading it back.

Labs travel between learners and teachers, so loading treats the folder as
untrusted: every field of ``lab.json`` is checked and a problem names the
file and the place in it; arrays are read without pickle; a run's model is
built from the run's own (checked) architecture and only its numbers are read
from the ``.keras`` file, so nothing the file declares is built or run.  Sizes are bounded before what they measure is read
(``MAX_*`` below: the bytes of ``lab.json``, text lengths, counts of runs,
rows and snapshots, the declared sizes inside the zip files and the array
headers), so a file built to exhaust memory is refused cheaply; only regular
files are opened, never a FIFO that would wait, and each is read through the one descriptor
whose file was checked.  Saving writes into a temporary folder beside the
target and renames it into place once complete, so a failed save leaves no
half-written lab and an overwritten one stays intact until the new one is
whole.

Layout of a saved lab (any folder name; ``name.convlab`` reads well)::

    lab.json       {"format": "convlab-lab", "version": 1, "keras_version": "3.13.2",
                    "architecture": {...}, "dataset": "digits", "settings": {...},
                    "runs": [{"name", "status", "message", "started_at", "ended_at",
                              "param_count", "config", "architecture",
                              "history": {column: [...]}, "batch_history": {column: [...]},
                              "filters": [snapshot, ...], "predictions": [snapshot, ...],
                              "health": [snapshot, ...],
                              "arrays": "runs/1.npz", "model": "runs/1.keras" or null}, ...]}
    runs/<n>.npz   the arrays of run n's snapshots (``np.savez_compressed``)
    runs/<n>.keras run n's trained model, for the runs whose model was saved

A run's status is one of ``status.TERMINAL``: "interrupted" for a run that was still training when
``ConvLab(autosave=...)`` wrote the folder (:mod:`convlab_widgets.autosave`, which writes this same
layout with other file names); its ``model`` is then its checkpoint, to resume from.

A snapshot is ``{"values": {field: value}, "arrays": {field: npz key}}``; the
list holding it names its event class (``FilterSnapshot``, ``PredictionSnapshot``, ``HealthSnapshot``),
and snapshots whose class this version lacks are skipped.  Non-finite numbers
(the loss of a diverged batch) are written as JSON's common ``NaN``/``Infinity``
extension, which Python reads back.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import re
import shutil
import stat
import struct
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architecture import Architecture, ArchitectureError
from .architecture.errors import short
from .training import datasets, events
from .training import schedules
from .training.lr_range import KEPT_ENDS, SavedRangeTest, check_range
from .training.record import SavedRun
from .training.settings import MAX_EPOCHS, OPTIMIZERS, Settings, SettingsError
from .training.status import INTERRUPTED, TERMINAL

FORMAT = "convlab-lab"
VERSION = 1
LAB_FILE = "lab.json"
MODELS = ("latest", "all")

# What a lab may hold at most.  Loading checks each bound before reading what it bounds (a file's
# size before reading it, an array's declared size before decompressing it), so a hostile file
# costs little memory; saving refuses a lab that loading would refuse.
MAX_LAB_BYTES = 64 << 20  # lab.json
# Values in lab.json (numbers, texts, lists, objects), counted before it is parsed: parsing costs 30 to 64
# bytes a value, so 64 MiB of "[]," would take 1.4 GB.  A lab of 1,000 runs of 20 epochs of 23 batches holds
# 3.2 million in 35 MB (150 MB to parse); at this bound parsing takes at most about 300 MB.
MAX_LAB_VALUES = 4_000_000
MAX_RUNS = 1000
MAX_NAME = 200  # a run's name, in characters
MAX_MESSAGE = 10_000  # a run's message (saving shortens a longer one)
MAX_TEXT = 200  # every other text field: status, paths, versions, layer names
MAX_KEPT_TEXT = 10_000  # text inside a run's config, kept as it is
MAX_KEPT_DEPTH = 32  # nesting inside a run's config
MAX_COUNT = 10**9  # epochs, steps and batches in a run's tables and snapshots
MAX_WHOLE = 2**53  # any other whole number (as far as JavaScript counts exactly)
MAX_EPOCH_ROWS = MAX_EPOCHS  # per run
MAX_BATCH_ROWS = 5_000_000  # in all the runs of a lab together
MAX_FILTER_SNAPSHOTS = 20_000  # per run
MAX_PREDICTION_SNAPSHOTS = MAX_EPOCHS + 1  # per run: one per epoch and the start
MAX_HEALTH_SNAPSHOTS = 20_000  # per run
MAX_HEALTH_LAYERS = 1000  # layers with weights in one health snapshot
MAX_ARRAY_BYTES = 256 << 20  # one array, as declared in its header
MAX_ARRAYS_BYTES = 1 << 30  # all the arrays of a lab together
MAX_MODEL_BYTES = 1 << 30  # the unpacked members of one .keras file together
MAX_MODEL_CONFIG = 16 << 20  # a .keras file's config.json, read whole
MAX_ZIP_MEMBERS = 65_000  # in one .npz or .keras file
MAX_ZIP_DIRECTORY = 16 << 20  # a zip's table of contents, read whole by zipfile
MAX_RATIO = 100  # unpacked / packed size of a zip member over 1 MiB: a zip bomb packs far tighter
_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = b"PK\x03\x04"
_MODEL_CONFIG, _WEIGHTS = "config.json", "model.weights.h5"  # the members of a .keras file read here


# What a value must be, by name; "?" also admits null.  Each kind: (description, test, bound),
# the bound being the longest text or the (low, high) of a number, checked once the type is right.
_KINDS = {
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool), (-MAX_WHOLE, MAX_WHOLE)),
    "count": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool), (0, MAX_COUNT)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), None),
    "bool": ("true or false", lambda v: isinstance(v, bool), None),
    "text": ("text", lambda v: isinstance(v, str), MAX_TEXT),
    "name": ("text", lambda v: isinstance(v, str), MAX_NAME),
    "message": ("text", lambda v: isinstance(v, str), MAX_MESSAGE),
    "object": ("an object", lambda v: isinstance(v, dict), None),
    "list": ("a list", lambda v: isinstance(v, list), None),
}
_LAB_FIELDS = {"format": "text", "version": "int", "keras_version": "text", "architecture": "object",
               "dataset": "text", "settings": "object", "runs": "list"}
# Once a learning-rate range test has ended: its curve, redrawn in the panel of the loaded lab.
_OPTIONAL_LAB_FIELDS = {"range_test": "object"}
_RANGE_TEST_FIELDS = {"min_lr": "number", "max_lr": "number", "steps": "count", "batches": "object",
                      "status": "text", "message": "message"}
_RANGE_TEST_COLUMNS = {"lr": "number", "loss": "number"}
_RUN_FIELDS = {"name": "name", "status": "text", "message": "message", "started_at": "number",
               "ended_at": "number?", "param_count": "int?", "config": "object", "architecture": "object",
               "history": "object", "batch_history": "object", "filters": "list", "predictions": "list",
               "health": "list", "arrays": "text", "model": "text?", "settings": "object"}
# Only in an autosave's interrupted run: the keys, in its arrays file, of its model's and optimizer's variables.
_OPTIONAL_RUN_FIELDS = {"checkpoint": "list"}
# The config entries a restored run reads; the others are kept as they are.
_CONFIG_FIELDS = {"epochs": "count", "batch_size": "count", "per_replica_batch_size": "count", "replicas": "count",
                  "steps_per_epoch": "count", "learning_rate": "number", "strategy": "text"}
_EPOCH_COLUMNS = {"epoch": "count", "loss": "number", "accuracy": "number?", "val_loss": "number?",
                  "val_accuracy": "number?", "lr": "number", "duration": "number"}
_BATCH_COLUMNS = {"epoch": "count", "step": "count", "loss": "number", "accuracy": "number?", "lr": "number"}
# Where a run keeps its snapshots -> their event class (events.py).
_SNAPSHOT_CLASSES = {"filters": "FilterSnapshot", "predictions": "PredictionSnapshot", "health": "HealthSnapshot"}
# Snapshot field annotations (events.py writes them as strings) -> kinds.
_ANNOTATION_KINDS = {"int": "count", "float": "number", "bool": "bool", "str": "text", "dict": "object",
                     "list": "list", "tuple": "list"}


class LabFileError(ValueError):
    """A saved lab that cannot be loaded: the message names the file and what is wrong in it."""


class LabSaveError(RuntimeError):
    """Writing a lab failed part way; nothing was left behind and an earlier save is unchanged."""


@dataclass
class LabState:
    """What a saved lab holds: enough to rebuild the lab, its panels and its runs."""

    architecture: Architecture
    dataset: str
    settings: Settings
    runs: list
    range_test: SavedRangeTest | None = None  # the latest learning-rate range test that ended


# -- saving -------------------------------------------------------------------------------------


def save_lab(path, *, architecture, dataset, runs, settings=None, models="latest", overwrite=False,
             range_test=None) -> Path:
    """Write the lab into the folder ``path`` and return its path.

    ``models="latest"`` keeps the model of the latest run that has one, the
    model a learner goes on with; ``"all"`` keeps every run's model, each
    about three times the size of its weights (the optimizer's state is
    saved too).  ``settings``: the lab's controls as plain values;
    ``range_test``: the latest learning-rate range test that ended, if any.
    """
    target = Path(path).expanduser()
    if models not in MODELS:
        raise ValueError(f"models must be 'latest' or 'all', got {models!r}")
    if dataset not in datasets.names():
        raise ValueError(f"dataset must be one of {', '.join(datasets.names())}, got {dataset!r}")
    if not isinstance(settings, (Settings, type(None))):
        raise TypeError(f"settings must be the lab's Settings, got {type(settings).__name__}")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists: pass overwrite=True to replace it, or choose another name")
    if target.exists() and not (target / LAB_FILE).is_file():
        raise FileExistsError(f"{target} exists and is not a saved lab, so it is left alone: choose another name")
    runs = list(runs)
    for index, run in enumerate(runs):
        if not run.done:
            raise RuntimeError(f"run {index + 1} is still {run.status}: stop it (run.stop()) "
                               "or wait for it (run.wait()) before saving")
    with_model = [index for index, run in enumerate(runs) if run.model is not None]
    kept = set(with_model if models == "all" else with_model[-1:])
    records = [run_entry(run, index, index in kept) for index, run in enumerate(runs)]
    text = lab_text(architecture.to_dict(), dataset, settings, [entry for entry, _ in records], range_test)
    steps = []
    for run, (entry, arrays) in zip(runs, records):
        steps.append((entry["arrays"], lambda file, arrays=arrays: np.savez_compressed(file, **arrays)))
        if entry["model"] is not None:
            steps.append((entry["model"], lambda file, model=run.model: model.save(str(file))))
    steps.append((LAB_FILE, lambda file: file.write_text(text, encoding="utf-8")))
    _stage(steps, target)
    return target


def lab_text(architecture, dataset, settings, entries, range_test=None) -> str:
    """The text of lab.json: the lab's ``architecture`` (its ``to_dict()``), dataset and settings, the
    runs' entries (:func:`run_entry`) and the ``range_test`` that ended last (a ``RangeTest`` or its
    record), if any; a lab that loading would refuse for its size is refused here."""
    import keras

    document = {"format": FORMAT, "version": VERSION, "keras_version": keras.__version__,
                "architecture": architecture, "dataset": dataset,
                "settings": (settings or Settings(dataset=dataset)).to_dict(), "runs": list(entries)}
    if range_test is not None and range_test.status in KEPT_ENDS:
        saved = SavedRangeTest.of(range_test)
        document["range_test"] = {"min_lr": saved.min_lr, "max_lr": saved.max_lr, "steps": saved.steps,
                                  "batches": {"lr": list(saved.lrs), "loss": list(saved.losses)},
                                  "status": saved.status, "message": _shortened(saved.message)}
    text = json.dumps(document, separators=(",", ":"))
    _savable(document, text)
    return text


def run_entry(run, index, keep_model):
    """(lab.json entry, npz arrays) of one run, the ``index``-th of its lab: its files are
    ``runs/<index + 1>.npz`` and, with ``keep_model``, ``runs/<index + 1>.keras``."""
    where = f"run {index + 1}"
    arrays = {}
    snapshots = {kind: [_snapshot_entry(snapshot, f"{kind}_{i}", arrays, f"{where} {kind}[{i}]")
                        for i, snapshot in enumerate(getattr(run, kind, None) or ())]
                 for kind in _SNAPSHOT_CLASSES}
    entry = {
        "name": getattr(run, "name", None) or where, "status": run.status, "message": _shortened(run.message),
        "started_at": run.started_at, "ended_at": run.ended_at,
        "param_count": run.param_count,
        "config": _plain(run.config, f"{where} config"), "architecture": run.architecture.to_dict(),
        "history": _columns(run.history, _EPOCH_COLUMNS), "batch_history": _columns(run.batch_history, _BATCH_COLUMNS),
        **snapshots, "arrays": f"runs/{index + 1}.npz", "model": f"runs/{index + 1}.keras" if keep_model else None,
        "settings": run.settings.to_dict() if run.settings is not None else {},  # for a clone
    }
    return entry, arrays


def _shortened(message):
    """A run's message as saved: a very long one (a traceback) is cut to ``MAX_MESSAGE`` characters."""
    message = str(message or "")
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "\u2026"


def _savable(document, text):
    """A lab that loading would refuse for its size is not written: what is too big, and what to do."""
    runs, size, values = document["runs"], len(text.encode("utf-8")), _values(text)
    problems = []
    if len(runs) > MAX_RUNS:
        problems.append(f"it has {len(runs):,} runs, more than {MAX_RUNS:,}: delete some (lab.delete(run))")
    for index, entry in enumerate(runs):
        if len(entry["name"]) > MAX_NAME:
            problems.append(f"run {index + 1}'s name is {len(entry['name']):,} characters long, more than {MAX_NAME}:"
                            " rename it (lab.rename(run, name))")
        for kind, most in (("filters", MAX_FILTER_SNAPSHOTS), ("predictions", MAX_PREDICTION_SNAPSHOTS),
                           ("health", MAX_HEALTH_SNAPSHOTS)):
            if len(entry[kind]) > most:
                problems.append(f"run {index + 1} has {len(entry[kind]):,} {kind} snapshots, more than {most:,}")
    batches = sum(len(entry["batch_history"]["step"]) for entry in runs)
    if batches > MAX_BATCH_ROWS:
        problems.append(f"its runs have {batches:,} batches in all, more than {MAX_BATCH_ROWS:,}: delete some runs")
    if size > MAX_LAB_BYTES:
        problems.append(f"its lab.json would be {size:,} bytes, more than {MAX_LAB_BYTES:,}: delete some runs")
    if values > MAX_LAB_VALUES:
        problems.append(f"its lab.json would hold up to {values:,} values, more than {MAX_LAB_VALUES:,}: delete "
                        "some runs")
    if problems:
        raise ValueError("this lab cannot be saved, as loading it would be refused: " + "; ".join(problems))


def _columns(table, kinds):
    cast = {"count": int, "number": float}
    return {key: [None if v is None else cast[kinds[key].rstrip("?")](v) for v in table[key]] for key in kinds}


def _snapshot_entry(snapshot, prefix, arrays, where):
    """Array fields go to the npz under a key the entry names; the others into lab.json."""
    values, named = {}, {}
    for field in dataclasses.fields(snapshot):
        if not field.init:
            continue
        value = getattr(snapshot, field.name)
        if isinstance(value, np.ndarray):
            named[field.name] = key = f"{prefix}_{field.name}"
            arrays[key] = value
        else:
            values[field.name] = _plain(value, f"{where}.{field.name}")
    return {"values": values, "arrays": named}


def _plain(value, where):
    """A JSON-ready copy of ``value``: numpy scalars become Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _plain(item, f"{where}.{key}") for key, item in value.items()}
    raise TypeError(f"{where}: a {type(value).__name__} cannot be saved in a lab; "
                    "only numbers, text, True/False, None, lists and dicts with text keys can")


def _stage(steps, target):
    """Run the ``(file name, writer)`` steps in a fresh folder beside ``target``, then put it in place."""
    doing = f"creating a folder in {target.parent}"
    staging = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", suffix=".saving", dir=target.parent))
        (staging / "runs").mkdir()
        for name, write in steps:
            doing = f"writing {name}"
            write(staging / name)
        doing = "moving the new save into place"
        _install(staging, target)
    except Exception as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise LabSaveError(f"could not save the lab to {target}: {doing} failed ({type(error).__name__}: "
                           f"{error}); nothing was saved") from error


def _install(staging, target):
    """An existing save is set aside until the new one is in place, and put back if that fails."""
    old = staging.with_suffix(".old")
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- loading ------------------------------------------------------------------------------------


def load_lab(path) -> LabState:
    """Read a lab written by :func:`save_lab`, checking every part of it; raises :class:`LabFileError`."""
    root = Path(path).expanduser()
    if not root.exists():
        # _install sets an earlier save aside before it moves the new one in: a save killed between the two
        # renames leaves the whole earlier lab there, under the name _stage gave it.
        aside = sorted(root.parent.glob(f".{glob.escape(root.name)}-*.old"))
        if aside and (aside[-1] / LAB_FILE).is_file():
            raise LabFileError(f"{root}: there is no saved lab here, but a save to it was interrupted: the lab saved "
                               f"before is whole in {aside[-1]}; rename that folder to {root.name} to load it")
        raise LabFileError(f"{root}: there is no saved lab here (the path does not exist)")
    file = root / LAB_FILE
    if not (file.exists() or file.is_symlink()):
        raise LabFileError(f"{root}: not a saved lab (a lab is a folder holding a {LAB_FILE})")
    document = _read_json(file)
    _check(document, "object", f"{file}:")
    if document.get("format") != FORMAT:
        raise LabFileError(f"{file}: not a convlab lab: 'format' must be {FORMAT!r}, "
                           f"got {short(document.get('format'))}")
    version = _check(document.get("version"), "int", f"{file}: version")
    if version > VERSION:
        raise LabFileError(f"{file}: written by a newer convlab_widgets (lab format version {version}); "
                           "upgrade convlab_widgets to read it")
    if version != VERSION:
        raise LabFileError(f"{file}: unsupported lab format version {version}; expected {VERSION}")
    _fields(document, _LAB_FIELDS, f"{file}:", _OPTIONAL_LAB_FIELDS)
    if document["dataset"] not in datasets.names():
        raise LabFileError(f"{file}: dataset must be one of {', '.join(datasets.names())}, "
                           f"got {short(document['dataset'])}")
    _most(document["runs"], MAX_RUNS, "runs", f"{file}: runs")
    _most(sum(len(entry.get("batch_history", {}).get("step", ())) for entry in document["runs"]
              if isinstance(entry, dict) and isinstance(entry.get("batch_history"), dict)
              and isinstance(entry["batch_history"].get("step"), list)),
          MAX_BATCH_ROWS, "batches", f"{file}: runs (all together)")
    # The builder keeps values a learner was still typing, so the lab's own architecture is read leniently.
    architecture = _architecture(document["architecture"], f"{file}: architecture", strict=False)
    settings = _settings(document["settings"], {"data": document["dataset"]}, f"{file}: settings")
    budget = {"array bytes": 0}
    runs = [_run(entry, root, f"{file}: runs[{index}]", document["keras_version"], budget)
            for index, entry in enumerate(document["runs"])]
    range_test = _range_test(document["range_test"], f"{file}: range_test") if "range_test" in document else None
    return LabState(architecture, document["dataset"], settings, runs, range_test)


def _range_test(entry, where):
    """A saved range test: a ramp the test accepts, no more batches than it planned, rates on the ramp."""
    _fields(entry, _RANGE_TEST_FIELDS, where)
    try:
        min_lr, max_lr, steps = check_range(entry["min_lr"], entry["max_lr"], entry["steps"])
    except SettingsError as error:
        raise LabFileError(f"{where}.{error}") from None
    if entry["status"] not in KEPT_ENDS:
        raise LabFileError(f"{where}.status must be one of {', '.join(KEPT_ENDS)}, got {short(entry['status'])}")
    batches = _table(entry["batches"], _RANGE_TEST_COLUMNS, f"{where}.batches")
    if len(batches["lr"]) > steps:
        raise LabFileError(f"{where}.batches holds {len(batches['lr']):,} batches, more than the test's {steps:,} "
                           "steps")
    for i, lr in enumerate(batches["lr"]):
        if not min_lr * (1 - 1e-6) <= lr <= max_lr * (1 + 1e-6):
            raise LabFileError(f"{where}.batches.lr[{i}] must lie on the ramp, from min_lr {min_lr:g} to max_lr "
                               f"{max_lr:g}, got {short(lr)}")
    return SavedRangeTest(min_lr, max_lr, steps, tuple(map(float, batches["lr"])),
                          tuple(map(float, batches["loss"])), entry["status"], entry["message"])


def _read_json(file):
    """lab.json, its size checked before it is read; a byte-order mark is allowed."""
    with _open_regular(file, f"{file}:") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_LAB_BYTES:
            raise LabFileError(f"{file}: {size:,} bytes is more than a lab file may hold ({MAX_LAB_BYTES:,} bytes); "
                               "this is not a lab saved by convlab_widgets, or it was damaged")
        try:
            data = handle.read(size + 1)  # a file that grows is caught below; read(n) takes n bytes at once
        except OSError as error:
            raise LabFileError(f"{file}: could not be read ({error})") from None
    if len(data) > MAX_LAB_BYTES:
        raise LabFileError(f"{file}: more than a lab file may hold ({MAX_LAB_BYTES:,} bytes)")
    values = _values(data)
    if values > MAX_LAB_VALUES:
        raise LabFileError(f"{file}: holds up to {values:,} values (numbers, texts, lists, objects), more than a lab "
                           f"file may hold ({MAX_LAB_VALUES:,}); refused before parsing it: this is not a lab saved "
                           "by convlab_widgets, or it was damaged")
    try:
        text = data.decode("utf-8-sig")
        del data  # parsing needs the text only
        return json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise LabFileError(f"{file}: not readable as JSON ({str(error)[:200]}); it was damaged or is another "
                           "kind of file: open the lab as it was saved") from None


def _values(text):
    """At least the number of values in JSON ``text`` (bytes or str), counted without parsing it: a value
    is the first of its list or object (each opens with a bracket), follows a comma, or follows the colon
    of an object's key (which is a value too, counted by its colon).  Commas, colons and brackets inside
    strings count as well, so this only over-counts."""
    marks = (",", ":", "[", "{") if isinstance(text, str) else (b",", b":", b"[", b"{")
    return 1 + sum(text.count(mark) for mark in marks)


def _open_regular(file, where, identity=None):
    """An open binary file, refused unless it is a regular file: a FIFO or a device is never read (opening
    without blocking, then looking at what was opened, so nothing can wait forever).  ``identity``:
    the (device, inode) the file had when it was checked; another file in its place is refused, so that
    what is read is what was checked (all reading then goes through this one descriptor)."""
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise LabFileError(f"{where} the file {file.name} is missing") from None
    except OSError as error:
        raise LabFileError(f"{where} could not be opened ({error.strerror or error})") from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise LabFileError(_irregular(file, opened.st_mode, where))
    if identity is not None and (opened.st_dev, opened.st_ino) != identity:
        os.close(fd)
        raise LabFileError(f"{where} {file.name} was replaced by another file while the lab was loading; "
                           "load the lab again once nothing is changing it")
    return os.fdopen(fd, "rb")


def _irregular(file, mode, where):
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "not a plain file")
    return (f"{where} {file.name} is not a regular file: it is {kind}, so it is not read; "
            "put the file saved with the lab in its place")


def _most(items, limit, what, where):
    """At most ``limit`` of ``items`` (a list, or a count)."""
    count = items if isinstance(items, int) else len(items) if isinstance(items, list) else 0
    if count > limit:
        raise LabFileError(f"{where} holds {count:,} {what}, more than a lab may hold ({limit:,})")


def _run(entry, root, where, keras_version, budget):
    if isinstance(entry, dict) and "health" not in entry:
        entry = {**entry, "health": []}  # saved before runs measured their health
    _fields(entry, _RUN_FIELDS, where, _OPTIONAL_RUN_FIELDS)
    if entry["status"] not in TERMINAL:
        raise LabFileError(f"{where}.status must be one of {', '.join(TERMINAL)}, got {short(entry['status'])}")
    started, ended = entry["started_at"], entry["ended_at"]
    for key, value in (("started_at", started), ("ended_at", ended)):
        if value is not None and not math.isfinite(value):
            raise LabFileError(f"{where}.{key} must be a finite time (seconds since 1970), got {short(value)}")
    if ended is not None and ended < started:
        raise LabFileError(f"{where}.ended_at ({ended}) is before started_at ({started}): a run ends after it starts")
    config = entry["config"]
    _kept(config, f"{where}.config", 0)
    for key, kind in _CONFIG_FIELDS.items():
        if key not in config:
            raise LabFileError(f"{where}.config lacks {key!r}")
        _check(config[key], kind, f"{where}.config.{key}")
    settings = _settings(entry["settings"], config, f"{where}.settings")
    architecture = _architecture(entry["architecture"], f"{where}.architecture", strict=True)
    _most(entry["history"].get("epoch"), MAX_EPOCH_ROWS, "epochs", f"{where}.history")
    history = _table(entry["history"], _EPOCH_COLUMNS, f"{where}.history")
    batch_history = _table(entry["batch_history"], _BATCH_COLUMNS, f"{where}.batch_history")
    _in_order(history, batch_history, config["steps_per_epoch"], where)
    _most(entry["filters"], MAX_FILTER_SNAPSHOTS, "filter snapshots", f"{where}.filters")
    _most(entry["predictions"], MAX_PREDICTION_SNAPSHOTS, "prediction snapshots", f"{where}.predictions")
    _most(entry["health"], MAX_HEALTH_SNAPSHOTS, "health snapshots", f"{where}.health")
    arrays = _arrays(*_member(root, entry["arrays"], f"{where}.arrays"), budget)
    filters, predictions, health = (_snapshots(entry[kind], kind, arrays, f"{where}.{kind}")
                                    for kind in _SNAPSHOT_CLASSES)
    _check_health(health, f"{where}.health")
    _check_kernels(filters, f"{where}.filters")
    _check_predictions(predictions, architecture.num_classes, config.get("validation_size"), f"{where}.predictions")
    model = None
    if entry["model"] is not None:
        model = _model(*_member(root, entry["model"], f"{where}.model"), architecture, settings,
                       entry["param_count"], keras_version, where)
    if "checkpoint" in entry:
        if entry["status"] != INTERRUPTED or model is not None:
            raise LabFileError(f"{where}.checkpoint: only an interrupted run without a saved model has a checkpoint")
        model = _checkpoint(entry["checkpoint"], arrays, architecture, settings, entry["param_count"], where)
    return SavedRun(
        name=entry["name"], config=config, architecture=architecture, history=history, batch_history=batch_history,
        status=entry["status"], message=entry["message"], started_at=started, ended_at=ended, filters=filters,
        predictions=predictions, health=health, model=model, param_count=entry["param_count"], settings=settings,
    )


def _in_order(history, batch_history, steps_per_epoch, where):
    """Rows as a run records them: epochs one after another, batches too, each step inside its epoch (the
    dashboard's smoothing counts batches done from them and must never go backwards)."""
    epochs = history["epoch"]
    for i in range(1, len(epochs)):
        if epochs[i] <= epochs[i - 1]:
            raise LabFileError(f"{where}.history.epoch[{i}] is {epochs[i]}, not after the epoch before "
                               f"({epochs[i - 1]}): a run records its epochs in order")
    rows = list(zip(batch_history["epoch"], batch_history["step"]))
    for i, row in enumerate(rows):
        if steps_per_epoch and row[1] >= steps_per_epoch:
            raise LabFileError(f"{where}.batch_history.step[{i}] is {row[1]}, but an epoch of this run has "
                               f"{steps_per_epoch} steps (config.steps_per_epoch), counted from 0")
        if i and row <= rows[i - 1]:
            raise LabFileError(f"{where}.batch_history row {i} (epoch {row[0]}, step {row[1]}) is not after the row "
                               f"before (epoch {rows[i - 1][0]}, step {rows[i - 1][1]}): a run records its batches "
                               "in order")


def _kept(value, where, depth):
    """A config is kept as it is, within bounds: text no longer than ``MAX_KEPT_TEXT``, nesting no deeper than
    ``MAX_KEPT_DEPTH``."""
    if depth > MAX_KEPT_DEPTH:
        raise LabFileError(f"{where} is nested more than {MAX_KEPT_DEPTH} deep")
    if isinstance(value, str) and len(value) > MAX_KEPT_TEXT:
        raise LabFileError(f"{where} is {len(value):,} characters long, more than {MAX_KEPT_TEXT:,}")
    if isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_TEXT:
                raise LabFileError(f"{where} has a key {len(key):,} characters long, more than {MAX_TEXT}")
            _kept(item, _at(where, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _kept(item, f"{where}[{i}]", depth + 1)


_SCHEDULE_REPR = re.compile(r"schedules\.(\w+)\((.*)\)")


def _settings(values, config, where):
    """A run's (or the lab's) :class:`Settings`, checked as the lab checks them.

    Labs saved before settings were one record hold the controls' values only ("subset"
    for train_subset, nothing for a run trained outside a lab): what is missing is read
    from the run's config, where every run recorded what it trained with."""
    recorded = {"dataset": config.get("data"), "train_subset": config.get("train_subset"),
                "epochs": config.get("epochs"), "batch_size": config.get("batch_size"),
                "learning_rate": config.get("learning_rate"), "seed": config.get("seed"),
                "filter_every": config.get("filter_every")}
    optimizer = str(config.get("optimizer", "")).lower()
    if optimizer in OPTIMIZERS:
        recorded["optimizer"] = optimizer
    schedule = _SCHEDULE_REPR.fullmatch(str(config.get("lr_schedule", "")))
    if schedule and schedule[1] in schedules.names():
        params = dict(part.split("=", 1) for part in schedule[2].split(", ") if "=" in part)
        recorded.update(schedule=schedule[1], schedule_params={key: float(value) for key, value in params.items()
                                                               if _FLOAT.fullmatch(value)})
    if recorded["dataset"] not in datasets.names():
        recorded["dataset"] = None  # a Trainer's data of its own, named after its folder or "arrays"
    values = {**{key: value for key, value in recorded.items() if value is not None}, **values}
    try:  # a dataset named in the settings themselves must be one this version knows, or clone would fail
        return Settings.from_dict(values)
    except (SettingsError, TypeError) as error:
        raise LabFileError(f"{where}: {str(error)[:300]}") from None


_FLOAT = re.compile(r"-?\d+(\.\d*)?(e-?\d+)?")


def _at(where, key):
    """``file: runs[0].config`` inside the file, ``file: runs`` at its top."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def _check(value, kind, where):
    nullable = kind.endswith("?")
    description, test, bound = _KINDS[kind.rstrip("?")]
    if not (test(value) or (nullable and value is None)):
        raise LabFileError(f"{where} must be {description}{' or null' if nullable else ''}, got {short(value)}")
    if value is None or bound is None:
        return value
    if isinstance(value, str) and len(value) > bound:
        raise LabFileError(f"{where} is {len(value):,} characters long; at most {bound:,} are allowed here "
                           f"(it begins {short(value[:40])})")
    if isinstance(value, int) and not bound[0] <= value <= bound[1]:
        raise LabFileError(f"{where} must be from {bound[0]:,} to {bound[1]:,}, got {short(value)}")
    return value


def _fields(obj, kinds, where, optional=None):
    """``obj`` must be an object with exactly these fields, each of its kind, and maybe the ``optional`` ones."""
    _check(obj, "object", where)
    optional = optional or {}
    for key, kind in optional.items():
        if key in obj:
            _check(obj[key], kind, _at(where, key))
    unknown = sorted(str(key) for key in obj if key not in kinds and key not in optional)
    missing = [key for key in kinds if key not in obj]
    if unknown or missing:
        raise LabFileError(f"{where} " + "; ".join(filter(None, (
            unknown and f"has unknown fields: {short(', '.join(unknown))}",
            missing and f"lacks the fields: {', '.join(missing)}"))))
    for key, kind in kinds.items():
        _check(obj[key], kind, _at(where, key))


def _table(columns, kinds, where):
    """Equal-length columns of values of their kinds, as a run records them."""
    _fields(columns, {key: "list" for key in kinds}, where)
    lengths = {key: len(column) for key, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise LabFileError(f"{where} columns must all have the same length, got "
                           f"{', '.join(f'{key}: {n}' for key, n in lengths.items())}")
    for key, kind in kinds.items():
        for i, value in enumerate(columns[key]):
            _check(value, kind, f"{where}.{key}[{i}]")
    return columns


def _architecture(data, where, *, strict):
    try:
        return Architecture.from_dict(data, strict=strict)
    except ArchitectureError as error:
        raise LabFileError(f"{where}: {error.message}") from None


def _member(root, name, where):
    """(path, identity) of a regular file inside the lab: a name in lab.json can point nowhere else.  The
    identity (device, inode) is what was checked: :func:`_open_regular` refuses a file swapped in since."""
    file = (root / name).resolve()
    if not file.is_relative_to(root.resolve()):
        raise LabFileError(f"{where} must name a file inside the lab folder, got {short(name)}")
    try:
        found = file.stat()  # stat, never open: opening a FIFO would wait for a writer
    except OSError:
        raise LabFileError(f"{where} names {short(name)}, which is missing from {root}") from None
    if not stat.S_ISREG(found.st_mode):
        raise LabFileError(_irregular(file, found.st_mode, f"{where} names {short(name)}, but"))
    return file, (found.st_dev, found.st_ino)


_END = struct.Struct("<4s4H2LH")  # a zip's end record: signature, disks, entries here and in all, directory size...


def _zip(file, handle, where, *, most):
    """``handle`` as a zip file, its table of contents bounded before zipfile reads it, its members' declared
    sizes bounded before any is unpacked: at most ``most`` bytes unpacked in all, ``MAX_RATIO`` times packed."""
    size = os.fstat(handle.fileno()).st_size
    tail = min(size, _END.size + 0xFFFF)
    handle.seek(size - tail)
    data = handle.read(tail)
    start = len(data) - _END.size if data[-_END.size:-_END.size + 4] == b"PK\x05\x06" else data.rfind(b"PK\x05\x06")
    if start < 0 or start + _END.size > len(data):
        raise LabFileError(f"{where} not a zip archive (no end record): the file is damaged or of another kind")
    _, _, _, _, entries, directory, _, _ = _END.unpack_from(data, start)
    if data[max(0, start - 20):start].startswith(b"PK\x06\x07") or entries == 0xFFFF or directory == 0xFFFFFFFF:
        raise LabFileError(f"{where} a ZIP64 archive, holding more than a lab may ({MAX_ZIP_MEMBERS:,} members)")
    if entries > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY:
        raise LabFileError(f"{where} lists {entries:,} members in {directory:,} bytes; a lab's file holds at most "
                           f"{MAX_ZIP_MEMBERS:,} in {MAX_ZIP_DIRECTORY:,} bytes")
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as error:
        raise LabFileError(f"{where} not a readable zip archive ({error})") from None
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS or len({m.filename for m in members}) != len(members):
        raise LabFileError(f"{where} lists {len(members):,} members, some of them twice or too many")
    unpacked = 0
    for member in members:
        at = f"{where} member {short(member.filename)}"
        if member.file_size > most or member.file_size > 1 << 20 and member.file_size > MAX_RATIO * max(
                member.compress_size, 1):
            raise LabFileError(f"{at} unpacks to {member.file_size:,} bytes from {member.compress_size:,}: more than "
                               f"a lab's file may hold ({most:,} bytes, at most {MAX_RATIO} times packed); refused "
                               "before unpacking it")
        unpacked += member.file_size
    if unpacked > most:
        raise LabFileError(f"{where} unpacks to {unpacked:,} bytes in all, more than a lab's file may ({most:,})")
    return archive


def _arrays(file, identity, budget):
    """The arrays of a run's .npz, each header read first (its shape and type, never Python objects), each
    declared size bounded: ``MAX_ARRAY_BYTES`` an array, ``MAX_ARRAYS_BYTES`` a lab (``budget`` counts)."""
    where = f"{file}: not a readable array file —"
    with _open_regular(file, f"{file}:", identity) as handle, \
            _zip(file, handle, where, most=MAX_ARRAYS_BYTES) as archive:
        headers = {}
        for member in archive.infolist():
            at = f"{where} member {short(member.filename)}"
            if not member.filename.endswith(".npy"):
                raise LabFileError(f"{at} is not a .npy array; a run's array file holds arrays only")
            try:
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError(f"array format version {version} is not one numpy's savez writes")
                    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _fortran, dtype = reader(stream)
                    offset = stream.tell()
            except Exception as error:  # numpy and zipfile raise many kinds on damaged headers
                raise LabFileError(f"{at}: {type(error).__name__}: {str(error)[:200]}") from None
            if dtype.hasobject:
                raise LabFileError(f"{at} holds Python objects, which loading would unpickle (allow_pickle); "
                                   "a lab's arrays are numbers only")
            if dtype.names is not None or dtype.subdtype is not None:
                raise LabFileError(f"{at} has a structured dtype {dtype}; a lab's arrays are plain")
            declared = math.prod(shape) * dtype.itemsize
            if declared > MAX_ARRAY_BYTES:
                raise LabFileError(f"{at} declares a {dtype} array of shape {shape} ({declared:,} bytes), more than "
                                   f"one array of a lab may hold ({MAX_ARRAY_BYTES:,} bytes)")
            if offset + declared != member.file_size:
                raise LabFileError(f"{at} declares shape {shape} of {dtype} ({declared:,} bytes) but holds "
                                   f"{member.file_size - offset:,} bytes of data: it was cut short or changed")
            budget["array bytes"] += declared
            if budget["array bytes"] > MAX_ARRAYS_BYTES:
                raise LabFileError(f"{file}: member {short(member.filename)}: with it, the lab's arrays come to more "
                                   f"than a lab may hold ({MAX_ARRAYS_BYTES:,} bytes in all)")
            headers[member.filename[:-4]] = member
        try:
            arrays = {}
            for key, member in headers.items():
                with archive.open(member) as stream:
                    arrays[key] = np.lib.format.read_array(stream, allow_pickle=False)
            return arrays
        except Exception as error:  # a damaged deflate stream, a bad CRC
            raise LabFileError(f"{where} {type(error).__name__}: {str(error)[:200]}") from None


def _snapshots(entries, kind, arrays, where):
    """The run's snapshots of one kind."""
    cls = getattr(events, _SNAPSHOT_CLASSES[kind])
    restored = []
    for i, entry in enumerate(entries):
        _fields(entry, {"values": "object", "arrays": "object"}, f"{where}[{i}]")
        restored.append(_snapshot(cls, entry, arrays, f"{where}[{i}]"))
    return restored


def _snapshot(cls, entry, arrays, where):
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    values, named = entry["values"], entry["arrays"]
    given = set(values) | set(named)
    if given != set(fields) or set(values) & set(named):
        raise LabFileError(f"{where} must give each field of {cls.__name__} once ({', '.join(fields)}), "
                           f"got {short(', '.join(sorted(values) + sorted(named)))}")
    for name, value in values.items():
        kind = _annotation_kind(fields[name].type)
        if kind is not None:
            _check(value, kind, f"{where}.values.{name}")
    loaded = {}
    for name, key in named.items():
        if not isinstance(key, str) or key not in arrays:
            raise LabFileError(f"{where}.arrays.{name} names the array {short(key)}, which the run's array file lacks")
        array = arrays[key]
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise LabFileError(f"{where}.arrays.{name} must be a numeric array, got dtype {array.dtype}")
        loaded[name] = array
    return cls(**values, **loaded)


def _annotation_kind(annotation):
    """"number?" for ``float | None``; None for annotations not checked here (arrays among them)."""
    parts = [part.strip() for part in str(annotation).split("|")]
    rest = [part for part in parts if part != "None"]
    kind = _ANNOTATION_KINDS.get(rest[0]) if len(rest) == 1 else None
    return None if kind is None else kind + ("?" if "None" in parts else "")


def _check_kernels(filters, where):
    """The filter panel draws (height, width, channels, filters) kernels, one shape per run."""
    for i, snapshot in enumerate(filters):
        kernel = snapshot.kernel
        if kernel.ndim != 4 or not np.issubdtype(kernel.dtype, np.floating) or kernel.size == 0:
            raise LabFileError(f"{where}[{i}].kernel must be a 4-D float array, not empty, got {kernel.dtype} "
                               f"{kernel.shape}")
        if kernel.shape != filters[0].kernel.shape:
            raise LabFileError(f"{where}[{i}].kernel has shape {kernel.shape}, unlike the run's first snapshot "
                               f"{filters[0].kernel.shape}")


def _check_health(health, where):
    """The health panel draws one row per layer: the names, then one value per layer in each array."""
    for i, snapshot in enumerate(health):
        at, layers = f"{where}[{i}]", snapshot.layers
        if not 0 < len(layers) <= MAX_HEALTH_LAYERS:
            raise LabFileError(f"{at}.layers must name 1 to {MAX_HEALTH_LAYERS} layers, got {len(layers):,}")
        for k, name in enumerate(layers):
            _check(name, "text", f"{at}.layers[{k}]")
        for field in dataclasses.fields(snapshot):
            array = getattr(snapshot, field.name)
            real = isinstance(array, np.ndarray) and array.dtype.kind in "iuf"
            if isinstance(array, np.ndarray) and (array.shape != (len(layers),) or not real):
                raise LabFileError(f"{at}.{field.name} must hold one real number per layer ({len(layers)}), got "
                                   f"{array.dtype} {array.shape}")


def _check_predictions(predictions, classes, validation_size, where):
    """The predictions panel indexes validation images and counts (true, predicted) classes with these arrays."""
    for i, snapshot in enumerate(predictions):
        at = f"{where}[{i}]"
        columns = {"indices": snapshot.indices, "labels": snapshot.labels, "predicted": snapshot.predicted,
                   "confidence": snapshot.confidence}
        length = snapshot.indices.shape[0] if snapshot.indices.ndim == 1 else None
        for name, array in columns.items():
            if array.ndim != 1 or array.shape[0] != length:
                raise LabFileError(f"{at}.{name} must be a 1-D array, as long as indices, got shape {array.shape}")
        for name, high in (("indices", validation_size), ("labels", classes), ("predicted", classes)):
            array = columns[name]
            if not np.issubdtype(array.dtype, np.integer):
                raise LabFileError(f"{at}.{name} must hold whole numbers, got dtype {array.dtype}")
            bounded = type(high) is int
            if len(array) and (array.min() < 0 or bounded and array.max() >= high):
                raise LabFileError(f"{at}.{name} must be from 0 to {high - 1 if bounded else 'any'}, "
                                   f"got {array.min()} to {array.max()}")
        if not np.issubdtype(snapshot.confidence.dtype, np.floating):
            raise LabFileError(f"{at}.confidence must hold numbers from 0 to 1, got dtype {snapshot.confidence.dtype}")


def _model(file, identity, architecture, settings, param_count, keras_version, where):
    """The run's model: the run's own architecture, built, compiled as a run compiles it, and given the
    variables (weights and optimizer state) that ``file`` holds; ``where`` locates the run in lab.json.

    Why not ``keras.saving.load_model``: it builds whatever the file's config.json declares, before
    anything can be checked (a Dense of 10**9 units allocates gigabytes), and resolves the class names
    written there.  Comparing that config with the run's architecture instead would mean re-deriving
    Keras' shapes and parameter counts from a format that changes with Keras versions.  The run's
    architecture is already checked and bounded, so the model is built from it, config.json is only
    looked at for Python code (refused, though nothing in it would run), and only numbers are read from
    the file.  Before building, the architecture's parameter count must agree with the run's
    ``param_count`` and fit in the bytes of weights the file holds, so building allocates no more than
    the bounded file; before Keras reads a number, every dataset of the weights is checked (numbers, no
    links to other files, declared sizes within the member's bytes).  Everything is read from the one
    descriptor opened and checked first, so a file swapped in meanwhile is never read; the weights are
    copied from it into a private temporary file, which Keras reads by its path.
    """
    import keras

    at = f"{file}:"
    params = _parameters(architecture, param_count, where)
    with _open_regular(file, at, identity) as handle:
        magic = handle.read(8)
        if magic.startswith(_HDF5):
            raise LabFileError(f"{at} an HDF5 file (Keras' legacy .h5 format) named .keras; a lab keeps models in "
                               "the .keras format: load it with keras.saving.load_model and save it again as "
                               "model.save('model.keras')")
        if not magic.startswith(_ZIP):
            raise LabFileError(f"{at} not a readable Keras model (saved with Keras {keras_version}, this is Keras "
                               f"{keras.__version__}): a .keras file is a zip archive and this one begins {magic!r}; "
                               "save the model again with model.save('model.keras')")
        unreadable = f"{at} not a readable Keras model:"
        with _zip(file, handle, unreadable, most=MAX_MODEL_BYTES) as archive, \
                tempfile.TemporaryDirectory(prefix="convlab-model-") as folder:
            names = set(archive.namelist())
            for name in (_MODEL_CONFIG, _WEIGHTS):
                if name not in names:
                    raise LabFileError(f"{unreadable} it lacks the member {name}, which every .keras file holds")
            _no_code(archive, archive.getinfo(_MODEL_CONFIG), f"{at} member {_MODEL_CONFIG}")
            member = archive.getinfo(_WEIGHTS)
            if 4 * params > member.file_size:
                raise LabFileError(f"{at} member {_WEIGHTS} holds {member.file_size:,} bytes, too few for the "
                                   f"{params:,} parameters of the run's architecture (4 bytes each): the model is "
                                   "not this run's")
            weights = Path(folder) / _WEIGHTS
            try:
                with archive.open(member) as source, open(weights, "xb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
            except Exception as error:  # a damaged deflate stream, a bad CRC, an encrypted member
                raise LabFileError(f"{unreadable} {_WEIGHTS}: {type(error).__name__}: {str(error)[:200]}") from None
            _check_weights(weights, member.file_size, f"{at} member {_WEIGHTS}")
            try:
                model = _compiled(architecture, settings)
                with warnings.catch_warnings():
                    # A lab of the first format names an optimizer without its options (momentum's SGD saved
                    # as "SGD"): Keras then skips the optimizer's state and warns. The weights load; the state
                    # only matters to continue the run, which a saved run does not.
                    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer",
                                            category=UserWarning)
                    model.load_weights(weights)
            except Exception as error:  # Keras raises many kinds for variables that do not fit
                raise LabFileError(f"{at} its weights do not fit the run's architecture (saved with Keras "
                                   f"{keras_version}, this is Keras {keras.__version__}): {type(error).__name__}: "
                                   f"{str(error)[:300]}") from None
    return model


def _parameters(architecture, param_count, where):
    """The parameter count of a run's architecture, which must build and agree with the run's ``param_count``."""
    summary = architecture.summary()
    if not summary.is_valid:
        raise LabFileError(f"{where}.architecture is not a model Keras can build ({summary.errors[0].message}), "
                           "so its saved model cannot be restored")
    params = summary.total_params
    if param_count is not None and param_count != params:
        raise LabFileError(f"{where}.param_count is {param_count:,}, but the run's architecture has {params:,} "
                           "parameters: one of them was changed after saving")
    return params


def _compiled(architecture, settings):
    """The run's architecture built and compiled as a run compiles it, its optimizer built, so that saved
    variables (weights and optimizer state) can be given to it."""
    from .training.models import BUILD_LOCK, compile_model
    from .training.trainer import _optimizer_recipe

    with BUILD_LOCK:  # building takes random numbers: never between a seeded run's seeding and its build
        model = architecture.to_keras()
    compile_model(model, *_optimizer_recipe(settings.optimizer),
                  {"learning_rate": settings.learning_rate, "jit_compile": settings.jit_compile})
    model.optimizer.build(model.trainable_variables)
    return model


def _checkpoint(keys, arrays, architecture, settings, param_count, where):
    """An interrupted run's model, from its checkpoint: the arrays ``keys`` names in the run's (checked,
    bounded) arrays file, one per variable of the model and of its optimizer, in their order.  The
    model is the run's architecture built (its parameter count agreeing with the run's first); each array
    must have its variable's shape."""
    from .training.models import assign_state

    at = f"{where}.checkpoint"
    _parameters(architecture, param_count, where)
    for i, key in enumerate(keys):
        if not isinstance(key, str) or key not in arrays:
            raise LabFileError(f"{at}[{i}] names the array {short(key)}, which the run's array file lacks")
    model = _compiled(architecture, settings)
    variables = [*model.variables, *model.optimizer.variables]
    if len(keys) != len(variables):
        raise LabFileError(f"{at} holds {len(keys)} arrays, but the run's model and optimizer have {len(variables)} "
                           "variables: the checkpoint is not this run's")
    for i, (key, variable) in enumerate(zip(keys, variables)):
        array = arrays[key]
        if tuple(array.shape) != tuple(variable.shape) or not np.issubdtype(array.dtype, np.number):
            raise LabFileError(f"{at}[{i}] is an array of {array.dtype}, shape {array.shape}, but {variable.path} "
                               f"has shape {tuple(variable.shape)}: the checkpoint is not this run's")
    assign_state(model, [arrays[key] for key in keys])
    return model


def _no_code(archive, member, where):
    """A lab's model is built from the run's architecture, so nothing in config.json would run; a config
    naming a Lambda layer or a class from outside Keras was made to, and is refused as such."""
    if member.file_size > MAX_MODEL_CONFIG:
        raise LabFileError(f"{where} is {member.file_size:,} bytes, more than a model's config may be "
                           f"({MAX_MODEL_CONFIG:,})")
    try:
        text = archive.read(member).decode("utf-8")
        config = json.loads(text)
    except Exception as error:  # a damaged member, not UTF-8, not JSON, nested too deep
        raise LabFileError(f"{where} not readable ({type(error).__name__}: {str(error)[:200]})") from None
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            module = value.get("module")
            if value.get("class_name") == "Lambda" or isinstance(module, str) and not module.startswith("keras"):
                raise LabFileError(f"{where} refused: the model holds Python code (such as a Lambda layer); a lab's "
                                   "models never run code, as a model made in the builder holds none")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _check_weights(file, most, where):
    """Every object in the weights file is a group or a dataset of numbers stored in the file itself (no
    link to another file, no external or virtual data), and the datasets together declare at most
    ``most`` bytes, the member's own size (Keras writes them uncompressed): a dataset compressed to
    inflate when read is refused before Keras reads it."""
    import h5py

    declared = 0

    def check(name, link):  # visititems_links stops at the first problem it returns
        nonlocal declared
        if not isinstance(link, h5py.HardLink):
            return f"{short(name)} is a link ({type(link).__name__}), which a Keras weights file never holds"
        item = h5[name]
        if isinstance(item, h5py.Dataset):
            if item.is_virtual or item.external:
                return f"{short(name)} keeps its data outside the file"
            if item.dtype.kind not in "biuf":
                return f"{short(name)} holds {item.dtype} values, not numbers"
            declared += (math.prod(item.shape) if item.shape is not None else 0) * item.dtype.itemsize
            if declared > most:
                return (f"{short(name)} brings the declared weights to {declared:,} bytes, more than the "
                        f"{most:,} bytes the file holds")
        return None

    try:
        with h5py.File(file, "r") as h5:
            problem = h5.visititems_links(check)
    except Exception as error:  # h5py raises OSError, KeyError, ValueError... on damaged files
        raise LabFileError(f"{where} not a readable weights file ({type(error).__name__}: {str(error)[:200]})") \
            from None
    if problem:
        raise LabFileError(f"{where} refused: {problem}")
