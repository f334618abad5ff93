"""Datasets for training runs: embedded, downloaded once, or the user's own.

``load()`` returns a :class:`DataBundle`: the split data plus metadata, as
numpy arrays (any backend; image folders are decoded with Pillow when first
read).  The batches are made per run by ``bundle.train(batch_size, ...)``
(:mod:`.pipelines`: ``tf.data`` on TensorFlow, a ``PyDataset`` on JAX and
PyTorch) because the batch size, and dropping the last partial batch, are run
settings.

Labels are always integer class ids (the trainer uses sparse categorical
cross-entropy), images are scaled to [0, 1] in the pipeline; uint8 storage
keeps the downloaded sets four times smaller in memory until then.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from .dataset_checks import (DatasetError, add_channel, check_arrays, check_class_names, check_image_size,
                             check_seed, check_train_subset, check_validation_split)
from . import pipelines
from .dataset_sources import DOWNLOADED, EMBEDDED, LOADERS, decode_images, flowers_folder, is_tf_dataset, materialize

SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DEFAULT_FOLDER_IMAGE_SIZE = (128, 128)


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

    def validation_steps(self, batch_size):
        """Validation counts every image: its last batch is partial, or padded (see :meth:`validation`)."""
        return _steps(self.validation_size, batch_size, False)

    def train(self, batch_size, drop_remainder=False, shuffle=True, seed=None):
        return self._pipeline(self._train, batch_size, drop_remainder, shuffle, seed)

    def validation(self, batch_size, pad=False):
        """None when the bundle was loaded with ``validation_split=0``.

        ``pad``: for fixed batch shapes, the last batch padded with rows of weight 0
        (:func:`pipelines.padding`): ``val_loss`` and ``val_accuracy`` still
        cover exactly the validation images."""
        if self._validation is None:
            return None
        padded = pipelines.padding(len(self._validation), batch_size) if pad else None
        return self._pipeline(self._validation, batch_size, False, False, None, padded)

    @property
    def samples(self):
        """(images, labels): a few training images per class, float32 in [0, 1],
        for the dashboard's panels."""
        if self._samples is None:
            picked = np.concatenate([np.flatnonzero(self._train.y == c)[:4] for c in range(self.num_classes)])
            split = self._train.subset(np.sort(picked))
            self._samples = (pipelines.prepare(self._pixels(split), self.input_shape), split.y.copy())
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
        return pipelines.prepare(self._pixels(split), self.input_shape), split.y.copy()

    def __repr__(self):
        h, w, c = self.input_shape
        return (
            f"<DataBundle {self.name!r}: {self.train_size} training / {self.validation_size} validation images, "
            f"{h}×{w}×{c}, {self.num_classes} classes>"
        )

    def _pixels(self, split):
        """A split's images as stored: its array, or its files decoded (once, then kept: a run
        reads them every epoch, as the cached pipeline of a folder did)."""
        if split.x is None:
            split.x = decode_images(split.paths, self.input_shape)
        return split.x

    def _pipeline(self, split, batch_size, drop_remainder, shuffle, seed, pad=None):
        return pipelines.batches(self._pixels(split), split.y, self.input_shape, batch_size, drop_remainder,
                                 shuffle, seed, pad)


def _steps(n, batch_size, drop_remainder):
    return n // batch_size if drop_remainder else -(-n // batch_size)


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
    validation_split = check_validation_split(validation_split)
    train_subset = check_train_subset(train_subset)
    seed = check_seed(seed)
    if image_size is not None:
        image_size = check_image_size(image_size)
    if class_names is not None:
        class_names = check_class_names(class_names)
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
            folder = flowers_folder(path, cache_dir)
            return _from_folder(folder, "flowers", validation_split, train_subset, seed, image_size or (192, 192), source)
        else:
            (x, y), test = LOADERS[name](path, cache_dir)
            x, y = add_channel(x), y.astype(np.int32)
            train, validation = _split(_Split(y, x), None, train_subset, seed)
            validation = _Split(test[1].astype(np.int32), add_channel(test[0]))
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
        x, y, names_ = check_arrays(*name_or_data, class_names)
        train, validation = _split(_Split(y, x), validation_split, train_subset, seed)
        return _bundle("arrays", train, validation, names_, image_size, {"kind": "arrays", **recipe}, "your (x, y) arrays")
    if is_tf_dataset(name_or_data):
        x, y = materialize(name_or_data)
        x, y, names_ = check_arrays(x, y, class_names)
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
        if len(split) - n_classes < train_subset < len(split):
            split = split.subset(_all_but(split.y, len(split) - train_subset, n_classes, seed))
        elif train_subset < len(split):
            keep, _ = train_test_split(
                np.arange(len(split)), train_size=int(train_subset), stratify=split.y, random_state=seed
            )
            split = split.subset(np.sort(keep))
    return split, validation


def _all_but(y, drop, n_classes, seed):
    """Indices of all but ``drop`` images, each dropped from the class with the most images then.  For
    fewer left out than classes, where scikit-learn's stratified split raises (its test side needs an
    image of each class); the subset keeps every class, as ``train_subset >= n_classes`` leaves enough."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=n_classes)
    kept = np.ones(len(y), bool)
    for _ in range(drop):
        biggest = int(counts.argmax())
        kept[rng.choice(np.flatnonzero(kept & (y == biggest)))] = False
        counts[biggest] -= 1
    return np.flatnonzero(kept)


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


