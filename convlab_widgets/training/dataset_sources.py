"""Where images come from besides the embedded sets: Keras' downloads, the flowers archive, image files, tf.data.

Each loader returns plain arrays (or a folder); ``datasets.load`` splits and bundles them.
Offline, a download fails fast with the way to give a local copy (``path=...``).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import socket
import sys
import tarfile
from urllib.parse import urlparse

import numpy as np

from .dataset_checks import DatasetError

EMBEDDED = ("digits", "shapes")  # in the package (or generated): no download
DOWNLOADED = ("mnist", "fashion_mnist", "cifar10", "flowers")

PROBE_TIMEOUT_S = 3.0


MAX_MATERIALIZED_BYTES = 2 << 30


_KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


_MNIST = ("mnist.npz", _KERAS_BASE + "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")


_FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


_CIFAR10 = ("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")


FLOWERS = ("flower_photos.tgz", "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz")


def cache_root(cache_dir):
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return cache_dir


def _fetch(fname, origin, file_hash, cache_dir, subdir="datasets"):
    """The cached file, downloading it first if needed, failing fast offline.

    A cached file is trusted as is (Keras re-hashes it on every load); the
    hash is checked on download.  Keras' ``get_file`` has no timeout, so a
    short connection probe comes first: offline it fails in seconds.
    """
    root = cache_root(cache_dir)
    cached = os.path.join(root, subdir, fname)
    if os.path.exists(cached):
        return cached
    host = urlparse(origin).hostname
    try:
        socket.create_connection((host, 443), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise DatasetError(_offline_message(fname, f"{host} is unreachable ({exc})")) from None
    import keras

    try:
        return keras.utils.get_file(fname, origin, file_hash=file_hash, cache_dir=root, cache_subdir=subdir)
    except Exception as exc:
        raise DatasetError(_offline_message(fname, str(exc))) from None


def _offline_message(what, why):
    return (
        f"Downloading {what} failed: {why}. Without internet access, use an embedded "
        f"dataset: {' or '.join(repr(n) for n in EMBEDDED)} (or pass path= to a local copy)."
    )


def mnist(path, cache_dir):
    path = path or _fetch(*_MNIST, cache_dir)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def fashion_mnist(path, cache_dir):
    if path:
        paths = [os.path.join(path, f) for f in _FASHION_FILES]
    else:
        paths = [_fetch(f, _KERAS_BASE + f, None, cache_dir, os.path.join("datasets", "fashion-mnist")) for f in _FASHION_FILES]
    arrays = []
    for file, offset in zip(paths, (8, 16, 8, 16)):
        with gzip.open(file, "rb") as f:
            arrays.append(np.frombuffer(f.read(), np.uint8, offset=offset))
    y_train, x_train, y_test, x_test = arrays
    return (x_train.reshape(len(y_train), 28, 28), y_train), (x_test.reshape(len(y_test), 28, 28), y_test)


class _ArrayUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles: allow the numpy array machinery only."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # encode: bytes in protocol 2

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def cifar10(path, cache_dir):
    path = path or _fetch(*_CIFAR10, cache_dir)
    batches = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            base = os.path.basename(member.name)
            if member.isfile() and (base.startswith("data_batch_") or base == "test_batch"):
                raw = _ArrayUnpickler(io.BytesIO(archive.extractfile(member).read()), encoding="bytes").load()
                x = np.asarray(raw[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                batches[base] = (x, np.asarray(raw[b"labels"], np.int32))
    train_names = sorted(b for b in batches if b.startswith("data_batch_"))
    if not train_names or "test_batch" not in batches:
        raise DatasetError(f"{path} does not look like cifar-10-python.tar.gz (no data_batch_* / test_batch)")
    x_train = np.concatenate([batches[b][0] for b in train_names])
    y_train = np.concatenate([batches[b][1] for b in train_names])
    return (x_train, y_train), batches["test_batch"]


LOADERS = {"mnist": mnist, "fashion_mnist": fashion_mnist, "cifar10": cifar10}


def flowers_folder(path, cache_dir):
    """The extracted ``flower_photos`` folder, from ``path`` (the folder or
    the archive) or Keras' cache, downloading and extracting it once."""
    if path and os.path.isdir(path):
        return path
    archive = path or os.path.join(cache_root(cache_dir), "datasets", FLOWERS[0])
    folder = os.path.join(os.path.dirname(archive), "flower_photos")
    if os.path.isdir(folder):
        return folder
    if not path:
        archive = _fetch(*FLOWERS, None, cache_dir)
    # Extract beside the final folder, then rename: an interrupted
    # extraction must not look like a complete cached dataset.
    partial = folder + ".partial"
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(partial, filter="data")
        else:  # Python without PEP 706 (before 3.10.12 / 3.11.4)
            tar.extractall(partial)
    inner = os.path.join(partial, "flower_photos")
    os.replace(inner if os.path.isdir(inner) else partial, folder)
    if os.path.isdir(partial):
        os.rmdir(partial)
    return folder


