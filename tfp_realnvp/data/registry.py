"""What ``load`` knows about a dataset (``DatasetInfo``), and the paper's named datasets.

Recipes follow Dinh et al. (2017), arXiv:1605.08803, section 4.1: horizontal flips for
CIFAR-10, CelebA and LSUN; CelebA central crop [40:188, 15:163] resized to 64x64; LSUN shortest
side resized to 96 then 64x64 crops (random in training, central in evaluation).
Any other source (a folder, an array file, ``tfds:NAME``) gets its ``DatasetInfo`` from
``sources.dataset_info``, which reads it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import tensorflow as tf

from tfp_realnvp.data.preprocessing import check_square, crop_celeb_a, resize_shortest_side


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Facts and preprocessing recipe of one dataset, as ``load`` yields it.

    Attributes:
      name: the source ``load`` accepts (``"cifar10"``, ``"lsun/bedroom"``, ``"tfds:svhn_cropped"``,
        a folder or an array file).
      image_shape: (H, W, C) of every image ``load`` yields.
      num_bins: number of discrete levels K of a pixel (256 for 8-bit images, 2**n for n-bit
        data); dequantised values are x = (pixels + u) / K and
        bits/dim = (-log p(x) + D ln K) / (D ln 2).
      train_split: the split used for training.
      eval_split: the held-out split (test for CIFAR-10 and MNIST, validation for ImageNet,
        LSUN and CelebA, "test" for a source without its own: a fixed fraction, see ``load``).
      horizontal_flip: whether training flips images left-right with probability 1/2.
      source: where the images come from: ``"tfds"`` (tensorflow-datasets), ``"cifar10"``
        (binary records or tfds), ``"digits"`` (scikit-learn, embedded), ``"arrays"`` (an
        .npy/.npz file, MNIST idx files or CIFAR-10 .bin records at ``path``) or ``"images"``
        (a folder of PNG/JPEG files at ``path``).
      tfds_name: the tensorflow-datasets name (``"NAME"`` or ``"NAME/CONFIG"``), or None.
      path: the file or folder of an ``"arrays"`` or ``"images"`` source, else None.
      label_shape: shape of one label: () for a class index, (40,) for CelebA's attributes;
        None when the dataset has no labels.
      num_classes: classes per label entry (10 for MNIST, 2 for each CelebA attribute), or None.
      manual_files: file names ``manual_dir`` must hold for tensorflow-datasets' manual path.
      manual_instructions: where the official files come from, quoted in error messages.
      crop_size: side of the square crop taken after ``prepare`` (random in training, central
        in evaluation), or None.
      cache: whether the prepared uint8 images are small enough to cache in memory by default.
      prepare: deterministic uint8 [h, w, c] -> uint8 map applied before caching and shuffling
        (crops and resizes), or None.
      finish: deterministic uint8 map (``image_size``'s resize, ``num_bits``' reduction), or
        None: applied after the random crop if there is one, else before caching.
    """

    name: str
    image_shape: tuple[int, int, int]
    num_bins: int
    train_split: str
    eval_split: str
    horizontal_flip: bool
    source: str
    tfds_name: str | None = None
    path: str | None = None
    label_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    manual_files: tuple[str, ...] = ()
    manual_instructions: str = ""
    crop_size: int | None = None
    cache: bool = False
    prepare: Callable[[tf.Tensor], tf.Tensor] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    finish: Callable[[tf.Tensor], tf.Tensor] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    @property
    def num_dims(self) -> int:
        """D = H * W * C, the number of dimensions bits/dim divides by."""
        return math.prod(self.image_shape)


_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _lsun(category: str) -> DatasetInfo:
    return DatasetInfo(
        name=f"lsun/{category}",
        image_shape=(64, 64, 3),
        num_bins=256,
        train_split="train",
        eval_split="validation",
        horizontal_flip=True,
        source="tfds",
        tfds_name=f"lsun/{category}",
        manual_files=(f"{category}_train_lmdb.zip", f"{category}_val_lmdb.zip"),
        manual_instructions=(
            f"{category}_train_lmdb.zip and {category}_val_lmdb.zip from "
            "http://dl.yf.io/lsun/scenes/ (reading LMDB also needs `pip install tensorflow-io`)"
        ),
        crop_size=64,
        prepare=functools.partial(resize_shortest_side, side=96),
    )


