"""A run's batches, for the backend in force: one recipe, two adapters.

Every backend gets the same batches from the same images: stored pixels
(uint8 scaled to [0, 1], or float32 as they are) resized to the model's input
with antialiasing, reshuffled every epoch with the run's seed.  TensorFlow
reads them through ``tf.data`` (:func:`tf_batches`: the graph pipeline is the
fastest way to feed TensorFlow, and what a TensorFlow user would write); JAX
and PyTorch through a ``keras.utils.PyDataset`` (:class:`Batches`), which
Keras feeds to either.  The shuffle orders of the two differ (``tf.data``'s own
seeded shuffle vs numpy's); the images, splits and subsets do not.

Fixed batch shapes (a TPU; JAX splitting each batch across devices) leave
out the last partial batch of training.  Validation keeps every image: its
last batch is padded to full size (``pad``) with rows of weight 0, and
each real image weighs what :func:`padding` says, so that Keras' per-batch means
add up to the mean over exactly the validation images.
"""

from __future__ import annotations

import math

import keras
import numpy as np


def batches(x, y, input_shape, batch_size, drop_remainder=False, shuffle=True, seed=None, pad=None):
    """The pipeline of one split for ``model.fit``: ``x`` stored pixels, ``y`` integer labels.

    ``pad``: ``(steps, weight)`` from :func:`padding`, for fixed shapes that
    still count every image: ``steps`` batches of ``(images, labels, weights)``,
    all ``batch_size`` long, the rows after the last image padded with weight 0."""
    if keras.backend.backend() == "tensorflow":
        return tf_batches(x, y, input_shape, batch_size, drop_remainder, shuffle, seed, pad)
    return Batches(x, y, input_shape, batch_size, drop_remainder, shuffle, seed, pad)


def padding(n, batch_size):
    """``(steps, weight)``: ``n`` images in padded batches of ``batch_size`` (global sizes).

    Keras averages the loss over each batch's rows, padding included, and then
    over batches by their row count: with every real row weighing
    ``steps * batch_size / n`` (and padding 0) that is the mean over the ``n``
    images.  Weighted metrics (accuracy) divide by the weights: exact either way."""
    steps = math.ceil(n / batch_size)
    return steps, steps * batch_size / n


def prepare(x, input_shape):
    """Stored pixels as the model sees them: float32 in [0, 1] at ``input_shape`` (any backend, numpy out)."""
    scaled = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    if tuple(scaled.shape[1:3]) == tuple(input_shape[:2]) or not len(scaled):
        return scaled
    resized = keras.ops.image.resize(scaled, tuple(input_shape[:2]), interpolation="bilinear", antialias=True,
                                     data_format="channels_last")
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float32)


class Batches(keras.utils.PyDataset):
    """Batches of one split for JAX and PyTorch: read in the training thread, one at a time.

    ``drop_remainder``: leave out the last partial batch (a TPU's fixed
    shapes, or a batch JAX splits across devices).  The order is a fresh
    permutation every epoch from ``numpy.random.default_rng(seed)``.
    """

    def __init__(self, x, y, input_shape, batch_size, drop_remainder=False, shuffle=True, seed=None, pad=None):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y = x, y
        self.input_shape = tuple(input_shape)
        self.batch_size = int(batch_size)
        self.drop_remainder = drop_remainder
        self.pad = pad
        self._rng = np.random.default_rng(seed) if shuffle else None
        self._order = self._next_order()

    def _next_order(self):
        return None if self._rng is None else self._rng.permutation(len(self.y))

    def __len__(self):
        n = len(self.y)
        if self.pad is not None:
            return self.pad[0]
        return n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if self._order is not None:
            rows = self._order[rows]
        images, labels = prepare(self.x[rows], self.input_shape), self.y[rows]
        if self.pad is None:
            return images, labels
        weights = np.zeros(self.batch_size, np.float32)
        weights[:len(labels)] = self.pad[1]
        missing = self.batch_size - len(labels)
        if missing:
            images = np.concatenate([images, np.zeros((missing, *images.shape[1:]), images.dtype)])
            labels = np.concatenate([labels, np.zeros(missing, labels.dtype)])
        return images, labels, weights

    def on_epoch_end(self):
        self._order = self._next_order()


def tf_batches(x, y, input_shape, batch_size, drop_remainder=False, shuffle=True, seed=None, pad=None):
    """The same batches as a ``tf.data`` pipeline (TensorFlow only)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder and pad is None)
    scale = x.dtype == np.uint8
    target = tuple(input_shape[:2])
    resize = tuple(x.shape[1:3]) != target

    def prepare_batch(images, labels):
        images = tf.cast(images, tf.float32)
        if scale:
            images = images / 255.0
        if resize:
            images = tf.image.resize(images, target, antialias=True)
        if pad is None:
            return images, labels
        real = tf.shape(labels)[0]
        weights = tf.where(tf.range(batch_size) < real, pad[1], 0.0)
        missing = batch_size - real
        images = tf.pad(images, [[0, missing], [0, 0], [0, 0], [0, 0]])
        labels = tf.pad(labels, [[0, missing]])
        return tf.ensure_shape(images, [batch_size, *images.shape[1:]]), tf.ensure_shape(labels, [batch_size]), weights

    ds = ds.map(prepare_batch, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # In-memory data cannot be sharded by file across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
