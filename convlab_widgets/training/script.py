"""Export a run as a standalone training script.

The script is what a learner takes away: plain Keras on the run's backend with
no dependency on this package, the distribution detected as that backend's
users write it (TensorFlow: the Keras-on-TPU codelabs' strategy detection;
JAX: ``keras.distribution.DataParallel`` over all devices), so that it runs
unchanged on a Cloud TPU VM, a multi-GPU machine or a laptop.  The batches are
made by the source of :mod:`.pipelines` itself, copied in.
"""

from __future__ import annotations

import inspect
import json
import os
import textwrap

import numpy as np

from . import dataset_sources, datasets, pipelines
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
import tempfile
{imports}
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
INPUT_SHAPE = {input_shape!r}
if SEED is not None:
    keras.utils.set_random_seed(SEED)
'''

# Per backend: what to import, and the distribution detected as that backend's users write it.
_BACKENDS = {
    "tensorflow": ('''import os

import numpy as np
import tensorflow as tf
import keras
''', '''

def reduce_each_value(strategy):
    """keras-team/keras#20585: Keras 3 hands MultiWorkerMirroredStrategy.reduce a tuple of per-replica
    values, and its scalar logs with axis=0, which that strategy does not take. Reduce each value, a scalar
    over the replicas only; the reduction itself stays TensorFlow's. Remove when Keras fixes it."""
    reduce = strategy.reduce

    def each(reduce_op, value, axis=None):
        def one(v):
            local = strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
            return reduce(reduce_op, v, axis=axis if local.shape.rank else None)
        return tf.nest.map_structure(one, value)

    strategy.reduce = each
    return strategy


# Strategy: several workers when TF_CONFIG names them (one process per machine, or local processes); else
# TPU, then GPUs, then CPU, as in the Keras-on-TPU codelabs.
if os.environ.get("TF_CONFIG"):
    strategy = reduce_each_value(tf.distribute.MultiWorkerMirroredStrategy())
else:
    try:  # detect TPUs
        tpu = tf.distribute.cluster_resolver.TPUClusterResolver.connect()
        strategy = tf.distribute.TPUStrategy(tpu)
    except ValueError:  # detect GPUs
        strategy = tf.distribute.MirroredStrategy()  # for CPU/GPU or multi-GPU machines
print("Replicas:", strategy.num_replicas_in_sync)
DROP_REMAINDER = isinstance(strategy, tf.distribute.TPUStrategy)  # TPUs need fixed batch shapes
PROCESSES, PROCESS = 1, 0  # tf.distribute splits the batches itself, across workers too
resolver = getattr(strategy, "cluster_resolver", None)
CHIEF = resolver is None or not resolver.task_id  # worker 0 (or the only process) saves to --output
'''),
    "jax": ('''import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported: it reads its backend once

import jax
import numpy as np
import keras
''', '''
# Several processes (one per host of a TPU pod or a GPU cluster, or local CPU processes): set
# JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID for each.
if os.environ.get("JAX_COORDINATOR_ADDRESS"):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # how CPU processes talk; GPUs/TPUs have their own
    jax.distributed.initialize(os.environ["JAX_COORDINATOR_ADDRESS"], int(os.environ["JAX_NUM_PROCESSES"]),
                               int(os.environ["JAX_PROCESS_ID"]))
PROCESSES, PROCESS = jax.process_count(), jax.process_index()
CHIEF = PROCESS == 0  # it saves to --output
if PROCESSES > 1 and SEED is None:
    keras.utils.set_random_seed(0)  # every process must start from the same weights
# Distribution: every device JAX sees (TPU cores, GPUs, or CPU devices), each batch split across them;
# with several processes, each one reads its own share of every batch.
DEVICES = jax.devices()
if len(DEVICES) > 1:
    keras.distribution.set_distribution(keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=PROCESSES == 1))
print("Replicas:", len(DEVICES), DEVICES[0].platform, f"process {PROCESS + 1} of {PROCESSES}")
# JAX splits each batch across the devices: a last partial batch may not split, so it is left out.
DROP_REMAINDER = len(DEVICES) > 1 or DEVICES[0].platform == "tpu"
'''),
    "torch": ('''import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported: it reads its backend once

import numpy as np
import keras
''', '''
# PyTorch trains on one device here (the GPU when there is one): several would need one process each.
print("Replicas:", 1)
DROP_REMAINDER = False
PROCESSES, PROCESS = 1, 0
CHIEF = True
'''),
}

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
{pipeline}

(x_train, y_train), (x_val, y_val) = load_data()
# This process's share of the images, batched by its share of the global batch (one process: all of them).
share = slice(PROCESS, None, PROCESSES)
train_ds = batches(x_train[share], y_train[share], INPUT_SHAPE, BATCH_SIZE // PROCESSES, DROP_REMAINDER,
                   shuffle=True, seed=SEED)
# Fixed shapes keep every validation image: padded batches, the padding weighing 0 (the same steps in every process).
val_ds = None if x_val is None else batches(
    x_val[share], y_val[share], INPUT_SHAPE, BATCH_SIZE // PROCESSES, shuffle=False,
    pad=padding(len(y_val), BATCH_SIZE) if DROP_REMAINDER or PROCESSES > 1 else None)
'''


