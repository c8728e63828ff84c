"""``load``: dequantised, augmented, shuffled, batched and prefetched tf.data pipelines."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from tfp_realnvp.data.dequantize import dequantize
from tfp_realnvp.data.preprocessing import augment
from tfp_realnvp.data.sources import dataset_info, raw_images


def load(
    source: str | os.PathLike,
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
    image_size: int | Sequence[int] | None = None,
    num_bits: int | None = None,
    horizontal_flip: bool | None = None,
    with_labels: bool = False,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Returns a ``tf.data.Dataset`` of dequantised float32 image batches [B, H, W, C] in [0, 1).

    Each image's integer pixels p in {0, ..., K-1} (K = ``num_bins(source)``) become
    x = (p + u) / K with u ~ U[0, 1) per value (see ``dequantize``), after the dataset's recipe
    (``dataset_info(source)``): deterministic crops/resizes, then in training random crops and
    horizontal flips, in evaluation central crops and no flips, then ``image_size``'s resize
    and ``num_bits``' reduction. Batches hold images only, which ``keras.Model.fit`` accepts as
    x, or ``(images, labels)`` with ``with_labels=True``.

    Sources (see ``sources``): a name of ``dataset_names()``; ``"tfds:NAME[/CONFIG]"`` for any
    tensorflow-datasets dataset with an ``image`` feature; a folder of PNG/JPEG images (one
    sub-folder per class gives labels); an ``.npy``/``.npz`` file of uint8 images [N, H, W, C]
    or [N, H, W] (``x_train``/``x_test``/``y_*`` in an ``.npz``); MNIST-format idx files (a file
    or a folder, ``.gz`` or not); a folder of CIFAR-10 ``.bin`` records. Files are read
    directly, without checksums. A source without its own test split holds out a fixed 10% of
    its images (the same ones every run).

    Randomness. Each example gets a stateless seed [s, i] where i is its position in the
    unshuffled source. With ``noise_seed=None``, s is drawn afresh every pass over the dataset
    (``tf.data.Dataset.random(rerandomize_each_iteration=True)``), so every epoch sees new
    noise, crops and flips; reproducible under ``tf.random.set_seed``. With ``noise_seed=n``,
    s = n: every pass yields identical values, which makes held-out bits/dim reproducible
    (combine with ``training=False``, whose source order is fixed).

    Args:
      source: a dataset name, ``"tfds:NAME[/CONFIG]"``, a folder or an array file (above).
      split: "train", "test" or "validation" (any tensorflow-datasets split string for tfds
        datasets; "train"/"test" for the digits and files read directly).
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
        and no ``manual_dir`` is given (only if the download host answers); False fails at
        once instead of trying the network.
      image_size: None, H or (H, W): centre-crop each image to the aspect H:W, then resize it
        to H x W (needed for images of different sizes).
      num_bits: None, or n in 1..8 for n-bit data: p -> p // 2**(8 - n), K = 2**n levels
        (Glow's 5-bit CelebA); bits/dim then counts 2**n levels.
      horizontal_flip: flip training images left-right with probability 1/2; default: the
        dataset's recipe (CIFAR-10, CelebA, LSUN), no flips for other sources.
      with_labels: yield ``(images, labels)`` batches: int64 labels [B] (class index; a
        folder's sub-folder in sorted order) or [B, 40] (CelebA's attributes, sorted by name,
        0/1). ``ValueError`` for a dataset without labels.
      input_context: a ``tf.distribute.InputContext`` (``strategy.distribute_datasets_from_
        function`` passes one): then ``batch_size`` is the global batch, this pipeline yields
        batches of ``input_context.get_per_replica_batch_size(batch_size)`` and, with several
        input pipelines (workers), keeps worker i's part: every n-th example from the i-th,
        taken after the shuffle and before any per-example work. Every worker must shuffle
        alike (the same ``tf.random.set_seed``), so that the parts of one pass are disjoint and
        each global batch holds the examples one process would batch together.

    Raises:
      ValueError: unknown ``source``, invalid ``batch_size``, ``shuffle_buffer``,
        ``noise_seed``, ``split`` or option, a malformed file, an unreadable image or images of
        different sizes without ``image_size`` (the file is named).
      DatasetNotAvailableError: the data is not prepared, ``manual_dir`` lacks the official
        files or they fail tensorflow-datasets' checksums, downloading failed, a path does not
        exist or a folder holds no images; the message says how to provide it.

    Example:
      >>> train = load("digits", split="train", batch_size=64)  # shuffled, fresh noise
      >>> test = load("digits", split="test", batch_size=64, noise_seed=0)  # fixed noise
      >>> next(iter(test)).shape
      TensorShape([64, 8, 8, 1])
      >>> mnist = load("mnist", split="train", batch_size=64,  # doctest: +SKIP
      ...              manual_dir="../shared/data/mnist")  # the idx files, or a download
    """
    info = dataset_info(
        source, image_size=image_size, num_bits=num_bits, horizontal_flip=horizontal_flip
    )
    if with_labels and info.label_shape is None:
        raise ValueError(f"`with_labels` is True but {info.name!r} has no labels.")
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
        with_labels=with_labels,
    )
    # Without a random crop, `finish` (resize, n-bit reduction) commutes with the flip: apply it
    # once, before caching, so that the cache holds the small images.
    finish_early = info.crop_size is None
    for step in (info.prepare, info.finish if finish_early else None):
        if step is not None:
            images = images.map(_on_image(step), num_parallel_calls=tf.data.AUTOTUNE)
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

    def to_float(example, pass_seed: tf.Tensor, index: tf.Tensor):
        image, labels = example if with_labels else (example, None)
        seed = tf.stack([pass_seed, index])
        augment_seed, noise_seed_ = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = augment(
            image,
            augment_seed,
            training=training,
            crop_size=info.crop_size,
            flip=info.horizontal_flip,
        )
        if info.finish is not None and not finish_early:
            image = info.finish(image)
        image = tf.ensure_shape(image, info.image_shape)
        image = dequantize(image, info.num_bins, noise_seed_)
        return image if labels is None else (image, labels)

    batches = examples.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).batch(
        batch_size, drop_remainder=drop_remainder
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def _on_image(function):
    """``function`` of an image, applied to an image or to the image of an (image, label) pair."""

    def apply(image, *labels):
        return (function(image), *labels) if labels else function(image)

    return apply


def check_positive_int(name: str, value: object) -> int:
    """Returns ``value`` as an ``int`` if it is an integer >= 1, else raises ``ValueError``.

    Booleans are rejected although Python treats them as integers (``True`` is not a size).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_optional_seed(name: str, value: object) -> int | None:
    """Returns ``value`` if it is ``None`` or an integer >= 0, else raises ``ValueError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be None or a non-negative integer; got {value!r}.")
    return int(value)
