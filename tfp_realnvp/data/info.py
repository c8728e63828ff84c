"""What the rest of the package needs to know about a dataset: shape, levels, splits, recipe."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Facts and preprocessing recipe of one supported dataset.

    Attributes:
      name: the name ``load`` accepts (e.g. ``"cifar10"``, ``"lsun/bedroom"``).
      image_shape: (H, W, C) of every image ``load`` yields.
      num_bins: number of discrete levels K of a pixel (256 for 8-bit images); dequantised
        values are x = (pixels + u) / K and bits/dim = (-log p(x) + D ln K) / (D ln 2).
      train_split: the tensorflow-datasets split used for training.
      eval_split: the held-out split the paper reports (test for CIFAR-10, validation for
        ImageNet, LSUN and CelebA).
      horizontal_flip: whether training flips images left-right with probability 1/2.
      crop_size: side of the square crop taken after ``prepare`` (random in training, central
        in evaluation), or None.
      source: ``"tfds"`` (tensorflow-datasets), ``"cifar10"`` (binary records or tfds) or
        ``"digits"`` (scikit-learn, embedded).
      tfds_name: the tensorflow-datasets name, or None.
      manual_files: file names ``manual_dir`` must hold for tensorflow-datasets' manual path.
      manual_instructions: where the official files come from, quoted in error messages.
      cache: whether the prepared uint8 images are small enough to cache in memory by default.
      prepare: deterministic uint8 [h, w, c] -> uint8 map applied before caching and shuffling
        (crops and resizes), or None.
    """

    name: str
    image_shape: tuple[int, int, int]
    num_bins: int
    train_split: str
    eval_split: str
    horizontal_flip: bool
    source: str
    tfds_name: str | None
    manual_files: tuple[str, ...] = ()
    manual_instructions: str = ""
    crop_size: int | None = None
    cache: bool = False
    prepare: Callable[[tf.Tensor], tf.Tensor] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    @property
    def num_dims(self) -> int:
        """D = H * W * C, the number of dimensions bits/dim divides by."""
        return math.prod(self.image_shape)
