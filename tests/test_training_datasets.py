import gzip
import io
import os
import pickle
import socket
import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from convlab_widgets.training import DataBundle, DatasetError, datasets
from convlab_widgets.training.models import compile_model


def _batches(dataset):
    """Every batch of a run's pipeline as numpy: a tf.data.Dataset (TensorFlow) or a PyDataset (JAX, PyTorch)."""
    if hasattr(dataset, "element_spec"):
        return [tuple(part.numpy() for part in batch) for batch in dataset]
    return [dataset[i] for i in range(len(dataset))]


def _first(dataset):
    return _batches(dataset)[0]


def test_digits_are_embedded_scaled_and_split_stratified():
    data = datasets.load("digits", validation_split=0.2, seed=0)
    assert isinstance(data, DataBundle)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10 and data.class_names[3] == "3"
    assert data.train_size + data.validation_size == 1797
    assert data.validation_size == pytest.approx(1797 * 0.2, abs=1)
    (x, y), = _batches(data.train(batch_size=2000))
    assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1) and 0 <= x.min() and x.max() <= 1
    train_counts = np.bincount(y, minlength=10)
    assert train_counts.max() - train_counts.min() <= 0.1 * train_counts.mean() + 2
    images, labels = data.samples
    assert images.shape == (40, 8, 8, 1) and sorted(set(labels)) == list(range(10))


def test_shapes_are_deterministic_by_seed_with_four_balanced_classes():
    a, b, c = (datasets.load("shapes", seed=s) for s in (1, 1, 2))
    assert a.class_names == ["circle", "square", "triangle", "cross"]
    assert a.input_shape == (32, 32, 3) and a.train_size + a.validation_size == 2000
    xa, ya = a.samples
    xb, yb = b.samples
    np.testing.assert_array_equal(xa, xb)
    assert not np.array_equal(xa, c.samples[0])
    assert np.bincount(a._train.y).tolist() == [400] * 4
    assert xa.min() >= 0 and xa.max() <= 1 and xa.std() > 0.1  # colour, not blank


