"""perturb_pixels: each value replaced by uniform noise with probability rate, seeds, errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.data import perturb_pixels

SEED = tf.constant([3, 4])


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_replaces_the_given_fraction_of_values(rate):
    x = tf.fill([16, 32, 32, 3], 0.5)  # noise never equals 0.5 exactly on a float grid
    y = perturb_pixels(x, rate, seed=SEED).numpy()
    replaced = np.mean(y != 0.5)
    # Binomial standard error sqrt(rate (1 - rate) / 49152) < 2.3e-3.
    assert abs(replaced - rate) < 0.01


def test_replacements_are_uniform_and_independent_of_the_image():
    x = tf.zeros([64, 32, 32, 1])
    y = perturb_pixels(x, 1.0, seed=SEED).numpy()
    assert y.min() >= 0.0 and y.max() < 1.0
    counts, _ = np.histogram(y, bins=8, range=(0, 1))
    assert counts.min() > 0.95 * y.size / 8 and counts.max() < 1.05 * y.size / 8


def test_rate_zero_keeps_the_images():
    x = tf.random.uniform([4, 8, 8, 3])
    np.testing.assert_array_equal(perturb_pixels(x, 0.0, seed=SEED), x)


def test_same_seed_same_noise_no_seed_fresh_noise():
    x = tf.zeros([4, 8, 8, 1])
    np.testing.assert_array_equal(perturb_pixels(x, 0.3, SEED), perturb_pixels(x, 0.3, SEED))
    assert not np.array_equal(perturb_pixels(x, 0.3), perturb_pixels(x, 0.3))


@pytest.mark.parametrize("rate", [-0.1, 1.5, True, "0.2"])
def test_bad_rate_is_named(rate):
    with pytest.raises(ValueError, match=r"`rate` must be a number in \[0, 1\]; got rate="):
        perturb_pixels(tf.zeros([1, 2, 2, 1]), rate)
