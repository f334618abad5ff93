"""Saving a lab to a folder and loading it back.

Labs travel between learners and teachers, so loading treats the folder as
untrusted: every field of ``lab.json`` is checked and a problem names the
file and the place in it; arrays are read without pickle; Keras models are
loaded in safe mode, so a model holding Python code (a ``Lambda`` layer) is
refused instead of run.  Saving writes into a temporary folder beside the
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
                              "arrays": "runs/1.npz", "model": "runs/1.keras" or null}, ...]}
    runs/<n>.npz   the arrays of run n's snapshots (``np.savez_compressed``)
    runs/<n>.keras run n's trained model, for the runs whose model was saved

A snapshot is ``{"values": {field: value}, "arrays": {field: npz key}}``; the
list holding it names its event class (``FilterSnapshot``, ``PredictionSnapshot``),
and snapshots whose class this version lacks are skipped.  Non-finite numbers
(the loss of a diverged batch) are written as JSON's common ``NaN``/``Infinity``
extension, which Python reads back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architecture import Architecture, ArchitectureError
from .architecture.errors import short
from .training import datasets, events
from .training import schedules
from .training.record import SavedRun
from .training.settings import OPTIMIZERS, Settings, SettingsError
from .training.status import TERMINAL

FORMAT = "convlab-lab"
VERSION = 1
LAB_FILE = "lab.json"
MODELS = ("latest", "all")

# What a value must be, by name; "?" also admits null.
_KINDS = {
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "text": ("text", lambda v: isinstance(v, str)),
    "object": ("an object", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
}
_LAB_FIELDS = {"format": "text", "version": "int", "keras_version": "text", "architecture": "object",
               "dataset": "text", "settings": "object", "runs": "list"}
_RUN_FIELDS = {"name": "text", "status": "text", "message": "text", "started_at": "number", "ended_at": "number?",
               "param_count": "int?", "config": "object", "architecture": "object", "history": "object",
               "batch_history": "object", "filters": "list", "predictions": "list", "arrays": "text",
               "model": "text?", "settings": "object"}
# The config entries a restored run reads; the others are kept as they are.
_CONFIG_FIELDS = {"epochs": "int", "batch_size": "int", "per_replica_batch_size": "int", "replicas": "int",
                  "steps_per_epoch": "int", "learning_rate": "number", "strategy": "text"}
_EPOCH_COLUMNS = {"epoch": "int", "loss": "number", "accuracy": "number?", "val_loss": "number?",
                  "val_accuracy": "number?", "lr": "number", "duration": "number"}
_BATCH_COLUMNS = {"epoch": "int", "step": "int", "loss": "number", "accuracy": "number?", "lr": "number"}
# Where a run keeps its snapshots -> their event class (events.py).
_SNAPSHOT_CLASSES = {"filters": "FilterSnapshot", "predictions": "PredictionSnapshot"}
# Snapshot field annotations (events.py writes them as strings) -> kinds.
_ANNOTATION_KINDS = {"int": "int", "float": "number", "bool": "bool", "str": "text", "dict": "object",
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


# -- saving -------------------------------------------------------------------------------------


def save_lab(path, *, architecture, dataset, runs, settings=None, models="latest", overwrite=False) -> Path:
    """Write the lab into the folder ``path`` and return its path.

    ``models="latest"`` keeps the model of the latest run that has one, the
    model a learner goes on with; ``"all"`` keeps every run's model, each
    about three times the size of its weights (the optimizer's state is
    saved too).  ``settings``: the lab's controls as plain values.
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
    records = [_run_entry(run, index, index in kept) for index, run in enumerate(runs)]
    import keras

    document = {"format": FORMAT, "version": VERSION, "keras_version": keras.__version__,
                "architecture": architecture.to_dict(), "dataset": dataset,
                "settings": (settings or Settings(dataset=dataset)).to_dict(), "runs": [entry for entry, _ in records]}
    text = json.dumps(document, separators=(",", ":"))
    steps = []
    for run, (entry, arrays) in zip(runs, records):
        steps.append((entry["arrays"], lambda file, arrays=arrays: np.savez_compressed(file, **arrays)))
        if entry["model"] is not None:
            steps.append((entry["model"], lambda file, model=run.model: model.save(str(file))))
    steps.append((LAB_FILE, lambda file: file.write_text(text, encoding="utf-8")))
    _stage(steps, target)
    return target


def _run_entry(run, index, keep_model):
    """(lab.json entry, npz arrays) of one run."""
    where = f"run {index + 1}"
    arrays = {}
    snapshots = {kind: [_snapshot_entry(snapshot, f"{kind}_{i}", arrays, f"{where} {kind}[{i}]")
                        for i, snapshot in enumerate(getattr(run, kind, None) or ())]
                 for kind in _SNAPSHOT_CLASSES}
    entry = {
        "name": getattr(run, "name", None) or where, "status": run.status, "message": run.message,
        "started_at": run.started_at, "ended_at": run.ended_at,
        "param_count": run.param_count,
        "config": _plain(run.config, f"{where} config"), "architecture": run.architecture.to_dict(),
        "history": _columns(run.history, _EPOCH_COLUMNS), "batch_history": _columns(run.batch_history, _BATCH_COLUMNS),
        **snapshots, "arrays": f"runs/{index + 1}.npz", "model": f"runs/{index + 1}.keras" if keep_model else None,
        "settings": run.settings.to_dict() if run.settings is not None else {},  # for a clone
    }
    return entry, arrays


