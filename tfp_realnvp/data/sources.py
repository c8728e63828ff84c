"""What a ``source`` names, and where its raw uint8 images (and labels) come from.

A source is one of:
- a named dataset (``dataset_names()``: the paper's, MNIST, Fashion-MNIST, the digits);
- ``"tfds:NAME"`` or ``"tfds:NAME/CONFIG"``: any tensorflow-datasets dataset with an ``image``
  feature (its ``label`` feature, if a class label, gives the labels);
- a folder of PNG/JPEG images, directly in it or one sub-folder per class (the labels);
- an ``.npy`` file of uint8 images [N, H, W, C] or [N, H, W], or an ``.npz`` file with
  ``x_train`` (and ``x_test``), or ``x``, and optional integer labels ``y_train``/``y_test``/``y``;
- MNIST-format idx files (``*-idx3-ubyte``, ``.gz`` or not, labels ``*-idx1-ubyte`` beside
  them): one file, or a folder with the ``train-*`` and ``t10k-*`` files;
- a folder of CIFAR-10 binary records (``data_batch_*.bin``, ``test_batch*.bin``).

Splits are "train" and "test". A source without its own held-out split (a folder of images, an
``.npy``, an ``.npz`` without ``x_test``, a single idx file, a tensorflow-datasets dataset with
only a train split) holds out a fixed ``HELD_OUT_FRACTION`` of its images, chosen with the
fixed seed ``HELD_OUT_SEED``: the same images every run.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfp_realnvp.data import arrays as array_files
from tfp_realnvp.data import registry
from tfp_realnvp.data.dequantize import check_num_bits, reduce_bits
from tfp_realnvp.data.errors import DatasetNotAvailableError
from tfp_realnvp.data.image_files import scan_image_folder
from tfp_realnvp.data.preprocessing import resize_to_fill
from tfp_realnvp.data.registry import DatasetInfo
from tfp_realnvp.data.tfds_source import image_feature, tfds_images

TFDS_PREFIX = "tfds:"
HELD_OUT_FRACTION = 0.1
HELD_OUT_SEED = 0
# An image folder whose decoded images take at most this many bytes is cached in memory.
CACHE_BYTES = 2**30


def dataset_info(
    source: str | os.PathLike,
    *,
    image_size: int | Sequence[int] | None = None,
    num_bits: int | None = None,
    horizontal_flip: bool | None = None,
) -> DatasetInfo:
    """The ``DatasetInfo`` of the images ``load(source, ...)`` yields with these options.

    Args:
      source: a dataset name, ``"tfds:NAME[/CONFIG]"``, a folder or an array file (see
        ``load``).
      image_size: None to keep the stored size, or H (square) or (H, W): every image is
        centre-cropped to the aspect ratio H:W and resized to H x W (``resize_to_fill``).
      num_bits: None to keep 8-bit pixels, or n in 1..8: p -> p // 2**(8 - n), 2**n levels.
      horizontal_flip: whether training flips images; None keeps the dataset's recipe (flips
        for CIFAR-10, CelebA and LSUN; none for other sources).

    Raises:
      ValueError: an unknown name, a malformed file, unreadable or (without ``image_size``)
        mixed-size images, or a bad option.
      DatasetNotAvailableError: a file or folder that does not exist or holds no images.
    """
    size = _check_image_size(image_size)
    info = _stored_info(source, size_given=size is not None)
    steps = []
    height, width, channels = info.image_shape
    if size is not None:
        height, width = size
        steps.append(functools.partial(resize_to_fill, height=height, width=width))
    elif height is None or width is None:
        raise ValueError(
            f"`source` {info.name!r} has images of no fixed size; pass `image_size` to resize "
            "them all to one size."
        )
    bins = info.num_bins
    if num_bits is not None:
        if info.num_bins != 256:
            raise ValueError(
                f"`num_bits` reduces 8-bit images, but {info.name!r} has {info.num_bins} levels; "
                f"got num_bits={num_bits!r}."
            )
        steps.append(functools.partial(reduce_bits, num_bits=check_num_bits(num_bits)))
        bins = 2**num_bits
    flip = info.horizontal_flip if horizontal_flip is None else bool(horizontal_flip)
    return dataclasses.replace(
        info,
        image_shape=(height, width, channels),
        num_bins=bins,
        horizontal_flip=flip,
        finish=_compose(steps),
    )


def _compose(steps: list[Callable]) -> Callable | None:
    if not steps:
        return None
    return functools.reduce(lambda f, g: lambda image: g(f(image)), steps)


def _check_image_size(image_size: object) -> tuple[int, int] | None:
    """``image_size`` as (H, W), or None; ``ValueError`` unless positive integers."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
    try:
        height, width = size
    except (TypeError, ValueError):
        height = width = None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, numbers.Integral) or side < 1:
            raise ValueError(
                f"`image_size` must be a positive integer H or a pair (H, W); got {image_size!r}."
            )
    return int(height), int(width)


