"""The embedded default dataset: scikit-learn's 8x8 handwritten digits (no download needed)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# 1797 images in scikit-learn's fixed order: the first 1500 train, the last 297 test.
NUM_TRAIN = 1500
NUM_TEST = 297
SPLITS = ("train", "test")


def digits_array(split: str) -> np.ndarray:
    """The digits of ``split`` as uint8 [N, 8, 8, 1] with 17 grey levels, values 0..16.

    The split is fixed: images [0, 1500) are "train", images [1500, 1797) are "test"
    (scikit-learn's ``load_digits()`` order, which never changes).
    """
    from sklearn.datasets import load_digits  # scikit-learn is only needed for this dataset

    if split not in SPLITS:
        raise ValueError(f"`split` for 'digits' must be one of {SPLITS}; got {split!r}.")
    images = load_digits().images  # float64 [1797, 8, 8], integer values 0..16
    if images.shape[0] != NUM_TRAIN + NUM_TEST:
        raise RuntimeError(
            f"scikit-learn's load_digits() returned {images.shape[0]} images, expected "
            f"{NUM_TRAIN + NUM_TEST}; the fixed train/test split would be wrong."
        )
    chosen = images[:NUM_TRAIN] if split == "train" else images[NUM_TRAIN:]
    return chosen.astype(np.uint8)[..., np.newaxis]


def digits_images(split: str) -> tf.data.Dataset:
    """A dataset of uint8 images [8, 8, 1] (values 0..16) of the fixed ``split``."""
    return tf.data.Dataset.from_tensor_slices(digits_array(split))