def test_batching_happens_per_run_with_drop_remainder():
    data = datasets.load("digits", validation_split=0.5, seed=0)
    n = data.train_size
    sizes = [len(y) for _, y in _batches(data.train(batch_size=64, shuffle=False))]
    assert sum(sizes) == n and len(sizes) == data.steps_per_epoch(64) == -(-n // 64)
    dropped = [len(y) for _, y in _batches(data.train(batch_size=64, drop_remainder=True))]
    assert set(dropped) == {64} and len(dropped) == data.steps_per_epoch(64, drop_remainder=True)
    first = [y for _, y in _batches(data.train(batch_size=n, seed=3))][0]
    second = [y for _, y in _batches(data.train(batch_size=n, seed=4))][0]
    assert sorted(first) == sorted(second) and list(first) != list(second)  # shuffled


def test_padded_validation_counts_every_image_once_in_fixed_shapes():
    """Fixed batch shapes (a TPU, JAX over several devices) pad the last validation batch: every batch is full,
    the padding weighs 0, and Keras' loss and accuracy are those of exactly the validation images."""
    import keras

    data = datasets.load("digits", seed=0)
    n = data.validation_size
    assert n % 64 and data.validation_steps(64) == -(-n // 64)
    padded = _batches(data.validation(batch_size=64, pad=True))
    assert len(padded) == data.validation_steps(64) and {len(y) for _, y, _ in padded} == {64}
    weights = np.concatenate([w for _, _, w in padded])
    assert np.count_nonzero(weights) == n and not weights[n:].any()
    images, labels = data.validation_images(np.arange(n))
    assert np.array_equal(np.concatenate([x for x, _, _ in padded])[:n], images)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    compile_model(model, keras.optimizers.SGD, {}, {"learning_rate": 0.01, "jit_compile": "auto"})
    probabilities = np.asarray(model.predict(images, verbose=0), dtype=np.float64)
    exact_loss = -np.log(probabilities[np.arange(n), labels]).mean()
    exact_accuracy = (probabilities.argmax(axis=1) == labels).mean()
    loss, accuracy = model.evaluate(data.validation(batch_size=64, pad=True), verbose=0)
    assert loss == pytest.approx(exact_loss, rel=1e-5) and accuracy == pytest.approx(exact_accuracy, abs=1e-6)


def test_train_subset_is_stratified_and_validation_unchanged():
    full = datasets.load("digits", seed=0)
    small = datasets.load("digits", train_subset=50, seed=0)
    assert small.train_size == 50 and np.bincount(small._train.y).tolist() == [5] * 10
    assert small.validation_size == full.validation_size
    with pytest.raises(DatasetError, match="one image of each of the 10 classes"):
        datasets.load("digits", train_subset=5)
    with pytest.raises(DatasetError, match="positive number"):
        datasets.load("digits", train_subset=0)


def test_image_size_resizes_in_the_pipeline():
    data = datasets.load("digits", image_size=16)
    assert data.input_shape == (16, 16, 1)
    x, _ = _first(data.validation(batch_size=4))
    assert x.shape == (4, 16, 16, 1)


# The user's data ---------------------------------------------------------------------------------


def test_numpy_arrays_uint8_one_hot_and_string_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 10, 12), dtype=np.uint8)
    y = np.eye(3)[np.arange(60) % 3]
    data = datasets.load((x, y), validation_split=0.25)
    assert data.input_shape == (10, 12, 1) and data.num_classes == 3 and data.validation_size == 15
    images, labels = _first(data.validation(batch_size=100))
    assert images.max() <= 1.0 and images.max() > 0.9  # scaled from 0..255
    names = np.array(["cat", "dog"])[np.arange(60) % 2]
    data = datasets.load((x.astype(np.float64), names), validation_split=0)
    assert data.class_names == ["cat", "dog"] and data.validation(batch_size=8) is None
    assert _first(data.train(8))[0].max() <= 1.0  # 0..255 floats scaled too


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((10, 8, 8, 5)), np.arange(10) % 2, "1 or 3 channels"),
        (np.zeros((10, 8, 8)), np.arange(9) % 2, "10 images but 9 labels"),
        (np.zeros((10, 8, 8)), -(np.arange(10) % 2), "class numbers 0, 1, 2"),
        (np.zeros((10, 8, 8)), np.arange(10) % 2 + 0.5, "class numbers"),
        (np.full((10, 8, 8), np.nan), np.arange(10) % 2, "NaN"),
        (np.full((10, 8, 8), 300.0), np.arange(10) % 2, r"\[0, 1\] or \[0, 255\]"),
        (np.zeros((10, 8, 8)), np.zeros(10), "at least two classes"),
        (np.zeros((10, 8, 8)), np.r_[np.zeros(9), 1], "class 1 has 1 image"),
        (np.zeros((10, 2, 2)), np.arange(10) % 2, "too small"),
    ],
)
def test_numpy_arrays_are_validated_with_clear_messages(x, y, message):
    with pytest.raises(DatasetError, match=message):
        datasets.load((x, y))


def test_tf_data_datasets_batched_or_not():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(1).random((40, 8, 8, 3)).astype(np.float32)
    y = np.arange(40) % 4
    unbatched = tf.data.Dataset.from_tensor_slices((x, y))
    for ds in (unbatched, unbatched.batch(7)):
        data = datasets.load(ds, validation_split=0.25)
        assert data.input_shape == (8, 8, 3) and data.num_classes == 4 and data.train_size == 30
    with pytest.raises(DatasetError, match="infinite"):
        datasets.load(unbatched.repeat())
    with pytest.raises(DatasetError, match=r"\(image, label\) pairs"):
        datasets.load(tf.data.Dataset.from_tensor_slices(x))


