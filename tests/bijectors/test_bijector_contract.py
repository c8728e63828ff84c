"""The contract every bijector of the package keeps, run over the registry in flow_cases.py.

A conditional case gets one context per test (`case.kwargs`), given to every call: round trips
and log-dets hold per context.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.flow_cases import CASES, prepare, takes_training

IDS = [case.name for case in CASES]
MODES = ["eager", "tf_function"]
SLOW = pytest.mark.slow


def in_both_modes():
    """(case, mode) parameters; a case's graph mode marked slow where the case says so."""
    return [
        pytest.param(
            case,
            mode,
            id=f"{case.name}-{mode}",
            marks=SLOW if case.graph_tests_slow and mode == "tf_function" else (),
        )
        for case in CASES
        for mode in MODES
    ]


def in_graph_mode():
    """Case parameters of a test that runs only in graph mode (tf.function)."""
    return [
        pytest.param(case, id=case.name, marks=SLOW if case.graph_tests_slow else ())
        for case in CASES
    ]


def _maybe_compiled(fn, mode):
    return fn if mode == "eager" else tf.function(fn)


def _latent(bijector, case, batch_shape, dtype, kwargs):
    """A latent-side input of `forward`: the inverse of data, computed without the cache."""
    return tf.identity(bijector.inverse(case.data(batch_shape, dtype, seed=5), **kwargs))


