"""Variational dequantisation and the importance-weighted bound, against brute force.

A tiny flow on 2x2 one-channel images with 4 levels: D = 4, so the pixels' own probability
P(p) = integral of p_x((p + u) / K) K^-D du over [0, 1)^4 is estimated directly by Monte Carlo
over uniform u, and every bound is checked against it and against a sample-by-sample loop.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp import RealNVPMultiScale, bits_per_dim
from tfp_realnvp.data import dequantize
from tfp_realnvp.training import RealNVPModel, VariationalDequantizer
from tfp_realnvp.training.dequantization import normal_from_uniform, split_dequantized

SHAPE = [2, 2, 1]
LEVELS = 4


def tiny_model(dequantizer=True):
    keras.utils.set_random_seed(1)
    flow = RealNVPMultiScale(SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    q = VariationalDequantizer(SHAPE, num_bins=LEVELS, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow, num_bins=LEVELS, dequantizer=q if dequantizer else None)
    # Away from the identity, so that q and p are not the uniform and the logistic.
    for variable in model.trainable_variables:
        variable.assign(variable + 0.3 * tf.random.stateless_normal(variable.shape, [7, 1]))
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def pixels():
    return tf.constant(np.random.default_rng(0).integers(0, LEVELS, [3, *SHAPE]), tf.float32)


def images(pixels, seed=0):
    return dequantize(tf.cast(pixels, tf.int32), LEVELS, tf.constant([seed, 0]))


def test_split_recovers_the_pixels_and_the_noise(pixels):
    x = images(pixels)
    recovered, u = split_dequantized(x, LEVELS)
    np.testing.assert_array_equal(recovered.numpy(), pixels.numpy())
    np.testing.assert_allclose(((pixels + u) / LEVELS).numpy(), x.numpy(), rtol=0, atol=1e-7)
    assert np.all(u.numpy() >= 0) and np.all(u.numpy() < 1)


def test_normal_from_uniform_is_finite_and_standard_normal():
    u = tf.constant([0.0, 0.5, 1.0 - 2.0**-16], tf.float32)
    eps = normal_from_uniform(u).numpy()
    assert np.all(np.isfinite(eps)) and eps[1] == pytest.approx(0.0, abs=1e-4)
    draws = normal_from_uniform(tf.random.stateless_uniform([200_000], [3, 4])).numpy()
    assert abs(draws.mean()) < 0.01 and abs(draws.std() - 1) < 0.01


def test_q_along_the_sampling_path_is_tfps_density_of_the_same_map(model, pixels):
    eps = tf.random.stateless_normal([3, *SHAPE], [5, 6])
    u, log_q = model.dequantizer.noise_and_log_prob(pixels, eps)
    assert np.all((u.numpy() > 0) & (u.numpy() < 1))
    np.testing.assert_allclose(
        log_q.numpy(), model.dequantizer.log_prob(u, pixels).numpy(), rtol=1e-5, atol=1e-5
    )


def test_q_is_a_density_on_the_unit_cube(model, pixels):
    u = tf.random.stateless_uniform([100_000, *SHAPE], [8, 9])  # E_U[q(u)] = its integral
    mass = tf.reduce_mean(tf.exp(model.dequantizer.log_prob(u, tf.repeat(pixels[:1], 100_000, 0))))
    assert float(mass) == pytest.approx(1.0, abs=0.02)


def test_the_training_likelihood_is_the_one_sample_bound_with_the_pipelines_noise(model, pixels):
    x = images(pixels)
    _, uniform = split_dequantized(x, LEVELS)
    u = model.dequantizer.noise_and_log_prob(pixels, normal_from_uniform(uniform))[0]
    by_hand = model.log_prob((pixels + u) / LEVELS) - model.dequantizer.log_prob(u, pixels)
    np.testing.assert_allclose(model(x).numpy(), by_hand.numpy(), rtol=1e-5, atol=1e-4)
    # `log_prob` stays the flow's density at x itself.
    assert not np.allclose(model.log_prob(x).numpy(), model(x).numpy())


def test_the_importance_weighted_bound_is_the_sample_by_sample_average(model, pixels):
    samples, seed = 5, tf.constant([11, 12])
    bound = model.log_likelihood_bound(images(pixels), importance_samples=samples, seed=seed)
    eps = tf.random.stateless_normal([samples, *pixels.shape], seed)
    for image in range(pixels.shape[0]):
        terms = []
        for s in range(samples):
            p = pixels[image : image + 1]
            u = model.dequantizer.noise_and_log_prob(p, eps[s, image : image + 1])[0]
            ratio = model.log_prob((p + u) / LEVELS) - model.dequantizer.log_prob(u, p)
            terms.append(float(ratio[0]))
        expected = np.logaddexp.reduce(terms) - math.log(samples)
        assert float(bound[image]) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("variational", [True, False], ids=["variational", "uniform"])
def test_the_bounds_approach_the_pixels_probability_from_below(variational, pixels):
    model = tiny_model(variational)
    p = pixels[:1]
    # Brute force: log P(p) + D ln K = log E_{u ~ U[0,1)^D} p_x((p + u) / K).
    u = tf.random.stateless_uniform([200_000, *SHAPE], [13, 14])
    log_density = model.log_prob((p + u) / LEVELS)
    exact = float(tf.reduce_logsumexp(log_density) - math.log(200_000))
    x = tf.repeat(images(p), 400, 0)
    one_sample = model.log_likelihood_bound(x, seed=tf.constant([15, 16])).numpy()
    many = model.log_likelihood_bound(x[:40], importance_samples=200, seed=tf.constant([17, 18]))
    assert one_sample.mean() < exact  # Jensen: the one-sample bound is below, on average
    assert exact - one_sample.mean() > exact - many.numpy().mean() > -0.02  # and tightens
    assert many.numpy().mean() == pytest.approx(exact, abs=0.05 if variational else 0.02)


def test_without_a_dequantizer_one_sample_is_the_density_at_fresh_uniform_noise(pixels):
    model = tiny_model(dequantizer=False)
    seed = tf.constant([19, 20])
    bound = model.log_likelihood_bound(images(pixels), seed=seed)
    u = tf.random.stateless_uniform([1, *pixels.shape], seed)[0]
    np.testing.assert_allclose(
        bound.numpy(), model.log_prob((pixels + u) / LEVELS).numpy(), rtol=1e-6, atol=1e-5
    )


def test_evaluate_bound_is_the_mean_bits_per_dim_of_the_bound(model, pixels):
    batches = [images(pixels, seed) for seed in range(2)]
    bits = model.evaluate_bound(batches, importance_samples=3, seed=4)
    expected = np.concatenate(
        [
            bits_per_dim(
                model.log_likelihood_bound(batch, importance_samples=3, seed=tf.constant([4, i])),
                SHAPE,
                LEVELS,
            ).numpy()
            for i, batch in enumerate(batches)
        ]
    ).mean()
    assert bits == pytest.approx(float(expected), abs=1e-5)


def test_fit_trains_the_dequantizer_and_saving_keeps_it(tmp_path, pixels):
    model = tiny_model()
    before = [v.numpy() for v in model.dequantizer_layers[0].trainable_variables]
    model.compile()
    model.fit(
        tf.data.Dataset.from_tensors(images(pixels)).repeat(3), epochs=1, verbose=0, shuffle=False
    )
    after = [v.numpy() for v in model.dequantizer_layers[0].trainable_variables]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.dequantizer, VariationalDequantizer)
    x = images(pixels)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-5)


def test_bad_arguments_name_the_argument_and_the_value(model, pixels):
    with pytest.raises(ValueError, match=r"`importance_samples` .* got importance_samples=0"):
        model.log_likelihood_bound(images(pixels), importance_samples=0)
    flow = RealNVPMultiScale(SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    wrong = VariationalDequantizer([4, 4, 1], num_bins=LEVELS, num_res_blocks=0, num_filters=4)
    with pytest.raises(ValueError, match=r"image_shape=\[4, 4, 1\]"):
        RealNVPModel(flow, num_bins=LEVELS, dequantizer=wrong)
    with pytest.raises(TypeError, match="got str"):
        RealNVPModel(flow, num_bins=LEVELS, dequantizer="variational")