def _stored_info(source: object, size_given: bool) -> DatasetInfo:
    """``source``'s ``DatasetInfo`` before any option; image sides may be None (they vary)."""
    unknown = ValueError(
        f"`source` must be one of {', '.join(registry.dataset_names())}, 'tfds:NAME', a folder "
        f"or an array file; got {source!r}."
    )
    if not isinstance(source, (str, os.PathLike)) or not str(source):
        raise unknown
    text = str(source)
    named = registry.named_dataset(text)
    if named is not None:
        return named
    if text.startswith(TFDS_PREFIX):
        return _tfds_info(text)
    path = Path(text).expanduser().resolve()
    if not path.exists():
        if os.sep in text or "/" in text or Path(text).suffix:
            raise DatasetNotAvailableError(
                f"`source` {text!r}: no such file or folder (looked for {str(path)!r})."
            )
        raise unknown
    if array_files.array_source_kind(path) is not None:
        return _arrays_info(text, path)
    if path.is_file():
        raise ValueError(
            f"`source` {text!r} must be a folder, an .npy/.npz file or an idx file; got a file "
            f"of another kind."
        )
    return _folder_info(text, path, size_given)


def _own_source(name: str, image_shape: tuple, source: str, **fields) -> DatasetInfo:
    """A source other than the named datasets: 8-bit pixels, splits "train"/"test", no flips."""
    return DatasetInfo(
        name=name, image_shape=image_shape, num_bins=256, train_split="train",
        eval_split="test", horizontal_flip=False, source=source, **fields,
    )  # fmt: skip


def _arrays_info(text: str, path: Path) -> DatasetInfo:
    splits = array_files.read_arrays(path)
    shapes = {images.shape[1:] for images, _ in splits.values()}
    if len(shapes) > 1:
        raise ValueError(
            f"`source` {text!r} holds images of different shapes in its splits: "
            f"{', '.join(str(list(s)) for s in sorted(shapes))}."
        )
    labels = [labels for _, labels in splits.values()]
    label_shape = None if any(y is None for y in labels) else labels[0].shape[1:]
    num_classes = int(max(y.max() for y in labels)) + 1 if label_shape == () else None
    return _own_source(
        text, shapes.pop(), "arrays", path=str(path), label_shape=label_shape,
        num_classes=num_classes, cache=True,
    )  # fmt: skip


def _folder_info(text: str, path: Path, size_given: bool) -> DatasetInfo:
    folder = scan_image_folder(path)
    decoded = sum(h * w * folder.channels for h, w in folder.sizes)
    return _own_source(
        text,
        folder.image_shape(same_size_needed=not size_given),
        "images",
        path=str(path),
        label_shape=() if folder.class_names else None,
        num_classes=len(folder.class_names) or None,
        cache=decoded <= CACHE_BYTES,
    )


def _tfds_info(text: str) -> DatasetInfo:
    tfds_name = text[len(TFDS_PREFIX) :]
    shape, label_shape, num_classes = image_feature(tfds_name)
    if shape[2] is None:
        raise ValueError(f"`source` {text!r} has images with no fixed number of channels.")
    return _own_source(
        text, shape, "tfds", tfds_name=tfds_name, label_shape=label_shape, num_classes=num_classes
    )