@pytest.mark.parametrize("case, mode", in_both_modes())
def test_round_trip_both_ways(case, mode):
    bijector = prepare(case, tf.float32)
    x = case.data([3], tf.float32)
    kwargs = case.kwargs([3], tf.float32)
    inverse = _maybe_compiled(lambda t: bijector.inverse(t, **kwargs), mode)
    forward = _maybe_compiled(lambda t: bijector.forward(t, **kwargs), mode)
    # tf.identity breaks TFP's cache, which would otherwise hand back x itself.
    x_again = forward(tf.identity(inverse(x)))
    np.testing.assert_allclose(x_again, x, rtol=1e-4, atol=1e-4)
    z = _latent(bijector, case, [3], tf.float32, kwargs) + 0.1
    z_again = inverse(tf.identity(forward(z)))
    np.testing.assert_allclose(z_again, z, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case, mode", in_both_modes())
def test_forward_log_det_is_minus_inverse_log_det(case, mode):
    bijector = prepare(case, tf.float32)
    x = case.data([3], tf.float32)
    kwargs = case.kwargs([3], tf.float32)

    def log_dets(t):
        z = bijector.inverse(t, **kwargs)
        ildj = bijector.inverse_log_det_jacobian(t, event_ndims=3, **kwargs)
        fldj = bijector.forward_log_det_jacobian(tf.identity(z), event_ndims=3, **kwargs)
        return ildj, fldj

    ildj, fldj = _maybe_compiled(log_dets, mode)(x)
    np.testing.assert_allclose(fldj, -ildj, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=SLOW if c.slogdet_slow else ()) for c in CASES]
)
def test_log_det_equals_autodiff_slogdet(case):
    """In float64 and inference mode, after training calls moved the batch-norm statistics.

    (A two-scale flow with one option whose step has this test of its own runs it with the slow
    set: the option's step is exact here, and so is the paper's two-scale flow.)
    """
    bijector = prepare(case, tf.float64)
    x = case.data([2], tf.float64)
    kwargs = case.kwargs([2], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = bijector.inverse(x, **kwargs)
        z_flat = tf.reshape(z, [2, -1])
    jacobian = tape.batch_jacobian(z_flat, x)
    jacobian = tf.reshape(jacobian, [2, z_flat.shape[-1], -1])
    _, expected = np.linalg.slogdet(jacobian.numpy())
    ildj = bijector.inverse_log_det_jacobian(x, event_ndims=3, **kwargs)
    np.testing.assert_allclose(ildj, expected, rtol=1e-8, atol=1e-8)
    # The same in the forward direction, at the latent of x.
    z = tf.identity(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        x_flat = tf.reshape(bijector.forward(z, **kwargs), [2, -1])
    jacobian = tf.reshape(tape.batch_jacobian(x_flat, z), [2, x_flat.shape[-1], -1])
    _, expected = np.linalg.slogdet(jacobian.numpy())
    fldj = bijector.forward_log_det_jacobian(z, event_ndims=3, **kwargs)
    np.testing.assert_allclose(fldj, expected, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("case, mode", in_both_modes())
def test_log_det_has_the_batch_shape(case, mode):
    bijector = prepare(case, tf.float32)
    x = case.data([2, 3], tf.float32)
    kwargs = case.kwargs([2, 3], tf.float32)
    training = {"training": True} if takes_training(bijector) else {}

    def log_dets(t):
        inference = bijector.inverse_log_det_jacobian(t, event_ndims=3, **kwargs)
        trained = bijector.inverse_log_det_jacobian(
            tf.identity(t), event_ndims=3, **training, **kwargs
        )
        z = tf.identity(bijector.inverse(t, **kwargs))
        return inference, trained, bijector.forward_log_det_jacobian(z, event_ndims=3, **kwargs)

    for log_det in _maybe_compiled(log_dets, mode)(x):
        assert log_det.shape == [2, 3]


@pytest.mark.parametrize("case", in_graph_mode())
def test_unknown_batch_size_in_tf_function(case):
    bijector = prepare(case, tf.float32)
    latent_shape = bijector.inverse_event_shape(case.event_shape)
    spec_x = tf.TensorSpec([None, *case.event_shape], tf.float32)
    spec_z = tf.TensorSpec([None, *latent_shape], tf.float32)
    # A conditional case's context is an input too, with the same unknown batch size.
    kwargs = case.kwargs([5], tf.float32)
    spec_kwargs = {k: tf.TensorSpec([None, *v.shape[1:]], v.dtype) for k, v in kwargs.items()}
    inverse = tf.function(
        lambda t, kw: bijector.inverse_log_det_jacobian(t, 3, **kw),
        input_signature=[spec_x, spec_kwargs],
    )
    forward = tf.function(
        lambda t, kw: bijector.forward(t, **kw), input_signature=[spec_z, spec_kwargs]
    )
    x = case.data([5], tf.float32)
    assert inverse(x, kwargs).shape == [5]
    z = _latent(bijector, case, [5], tf.float32, kwargs)
    x_of_z = case.data([5], tf.float32, seed=5)
    np.testing.assert_allclose(forward(z, kwargs), x_of_z, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_outputs_are_finite_including_extreme_inputs(case):
    bijector = prepare(case, tf.float32)
    x = case.data([4], tf.float32)
    if case.pixels:  # the edges of the pixel domain
        x = tf.concat([tf.zeros_like(x[:2]), tf.ones_like(x[2:])], axis=0)
    else:
        x = 5.0 * x
    kwargs = case.kwargs([4], tf.float32)
    z = bijector.inverse(x, **kwargs)
    ildj = bijector.inverse_log_det_jacobian(x, event_ndims=3, **kwargs)
    x_again = bijector.forward(tf.identity(z), **kwargs)
    for tensor in (z, ildj, x_again):
        assert np.all(np.isfinite(tensor.numpy()))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_event_shape_methods_agree_with_values(case):
    bijector = prepare(case, tf.float32)
    x = case.data([2], tf.float32)
    z = bijector.inverse(x, **case.kwargs([2], tf.float32))
    assert bijector.inverse_event_shape(case.event_shape) == z.shape[1:]
    assert bijector.forward_event_shape(z.shape[1:]) == case.event_shape
    np.testing.assert_array_equal(
        bijector.inverse_event_shape_tensor(case.event_shape), z.shape[1:]
    )
    np.testing.assert_array_equal(bijector.forward_event_shape_tensor(z.shape[1:]), x.shape[1:])