def _write_images(folder, classes, per_class, size=(20, 24), fmt="png"):
    rng = np.random.default_rng(0)
    for cls in classes:
        os.makedirs(os.path.join(folder, cls), exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, cls, f"{i}.{fmt}"))


def test_image_folder_one_class_per_subfolder(tmp_path):
    _write_images(tmp_path, ["ants", "bees", "wasps"], 4)
    (tmp_path / "bees" / "notes.txt").write_text("not an image")
    data = datasets.load(str(tmp_path), validation_split=0.25, image_size=(16, 16))
    assert data.class_names == ["ants", "bees", "wasps"] and data.input_shape == (16, 16, 3)
    assert (data.train_size, data.validation_size) == (9, 3)
    assert data.source == {"kind": "folder", "path": str(tmp_path), "validation_split": 0.25,
                           "train_subset": None, "seed": 0, "image_size": [16, 16]}
    train = data.train(batch_size=9)
    for _ in range(2):  # the second epoch reads the decoded images kept
        x, y = _first(train)
        assert x.shape == (9, 16, 16, 3) and x.dtype == np.float32 and float(x.max()) <= 1.0
    assert data.samples[0].shape == (9, 16, 16, 3)  # three training images per class


def test_image_folder_problems_are_explained(tmp_path):
    with pytest.raises(DatasetError, match="neither a dataset name"):
        datasets.load(str(tmp_path / "missing"))
    _write_images(tmp_path, ["only"], 2)
    with pytest.raises(DatasetError, match="one sub-folder of images per class"):
        datasets.load(str(tmp_path))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DatasetError, match="'empty'.*holds no images"):
        datasets.load(str(tmp_path))


# Downloaded data: the real parsing code on small files in the original formats -----------------


def test_mnist_npz_from_the_keras_cache(tmp_path):
    rng = np.random.default_rng(0)
    os.makedirs(tmp_path / "datasets")
    np.savez(
        tmp_path / "datasets" / "mnist.npz",
        x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), y_train=np.arange(50, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20, dtype=np.uint8) % 10,
    )
    data = datasets.load("mnist", cache_dir=str(tmp_path))
    assert data.input_shape == (28, 28, 1) and data.num_classes == 10
    assert (data.train_size, data.validation_size) == (50, 20)  # the official test split validates
    x, y = _first(data.validation(batch_size=20))
    assert x.dtype == np.float32 and float(x.max()) <= 1.0 and y.dtype == np.int32


def _idx(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.tobytes())


def test_fashion_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "train-labels-idx1-ubyte.gz": _idx(np.arange(30, dtype=np.uint8) % 10, 2049),
        "train-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), 2051),
        "t10k-labels-idx1-ubyte.gz": _idx(np.arange(10, dtype=np.uint8), 2049),
        "t10k-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), 2051),
    }
    for name, content in arrays.items():
        (tmp_path / name).write_bytes(content)
    data = datasets.load("fashion_mnist", path=str(tmp_path))
    assert (data.train_size, data.validation_size, data.input_shape) == (30, 10, (28, 28, 1))
    assert data.class_names[9] == "Ankle boot"


