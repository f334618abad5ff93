"""What a dataset and ``load()``'s options must be, checked before anything is allocated.

A student's labels with a typo, a folder of strangers' images, a typed-in value: each is
refused with a :class:`DatasetError` that names what is wrong and what would do, before
any array is sized by what the input claims.
"""

from __future__ import annotations

import numpy as np

from ..architecture.errors import short  # a bounded repr: messages quote the learner's input


class DatasetError(ValueError):
    """What is wrong with the data, in words a learner can act on."""


#: More classes than any classroom dataset; labels beyond it are a mistake, not a task.
MAX_CLASSES = 1000


def plain_scalar(value):
    """NumPy scalars as the Python numbers they hold, so that checks and recipes see one kind."""
    return value.item() if isinstance(value, np.generic) else value


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_validation_split(value):
    value = plain_scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise DatasetError(f"validation_split must be a number in [0, 1), got {short(value)}")
    return value


def check_train_subset(value):
    value = plain_scalar(value)
    if value is not None and not (_whole(value) and value >= 1):
        raise DatasetError(f"train_subset must be a positive number of images, got {short(value)}")
    return value


def check_seed(value):
    value = plain_scalar(value)
    if value is not None and not (_whole(value) and 0 <= value < 2**32):
        raise DatasetError(f"seed must be a whole number from 0 to {2**32 - 1} (or None), got {short(value)}")
    return value


def check_class_names(names):
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise DatasetError(f"class_names must be a list of names like ['cat', 'dog'], got {short(names)}")
    return list(names)


def check_image_size(size):
    size = plain_scalar(size)
    if _whole(size):
        size = (size, size)
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            _whole(plain_scalar(s)) and 4 <= s <= 1024 for s in size):
        raise DatasetError(f"image_size must be (height, width) with sides from 4 to 1024 pixels, got {short(size)}")
    return tuple(int(s) for s in size)


def _listed(values):
    """A few numbers as words: '0 and 2', '0, 1 and 7', '0, 100, 200, …, 1800, 1900'."""
    words = [str(int(v)) for v in values]
    if len(words) > 6:
        return ", ".join([*words[:3], "…", *words[-2:]])
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def check_labels(y, class_names):
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


def check_arrays(x, y, class_names):
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
    y = check_labels(y, class_names)
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


def add_channel(x):
    return x[..., None] if x.ndim == 3 else x
