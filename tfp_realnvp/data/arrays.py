"""Datasets that fit in memory as uint8 arrays: .npy/.npz files, MNIST-format idx files,
CIFAR-10 binary records and scikit-learn's digits.

Each reader returns ``Arrays``: per split, uint8 images [N, H, W, C] and optional integer labels
[N, ...]. Files are read with NumPy, so a copy of MNIST, Fashion-MNIST or CIFAR-10 from anywhere
works (no checksum against the official archives; tensorflow-datasets' path keeps those).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tfp_realnvp.data.errors import DatasetNotAvailableError

# split -> (images uint8 [N, H, W, C], labels integer [N, ...] or None)
Arrays = dict[str, tuple[np.ndarray, np.ndarray | None]]

# idx (MNIST): big-endian header: 0, 0, the type code (0x08 = uint8), the number of dimensions,
# then one uint32 size per dimension, then the values.
IDX_UINT8 = 0x08
IDX_IMAGE_PATTERNS = ("*idx3-ubyte", "*idx3-ubyte.gz")
# Official MNIST names start with "train" and "t10k"; other copies use "test".
IDX_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}

# CIFAR-10 binary: records of 1 label byte, then 1024 red, 1024 green, 1024 blue bytes.
CIFAR10_SIDE = 32
CIFAR10_RECORD_BYTES = 1 + 3 * CIFAR10_SIDE * CIFAR10_SIDE
CIFAR10_PATTERNS = {"train": "data_batch_*.bin", "test": "test_batch*.bin"}
# The official archive unpacks into this folder; it is searched too.
CIFAR10_ARCHIVE_FOLDER = "cifar-10-batches-bin"

# scikit-learn's 1797 digits in their fixed order: the first 1500 train, the last 297 test.
DIGITS_NUM_TRAIN = 1500
DIGITS_NUM_TEST = 297


def as_images(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` as uint8 images [N, H, W, C]; [N, H, W] gets C = 1. ``ValueError`` otherwise."""
    if array.dtype != np.uint8:
        raise ValueError(f"{what} must hold uint8 images (0..255); got dtype {array.dtype}.")
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or 0 in array.shape:
        raise ValueError(
            f"{what} must hold images [N, H, W, C] or [N, H, W] with positive sizes; "
            f"got shape {list(array.shape)}."
        )
    return array


def read_array_file(path: Path) -> Arrays:
    """The images of an .npy file (split "all") or an .npz file.

    An .npz holds ``x_train`` and optionally ``x_test`` (splits "train", "test"), or ``x`` alone
    (split "all"), each with optional integer labels ``y_train``/``y_test``/``y``.
    """
    if path.suffix == ".npy":
        return {"all": (as_images(np.load(path), f"`source` {str(path)!r}"), None)}
    with np.load(path) as arrays:
        keys = set(arrays.files)
        splits = {"x_train": "train", "x_test": "test"} if "x_train" in keys else {"x": "all"}
        if not set(splits) & keys:
            raise ValueError(
                f"`source` {str(path)!r} must hold the arrays x_train (and x_test), or x; "
                f"got {', '.join(sorted(keys)) or 'no arrays'}."
            )
        result = {}
        for key, split in splits.items():
            if key in keys:
                images = as_images(arrays[key], f"array {key} of `source` {str(path)!r}")
                label_key = "y" + key[1:]
                labels = arrays[label_key] if label_key in keys else None
                result[split] = (images, check_labels(labels, len(images), label_key, path))
        return result


def check_labels(labels: np.ndarray | None, count: int, key: str, path: Path) -> np.ndarray | None:
    """``labels`` as int64 [count, ...] (or None); ``ValueError`` naming ``key`` otherwise."""
    if labels is None:
        return None
    if not np.issubdtype(labels.dtype, np.integer) or len(labels) != count or labels.min() < 0:
        raise ValueError(
            f"labels {key} of `source` {str(path)!r} must be {count} non-negative integers "
            f"(one per image); got dtype {labels.dtype}, shape {list(labels.shape)}."
        )
    return labels.astype(np.int64)


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array of one idx file (gzip-compressed or not), shape from its header."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3] if len(raw) >= 4 else 0
    if raw[:3] != bytes([0, 0, IDX_UINT8]) or ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{str(path)!r} is not an idx file of uint8 values (bad header).")
    shape = tuple(int(size) for size in np.frombuffer(raw[4 : 4 + 4 * ndim], ">u4"))
    values = np.frombuffer(raw[4 + 4 * ndim :], np.uint8)
    if values.size != np.prod(shape):
        raise ValueError(
            f"{str(path)!r} holds {values.size} values but its header says {list(shape)}; "
            "the file is truncated."
        )
    return values.reshape(shape)


def idx_labels_path(images_path: Path) -> Path | None:
    """The labels file beside an idx images file (``*-images-idx3-*`` -> ``*-labels-idx1-*``)."""
    name = images_path.name.replace("images", "labels").replace("idx3", "idx1")
    stem = name.removesuffix(".gz")
    for candidate in (stem, stem + ".gz"):
        if (images_path.parent / candidate).is_file():
            return images_path.parent / candidate
    return None