def _columns(table, kinds):
    cast = {"int": int, "number": float}
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
        raise LabFileError(f"{root}: there is no saved lab here (the path does not exist)")
    file = root / LAB_FILE
    if not file.is_file():
        raise LabFileError(f"{root}: not a saved lab (a lab is a folder holding a {LAB_FILE})")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise LabFileError(f"{file}: not readable as JSON ({str(error)[:200]})") from None
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
    _fields(document, _LAB_FIELDS, f"{file}:")
    if document["dataset"] not in datasets.names():
        raise LabFileError(f"{file}: dataset must be one of {', '.join(datasets.names())}, "
                           f"got {short(document['dataset'])}")
    # The builder keeps values a learner was still typing, so the lab's own architecture is read leniently.
    architecture = _architecture(document["architecture"], f"{file}: architecture", strict=False)
    runs = [_run(entry, root, f"{file}: runs[{index}]", document["keras_version"])
            for index, entry in enumerate(document["runs"])]
    settings = _settings(document["settings"], {"data": document["dataset"]}, f"{file}: settings")
    return LabState(architecture, document["dataset"], settings, runs)


def _run(entry, root, where, keras_version):
    _fields(entry, _RUN_FIELDS, where)
    if entry["status"] not in TERMINAL:
        raise LabFileError(f"{where}.status must be one of {', '.join(TERMINAL)}, got {short(entry['status'])}")
    config = entry["config"]
    for key, kind in _CONFIG_FIELDS.items():
        if key not in config:
            raise LabFileError(f"{where}.config lacks {key!r}")
        _check(config[key], kind, f"{where}.config.{key}")
    architecture = _architecture(entry["architecture"], f"{where}.architecture", strict=True)
    history = _table(entry["history"], _EPOCH_COLUMNS, f"{where}.history")
    batch_history = _table(entry["batch_history"], _BATCH_COLUMNS, f"{where}.batch_history")
    arrays = _arrays(_member(root, entry["arrays"], f"{where}.arrays"))
    filters, predictions = (_snapshots(entry[kind], kind, arrays, f"{where}.{kind}") for kind in _SNAPSHOT_CLASSES)
    _check_kernels(filters, f"{where}.filters")
    model = None
    if entry["model"] is not None:
        model = _model(_member(root, entry["model"], f"{where}.model"), architecture, keras_version)
    return SavedRun(
        name=entry["name"], config=config, architecture=architecture, history=history, batch_history=batch_history,
        status=entry["status"], message=entry["message"], started_at=entry["started_at"],
        ended_at=entry["ended_at"], filters=filters, predictions=predictions, model=model,
        param_count=entry["param_count"], settings=_settings(entry["settings"], config, f"{where}.settings"),
    )


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
    values = {**{key: value for key, value in recorded.items() if value is not None}, **values}
    if values.get("dataset") not in datasets.names():
        values["dataset"] = None  # a Trainer's data of its own
    try:
        return Settings.from_dict(values)
    except (SettingsError, TypeError) as error:
        raise LabFileError(f"{where}: {str(error)[:300]}") from None


_FLOAT = re.compile(r"-?\d+(\.\d*)?(e-?\d+)?")


def _at(where, key):
    """``file: runs[0].config`` inside the file, ``file: runs`` at its top."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def _check(value, kind, where):
    nullable = kind.endswith("?")
    description, test = _KINDS[kind.rstrip("?")]
    if not (test(value) or (nullable and value is None)):
        raise LabFileError(f"{where} must be {description}{' or null' if nullable else ''}, got {short(value)}")
    return value


def _fields(obj, kinds, where):
    """``obj`` must be an object with exactly these fields, each of its kind."""
    _check(obj, "object", where)
    unknown = sorted(str(key) for key in obj if key not in kinds)
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
    """A file inside the lab: a name in lab.json can point nowhere else."""
    file = (root / name).resolve()
    if not file.is_relative_to(root.resolve()):
        raise LabFileError(f"{where} must name a file inside the lab folder, got {short(name)}")
    if not file.is_file():
        raise LabFileError(f"{where} names {short(name)}, which is missing from {root}")
    return file


def _arrays(file):
    try:
        with np.load(file, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except Exception as error:  # np.load raises many kinds on damaged files; all mean the same here
        raise LabFileError(f"{file}: not a readable array file ({type(error).__name__}: {str(error)[:200]})") from None


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
        if kernel.ndim != 4 or not np.issubdtype(kernel.dtype, np.floating):
            raise LabFileError(f"{where}[{i}].kernel must be a 4-D float array, got {kernel.dtype} {kernel.shape}")
        if kernel.shape != filters[0].kernel.shape:
            raise LabFileError(f"{where}[{i}].kernel has shape {kernel.shape}, unlike the run's first snapshot "
                               f"{filters[0].kernel.shape}")


def _model(file, architecture, keras_version):
    import keras

    try:
        model = keras.saving.load_model(file, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for unreadable or unsafe files
        if "safe_mode" in str(error):
            raise LabFileError(f"{file}: refused: the model holds Python code (such as a Lambda layer) that loading "
                               "would run; saved labs are loaded with Keras' safe mode on") from None
        raise LabFileError(f"{file}: not a readable Keras model (saved with Keras {keras_version}, this is Keras "
                           f"{keras.__version__}): {type(error).__name__}: {str(error)[:200]}") from None
    shape, classes = tuple(model.input_shape[1:]), model.output_shape[-1]
    if shape != architecture.input_shape or classes != architecture.num_classes:
        raise LabFileError(f"{file}: the model takes {shape} inputs and predicts {classes} classes, but the run's "
                           f"architecture takes {architecture.input_shape} and predicts {architecture.num_classes}")
    return model
