"""The typicality test against brute force: batch statistics, entropy, bootstrap threshold."""

import itertools

import numpy as np
import pytest

from tfp_realnvp.anomaly import TypicalityTest

RNG = np.random.default_rng(0)


def test_statistic_is_the_distance_of_each_batch_mean_from_the_entropy():
    test = TypicalityTest(entropy=3.0, threshold=0.1, batch_size=3)
    bits = RNG.normal(3, 0.5, 11)  # 3 full batches; the last 2 images are left out
    expected = [abs(sum(bits[i : i + 3]) / 3 - 3.0) for i in range(0, 9, 3)]
    np.testing.assert_allclose(test.statistic(bits), expected)
    np.testing.assert_array_equal(test.rejects(bits), np.array(expected) > 0.1)


def test_threshold_is_the_quantile_of_the_exact_bootstrap_distribution():
    entropy_bits, bootstrap_bits = RNG.normal(3, 0.3, 40), RNG.normal(3.1, 0.3, 5)
    batch_size, quantile = 3, 0.9
    test = TypicalityTest.fit(
        entropy_bits, bootstrap_bits, batch_size, quantile=quantile, num_bootstrap=100_000
    )
    assert test.entropy == pytest.approx(np.mean(entropy_bits))
    # Every one of the 5**3 resamples with replacement is equally likely.
    resamples = itertools.product(bootstrap_bits, repeat=batch_size)
    exact = np.array([abs(np.mean(batch) - test.entropy) for batch in resamples])
    below, at_most = np.mean(exact < test.threshold), np.mean(exact <= test.threshold)
    assert below <= quantile + 0.01 and at_most >= quantile - 0.01


def test_rejects_atypical_batches_on_both_sides_and_few_typical_ones():
    fit, fresh = RNG.normal(3, 0.2, (2, 2000)), RNG.normal(3, 0.2, 20_000)
    test = TypicalityTest.fit(fit[0], fit[1], batch_size=10, quantile=0.99)
    assert np.mean(test.rejects(fresh)) < 0.03  # about 1%
    assert np.all(test.rejects(fresh + 0.5))  # less likely than typical
    assert np.all(test.rejects(fresh - 0.5))  # more likely: the inputs that fool bits/dim


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, r"`batch_size` must be a positive integer; got 0"),
        ({"num_bootstrap": 2.5}, r"`num_bootstrap` must be a positive integer; got 2.5"),
        ({"quantile": 1.0}, r"`quantile` must be a number in \(0, 1\); got 1.0"),
        ({"entropy_bits_per_dim": []}, r"`entropy_bits_per_dim` must be a non-empty 1-D"),
        ({"bootstrap_bits_per_dim": [1.0, np.inf]}, r"`bootstrap_bits_per_dim` must be finite"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"entropy_bits_per_dim": [3.0], "bootstrap_bits_per_dim": [3.0], "batch_size": 1}
    with pytest.raises(ValueError, match=message):
        TypicalityTest.fit(**{**arguments, **kwargs})