def idx_image_files(path: Path) -> list[Path]:
    """The idx image files of ``path`` (itself if it is one, else those in the folder)."""
    if path.is_file():
        return [path]
    return sorted(file for pattern in IDX_IMAGE_PATTERNS for file in path.glob(pattern))


def read_idx_files(path: Path) -> Arrays:
    """MNIST-format idx images (and their labels, where beside them) of a file or a folder.

    In a folder, files starting with "train" are the train split and those starting with "t10k"
    or "test" the test split; a single file is split "all".
    """
    files = idx_image_files(path)
    if path.is_file():
        splits = {"all": files}
    else:
        splits = {
            split: [f for f in files if f.name.startswith(prefixes)]
            for split, prefixes in IDX_SPLIT_PREFIXES.items()
        }
    result = {}
    for split, split_files in splits.items():
        if len(split_files) > 1:
            raise ValueError(
                f"`source` {str(path)!r} holds several idx image files for split {split!r}: "
                f"{', '.join(f.name for f in split_files)}; keep one."
            )
        if split_files:
            images = as_images(read_idx(split_files[0]), f"idx file {str(split_files[0])!r}")
            labels_path = idx_labels_path(split_files[0])
            labels = None if labels_path is None else read_idx(labels_path)
            result[split] = (images, check_labels(labels, len(images), "idx1", split_files[0]))
    return result


def cifar10_files(path: Path, split: str) -> list[Path]:
    """The sorted CIFAR-10 .bin files of ``split`` in ``path`` or its ``cifar-10-batches-bin/``.

    "train" = every ``data_batch_*.bin`` present, "test" = every ``test_batch*.bin`` present.
    """
    for folder in (path, path / CIFAR10_ARCHIVE_FOLDER):
        files = sorted(folder.glob(CIFAR10_PATTERNS[split]))
        if files:
            return files
    return []


def read_cifar10_files(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 32, 32, 3], labels int64 [N]) of CIFAR-10 binary files, in file order.

    image[i, j, c] = record[1 + 1024 * c + 32 * i + j]; label = record[0].
    Raises ``ValueError`` naming a file whose size is not a whole number of records.
    """
    records = []
    for path in files:
        size = Path(path).stat().st_size
        if size == 0 or size % CIFAR10_RECORD_BYTES:
            raise ValueError(
                f"CIFAR-10 binary file {str(path)!r} has {size} bytes, not a positive multiple "
                f"of the {CIFAR10_RECORD_BYTES}-byte record; it is truncated or not CIFAR-10."
            )
        records.append(np.fromfile(path, np.uint8).reshape(-1, CIFAR10_RECORD_BYTES))
    records = np.concatenate(records)
    planes = records[:, 1:].reshape(-1, 3, CIFAR10_SIDE, CIFAR10_SIDE)
    return planes.transpose(0, 2, 3, 1), records[:, 0].astype(np.int64)


def read_cifar10_folder(path: Path) -> Arrays:
    """The CIFAR-10 .bin records of a folder, splits "train" and "test" where present."""
    splits = {split: cifar10_files(path, split) for split in CIFAR10_PATTERNS}
    return {split: read_cifar10_files(files) for split, files in splits.items() if files}


def read_digits() -> Arrays:
    """scikit-learn's digits: uint8 [N, 8, 8, 1] with 17 grey levels (0..16), labels 0..9.

    The split is fixed: images [0, 1500) are "train", images [1500, 1797) are "test"
    (scikit-learn's ``load_digits()`` order, which never changes).
    """
    from sklearn.datasets import load_digits  # scikit-learn is only needed for this dataset

    digits = load_digits()
    if len(digits.images) != DIGITS_NUM_TRAIN + DIGITS_NUM_TEST:
        raise RuntimeError(
            f"scikit-learn's load_digits() returned {len(digits.images)} images, expected "
            f"{DIGITS_NUM_TRAIN + DIGITS_NUM_TEST}; the fixed train/test split would be wrong."
        )
    images = digits.images.astype(np.uint8)[..., np.newaxis]  # integer values 0..16
    labels = digits.target.astype(np.int64)
    return {
        "train": (images[:DIGITS_NUM_TRAIN], labels[:DIGITS_NUM_TRAIN]),
        "test": (images[DIGITS_NUM_TRAIN:], labels[DIGITS_NUM_TRAIN:]),
    }


def array_source_kind(path: Path) -> str | None:
    """ "npy"/"npz", "idx" or "cifar10" if ``path`` is a file or folder of those, else None."""
    if path.is_file():
        if path.suffix in (".npy", ".npz"):
            return path.suffix[1:]
        return "idx" if idx_image_files(path) and "idx3" in path.name else None
    if idx_image_files(path):
        return "idx"
    if any(cifar10_files(path, split) for split in CIFAR10_PATTERNS):
        return "cifar10"
    return None


def read_arrays(path: Path) -> Arrays:
    """The images (and labels) of an array source at ``path`` (see ``array_source_kind``)."""
    kind = array_source_kind(path)
    if kind is None:
        raise DatasetNotAvailableError(
            f"`source` {str(path)!r} holds no .npy/.npz array, idx or CIFAR-10 .bin files."
        )
    if kind in ("npy", "npz"):
        return read_array_file(path)
    return read_idx_files(path) if kind == "idx" else read_cifar10_folder(path)
