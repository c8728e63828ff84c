"""MovingAverageBatchNorm: which statistics it uses, when they move, and their values."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp import MovingAverageBatchNorm, checkerboard_mask

EVENT = [4, 4, 3]


def _batch(seed=0, size=16):
    return tf.random.stateless_normal([size, *EVENT], [seed, 0], mean=2.0, stddev=3.0)


def test_with_momentum_zero_training_and_inference_agree_on_the_same_batch():
    norm = MovingAverageBatchNorm(EVENT, keep_mask=checkerboard_mask(EVENT), momentum=0.0)
    x = _batch()
    trained = norm.inverse(x, training=True)
    trained_ldj = norm.inverse_log_det_jacobian(x, event_ndims=3, training=True)
    x = tf.identity(x)  # a new tensor, so TFP's cache does not answer
    inferred = norm.inverse(x)
    np.testing.assert_allclose(inferred, trained, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.inverse_log_det_jacobian(x, 3), trained_ldj, rtol=1e-5)


def test_training_normalises_transformed_units_with_the_batch_statistics():
    keep = checkerboard_mask(EVENT, parity=0)
    norm = MovingAverageBatchNorm(EVENT, keep_mask=keep)
    x = _batch().numpy()
    y = norm.inverse(tf.constant(x), training=True).numpy()
    transformed = keep == 0
    for c in range(EVENT[-1]):
        values = x[:, transformed[..., c], c]
        expected = (values - values.mean()) / np.sqrt(values.var() + 1e-4)
        np.testing.assert_allclose(y[:, transformed[..., c], c], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y[:, ~transformed], x[:, ~transformed])
    ldj = norm.inverse_log_det_jacobian(tf.constant(x), 3, training=True).numpy()
    variances = [x[:, transformed[..., c], c].var() for c in range(EVENT[-1])]
    count = transformed[..., 0].sum()
    np.testing.assert_allclose(ldj, -0.5 * count * np.sum(np.log(np.add(variances, 1e-4))), 1e-5)


def test_moving_statistics_change_only_in_training_calls():
    norm = MovingAverageBatchNorm(EVENT, momentum=0.9)
    before = norm.moving_mean.numpy().copy(), norm.moving_variance.numpy().copy()
    x = _batch()
    norm.inverse(x)
    norm.inverse_log_det_jacobian(tf.identity(x), 3)
    norm.forward(tf.identity(x))
    np.testing.assert_array_equal(norm.moving_mean.numpy(), before[0])
    np.testing.assert_array_equal(norm.moving_variance.numpy(), before[1])
    norm.inverse(tf.identity(x), training=True)
    batch_mean = x.numpy().mean(axis=(0, 1, 2))
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.1 * batch_mean, rtol=1e-5)


def test_log_prob_style_calls_update_the_moving_statistics_once():
    """inverse + inverse_log_det_jacobian on the same tensor is one evaluation."""
    norm = MovingAverageBatchNorm(EVENT, momentum=0.5)
    x = _batch()
    norm.inverse(x, training=True)
    norm.inverse_log_det_jacobian(x, 3, training=True)
    expected = 0.5 * x.numpy().mean(axis=(0, 1, 2))
    np.testing.assert_allclose(norm.moving_mean.numpy(), expected, rtol=1e-5)


def test_running_average_variant_normalises_with_the_updated_moving_average():
    norm = MovingAverageBatchNorm(EVENT, momentum=0.75, training_statistics="running_average")
    x = _batch()
    y = norm.inverse(x, training=True).numpy()
    mean = 0.25 * x.numpy().mean(axis=(0, 1, 2))
    variance = 0.75 + 0.25 * x.numpy().var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x.numpy() - mean) / np.sqrt(variance + 1e-4), rtol=1e-4)
    # The gradient flows through the current batch's part only, so it is (1 - momentum) times
    # the plain batch-statistics gradient of the mean term, and not zero.
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(norm.inverse(tf.identity(x), training=True))
    assert np.all(np.isfinite(tape.gradient(loss, x).numpy()))


def test_gradient_flows_through_batch_statistics():
    """With batch statistics, the normalised batch sums to zero for any x: zero gradient."""
    norm = MovingAverageBatchNorm(EVENT)
    x = _batch()
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(norm.inverse(x, training=True))
    np.testing.assert_allclose(tape.gradient(total, x), 0.0, atol=1e-4)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(norm.inverse(tf.identity(x)))
    assert np.abs(tape.gradient(total, x).numpy()).min() > 0.1


def test_sampling_in_training_mode_is_refused():
    norm = MovingAverageBatchNorm(EVENT)
    with pytest.raises(ValueError, match="training=True is only defined in the inverse"):
        norm.forward(_batch(), training=True)
