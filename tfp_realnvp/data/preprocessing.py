"""Image geometry: crops and resizes that keep pixels on the integer grid, and augmentation.

Every function takes and returns a uint8 image Tensor [H, W, C]. Resizing interpolates, so its
result is rounded back to integers in {0, ..., 255}: the data stays discrete with 256 levels
and dequantisation and bits/dim keep their meaning. ``augment`` adds the training-time random
crops and horizontal flips, and their deterministic evaluation counterpart.
"""

from __future__ import annotations

import tensorflow as tf

# CelebA (aligned, 218x178): the paper's central crop rows 40:188, columns 15:163 (148x148).
CELEB_A_CROP_TOP = 40
CELEB_A_CROP_LEFT = 15
CELEB_A_CROP_SIZE = 148


def require_shape(image: tf.Tensor, shape: list[int], what: str) -> tf.Tensor:
    """Returns ``image`` with static shape ``shape``, or fails saying what was expected.

    A statically known, different shape is a ``ValueError`` now; an unknown one is checked
    when the data flows (``tf.errors.InvalidArgumentError``).
    """
    if not image.shape.is_compatible_with(shape):
        raise ValueError(f"{what} must have shape {shape}; got {image.shape.as_list()}.")
    return tf.ensure_shape(image, shape)


def resize_uint8(image: tf.Tensor, height: tf.Tensor | int, width: tf.Tensor | int) -> tf.Tensor:
    """Resizes a uint8 image [H, W, C] to [height, width, C] and rounds back to uint8.

    Bilinear interpolation with antialiasing (a triangle filter widened by the scale factor when
    shrinking, so every source pixel contributes); y = clip(round(resize(x)), 0, 255).
    A constant image stays exactly constant.
    """
    resized = tf.image.resize(
        tf.cast(image, tf.float32), tf.stack([height, width]), method="bilinear", antialias=True
    )
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def center_crop(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Returns the central [height, width] window of an image [H, W, C].

    y[i, j] = x[top + i, left + j] with top = (H - height) // 2 and left = (W - width) // 2
    (when H - height is odd the extra row is left at the bottom).
    """
    shape = tf.shape(image)
    top = (shape[0] - height) // 2
    left = (shape[1] - width) // 2
    return tf.image.crop_to_bounding_box(image, top, left, height, width)


def resize_to_fill(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Resizes an image [H, W, C] to [height, width, C] without distorting it: the largest
    central window of aspect height:width is cut out, then resized (``resize_uint8``).

    The window is [h, w] = [H, round(H * width / height)] if that fits in W, else
    [round(W * height / width), W]. An image already [height, width] comes back unchanged.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float64)
    fit_height = tf.round(shape[0] * width / height) <= shape[1]
    window = tf.where(
        fit_height,
        tf.stack([shape[0], tf.round(shape[0] * width / height)]),
        tf.stack([tf.round(shape[1] * height / width), shape[1]]),
    )
    window = tf.cast(window, tf.int32)
    return resize_uint8(center_crop(image, window[0], window[1]), height, width)


def crop_celeb_a(image: tf.Tensor, size: int = 64) -> tf.Tensor:
    """The paper's CelebA preprocessing: x[40:188, 15:163] (148x148), resized to [size, size].

    Args:
      image: uint8 Tensor [218, 178, 3] (tensorflow-datasets' aligned CelebA images).
      size: the output side (64 in the paper).
    """
    image = require_shape(image, [218, 178, 3], "a CelebA image (aligned, as in tfds)")
    window = image[
        CELEB_A_CROP_TOP : CELEB_A_CROP_TOP + CELEB_A_CROP_SIZE,
        CELEB_A_CROP_LEFT : CELEB_A_CROP_LEFT + CELEB_A_CROP_SIZE,
    ]
    return resize_uint8(window, size, size)


def resize_shortest_side(image: tf.Tensor, side: int) -> tf.Tensor:
    """Resizes an image [H, W, C] so that min(H, W) becomes ``side``, keeping the aspect ratio.

    [H, W] -> [side, round(W * side / H)] if H <= W, else [round(H * side / W), side].
    Used for LSUN (side 96) before 64x64 crops.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float64)
    shortest = tf.reduce_min(shape)
    new_size = tf.cast(tf.round(shape * (float(side) / shortest)), tf.int32)
    # The shorter side is exactly `side`, whatever the float rounding did.
    new_size = tf.where(shape == shortest, side, new_size)
    return resize_uint8(image, new_size[0], new_size[1])


def check_square(image: tf.Tensor, size: int) -> tf.Tensor:
    """Returns ``image`` after checking that it is [size, size, 3] (downsampled ImageNet)."""
    return require_shape(image, [size, size, 3], "a downsampled ImageNet image")


def augment(
    image: tf.Tensor,
    seed: tf.Tensor,
    *,
    training: bool,
    crop_size: int | None,
    flip: bool,
) -> tf.Tensor:
    """Crops and flips one image [H, W, C], randomly in training and deterministically otherwise.

    Training: a uniformly random [crop_size, crop_size] window (top ~ U{0..H-crop_size},
    left ~ U{0..W-crop_size}), then y[i, j] = x[i, W-1-j] with probability 1/2 if ``flip``.
    Evaluation: the central window (see ``center_crop``) and no flip, so evaluation data is a
    fixed function of the stored image.

    Args:
      image: Tensor [H, W, C].
      seed: int Tensor [2], the stateless seed of this example's crop and flip.
      training: whether to draw random crops and flips.
      crop_size: side of the square crop, or None to keep the full image.
      flip: whether training flips images left-right.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    if crop_size is not None:
        if training:
            channels = tf.shape(image)[2]
            image = tf.image.stateless_random_crop(
                image, tf.stack([crop_size, crop_size, channels]), seed=crop_seed
            )
        else:
            image = center_crop(image, crop_size, crop_size)
    if flip and training:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image
