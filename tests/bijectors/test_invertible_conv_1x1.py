"""InvertibleConv1x1: a 1x1 convolution by W = P L (U + diag(s)), its dense log-det, training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tests.flow_cases import OneStepDensity, perturb

EVENT = [4, 4, 3]


@pytest.fixture(scope="module")
def moved():
    """A float64 convolution whose learned factors were moved away from the rotation."""
    conv = tfp_realnvp.InvertibleConv1x1(EVENT, seed=0, dtype=tf.float64)
    perturb(conv, scale=0.3)
    return conv


def images(seed, dtype=tf.float64, size=5):
    return tf.random.stateless_normal([size, *EVENT], [seed, 3], dtype=dtype)


def test_starts_as_a_seeded_random_rotation():
    kernel = tfp_realnvp.InvertibleConv1x1(EVENT, seed=3).kernel().numpy()
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(3), atol=1e-5)
    again = tfp_realnvp.InvertibleConv1x1(EVENT, seed=3).kernel()
    other = tfp_realnvp.InvertibleConv1x1(EVENT, seed=4).kernel()
    np.testing.assert_array_equal(again, kernel)
    assert np.max(np.abs(other - kernel)) > 0.1


def test_inverse_is_a_1x1_convolution_with_the_kernel(moved):
    x = images(0)
    kernel = moved.kernel()  # y[h, w, :] = W x[h, w, :]: the conv2d filter is W^T
    expected = tf.nn.conv2d(x, tf.transpose(kernel)[None, None], strides=1, padding="VALID")
    np.testing.assert_allclose(moved.inverse(x), expected, rtol=1e-12)


def test_log_det_equals_dense_slogdet(moved):
    kernel = moved.kernel().numpy()
    sign, log_abs_det = np.linalg.slogdet(kernel)
    assert sign != 0
    _, log_abs_det_tf = tf.linalg.slogdet(kernel)
    np.testing.assert_allclose(log_abs_det_tf, log_abs_det, rtol=1e-12)
    assert abs(log_abs_det) > 0.1  # the factors moved: not a rotation any more
    np.testing.assert_allclose(
        moved.inverse_log_det_jacobian(images(1), event_ndims=3), np.full([5], 16 * log_abs_det)
    )


def test_inverse_kernel_from_the_triangular_factors(moved):
    np.testing.assert_allclose(
        moved.inverse_kernel() @ moved.kernel(), np.eye(3), rtol=1e-10, atol=1e-12
    )


def test_stays_invertible_after_training_steps():
    keras.utils.set_random_seed(0)
    model = OneStepDensity("InvertibleConv1x1", EVENT)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    # Correlated, unevenly scaled channels: the likelihood pulls W away from a rotation.
    mixing = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [-1.0, 0.3, 0.2]], np.float32)
    data = np.random.default_rng(0).normal(size=[64, *EVENT]).astype(np.float32) @ mixing.T
    initial = model.bijector.kernel().numpy()
    history = model.fit(data, batch_size=16, epochs=5, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    conv = model.bijector
    kernel = conv.kernel().numpy()
    assert np.max(np.abs(kernel - initial)) > 0.1
    assert np.all(np.isfinite(kernel))
    np.testing.assert_allclose(conv.inverse_kernel() @ kernel, np.eye(3), atol=1e-4)
    z = conv.inverse(data[:4])
    np.testing.assert_allclose(conv.forward(tf.identity(z)), data[:4], atol=1e-4)
    np.testing.assert_allclose(
        conv.inverse_log_det_jacobian(data[:4], event_ndims=3),
        np.full([4], 16 * np.linalg.slogdet(kernel)[1]),
        rtol=1e-4,
        atol=1e-4,
    )


def test_xla_agrees_with_eager(moved):
    x = images(2)
    inverse = tf.function(lambda t: moved.inverse(t), jit_compile=True)
    forward = tf.function(lambda t: moved.forward(t), jit_compile=True)
    np.testing.assert_allclose(inverse(x), moved.inverse(tf.identity(x)), rtol=1e-10)
    np.testing.assert_allclose(forward(x), moved.forward(tf.identity(x)), rtol=1e-10)


def test_saving_keeps_the_permutation_and_signs(tmp_path):
    keras.utils.set_random_seed(1)
    model = OneStepDensity("InvertibleConv1x1", [2, 2, 6])
    path = str(tmp_path / "conv.keras")
    model.save(path)
    keras.utils.set_random_seed(2)  # a rebuilt model starts from another rotation...
    loaded = keras.saving.load_model(path)
    # ... until the saved weights, fixed permutation and signs included, are loaded into it.
    np.testing.assert_array_equal(loaded.bijector.kernel(), model.bijector.kernel())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"event_shape": [4, 3]}, "`event_shape` must be"),
        ({"event_shape": [4, 4, 0]}, "`event_shape` must be"),
        ({"event_shape": EVENT, "seed": 1.5}, "`seed` must be an integer or None"),
    ],
    ids=["rank", "zero", "seed"],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfp_realnvp.InvertibleConv1x1(**kwargs)


def test_wrong_event_shape_names_the_argument():
    conv = tfp_realnvp.InvertibleConv1x1(EVENT, seed=0)
    with pytest.raises(ValueError, match=r"`z` has event shape \[4, 4, 2\]"):
        conv.forward(tf.zeros([1, 4, 4, 2]))


def test_inverse_kernel_inverts_the_kernel_for_any_permutation():
    """With 8 channels the LU permutation is not its own inverse (as it can be for 2 or 3)."""
    conv = tfp_realnvp.InvertibleConv1x1([2, 2, 8], seed=0)
    permutation = conv._factors.permutation.numpy()
    assert np.any(permutation[permutation] != np.arange(8))  # not an involution
    perturb(conv, 0.1)
    np.testing.assert_allclose(conv.kernel() @ conv.inverse_kernel(), np.eye(8), atol=1e-5)
