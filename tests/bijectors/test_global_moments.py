"""global_channel_moments: per-channel mean and variance over the batch, optionally masked."""

import numpy as np
import tensorflow as tf

from tfp_realnvp.bijectors.global_moments import global_channel_moments
from tfp_realnvp.bijectors.masks import checkerboard_mask


def test_moments_over_every_axis_but_the_channels():
    x = np.random.default_rng(0).normal(size=[2, 3, 4, 4, 2]) * [1.0, 3.0] + [0.0, 5.0]
    mean, variance = global_channel_moments(tf.constant(x))
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(variance, x.var(axis=(0, 1, 2, 3)), rtol=1e-12)


def test_masked_moments_count_only_the_masked_units():
    x = np.random.default_rng(1).normal(size=[5, 4, 4, 2])
    mask = checkerboard_mask([4, 4, 2], parity=1)
    x[..., mask == 0] += 100.0  # units outside the mask must not count
    mean, variance = global_channel_moments(tf.constant(x), tf.constant(mask, tf.float64))
    for c in range(2):
        selected = x[..., c][:, mask[..., c] == 1]
        np.testing.assert_allclose(mean[c], selected.mean(), rtol=1e-12)
        np.testing.assert_allclose(variance[c], selected.var(), rtol=1e-12)
