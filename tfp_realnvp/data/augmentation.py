"""Training-time augmentation (random crops, horizontal flips) and its evaluation counterpart."""

from __future__ import annotations

import tensorflow as tf

from tfp_realnvp.data.preprocessing import center_crop


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
