"""Datasets for training runs: embedded, downloaded once, or the user's own.

``load()`` returns a :class:`DataBundle`: the split data plus metadata.  The
``tf.data`` pipelines are built per run by ``bundle.train(batch_size, ...)``
because the batch size, and ``drop_remainder`` on TPU, are run settings.

Labels are always integer class ids (the trainer uses sparse categorical
cross-entropy), images are scaled to [0, 1] in the pipeline; uint8 storage
keeps the downloaded sets four times smaller in memory until then.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import pickle
import socket
import tarfile
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from ..architecture.errors import short  # a bounded repr: messages quote the learner's input

EMBEDDED = ("digits", "shapes")
DOWNLOADED = ("mnist", "fashion_mnist", "cifar10", "flowers")
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DEFAULT_FOLDER_IMAGE_SIZE = (128, 128)
PROBE_TIMEOUT_S = 3.0
MAX_MATERIALIZED_BYTES = 2 << 30
#: More classes than any classroom dataset; labels beyond it are a mistake, not a task.
MAX_CLASSES = 1000

_KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_MNIST = ("mnist.npz", _KERAS_BASE + "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
_FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
_CIFAR10 = ("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
_FLOWERS = ("flower_photos.tgz", "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz")

CLASS_NAMES = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "shapes": list(SHAPE_CLASSES),
}

DESCRIPTIONS = {
    "digits": "8×8 handwritten digits from scikit-learn (1,797 images, embedded)",
    "shapes": "coloured circles, squares, triangles and crosses on 32×32 noise (2,000 images, generated)",
    "mnist": "28×28 handwritten digits (60,000 + 10,000 images, 11 MB download)",
    "fashion_mnist": "28×28 clothing photos, 10 kinds (60,000 + 10,000 images, 30 MB download)",
    "cifar10": "32×32 colour photos, 10 classes (50,000 + 10,000 images, 163 MB download)",
    "flowers": "flower photos of the Keras-on-TPU codelabs, 5 classes (3,670 images, 218 MB download)",
}


class DatasetError(ValueError):
    """What is wrong with the data, in words a learner can act on."""


def names():
    return list(EMBEDDED + DOWNLOADED)


# What each named dataset feeds a model, known without loading it: the
# builder sizes the input layer from this before any image is read.
INPUT_SHAPES = {
    "digits": (8, 8, 1),
    "shapes": (32, 32, 3),
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "flowers": (192, 192, 3),
}
FLOWER_CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]


def known():
    """Every named dataset with its input shape and classes, embedded ones first."""
    return [
        {"name": name, "title": name.replace("_", " "), "description": DESCRIPTIONS[name],
         "input_shape": list(INPUT_SHAPES[name]), "num_classes": len(CLASS_NAMES.get(name, FLOWER_CLASSES)),
         "download": name in DOWNLOADED}
        for name in names()
    ]


@dataclass
class _Split:
    """Images in memory (``x``) or on disk (``paths``), with integer labels."""

    y: np.ndarray
    x: np.ndarray | None = None
    paths: np.ndarray | None = None

    def __len__(self):
        return len(self.y)

    def subset(self, index):
        return _Split(
            self.y[index],
            None if self.x is None else self.x[index],
            None if self.paths is None else self.paths[index],
        )


class DataBundle:
    """A dataset split into training and validation, ready to batch per run."""

    def __init__(self, name, train, validation, class_names, input_shape, source, description=""):
        self.name = name
        self._train = train
        self._validation = validation
        self.class_names = list(class_names)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.source = source
        self.description = description
        self._samples = None

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def train_size(self):
        return len(self._train)

    @property
    def validation_size(self):
        return 0 if self._validation is None else len(self._validation)

    def steps_per_epoch(self, batch_size, drop_remainder=False):
        return _steps(self.train_size, batch_size, drop_remainder)

    def validation_steps(self, batch_size, drop_remainder=False):
        return _steps(self.validation_size, batch_size, drop_remainder)

    def train(self, batch_size, drop_remainder=False, shuffle=True, seed=None):
        return self._pipeline(self._train, batch_size, drop_remainder, shuffle, seed)

    def validation(self, batch_size, drop_remainder=False):
        """None when the bundle was loaded with ``validation_split=0``."""
        if self._validation is None:
            return None
        return self._pipeline(self._validation, batch_size, drop_remainder, False, None)

    @property
    def samples(self):
        """(images, labels): a few training images per class, float32 in [0, 1],
        for the dashboard's panels."""
        if self._samples is None:
            picked = np.concatenate([np.flatnonzero(self._train.y == c)[:4] for c in range(self.num_classes)])
            split = self._train.subset(np.sort(picked))
            self._samples = (_to_float(self._pixels(split)), split.y.copy())
        return self._samples

    def validation_images(self, indices):
        """(images, labels) of the validation images at ``indices``, as the
        model sees them: float32 in [0, 1], at ``input_shape``.  Predictions
        name validation images by index, so that they stay small events."""
        if self._validation is None:
            raise DatasetError(
                f"{self.name!r} has no validation images: load it with validation_split > 0 to look at predictions"
            )
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        size = len(self._validation)
        outside = indices[(indices < 0) | (indices >= size)]
        if len(outside):
            raise DatasetError(
                f"there is no validation image {outside[0]}: the {size} validation images are numbered 0 to {size - 1}"
            )
        split = self._validation.subset(indices)
        images = _to_float(self._pixels(split))
        if images.shape[1:3] != self.input_shape[:2]:
            import tensorflow as tf

            images = tf.image.resize(images, self.input_shape[:2], antialias=True).numpy()
        return images, split.y.copy()

    def __repr__(self):
        h, w, c = self.input_shape
        return (
            f"<DataBundle {self.name!r}: {self.train_size} training / {self.validation_size} validation images, "
            f"{h}×{w}×{c}, {self.num_classes} classes>"
        )

    def _pixels(self, split):
        """A split's images as stored: its array, or its files decoded."""
        if split.x is not None:
            return split.x
        if not len(split):
            return np.zeros((0, *self.input_shape), np.uint8)
        return np.stack([self._decode(p).numpy() for p in split.paths])

    def _decode(self, path):
        import tensorflow as tf

        image = tf.io.decode_image(tf.io.read_file(path), channels=self.input_shape[2], expand_animations=False)
        image = tf.image.resize(image, self.input_shape[:2], antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    def _pipeline(self, split, batch_size, drop_remainder, shuffle, seed):
        import tensorflow as tf

        if split.x is not None:
            ds = tf.data.Dataset.from_tensor_slices((split.x, split.y))
            stored_shape = split.x.shape[1:]
        else:
            ds = tf.data.Dataset.from_tensor_slices((split.paths, split.y))
            ds = ds.map(lambda p, y: (self._decode(p), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
            stored_shape = self.input_shape
        if shuffle:
            ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        scale = split.x is None or split.x.dtype == np.uint8
        resize = tuple(stored_shape[:2]) != self.input_shape[:2]
        target = self.input_shape[:2]

        def prepare(x, y):
            x = tf.cast(x, tf.float32)
            if scale:
                x = x / 255.0
            if resize:
                x = tf.image.resize(x, target, antialias=True)
            return x, y

        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        # In-memory data cannot be sharded by file across workers.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _steps(n, batch_size, drop_remainder):
    return n // batch_size if drop_remainder else -(-n // batch_size)


def _to_float(images):
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def load(
    name_or_data="digits",
    validation_split=0.2,
    train_subset=None,
    seed=0,
    image_size=None,
    class_names=None,
    path=None,
    cache_dir=None,
):
    """Load a dataset by name, or wrap the user's data.

    ``name_or_data``: one of :func:`names`; a folder with one sub-folder of
    images per class; ``(x, y)`` numpy arrays; or a ``tf.data.Dataset`` of
    ``(image, label)`` pairs (read once into memory).

    ``validation_split`` is the stratified share held out for validation;
    the downloaded sets with an official test split (mnist, fashion_mnist,
    cifar10) validate on that split instead.  ``train_subset=N`` keeps N
    training images, stratified.  ``image_size=(h, w)`` resizes.  ``path``
    points the downloaded sets at a local copy in the original format, and
    ``cache_dir`` replaces Keras' cache (``~/.keras``).
    """
    validation_split = _check_validation_split(validation_split)
    train_subset = _check_train_subset(train_subset)
    seed = _check_seed(seed)
    if image_size is not None:
        image_size = _check_image_size(image_size)
    if class_names is not None:
        class_names = _check_class_names(class_names)
    # How the data was obtained, for run.to_script().
    recipe = {"validation_split": validation_split, "train_subset": train_subset, "seed": seed}
    if isinstance(name_or_data, str) and name_or_data in EMBEDDED + DOWNLOADED:
        name = name_or_data
        source = {"kind": "named", "name": name, **recipe}
        if name == "digits":
            x, y = _digits()
        elif name == "shapes":
            x, y = make_shapes(seed=seed)
        elif name == "flowers":
            folder = _flowers_folder(path, cache_dir)
            return _from_folder(folder, "flowers", validation_split, train_subset, seed, image_size or (192, 192), source)
        else:
            (x, y), test = _LOADERS[name](path, cache_dir)
            x, y = _add_channel(x), y.astype(np.int32)
            train, validation = _split(_Split(y, x), None, train_subset, seed)
            validation = _Split(test[1].astype(np.int32), _add_channel(test[0]))
            return _bundle(name, train, validation, CLASS_NAMES[name], image_size, source, DESCRIPTIONS[name])
        train, validation = _split(_Split(y.astype(np.int32), x), validation_split, train_subset, seed)
        return _bundle(name, train, validation, CLASS_NAMES[name], image_size, source, DESCRIPTIONS[name])
    if isinstance(name_or_data, (str, os.PathLike)):
        folder = os.fspath(name_or_data)
        if not os.path.isdir(folder):
            raise DatasetError(
                f"{folder!r} is neither a dataset name ({', '.join(names())}) nor a folder of images"
            )
        source = {"kind": "folder", "path": os.path.abspath(folder), **recipe}
        return _from_folder(folder, os.path.basename(os.path.normpath(folder)), validation_split, train_subset, seed,
                            image_size or DEFAULT_FOLDER_IMAGE_SIZE, source, class_names)
    if isinstance(name_or_data, tuple) and len(name_or_data) == 2:
        x, y, names_ = _check_arrays(*name_or_data, class_names)
        train, validation = _split(_Split(y, x), validation_split, train_subset, seed)
        return _bundle("arrays", train, validation, names_, image_size, {"kind": "arrays", **recipe}, "your (x, y) arrays")
    if _is_tf_dataset(name_or_data):
        x, y = _materialize(name_or_data)
        x, y, names_ = _check_arrays(x, y, class_names)
        train, validation = _split(_Split(y, x), validation_split, train_subset, seed)
        return _bundle("tf.data", train, validation, names_, image_size, {"kind": "arrays", **recipe}, "your tf.data.Dataset")
    raise DatasetError(
        f"cannot load {type(name_or_data).__name__} {name_or_data!r:.80}: pass a dataset name ({', '.join(names())}), "
        "a folder with one sub-folder of images per class, (x, y) numpy arrays or a tf.data.Dataset"
    )


def _bundle(name, train, validation, class_names, image_size, source, description):
    stored = train.x.shape[1:]
    shape = (*image_size, stored[2]) if image_size else stored
    return DataBundle(name, train, validation, class_names, shape, source, description)


def _scalar(value):
    """NumPy scalars as the Python numbers they hold, so that checks and recipes see one kind."""
    return value.item() if isinstance(value, np.generic) else value


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_validation_split(value):
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise DatasetError(f"validation_split must be a number in [0, 1), got {short(value)}")
    return value


def _check_train_subset(value):
    value = _scalar(value)
    if value is not None and not (_whole(value) and value >= 1):
        raise DatasetError(f"train_subset must be a positive number of images, got {short(value)}")
    return value


def _check_seed(value):
    value = _scalar(value)
    if value is not None and not (_whole(value) and 0 <= value < 2**32):
        raise DatasetError(f"seed must be a whole number from 0 to {2**32 - 1} (or None), got {short(value)}")
    return value


def _check_class_names(names):
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise DatasetError(f"class_names must be a list of names like ['cat', 'dog'], got {short(names)}")
    return list(names)


def _check_image_size(size):
    size = _scalar(size)
    if _whole(size):
        size = (size, size)
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            _whole(_scalar(s)) and 4 <= s <= 1024 for s in size):
        raise DatasetError(f"image_size must be (height, width) with sides from 4 to 1024 pixels, got {short(size)}")
    return tuple(int(s) for s in size)


def _listed(values):
    """A few numbers as words: '0 and 2', '0, 1 and 7', '0, 100, 200, …, 1800, 1900'."""
    words = [str(int(v)) for v in values]
    if len(words) > 6:
        return ", ".join([*words[:3], "…", *words[-2:]])
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _check_labels(y, class_names):
    """Integer class ids 0..K-1, every class present, K bounded; checked before anything is sized by K.

    Labels like ``[0, 10**9]`` would otherwise make a billion class names and
    counts (tens of gigabytes) before any message.
    """
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        integral = True
    else:
        integral = y.dtype.kind in "iu"
    if not integral or y.min() < 0:
        raise DatasetError(
            f"labels must be class numbers 0, 1, 2, … (or class names as strings); got {y.dtype} values like {y[:3]}"
        )
    top = y.max()
    if top >= MAX_CLASSES:
        found = np.unique(y)
        raise DatasetError(
            f"labels must be 0..K-1 with every class present; got labels {_listed(found)} "
            f"({int(top) + 1:,} classes, at most {MAX_CLASSES:,})"
        )
    if class_names is not None and len(class_names) < int(top) + 1:
        raise DatasetError(f"labels go up to {int(top)} but only {len(class_names)} class_names were given")
    y = y.astype(np.int32)
    n_classes = max(int(top) + 1, len(class_names) if class_names is not None else 0)
    counts = np.bincount(y, minlength=n_classes)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        found = np.flatnonzero(counts)
        names = [f"{c} ({class_names[c]!r})" if class_names is not None else str(c) for c in missing[:5]]
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        has = "has" if len(missing) == 1 else "have"
        raise DatasetError(
            f"labels must be 0..K-1 with every class present; got labels {_listed(found)}: "
            f"class{'es' if len(missing) > 1 else ''} {', '.join(names)}{more} {has} no images"
        )
    return y


def _split(split, validation_split, train_subset, seed):
    """Stratified train/validation split, then a stratified training subset."""
    from sklearn.model_selection import train_test_split

    n_classes = int(split.y.max()) + 1
    validation = None
    if validation_split:
        counts = np.bincount(split.y, minlength=n_classes)
        if counts.min() < 2:
            raise DatasetError(
                f"class {int(counts.argmin())} has {counts.min()} image(s): every class needs at least 2 "
                "to hold some out for validation (or pass validation_split=0)"
            )
        n_val = max(int(round(len(split) * validation_split)), n_classes)
        if len(split) - n_val < n_classes:
            raise DatasetError(f"{len(split)} images are too few to split {validation_split:.0%} off for validation")
        train_idx, val_idx = train_test_split(
            np.arange(len(split)), test_size=n_val, stratify=split.y, random_state=seed
        )
        validation = split.subset(np.sort(val_idx))
        split = split.subset(np.sort(train_idx))
    if train_subset is not None:
        if train_subset < n_classes:
            raise DatasetError(f"train_subset={train_subset} cannot hold one image of each of the {n_classes} classes")
        if train_subset < len(split):
            keep, _ = train_test_split(
                np.arange(len(split)), train_size=int(train_subset), stratify=split.y, random_state=seed
            )
            split = split.subset(np.sort(keep))
    return split, validation


# Embedded data -----------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    x.flags.writeable = False
    return x, digits.target.astype(np.int32)


@functools.lru_cache(maxsize=4)
def make_shapes(count=2000, size=32, seed=0):
    """Coloured circles, squares, triangles and crosses on noisy backgrounds.

    Colours, sizes, positions and rotations are random and independent of
    the class, so a network has to learn edges and corners, which is what
    makes its first-layer filters worth looking at.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int32) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((count, size, size, 3), np.float32)
    for i, label in enumerate(labels):
        r = rng.uniform(0.2, 0.38) * size
        cx, cy = rng.uniform(r * 0.9, size - r * 0.9, 2)
        theta = rng.uniform(0, 2 * np.pi)
        u = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
        v = (yy - cy) * np.cos(theta) - (xx - cx) * np.sin(theta)
        if label == 0:
            mask = u * u + v * v <= r * r
        elif label == 1:
            mask = np.maximum(abs(u), abs(v)) <= r * 0.75
        elif label == 2:
            angles = theta + np.pi / 2 + 2 * np.pi * np.arange(3) / 3
            mask = np.all([u * np.cos(a - theta) + v * np.sin(a - theta) <= r / 2 for a in angles], axis=0)
        else:
            arm = r * 0.3
            mask = ((abs(u) <= arm) & (abs(v) <= r)) | ((abs(v) <= arm) & (abs(u) <= r))
        foreground = rng.uniform(0.45, 1.0, 3)
        background = rng.uniform(0.0, 0.35, 3)
        image = np.where(mask[..., None], foreground, background)
        images[i] = image + rng.normal(0, 0.06, image.shape)
    np.clip(images, 0, 1, out=images)
    images.flags.writeable = False
    return images, labels


# Downloaded data ---------------------------------------------------------


def _cache_root(cache_dir):
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return cache_dir


def _fetch(fname, origin, file_hash, cache_dir, subdir="datasets"):
    """The cached file, downloading it first if needed, failing fast offline.

    A cached file is trusted as is (Keras re-hashes it on every load); the
    hash is checked on download.  Keras' ``get_file`` has no timeout, so a
    short connection probe comes first: offline it fails in seconds.
    """
    root = _cache_root(cache_dir)
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


def _mnist(path, cache_dir):
    path = path or _fetch(*_MNIST, cache_dir)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _fashion_mnist(path, cache_dir):
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


def _cifar10(path, cache_dir):
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


_LOADERS = {"mnist": _mnist, "fashion_mnist": _fashion_mnist, "cifar10": _cifar10}


def _flowers_folder(path, cache_dir):
    """The extracted ``flower_photos`` folder, from ``path`` (the folder or
    the archive) or Keras' cache, downloading and extracting it once."""
    if path and os.path.isdir(path):
        return path
    archive = path or os.path.join(_cache_root(cache_dir), "datasets", _FLOWERS[0])
    folder = os.path.join(os.path.dirname(archive), "flower_photos")
    if os.path.isdir(folder):
        return folder
    if not path:
        archive = _fetch(*_FLOWERS, None, cache_dir)
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


# The user's data ---------------------------------------------------------


def _from_folder(folder, name, validation_split, train_subset, seed, image_size, source, class_names=None):
    entries = sorted(e for e in os.listdir(folder) if not e.startswith("."))
    classes = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
    if len(classes) < 2:
        raise DatasetError(
            f"{folder!r} needs one sub-folder of images per class (at least two classes); "
            f"found {len(classes)} sub-folder(s)"
        )
    paths, labels = [], []
    for label, cls in enumerate(classes):
        found = sorted(
            os.path.join(root, f)
            for root, _, files in os.walk(os.path.join(folder, cls))
            for f in files
            if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
        )
        if not found:
            raise DatasetError(
                f"class folder {cls!r} in {folder!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        paths += found
        labels += [label] * len(found)
    if class_names is not None and list(class_names) != classes:
        raise DatasetError(f"class_names {list(class_names)} differ from the sub-folders {classes}")
    split = _Split(np.asarray(labels, np.int32), paths=np.asarray(paths))
    train, validation = _split(split, validation_split, train_subset, seed)
    source = {**source, "image_size": list(image_size)}
    description = f"{len(paths)} images in {len(classes)} class folders of {folder}"
    return DataBundle(name, train, validation, classes, (*image_size, 3), source, description)


def _check_arrays(x, y, class_names):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DatasetError(
            f"images must have shape (n, height, width) or (n, height, width, 1 or 3 channels); got {x.shape}"
        )
    if min(x.shape[1:3]) < 4:
        raise DatasetError(f"images of {x.shape[1]}×{x.shape[2]} pixels are too small (at least 4×4)")
    if y.ndim == 2 and y.shape[1] > 1 and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        y = y.argmax(axis=1)  # one-hot
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1:
        raise DatasetError(f"labels must be one class per image, shape (n,); got {y.shape}")
    if len(x) != len(y):
        raise DatasetError(f"{len(x)} images but {len(y)} labels: there must be one label per image")
    if len(y) < 2:
        raise DatasetError("at least two images are needed")
    if y.dtype.kind in "USO":
        found, y = np.unique(y.astype(str), return_inverse=True)
        if class_names is None:
            class_names = list(found)
    y = _check_labels(y, class_names)
    if class_names is None:
        class_names = [str(i) for i in range(int(y.max()) + 1)]
    if len(class_names) < 2:
        raise DatasetError("at least two classes are needed to train a classifier")
    if x.dtype == np.uint8:
        return x, y, list(class_names)
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"images must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DatasetError("images contain NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        if x.min() >= 0 and x.max() <= 255:
            x = x / 255.0  # 0–255 pixel values stored as floats or ints
        else:
            raise DatasetError(f"pixel values must be in [0, 1] or [0, 255]; got [{x.min():.3g}, {x.max():.3g}]")
    return x, y, list(class_names)


def _add_channel(x):
    return x[..., None] if x.ndim == 3 else x


def _is_tf_dataset(obj):
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return isinstance(obj, tf.data.Dataset)


def _materialize(ds):
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
    for image, label in ds.as_numpy_iterator():
        images.append(image)
        labels.append(label)
        size += image.nbytes
        if size > MAX_MATERIALIZED_BYTES:
            raise DatasetError("the tf.data.Dataset holds more than 2 GB of images: use an image folder or a subset")
    if not images:
        raise DatasetError("the tf.data.Dataset is empty")
    shapes = {i.shape for i in images}
    if len(shapes) > 1:
        raise DatasetError(f"images must all have the same shape; found {sorted(shapes)[:3]}: resize them first")
    return np.stack(images), np.asarray(labels)
