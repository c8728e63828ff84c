"""``load``: dequantised, augmented, shuffled, batched and prefetched tf.data pipelines."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfp_realnvp.data.augmentation import augment
from tfp_realnvp.data.dequantize import dequantize
from tfp_realnvp.data.registry import dataset_info
from tfp_realnvp.data.sources import raw_images
from tfp_realnvp.data.validation import check_optional_seed, check_positive_int


def load(
    name: str,
    *,
    split: str,
    batch_size: int,
    data_dir: str | Path | None = None,
    manual_dir: str | Path | None = None,
    training: bool | None = None,
    shuffle: bool | None = None,
    noise_seed: int | None = None,
    shuffle_buffer: int = 10_000,
    cache: bool | None = None,
    drop_remainder: bool = False,
    download: bool = True,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Returns a ``tf.data.Dataset`` of dequantised float32 image batches [B, H, W, C] in [0, 1).

    Each image's integer pixels p in {0, ..., K-1} (K = ``num_bins(name)``) become
    x = (p + u) / K with u ~ U[0, 1) per value (see ``dequantize``), after the dataset's recipe
    (``dataset_info(name)``): deterministic crops/resizes, then in training random crops and
    horizontal flips, in evaluation central crops and no flips. Batches only hold images (no
    labels), which ``keras.Model.fit`` accepts as x.

    Randomness. Each example gets a stateless seed [s, i] where i is its position in the
    unshuffled source. With ``noise_seed=None``, s is drawn afresh every pass over the dataset
    (``tf.data.Dataset.random(rerandomize_each_iteration=True)``), so every epoch sees new
    noise, crops and flips; reproducible under ``tf.random.set_seed``. With ``noise_seed=n``,
    s = n: every pass yields identical values, which makes held-out bits/dim reproducible
    (combine with ``training=False``, whose source order is fixed).

    Args:
      name: one of ``dataset_names()``.
      split: "train", "test" or "validation" (any tensorflow-datasets split string for tfds
        datasets; "train"/"test" for digits and CIFAR-10 binary files).
      batch_size: images per batch, a positive integer.
      data_dir: tensorflow-datasets folder where prepared data is read and written (default
        ``~/tensorflow_datasets``). Unused by digits and CIFAR-10 binary files.
      manual_dir: folder with the official files, for building without internet (MNIST and
        Fashion-MNIST: the four idx .gz files; CIFAR-10: the .bin records), or a parent folder
        holding them in ``<manual_dir>/<name>/``. Must be None for digits.
      training: whether to augment randomly; default: ``split`` starts with "train".
      shuffle: whether to shuffle examples (and tfds files, unless ``noise_seed`` is set, which
        keeps the source order fixed); default: ``training``.
      noise_seed: None for fresh randomness each pass, or a non-negative int for fixed values.
      shuffle_buffer: examples in the shuffle buffer, a positive integer.
      cache: keep the prepared uint8 images in memory (before any random op, so noise stays
        fresh); default: True for digits, MNIST, Fashion-MNIST and CIFAR-10.
      drop_remainder: drop the last batch if smaller than ``batch_size`` (static batch shape).
      download: let tensorflow-datasets download when the data is not prepared in ``data_dir``
        and no ``manual_dir`` is given; False fails at once instead of trying the network.
      input_context: a ``tf.distribute.InputContext`` (``strategy.distribute_datasets_from_
        function`` passes one): then ``batch_size`` is the global batch, this pipeline yields
        batches of ``input_context.get_per_replica_batch_size(batch_size)`` and, with several
        input pipelines (workers), keeps worker i's part: every n-th example from the i-th,
        taken after the shuffle and before any per-example work. Every worker must shuffle
        alike (the same ``tf.random.set_seed``), so that the parts of one pass are disjoint and
        each global batch holds the examples one process would batch together.

    Raises:
      ValueError: unknown ``name``, invalid ``batch_size``, ``shuffle_buffer``, ``noise_seed``
        or ``split``.
      DatasetNotAvailableError: the data is not prepared, ``manual_dir`` lacks the official
        files, or downloading failed; the message says how to provide it.

    Example:
      >>> train = load("mnist", split="train", batch_size=64, manual_dir="../shared/data")
      >>> test = load("mnist", split="test", batch_size=64, manual_dir="../shared/data",
      ...             noise_seed=0)
    """
    info = dataset_info(name)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle_buffer = check_positive_int("shuffle_buffer", shuffle_buffer)
    noise_seed = check_optional_seed("noise_seed", noise_seed)
    if not isinstance(split, str) or not split:
        raise ValueError(f"`split` must be a non-empty string such as 'train'; got {split!r}.")
    training = split.startswith(info.train_split) if training is None else bool(training)
    shuffle = training if shuffle is None else bool(shuffle)
    cache = info.cache if cache is None else bool(cache)

    images = raw_images(
        info,
        split=split,
        data_dir=data_dir,
        manual_dir=manual_dir,
        download=download,
        shuffle_files=shuffle and noise_seed is None,
    )
    if info.prepare is not None:
        images = images.map(info.prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        images = images.cache()

    if noise_seed is None:
        passes = tf.data.Dataset.random(rerandomize_each_iteration=True)
    else:
        passes = tf.data.Dataset.from_tensors(tf.constant(noise_seed, tf.int64)).repeat()
    examples = tf.data.Dataset.zip(images, passes, tf.data.Dataset.counter())
    if shuffle:
        examples = examples.shuffle(shuffle_buffer, reshuffle_each_iteration=True)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        examples = examples.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )

    def to_float(image: tf.Tensor, pass_seed: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        seed = tf.stack([pass_seed, index])
        augment_seed, noise_seed_ = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = augment(
            image,
            augment_seed,
            training=training,
            crop_size=info.crop_size,
            flip=info.horizontal_flip,
        )
        image = tf.ensure_shape(image, info.image_shape)
        return dequantize(image, info.num_bins, noise_seed_)

    batches = examples.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).batch(
        batch_size, drop_remainder=drop_remainder
    )
    return batches.prefetch(tf.data.AUTOTUNE)