def test_cifar10_tarball_of_pickled_batches(tmp_path):
    rng = np.random.default_rng(0)
    archive = tmp_path / "cifar-10-python.tar.gz"
    test_rows = rng.integers(0, 256, (10, 3072), dtype=np.uint8)
    with tarfile.open(archive, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            rows = test_rows if name == "test_batch" else rng.integers(0, 256, (10, 3072), dtype=np.uint8)
            batch = {b"data": rows, b"labels": list(range(10)), b"batch_label": name.encode()}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    data = datasets.load("cifar10", path=str(archive))
    assert (data.train_size, data.validation_size, data.input_shape) == (50, 10, (32, 32, 3))
    first = data._validation.x[0]
    # Rows hold 1024 red, then 1024 green, then 1024 blue values: pixel (0, 0) is rows[0][[0, 1024, 2048]].
    assert first.shape == (32, 32, 3) and first[0, 0].tolist() == test_rows[0, [0, 1024, 2048]].tolist()
    assert first[1, 2, 0] == test_rows[0, 32 + 2]


def test_cifar10_refuses_pickles_that_run_code(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    raw = pickle.dumps({b"data": os.system}, protocol=2)
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        datasets.load("cifar10", path=str(archive))


def test_flowers_archive_is_extracted_once_and_read_as_class_folders(tmp_path):
    source = tmp_path / "src" / "flower_photos"
    _write_images(source, ["daisy", "dandelion", "roses", "sunflowers", "tulips"], 3, size=(30, 40), fmt="jpg")
    (source / "LICENSE.txt").write_text("CC-BY")
    cache = tmp_path / "cache" / "datasets"
    os.makedirs(cache)
    with tarfile.open(cache / "flower_photos.tgz", "w:gz") as tar:
        tar.add(source, arcname="flower_photos")
    data = datasets.load("flowers", cache_dir=str(tmp_path / "cache"), validation_split=0.2)
    assert data.class_names == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert data.input_shape == (192, 192, 3) and data.train_size + data.validation_size == 15
    assert (cache / "flower_photos" / "tulips").is_dir() and not (cache / "flower_photos.partial").exists()
    x, _ = _first(data.validation(batch_size=5))
    assert x.shape == (5, 192, 192, 3)


def test_offline_downloads_fail_fast_naming_the_embedded_datasets(tmp_path, monkeypatch):
    def unreachable(address, timeout=None):
        assert timeout is not None and timeout <= 5  # never a blocking connect
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    for name in ("mnist", "fashion_mnist", "cifar10", "flowers"):
        start = time.monotonic()
        with pytest.raises(DatasetError) as error:
            datasets.load(name, cache_dir=str(tmp_path))
        assert time.monotonic() - start < 5
        assert "failed" in str(error.value) and "'digits' or 'shapes'" in str(error.value)


def test_unknown_inputs_are_rejected():
    with pytest.raises(DatasetError, match="validation_split"):
        datasets.load("digits", validation_split=1.0)
    with pytest.raises(DatasetError, match="cannot load"):
        datasets.load(42)
    with pytest.raises(DatasetError, match="image_size"):
        datasets.load("digits", image_size=(2, 2))


# Hostile input (issue #13) -----------------------------------------------------------------------


def _peak_bytes(call):
    import tracemalloc

    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_huge_labels_are_refused_before_anything_is_allocated_per_class():
    x = np.zeros((20, 8, 8), np.uint8)
    y = np.array([0, 10**9] * 10)

    def load():
        with pytest.raises(DatasetError, match=r"got labels 0 and 1000000000 \(1,000,000,001 classes, at most 1,000\)"):
            datasets.load((x, y))

    assert _peak_bytes(load) < 5 << 20


@pytest.mark.parametrize("y, message", [
    (np.array([0, 10**6] * 10), r"0\.\.K-1 with every class present; got labels 0 and 1000000 \(1,000,001 classes"),
    (np.array([0, 2] * 10), r"got labels 0 and 2: class 1 has no images"),
    (np.array([1, 2, 3, 4] * 5), r"class 0 has no images"),
    (np.array([0, 1, 2**40] * 7)[:20], r"got labels 0, 1 and 1099511627776"),
    (np.array([0.0, 1e20] * 10), r"got labels 0 and 100000000000000000000"),
    (np.array([2**64 - 1, 0] * 10, np.uint64), r"18446744073709551615"),
    (np.arange(20) * 100, r"got labels 0, 100, 200, …, 1800, 1900 \(1,901 classes"),
])
def test_labels_must_number_the_classes_from_zero(y, message):
    with pytest.raises(DatasetError, match=message):
        datasets.load((np.zeros((20, 8, 8)), y), validation_split=0)


def test_named_classes_must_each_have_images():
    with pytest.raises(DatasetError, match=r"class 2 \('c'\) has no images"):
        datasets.load((np.zeros((20, 8, 8)), np.arange(20) % 2), class_names=["a", "b", "c"], validation_split=0)
    with pytest.raises(DatasetError, match="class_names must be a list of names"):
        datasets.load((np.zeros((20, 8, 8)), np.arange(20) % 2), class_names="ab")


@pytest.mark.parametrize("options, message", [
    (dict(validation_split="x"), r"validation_split must be a number in \[0, 1\), got 'x'"),
    (dict(validation_split=None), r"validation_split must be a number in \[0, 1\), got None"),
    (dict(validation_split=True), r"validation_split must be a number in \[0, 1\), got True"),
    (dict(validation_split=float("nan")), r"validation_split must be a number in \[0, 1\), got nan"),
    (dict(validation_split=[0.2]), r"validation_split must be a number"),
    (dict(train_subset="50"), r"train_subset must be a positive number of images, got '50'"),
    (dict(train_subset=50.0), r"train_subset must be a positive number of images, got 50.0"),
    (dict(train_subset=True), r"train_subset must be a positive number of images, got True"),
    (dict(seed="x"), r"seed must be a whole number from 0 to 4294967295 \(or None\), got 'x'"),
    (dict(seed=-1), r"seed must be a whole number"),
    (dict(seed=1.5), r"seed must be a whole number"),
    (dict(seed=[1]), r"seed must be a whole number"),
    (dict(image_size=3.5), r"image_size must be \(height, width\)"),
    (dict(image_size="16"), r"image_size must be \(height, width\)"),
    (dict(image_size=(16.0, 16)), r"image_size must be \(height, width\)"),
    (dict(image_size=True), r"image_size must be \(height, width\)"),
])
def test_numeric_options_are_checked_with_located_messages(options, message):
    for data in ("digits", (np.zeros((20, 8, 8)), np.arange(20) % 2)):
        with pytest.raises(DatasetError, match=message):
            datasets.load(data, **options)


def test_numpy_numbers_are_fine_as_options():
    data = datasets.load("digits", validation_split=np.float32(0.25), train_subset=np.int64(100), seed=np.int64(3),
                         image_size=(np.int64(8), 8))
    assert data.train_size == 100 and data.validation_size == pytest.approx(1797 * 0.25, abs=1)
    assert datasets.load("digits", seed=None).train_size > 0


def test_a_tf_data_generator_that_raises_is_named_with_its_own_error():
    tf = pytest.importorskip("tensorflow")

    def images():
        for i in range(10):
            if i == 3:
                raise ValueError("bad image 3")
            yield np.zeros((8, 8, 1), np.float32), i % 2

    ds = tf.data.Dataset.from_generator(images, output_signature=(tf.TensorSpec((8, 8, 1), tf.float32),
                                                                  tf.TensorSpec((), tf.int32)))
    with pytest.raises(datasets.DatasetError, match=r"failed after 3 images: ValueError: bad image 3; fix the code"):
        datasets.load(ds)


def test_a_train_subset_leaving_out_fewer_images_than_classes_keeps_every_class():
    """Found by tests/test_fuzz_inputs.py: 8 images of 2 classes, 3 held out for validation, train_subset=4
    left 1 image out, and scikit-learn's stratified split raised ValueError (its test side needs 2)."""
    x, y = np.random.default_rng(0).random((8, 4, 4)), np.arange(8) % 2
    bundle = datasets.load((x, y), validation_split=0.375, train_subset=4, seed=0)
    assert bundle.train_size == 4 and bundle.validation_size == 3
    assert sorted(set(bundle.samples[1].tolist())) == [0, 1]
    x, y = np.random.default_rng(0).random((9, 4, 4)), np.array([0, 0, 0, 0, 0, 0, 0, 1, 2])
    bundle = datasets.load((x, y), validation_split=0, train_subset=7, seed=1)
    assert bundle.train_size == 7 and sorted(set(bundle.samples[1].tolist())) == [0, 1, 2]