def decode_images(paths, input_shape) -> np.ndarray:
    """Image files as one uint8 array at ``input_shape`` (h, w, channels), decoded with Pillow on any backend.

    Resized with an antialiasing filter as ``tf.image.resize(antialias=True)``
    does; the size of the array is checked before it is allocated.
    """
    from PIL import Image

    height, width, channels = (int(v) for v in input_shape)
    size = len(paths) * height * width * channels
    if size > MAX_MATERIALIZED_BYTES:
        raise DatasetError(f"{len(paths)} images at {height}×{width}×{channels} take {size / 2**30:.1f} GB, more than "
                           f"the {MAX_MATERIALIZED_BYTES >> 30} GB allowed: pass a smaller image_size or a train_subset")
    images = np.empty((len(paths), height, width, channels), np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                image = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
                pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise DatasetError(f"cannot read the image {os.fspath(path)!r}: {error}; remove or replace it") from None
        images[i] = pixels.reshape(height, width, channels)
    return images


def is_tf_dataset(obj):
    """Whether ``obj`` is a ``tf.data.Dataset``; never imports TensorFlow (if it is one, TensorFlow is imported)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(obj, tf.data.Dataset)


def _cause(error) -> str:
    """The user's own exception in a TensorFlow op error ("ValueError: bad image 3"), without the op's name."""
    text = (error.message or str(error)).strip()
    first = re.sub(r"^\{\{[^}]*\}\}\s*", "", text.splitlines()[0] if text else "")
    return re.sub(r"\s*\[\[.*\]\]\s*$", "", first)[:300] or type(error).__name__


def materialize(ds):
    """Read a tf.data.Dataset into arrays: splitting, stratifying and taking
    subsets all need the labels, and classroom datasets fit in memory."""
    import tensorflow as tf

    if ds.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise DatasetError("the tf.data.Dataset is infinite (a .repeat()?): pass a finite one")
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise DatasetError(f"the tf.data.Dataset must yield (image, label) pairs; it yields {spec}")
    if spec[0].shape.rank == 4:
        ds = ds.unbatch()
    images, labels, size = [], [], 0
    try:
        for image, label in ds.as_numpy_iterator():
            images.append(image)
            labels.append(label)
            size += image.nbytes
            if size > MAX_MATERIALIZED_BYTES:
                raise DatasetError("the tf.data.Dataset holds more than 2 GB of images: use an image folder or a subset")
    except tf.errors.OpError as error:  # the user's generator or map function raised: name their error
        raise DatasetError(f"reading the tf.data.Dataset failed after {len(images)} images: {_cause(error)}; "
                           "fix the code that produces its elements") from None
    if not images:
        raise DatasetError("the tf.data.Dataset is empty")
    shapes = {i.shape for i in images}
    if len(shapes) > 1:
        raise DatasetError(f"images must all have the same shape; found {sorted(shapes)[:3]}: resize them first")
    return np.stack(images), np.asarray(labels)
