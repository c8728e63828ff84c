"""A folder of PNG/JPEG images, optionally one sub-folder per class (which gives the labels).

Every file is checked once, up front, with PIL (its header, and for PNG its chunk checksums,
without decoding the pixels): an unreadable file, or images of different sizes when no resize
is asked for, is a one-line ``ValueError`` naming the file before anything trains. The images
are then decoded by tf.data (``tf.io.decode_image``) each time they are read.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfp_realnvp.data.errors import DatasetNotAvailableError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# PIL modes of one grey channel; every other mode is read as RGB (an alpha channel is dropped).
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """The checked files of an image folder.

    Attributes:
      files: the image paths, sorted (by class, then name).
      labels: int64 [N], the class index of each file (its sub-folder's position in
        ``class_names``), or None for a folder without class sub-folders.
      class_names: the sorted sub-folder names, or () without classes.
      sizes: (height, width) of each file.
      channels: 1 if every image is grey, else 3.
    """

    files: tuple[Path, ...]
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    channels: int

    def image_shape(self, same_size_needed: bool) -> tuple[int | None, int | None, int]:
        """(H, W, C) shared by every image; ``ValueError`` naming two files whose sizes differ
        if ``same_size_needed``, else (None, None, C) for mixed sizes."""
        first = self.sizes[0]
        for path, size in zip(self.files, self.sizes, strict=True):
            if size != first:
                if same_size_needed:
                    raise ValueError(
                        f"`source` folder images differ in size: {str(path)!r} is "
                        f"{size[0]}x{size[1]} but {str(self.files[0])!r} is "
                        f"{first[0]}x{first[1]}; pass `image_size` to resize them all to one size."
                    )
                return (None, None, self.channels)
        return (*first, self.channels)

    def images(self, indices: np.ndarray, with_labels: bool) -> tf.data.Dataset:
        """A dataset of the uint8 images [H, W, C] of ``files[indices]`` (with their labels)."""
        paths = tf.constant([str(self.files[i]) for i in indices], tf.string)
        shape = self.image_shape(same_size_needed=False)

        def decode(path: tf.Tensor) -> tf.Tensor:
            image = tf.io.decode_image(
                tf.io.read_file(path), channels=self.channels, expand_animations=False
            )
            return tf.ensure_shape(image, shape)

        if with_labels:
            labels = tf.constant(self.labels[indices], tf.int64)
            pairs = tf.data.Dataset.from_tensor_slices((paths, labels))
            return pairs.map(lambda p, y: (decode(p), y), num_parallel_calls=tf.data.AUTOTUNE)
        return tf.data.Dataset.from_tensor_slices(paths).map(
            decode, num_parallel_calls=tf.data.AUTOTUNE
        )


def image_paths(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def scan_image_folder(folder: Path) -> ImageFolder:
    """Lists and checks the images of ``folder``: directly in it, or one sub-folder per class.

    Raises:
      DatasetNotAvailableError: the folder holds no PNG/JPEG files.
      ValueError: images both directly in the folder and in sub-folders, or a file PIL cannot
        read (named).
    """
    direct = image_paths(folder)
    classes = sorted(sub for sub in folder.iterdir() if sub.is_dir() and image_paths(sub))
    if direct and classes:
        raise ValueError(
            f"`source` folder {str(folder)!r} must hold images directly or in one sub-folder per "
            f"class, not both; it has {len(direct)} images beside the sub-folders "
            f"{', '.join(c.name for c in classes)}."
        )
    files = direct or [path for sub in classes for path in image_paths(sub)]
    if not files:
        raise DatasetNotAvailableError(
            f"`source` folder {str(folder)!r} holds no PNG or JPEG images (looked in it and in "
            "its sub-folders)."
        )
    labels = None
    if classes:
        labels = np.array([i for i, sub in enumerate(classes) for _ in image_paths(sub)], np.int64)
    sizes, grey = [], True
    for path in files:
        stat = path.stat()
        size, mode = checked_header(path, stat.st_size, stat.st_mtime_ns)
        sizes.append(size)
        grey = grey and mode in GREY_MODES
    return ImageFolder(
        files=tuple(files),
        labels=labels,
        class_names=tuple(c.name for c in classes),
        sizes=tuple(sizes),
        channels=1 if grey else 3,
    )


@functools.lru_cache(maxsize=2**20)
def checked_header(path: Path, num_bytes: int, mtime_ns: int) -> tuple[tuple[int, int], str]:
    """((height, width), PIL mode) of an image file that PIL verified; ``ValueError`` naming it
    if PIL cannot read it. Cached per version of the file (its size and modification time), as
    a folder is scanned once for its description and once per split."""
    from PIL import Image  # a dependency; imported here as only image folders need it

    try:
        with Image.open(path) as image:
            size, mode = (image.height, image.width), image.mode
            image.verify()
    except Exception as error:  # PIL raises many types; any of them means unreadable
        raise ValueError(
            f"`source` image {str(path)!r} cannot be read: {type(error).__name__}: {error}"
        ) from None
    return size, mode
