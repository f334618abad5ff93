"""Export a run as a standalone training script.

The script is what a learner takes away: plain TensorFlow/Keras with no
dependency on this package, the strategy detection written as the Keras-on-TPU
codelabs write it, so that it runs unchanged on a Cloud TPU VM, a multi-GPU
machine or a laptop.
"""

from __future__ import annotations

import inspect
import json
import os
import textwrap

import numpy as np

from . import dataset_sources, datasets
from .schedules import ReduceOnPlateau

_HEADER = '''\
#!/usr/bin/env python3
"""{title}

Exported by convlab_widgets from a run on {strategy}.
Data: {data}.
Run it with:  python {filename} [--epochs N] [--batch-size N] [--output model.keras]
"""
import argparse
import math

import numpy as np
import tensorflow as tf
import keras

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default={epochs})
parser.add_argument("--batch-size", type=int, default={batch_size}, help="global batch, split across replicas")
parser.add_argument("--output", default="convlab_model.keras")
args = parser.parse_args()

EPOCHS = args.epochs
BATCH_SIZE = args.batch_size
LEARNING_RATE = {learning_rate!r}
SEED = {seed!r}  # training randomness
DATA_SEED = {data_seed!r}  # the train/validation split, as in the run
VALIDATION_SPLIT = {validation_split!r}
TRAIN_SUBSET = {train_subset!r}
if SEED is not None:
    keras.utils.set_random_seed(SEED)

# Strategy: TPU, then GPUs, then CPU, as in the Keras-on-TPU codelabs.
try:  # detect TPUs
    tpu = tf.distribute.cluster_resolver.TPUClusterResolver.connect()
    strategy = tf.distribute.TPUStrategy(tpu)
except ValueError:  # detect GPUs
    strategy = tf.distribute.MirroredStrategy()  # for CPU/GPU or multi-GPU machines
print("Replicas:", strategy.num_replicas_in_sync)
DROP_REMAINDER = isinstance(strategy, tf.distribute.TPUStrategy)  # TPUs need fixed batch shapes
'''

_SPLIT = '''
def split(x, y, validation_split=VALIDATION_SPLIT):
    """Stratified train/validation split and training subset (same as the run)."""
    from sklearn.model_selection import train_test_split

    classes = int(y.max()) + 1
    x_val = y_val = None
    if validation_split:
        n_val = max(int(round(len(y) * validation_split)), classes)
        train, val = train_test_split(np.arange(len(y)), test_size=n_val, stratify=y, random_state=DATA_SEED)
        train, val = np.sort(train), np.sort(val)
        x, y, x_val, y_val = x[train], y[train], x[val], y[val]
    if TRAIN_SUBSET is not None and TRAIN_SUBSET < len(y):
        keep, _ = train_test_split(np.arange(len(y)), train_size=TRAIN_SUBSET, stratify=y, random_state=DATA_SEED)
        keep = np.sort(keep)
        x, y = x[keep], y[keep]
    return (x, y), (x_val, y_val)
'''

_ARRAY_PIPELINE = '''
IMAGE_SIZE = {image_size!r}


def pipeline(x, y, training):
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(y), seed=SEED)
    ds = ds.batch(BATCH_SIZE, drop_remainder=DROP_REMAINDER)

    def prepare(images, labels):
        images = tf.cast(images, tf.float32) / scale
        if IMAGE_SIZE is not None:
            images = tf.image.resize(images, IMAGE_SIZE, antialias=True)
        return images, labels

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


(x_train, y_train), (x_val, y_val) = load_data()
train_ds = pipeline(x_train, y_train, training=True)
val_ds = None if x_val is None else pipeline(x_val, y_val, training=False)
'''

_FOLDER_PIPELINE = '''
IMAGE_SIZE = {image_size!r}


def folder_pipelines(folder):
    """Class per sub-folder, as keras.utils.image_dataset_from_directory reads it."""
    both = keras.utils.image_dataset_from_directory(
        folder, labels="inferred", label_mode="int", image_size=IMAGE_SIZE, batch_size=None,
        validation_split=VALIDATION_SPLIT or None, subset="both" if VALIDATION_SPLIT else None,
        seed=DATA_SEED, shuffle=True,
    )
    train, val = both if VALIDATION_SPLIT else (both, None)
    if TRAIN_SUBSET is not None:
        train = train.take(TRAIN_SUBSET)

    def batched(ds, training):
        ds = ds.cache()
        if training:
            ds = ds.shuffle(2048, seed=SEED)
        ds = ds.batch(BATCH_SIZE, drop_remainder=DROP_REMAINDER)
        ds = ds.map(lambda x, y: (x / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    return batched(train, True), None if val is None else batched(val, False)


train_ds, val_ds = folder_pipelines(load_folder())
'''

_FIT = '''
callbacks = [{schedule_callback}]
model.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, callbacks=callbacks)
model.save(args.output)
print("Saved", args.output)
'''


def run_to_script(run, path=None):
    data = run.data
    config = run.config
    source = data.source
    filename = os.path.basename(path) if path else "train.py"
    header = _HEADER.format(
        title=f"Train a convnet on {data.name} ({data.num_classes} classes).",
        strategy=run.strategy.description,
        data=data.description or data.name,
        filename=filename,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        seed=config["seed"],
        data_seed=source.get("seed", 0),
        validation_split=source.get("validation_split", 0.0),
        train_subset=source.get("train_subset"),
    )
    parts = [header, _data_section(run, path), _model_section(run), _schedule_section(run), _FIT.format(
        schedule_callback=_callback_expression(run.schedule))]
    text = "\n".join(part.rstrip() + "\n" for part in parts)
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text