def _pipeline_source(backend):
    """The batches of the run, as the run made them: the source of :mod:`.pipelines` itself."""
    if backend == "tensorflow":
        code = inspect.getsource(pipelines.tf_batches).replace("    import tensorflow as tf\n\n", "")
        return inspect.getsource(pipelines.padding) + "\n\n" + code + "\n\nbatches = tf_batches\n"
    return "\n\n".join(inspect.getsource(part) for part in (pipelines.padding, pipelines.prepare, pipelines.Batches)) \
        + "\n\nbatches = Batches\n"


_FOLDER_LOADER = '''
def load_folder_data(folder):
    """One sub-folder of images per class (sorted names), decoded at INPUT_SHAPE, split as in the run."""
    import os

    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    paths, labels = [], []
    for label, name in enumerate(classes):
        for root, _, files in sorted(os.walk(os.path.join(folder, name))):
            found = [os.path.join(root, f) for f in files if f.lower().endswith({extensions!r}) and not f.startswith(".")]
            paths += found
            labels += [label] * len(found)
    order = np.argsort(paths, kind="stable")
    x = np.stack([np.asarray(keras.utils.load_img(paths[i], target_size=INPUT_SHAPE[:2], interpolation="bilinear"),
                             dtype=np.uint8) for i in order])
    return split(x, np.asarray(labels, np.int32)[order])


def load_data():
    return load_folder_data(load_folder())
'''


_FIT = '''
callbacks = [{schedule_callback}] + EARLY_STOPPING
model.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, callbacks=callbacks)
# Saving gathers the variables from every process: each one saves, the first one to --output.
SAVE_AS = args.output if CHIEF else os.path.join(tempfile.mkdtemp(), os.path.basename(args.output))
model.save(SAVE_AS)
print("Saved", SAVE_AS)
'''


def run_to_script(run, path=None):
    data = run.data
    config = run.config
    source = data.source
    filename = os.path.basename(path) if path else "train.py"
    imports, distribution = _BACKENDS[run.strategy.backend]
    header = _HEADER.format(
        imports=imports,
        input_shape=tuple(data.input_shape),
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
    parts = [header, distribution, _data_section(run, path), _model_section(run), _schedule_section(run),
             _early_stopping_section(run), _FIT.format(schedule_callback=_callback_expression(run.schedule))]
    text = "\n".join(part.rstrip() + "\n" for part in parts)
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text


def _folder_section(backend):
    return _FOLDER_LOADER.format(extensions=datasets.IMAGE_EXTENSIONS) + \
        _ARRAY_PIPELINE.format(pipeline=_pipeline_source(backend))


def _data_section(run, path):
    data = run.data
    source = data.source
    backend = run.strategy.backend
    name = source.get("name")
    if source["kind"] == "named" and name == "digits":
        load = '''
def load_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return split(x, digits.target.astype("int32"))
'''
        return _SPLIT + load + _ARRAY_PIPELINE.format(pipeline=_pipeline_source(backend))
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
        return _SPLIT + load + _ARRAY_PIPELINE.format(pipeline=_pipeline_source(backend))
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
        return _SPLIT + load + _ARRAY_PIPELINE.format(pipeline=_pipeline_source(backend))
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
        return _SPLIT + load + _folder_section(backend)
    if source["kind"] == "folder":
        load = f'''
def load_folder():
    return {source["path"]!r}  # one sub-folder of images per class
'''
        return _SPLIT + load + _folder_section(backend)
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
    return load + _ARRAY_PIPELINE.format(pipeline=_pipeline_source(backend))


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
        "    weighted_metrics=['accuracy'],  # padded validation rows weigh 0\n"
        f"    jit_compile={run.config['jit_compile']},\n"
        f"    steps_per_execution={run.config.get('steps_per_execution', 1)},  # the numbers do not depend on it\n"
        ")\n"
    )
    if run.strategy.backend != "tensorflow":  # the distribution, if any, is set for the whole script
        return "\n# The model.\n" + build + compile_call
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


def _early_stopping_section(run):
    """Keras' EarlyStopping, the rule the run stopped by (``early_stopping.py``)."""
    stopping = run.settings.early_stopping if run.settings is not None else None
    if stopping is None:
        return "\nEARLY_STOPPING = []  # the run trained every epoch"
    note = ("# The lab stopped when its overfitting detector found the turn; Keras has no such callback, so this\n"
            "# stops when validation loss has not improved for as many epochs.\n" if stopping.monitor == "overfitting"
            else "")
    return f"\n# Early stopping: {stopping.describe()}\n{note}EARLY_STOPPING = [{stopping.keras_code()}]"


def _callback_expression(schedule):
    if isinstance(schedule, ReduceOnPlateau):
        return "PLATEAU"
    return "keras.callbacks.LearningRateScheduler(lr_schedule)"