def held_out_split(count: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) of ``count`` images: a fixed random ``HELD_OUT_FRACTION``
    (at least one image) is held out, drawn with ``HELD_OUT_SEED``; both sorted."""
    if count < 2:
        raise ValueError(
            f"`source` must hold at least 2 images to hold some out for testing; got {count}."
        )
    order = np.random.default_rng(HELD_OUT_SEED).permutation(count)
    held_out = max(1, round(count * HELD_OUT_FRACTION))
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def _check_split(info: DatasetInfo, split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"`split` for {info.name!r} must be 'train' or 'test'; got {split!r}.")
    return split


def _split_indices(info: DatasetInfo, split: str, count: int) -> np.ndarray:
    train, test = held_out_split(count)
    return train if _check_split(info, split) == "train" else test


def raw_images(
    info: DatasetInfo,
    *,
    split: str,
    data_dir: str | Path | None,
    manual_dir: str | Path | None,
    download: bool,
    shuffle_files: bool,
    with_labels: bool,
) -> tf.data.Dataset:
    """A dataset of ``info``'s stored uint8 images [h, w, c] of ``split`` (with int64 labels
    if ``with_labels``), before any recipe.

    - ``digits`` and ``arrays``: read into memory (see ``arrays``).
    - ``images``: a folder of PNG/JPEG files (see ``image_files``).
    - ``cifar10``: with ``manual_dir`` holding ``data_batch_*.bin`` / ``test_batch*.bin``
      (directly, in ``cifar-10-batches-bin/`` or in ``cifar10/``), those records are read
      directly, splits "train" and "test" only; otherwise through tensorflow-datasets.
    - ``tfds``: tensorflow-datasets (see ``tfds_source.prepared_builder``).
    """
    if info.source in ("digits", "arrays", "images") and manual_dir is not None:
        raise ValueError(
            f"`manual_dir` must be None for {info.name!r} (its images are read directly); "
            f"got {str(manual_dir)!r}."
        )
    if info.source == "images":
        folder = scan_image_folder(Path(info.path))
        return folder.images(_split_indices(info, split, len(folder.files)), with_labels)
    if info.source == "cifar10" and manual_dir is not None:
        for folder in (Path(manual_dir), Path(manual_dir) / info.name):
            if array_files.array_source_kind(folder) == "cifar10":
                files = array_files.cifar10_files(folder, _check_split(info, split))
                if files:
                    return _slices(*array_files.read_cifar10_files(files), with_labels)
    if info.source == "digits":
        return _from_arrays(info, array_files.read_digits(), split, with_labels)
    if info.source == "arrays":
        return _from_arrays(info, array_files.read_arrays(Path(info.path)), split, with_labels)
    return tfds_images(
        info,
        split=split,
        data_dir=data_dir,
        manual_dir=manual_dir,
        download=download,
        shuffle_files=shuffle_files,
        with_labels=with_labels,
    )


def _from_arrays(
    info: DatasetInfo, splits: array_files.Arrays, split: str, with_labels: bool
) -> tf.data.Dataset:
    """The images (and labels) of ``split`` from arrays, held-out part drawn if needed."""
    if "train" in splits and "test" in splits:
        images, labels = splits[_check_split(info, split)]
    else:
        ((images, labels),) = splits.values()
        chosen = _split_indices(info, split, len(images))
        images, labels = images[chosen], None if labels is None else labels[chosen]
    return _slices(images, labels, with_labels)


def _slices(images: np.ndarray, labels: np.ndarray | None, with_labels: bool) -> tf.data.Dataset:
    if with_labels:
        return tf.data.Dataset.from_tensor_slices((images, labels))
    return tf.data.Dataset.from_tensor_slices(images)


def image_shape(source: str | os.PathLike, **options) -> tuple[int, int, int]:
    """(H, W, C) of the images ``load(source, **options)`` yields (options as ``dataset_info``)."""
    return dataset_info(source, **options).image_shape


def num_bins(source: str | os.PathLike, **options) -> int:
    """Number of discrete pixel levels K of ``load(source, **options)``'s images (256 for 8-bit
    images, 2**num_bits for n-bit data, 17 for the digits)."""
    return dataset_info(source, **options).num_bins
