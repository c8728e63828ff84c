"""CIFAR-10 read straight from its binary records (data_batch_*.bin, test_batch*.bin)."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

SIDE = 32
CHANNELS = 3
# One record: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (row-major 32x32).
RECORD_BYTES = 1 + SIDE * SIDE * CHANNELS
FILE_PATTERNS = {"train": "data_batch_*.bin", "test": "test_batch*.bin"}
# The official archive unpacks into this folder; it is searched too.
ARCHIVE_FOLDER = "cifar-10-batches-bin"


def find_binary_files(directory: str | Path, split: str) -> list[Path]:
    """The sorted ``.bin`` files of ``split`` in ``directory`` or its ``cifar-10-batches-bin/``.

    "train" = every ``data_batch_*.bin`` present, "test" = every ``test_batch*.bin`` present.
    Returns an empty list when there are none.
    """
    if split not in FILE_PATTERNS:
        raise ValueError(
            f"`split` for CIFAR-10 binary files must be one of {tuple(FILE_PATTERNS)}; "
            f"got {split!r}."
        )
    directory = Path(directory)
    for folder in (directory, directory / ARCHIVE_FOLDER):
        files = sorted(folder.glob(FILE_PATTERNS[split]))
        if files:
            return files
    return []


def decode_record(record: tf.Tensor) -> tf.Tensor:
    """One 3073-byte record -> uint8 image [32, 32, 3] (the label byte is dropped).

    image[i, j, c] = record[1 + 1024 * c + 32 * i + j].
    """
    values = tf.io.decode_raw(record, tf.uint8)
    planes = tf.reshape(values[1:], [CHANNELS, SIDE, SIDE])
    return tf.transpose(planes, [1, 2, 0])


def cifar10_binary_images(files: list[Path]) -> tf.data.Dataset:
    """A dataset of uint8 images [32, 32, 3] from CIFAR-10 binary files, in file order.

    Raises ``ValueError`` naming a file whose size is not a whole number of records.
    """
    if not files:
        raise ValueError("`files` must list at least one CIFAR-10 .bin file; got none.")
    for path in files:
        size = Path(path).stat().st_size
        if size == 0 or size % RECORD_BYTES:
            raise ValueError(
                f"CIFAR-10 binary file {str(path)!r} has {size} bytes, not a positive multiple "
                f"of the {RECORD_BYTES}-byte record; it is truncated or not CIFAR-10."
            )
    records = tf.data.FixedLengthRecordDataset([str(p) for p in files], RECORD_BYTES)
    return records.map(decode_record, num_parallel_calls=tf.data.AUTOTUNE)
