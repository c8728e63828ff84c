"""The supported datasets: names, image shapes, numbers of levels and preprocessing recipes.

Recipes follow Dinh et al. (2017), arXiv:1605.08803, section 4.1: horizontal flips for
CIFAR-10, CelebA and LSUN; CelebA central crop [40:188, 15:163] resized to 64x64; LSUN shortest
side resized to 96 then 64x64 crops (random in training, central in evaluation).
"""

from __future__ import annotations

import functools

from tfp_realnvp.data.info import DatasetInfo
from tfp_realnvp.data.preprocessing import check_square, crop_celeb_a, resize_shortest_side

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
        tfds_name=None,
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
    """The names ``load`` accepts, in a fixed order."""
    return tuple(_BY_NAME)


def dataset_info(name: str) -> DatasetInfo:
    """Returns the ``DatasetInfo`` of ``name``; ``ValueError`` listing valid names otherwise."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"`name` must be one of {', '.join(dataset_names())}; got {name!r}.")
    return _BY_NAME[name]


def image_shape(name: str) -> tuple[int, int, int]:
    """(H, W, C) of the images ``load(name, ...)`` yields."""
    return dataset_info(name).image_shape


def num_bins(name: str) -> int:
    """Number of discrete pixel levels K of ``name`` (256 for 8-bit images, 17 for digits)."""
    return dataset_info(name).num_bins
