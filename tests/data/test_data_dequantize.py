"""Dequantisation x = (p + u) / K: range, exact inverse by floor, noise statistics, seeds."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.data import dequantize


@pytest.mark.parametrize("num_bins", [2, 17, 256])
def test_values_lie_in_their_bin_and_floor_inverts(num_bins):
    pixels = tf.constant(np.tile(np.arange(num_bins, dtype=np.uint8), 400))
    x = dequantize(pixels, num_bins, tf.constant([1, 2])).numpy()
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() < 1.0
    np.testing.assert_array_equal(np.floor(x * num_bins), pixels.numpy())


def test_top_level_never_rounds_to_one():
    # With a continuous float32 u, (255 + u) / 256 rounds to 1.0 about once in 2**17 draws.
    pixels = tf.fill([1_000_000], tf.constant(255, tf.uint8))
    x = dequantize(pixels, 256, tf.constant([3, 4])).numpy()
    assert x.max() < 1.0
    assert x.min() >= 255 / 256


def test_noise_is_uniform_on_the_unit_interval():
    pixels = tf.zeros([200_000], tf.uint8)
    u = dequantize(pixels, 256, tf.constant([5, 6])).numpy() * 256
    # Mean 1/2 and variance 1/12 of U[0, 1); standard errors ~6.5e-4 and ~1.7e-4.
    assert abs(u.mean() - 0.5) < 5e-3
    assert abs(u.var() - 1 / 12) < 2e-3
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert counts.min() > 0.95 * 20_000 and counts.max() < 1.05 * 20_000


def test_same_seed_same_noise_other_seed_other_noise():
    pixels = tf.zeros([8, 8, 1], tf.uint8)
    a = dequantize(pixels, 17, tf.constant([7, 8]))
    b = dequantize(pixels, 17, tf.constant([7, 8]))
    c = dequantize(pixels, 17, tf.constant([7, 9]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("num_bins", [1, 0, -256])
def test_num_bins_below_two_is_an_error(num_bins):
    with pytest.raises(ValueError, match=rf"`num_bins` must be an integer >= 2; got {num_bins}"):
        dequantize(tf.zeros([2], tf.uint8), num_bins, tf.constant([0, 0]))
