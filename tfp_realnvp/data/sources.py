"""Where each dataset's raw uint8 images come from: scikit-learn, CIFAR-10 records, or tfds."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfp_realnvp.data.cifar10_binary import cifar10_binary_images, find_binary_files
from tfp_realnvp.data.digits import digits_images
from tfp_realnvp.data.info import DatasetInfo
from tfp_realnvp.data.tfds_source import tfds_images


def raw_images(
    info: DatasetInfo,
    *,
    split: str,
    data_dir: str | Path | None,
    manual_dir: str | Path | None,
    download: bool,
    shuffle_files: bool,
) -> tf.data.Dataset:
    """A dataset of ``info``'s stored uint8 images [h, w, c] of ``split``, before any recipe.

    - ``digits``: embedded in scikit-learn; ``manual_dir`` must be None (nothing to provide).
    - ``cifar10``: with ``manual_dir`` holding ``data_batch_*.bin`` / ``test_batch*.bin``
      (directly, in ``cifar-10-batches-bin/`` or in ``cifar10/``), those records are read
      directly, splits "train" and "test" only; otherwise through tensorflow-datasets.
    - everything else: tensorflow-datasets (see ``tfds_source.prepared_builder``).
    """
    if info.source == "digits":
        if manual_dir is not None:
            raise ValueError(
                "`manual_dir` must be None for 'digits' (the images ship with scikit-learn); "
                f"got {str(manual_dir)!r}."
            )
        return digits_images(split)
    if info.source == "cifar10" and manual_dir is not None:
        for folder in (Path(manual_dir), Path(manual_dir) / info.name):
            files = find_binary_files(folder, split)
            if files:
                return cifar10_binary_images(files)
    return tfds_images(
        info,
        split=split,
        data_dir=data_dir,
        manual_dir=manual_dir,
        download=download,
        shuffle_files=shuffle_files,
    )