def _data_section(run, path):
    data = run.data
    source = data.source
    stored = data._train.x.shape[1:3] if data._train.x is not None else None
    resize = list(data.input_shape[:2]) if stored is not None and tuple(stored) != data.input_shape[:2] else None
    name = source.get("name")
    if source["kind"] == "named" and name == "digits":
        load = '''
def load_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return split(x, digits.target.astype("int32"))
'''
        return _SPLIT + load + _ARRAY_PIPELINE.format(image_size=resize)
    if source["kind"] == "named" and name == "shapes":
        generator = "\n".join(
            line for line in inspect.getsource(datasets.make_shapes.__wrapped__).splitlines() if not line.startswith("@")
        )
        load = f'''
SHAPE_CLASSES = {datasets.SHAPE_CLASSES!r}


{generator}


def load_data():
    x, y = make_shapes(seed=DATA_SEED)
    return split(x, y)
'''
        return _SPLIT + load + _ARRAY_PIPELINE.format(image_size=resize)
    if source["kind"] == "named" and name in ("mnist", "fashion_mnist", "cifar10"):
        load = f'''
def load_data():
    """The official test split validates, as in the codelabs."""
    (x, y), (x_val, y_val) = keras.datasets.{name}.load_data()
    add_channel = (lambda a: a[..., None]) if x.ndim == 3 else (lambda a: a)
    y, y_val = y.reshape(-1).astype("int32"), y_val.reshape(-1).astype("int32")
    (x, y), _ = split(add_channel(x), y, validation_split=0)
    return (x, y), (add_channel(x_val), y_val)
'''
        return _SPLIT + load + _ARRAY_PIPELINE.format(image_size=resize)
    if source["kind"] == "named" and name == "flowers":
        url = dataset_sources.FLOWERS[1]
        load = f'''
def load_folder():
    """The flower photos of the Keras-on-TPU codelabs, downloaded once."""
    import os
    import tarfile

    archive = keras.utils.get_file("flower_photos.tgz", "{url}")
    folder = os.path.join(os.path.dirname(archive), "flower_photos")
    if not os.path.isdir(folder):
        with tarfile.open(archive) as tar:
            tar.extractall(os.path.dirname(archive), filter="data")
    return folder
'''
        return load + _FOLDER_PIPELINE.format(image_size=tuple(data.input_shape[:2]))
    if source["kind"] == "folder":
        load = f'''
def load_folder():
    return {source["path"]!r}  # one sub-folder of images per class
'''
        return load + _FOLDER_PIPELINE.format(image_size=tuple(data.input_shape[:2]))
    data_file = (os.path.splitext(path)[0] if path else "convlab") + "_data.npz"
    if path:
        train, val = data._train, data._validation
        np.savez_compressed(
            data_file, x_train=train.x, y_train=train.y,
            x_val=train.x[:0] if val is None else val.x, y_val=train.y[:0] if val is None else val.y,
        )
    load = f'''
DATA_FILE = {os.path.basename(data_file)!r}  # written beside this script by run.to_script(path)


def load_data():
    with np.load(DATA_FILE) as f:
        x_val = f["x_val"] if len(f["y_val"]) else None
        y_val = f["y_val"] if len(f["y_val"]) else None
        return (f["x_train"], f["y_train"]), (x_val, y_val)
'''
    return load + _ARRAY_PIPELINE.format(image_size=resize)


def _model_section(run):
    from .adapter import outputs_probabilities

    model = run.model if run.model is not None else run.architecture.to_keras()
    to_code = getattr(run.architecture, "to_code", None)
    if callable(to_code):
        build = to_code() + "# Compile again with this run's optimizer and learning rate.\n"
    else:
        spec = json.loads(model.to_json())
        spec.pop("compile_config", None)
        build = f"model = keras.models.model_from_json({json.dumps(spec)!r})\nmodel.summary()\n"
    compile_call = (
        "model.compile(\n"
        f"    optimizer={_optimizer_expression(run.config['optimizer'], model)},\n"
        f"    loss=keras.losses.SparseCategoricalCrossentropy(from_logits={not outputs_probabilities(model)}),\n"
        "    metrics=['accuracy'],\n"
        f"    jit_compile={run.config['jit_compile']},\n"
        ")\n"
    )
    return (
        "\n# The model, built in the strategy's scope so that its variables are replicated.\n"
        "with strategy.scope():\n" + textwrap.indent(build + compile_call, "    ")
    )


def _optimizer_expression(class_name, model):
    options = ""
    current = getattr(model, "optimizer", None)
    if current is not None:
        defaults = type(current)().get_config()
        changed = {
            k: v for k, v in current.get_config().items()
            if k not in ("name", "learning_rate") and defaults.get(k) != v and isinstance(v, (int, float, bool, str, type(None)))
        }
        options = "".join(f", {k}={v!r}" for k, v in sorted(changed.items()))
    return f"keras.optimizers.{class_name}(learning_rate=LEARNING_RATE{options})"


def _schedule_section(run):
    schedule = run.schedule
    return "\n# Learning-rate schedule: " + repr(schedule) + "\n" + schedule.to_code(run.config["epochs"])


def _callback_expression(schedule):
    if isinstance(schedule, ReduceOnPlateau):
        return "PLATEAU"
    return "keras.callbacks.LearningRateScheduler(lr_schedule)"
