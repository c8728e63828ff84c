"""Discrete pixels -> continuous values in [0, 1): n-bit reduction and uniform dequantisation."""

from __future__ import annotations

import tensorflow as tf

# u is drawn on a grid of 2**16 points: u = k / 2**16, k ~ Uniform{0, ..., 2**16 - 1}.
NOISE_RESOLUTION_BITS = 16


def dequantize(pixels: tf.Tensor, num_bins: int, seed: tf.Tensor) -> tf.Tensor:
    """Maps integer pixels to x = (pixels + u) / num_bins with u ~ U[0, 1), independently per value.

    Args:
      pixels: integer Tensor of any shape with values in {0, ..., num_bins - 1}
        (uint8 [H, W, C] images for 256-level data, num_bins = 256).
      num_bins: the number of discrete levels of the data (256 for 8-bit images, 17 for the
        scikit-learn digits).
      seed: int32/int64 Tensor [2], the stateless seed of the noise (same seed -> same noise).

    Returns:
      float32 Tensor of ``pixels``' shape, every value in [pixels / num_bins, (pixels + 1) /
      num_bins), hence in [0, 1).

    Math: x = (p + u) / K turns a distribution over the K discrete levels into a density on
    [0, 1)^D whose log-likelihood lower-bounds the discrete one (Theis et al., 2016,
    arXiv:1511.01844), so bits/dim = (-log p(x) + D ln K) / (D ln 2) is the paper's measure.

    u is uniform on the grid {k / 2**16 : k = 0, ..., 2**16 - 1}: a resolution of 2**-16 of one
    level, i.e. 2**-24 in x for K = 256, the float32 spacing just below 1. On this grid p + u is
    exact in float32 for p < 2**8, so x never rounds up to 1 (with a continuous float32 u,
    (255 + u) rounds to 256 about once in 2**17 draws) and floor(x * K) == p exactly.
    """
    if num_bins < 2:
        raise ValueError(f"`num_bins` must be an integer >= 2; got {num_bins!r}.")
    levels = 2**NOISE_RESOLUTION_BITS
    steps = tf.random.stateless_uniform(
        tf.shape(pixels), seed=seed, minval=0, maxval=levels, dtype=tf.int32
    )
    noise = tf.cast(steps, tf.float32) * (1.0 / levels)
    return (tf.cast(pixels, tf.float32) + noise) / float(num_bins)


def reduce_bits(pixels: tf.Tensor, num_bits: int) -> tf.Tensor:
    """n-bit data from 8-bit pixels: p' = p // 2**(8 - n), values in {0, ..., 2**n - 1}.

    As Glow's 5-bit CelebA (Kingma & Dhariwal, 2018, arXiv:1807.03039): dequantise the result
    with num_bins = 2**n, so x = (p' + u) / 2**n and bits/dim counts 2**n levels.

    Args:
      pixels: uint8 Tensor of any shape, values 0..255.
      num_bits: n, an integer in 1..8 (8 leaves the pixels unchanged).
    """
    return pixels // (2 ** (8 - check_num_bits(num_bits)))


def check_num_bits(num_bits: object) -> int:
    """Returns ``num_bits`` if it is an integer from 1 to 8, else raises ``ValueError``."""
    if isinstance(num_bits, bool) or not isinstance(num_bits, int) or not 1 <= num_bits <= 8:
        raise ValueError(f"`num_bits` must be an integer from 1 to 8; got {num_bits!r}.")
    return num_bits