def _downsampled_imagenet(size: int) -> DatasetInfo:
    return DatasetInfo(
        name=f"downsampled_imagenet/{size}x{size}",
        image_shape=(size, size, 3),
        num_bins=256,
        train_split="train",
        eval_split="validation",
        horizontal_flip=False,
        source="tfds",
        tfds_name=f"downsampled_imagenet/{size}x{size}",
        manual_files=(f"train_{size}x{size}.tar", f"valid_{size}x{size}.tar"),
        manual_instructions=(
            f"train_{size}x{size}.tar and valid_{size}x{size}.tar from "
            "http://image-net.org/small/download.php"
        ),
        prepare=functools.partial(check_square, size=size),
    )


_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="digits",
        image_shape=(8, 8, 1),
        num_bins=17,
        train_split="train",
        eval_split="test",
        horizontal_flip=False,
        source="digits",
        label_shape=(),
        num_classes=10,
        manual_instructions="nothing: the images ship with scikit-learn",
        cache=True,
    ),
    DatasetInfo(
        name="mnist",
        image_shape=(28, 28, 1),
        num_bins=256,
        train_split="train",
        eval_split="test",
        horizontal_flip=False,
        source="tfds",
        tfds_name="mnist",
        label_shape=(),
        num_classes=10,
        manual_files=_MNIST_FILES,
        manual_instructions=(
            "the four official idx files " + ", ".join(_MNIST_FILES) + " from "
            "https://storage.googleapis.com/cvdf-datasets/mnist/"
        ),
        cache=True,
    ),
    DatasetInfo(
        name="fashion_mnist",
        image_shape=(28, 28, 1),
        num_bins=256,
        train_split="train",
        eval_split="test",
        horizontal_flip=False,
        source="tfds",
        tfds_name="fashion_mnist",
        label_shape=(),
        num_classes=10,
        manual_files=_MNIST_FILES,
        manual_instructions=(
            "the four official Fashion-MNIST idx files " + ", ".join(_MNIST_FILES) + " from "
            "https://github.com/zalandoresearch/fashion-mnist"
        ),
        cache=True,
    ),
    DatasetInfo(
        name="cifar10",
        image_shape=(32, 32, 3),
        num_bins=256,
        train_split="train",
        eval_split="test",
        horizontal_flip=True,
        source="cifar10",
        tfds_name="cifar10",
        label_shape=(),
        num_classes=10,
        manual_files=("cifar-10-binary.tar.gz",),
        manual_instructions=(
            "the binary records data_batch_1.bin ... data_batch_5.bin and test_batch.bin "
            "(directly, or inside cifar-10-batches-bin/), or the archive cifar-10-binary.tar.gz, "
            "from https://www.cs.toronto.edu/~kriz/cifar.html"
        ),
        cache=True,
    ),
    DatasetInfo(
        name="celeb_a",
        image_shape=(64, 64, 3),
        num_bins=256,
        train_split="train",
        eval_split="validation",
        horizontal_flip=True,
        source="tfds",
        tfds_name="celeb_a",
        label_shape=(40,),  # the 40 binary attributes
        num_classes=2,
        manual_files=(
            "img_align_celeba.zip",
            "list_eval_partition.txt",
            "list_attr_celeba.txt",
            "list_landmarks_align_celeba.txt",
            "identity_CelebA.txt",
        ),
        manual_instructions=(
            "img_align_celeba.zip, list_eval_partition.txt, list_attr_celeba.txt, "
            "list_landmarks_align_celeba.txt and identity_CelebA.txt from "
            "http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
        ),
        prepare=crop_celeb_a,
    ),
    _downsampled_imagenet(32),
    _downsampled_imagenet(64),
    _lsun("bedroom"),
    _lsun("tower"),
    _lsun("church_outdoor"),
)

_BY_NAME = {info.name: info for info in _DATASETS}


def dataset_names() -> tuple[str, ...]:
    """The named datasets ``load`` accepts, in a fixed order (besides folders, array files and
    ``tfds:NAME``)."""
    return tuple(_BY_NAME)


def named_dataset(name: str) -> DatasetInfo | None:
    """The ``DatasetInfo`` of the named dataset ``name``, or None if ``name`` is not one."""
    return _BY_NAME.get(name)
