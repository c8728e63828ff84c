"""Memory-saving gradients (`RecomputedCoupling`, `memory_saving_gradients=True`, and with the
residual blocks recomputed too, "blocks"): same values, same gradients (float64), same
moving-average updates as the plain flow."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp import RealNVPMultiScale, RecomputedCoupling

tfd = tfp.distributions

EVENT_SHAPE = [4, 4, 2]


def _flow(memory_saving, statistics="batch", use_batch_norm=True, num_scales=2, **options):
    return RealNVPMultiScale(
        EVENT_SHAPE,
        num_scales=num_scales,
        num_res_blocks=1,
        num_filters=3,
        use_batch_norm=use_batch_norm,
        batch_norm_statistics=statistics,
        memory_saving_gradients=memory_saving,
        dtype=tf.float64,
        **options,
    )


def _variables(flow):
    return [w for layer in flow.keras_layers for w in layer.weights]


def _pair(statistics="batch", use_batch_norm=True, num_scales=2, memory_saving=True, **options):
    """A plain flow and a `memory_saving` one with the same, non-trivial weights."""
    plain = _flow(False, statistics, use_batch_norm, num_scales, **options)
    saving = _flow(memory_saving, statistics, use_batch_norm, num_scales, **options)
    rng = np.random.default_rng(0)
    for a, b in zip(_variables(plain), _variables(saving), strict=True):
        assert a.path.split("/")[-1] == b.path.split("/")[-1]
        value = rng.normal(scale=0.3, size=a.shape)
        if "moving_variance" in a.path:
            value = 1.0 + np.abs(value)
        a.assign(value)
        b.assign(value)
    return plain, saving


def _images():
    """A fresh tensor on every call: TFP caches bijector results by input tensor (and equal
    `LogitPreprocess`es share entries), and a cached result has no path to x on a new tape."""
    rng = np.random.default_rng(1)
    return tf.constant(rng.uniform(0.01, 0.99, size=[5, *EVENT_SHAPE]), tf.float64)


def _loss_and_gradients(flow, x, function, context=None):
    """The loss and its gradients in x, then (with a context) in the context, then in every
    trainable variable."""
    dist = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(tf.constant(0.0, tf.float64), 1.0), EVENT_SHAPE), flow
    )
    trainable = dist.trainable_variables

    def step(x):
        inputs, kwargs = [x], {"training": True}
        if context is not None:
            inputs.append(context)
            kwargs["conditional_input"] = context
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = -tf.reduce_mean(dist.log_prob(x, bijector_kwargs=kwargs))
        return loss, tape.gradient(loss, [*inputs, *trainable])

    if function:
        step = tf.function(step)
    loss, gradients = step(x)
    return loss, gradients, trainable


def _assert_close(actual, expected, what, scale=None):
    """Equal to 1e-5 relative; entries far below `scale` (default: their own max) to 1e-9 * it."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.max(np.abs(expected)), 1e-12) if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-9 * scale, err_msg=what)


@pytest.mark.parametrize(
    "function, statistics, num_scales, memory_saving",
    [
        (False, "batch", 2, True),
        (False, "running_average", 2, True),
        (True, "batch", 1, True),
        (False, "batch", 2, "blocks"),
        (True, "batch", 1, "blocks"),
    ],
    ids=[
        "eager-batch",
        "eager-running_average",
        "tf_function-batch-one_scale",
        "blocks-eager-batch",
        "blocks-tf_function-batch-one_scale",
    ],
)
def test_same_loss_gradients_and_moving_averages(function, statistics, num_scales, memory_saving):
    # (Graph mode is slow to trace: one scale there, 4 couplings, still every code path.)
    plain, saving = _pair(statistics, num_scales=num_scales, memory_saving=memory_saving)
    loss_p, grads_p, vars_p = _loss_and_gradients(plain, _images(), function)
    loss_s, grads_s, vars_s = _loss_and_gradients(saving, _images(), function)
    _assert_close(loss_s, loss_p, "loss")
    assert [v.name for v in vars_p] == [v.name for v in vars_s]
    assert all(g is not None for g in grads_p + grads_s)
    scale = max(np.max(np.abs(g)) for g in grads_p[1:])
    nonzero = 0
    for v, g_p, g_s in zip(vars_p, grads_p[1:], grads_s[1:], strict=True):
        _assert_close(g_s, g_p, v.name, scale)
        nonzero += bool(np.any(np.asarray(g_p) != 0))
    assert nonzero > len(vars_p) // 2  # the comparison is not between zeros
    _assert_close(grads_s[0], grads_p[0], "d loss / d x")
    # Moving averages (the coupling batch norms' and the networks' Keras ones) moved once.
    for a, b in zip(_variables(plain), _variables(saving), strict=True):
        _assert_close(b, a, a.path)


@pytest.mark.parametrize("coupling", ["additive", "spline"])
def test_same_gradients_for_every_coupling_kind(coupling):
    plain, saving = _pair(num_scales=1, coupling=coupling, spline_bins=3)
    loss_p, grads_p, vars_p = _loss_and_gradients(plain, _images(), False)
    loss_s, grads_s, _ = _loss_and_gradients(saving, _images(), False)
    _assert_close(loss_s, loss_p, "loss")
    scale = max(np.max(np.abs(g)) for g in grads_p)
    for v, g_p, g_s in zip([None, *vars_p], grads_p, grads_s, strict=True):
        _assert_close(g_s, g_p, "d loss / d x" if v is None else v.name, scale)
    assert sum(bool(np.any(np.asarray(g) != 0)) for g in grads_p[1:]) > len(vars_p) // 2


@pytest.mark.parametrize("conditional_shape", [[3], [2, 2, 3]], ids=["vector", "feature_map"])
def test_same_gradients_with_a_context(conditional_shape):
    """The recomputation sees the context too: same gradients in x, in c and in every weight."""
    plain, saving = _pair(num_scales=1, conditional_shape=conditional_shape)
    context = tf.constant(np.random.default_rng(2).normal(size=[5, *conditional_shape]))
    loss_p, grads_p, vars_p = _loss_and_gradients(plain, _images(), False, context)
    loss_s, grads_s, _ = _loss_and_gradients(saving, _images(), False, context)
    _assert_close(loss_s, loss_p, "loss")
    scale = max(np.max(np.abs(g)) for g in grads_p)
    names = ["d loss / d x", "d loss / d context", *(v.name for v in vars_p)]
    for name, g_p, g_s in zip(names, grads_p, grads_s, strict=True):
        _assert_close(g_s, g_p, name, scale)
    assert np.max(np.abs(grads_p[1])) > 1e-3 * scale  # the context has a gradient
    context_weights = {id(w.value) for w in _variables(plain) if "context" in w.path}
    projections = [g for v, g in zip(vars_p, grads_p[2:], strict=True) if id(v) in context_weights]
    assert len(projections) == 2 * 4 and all(np.any(np.asarray(g) != 0) for g in projections)


def test_without_batch_norm():
    plain, saving = _pair(use_batch_norm=False)
    _, grads_p, _ = _loss_and_gradients(plain, _images(), False)
    _, grads_s, _ = _loss_and_gradients(saving, _images(), False)
    scale = max(np.max(np.abs(g)) for g in grads_p)
    for g_p, g_s in zip(grads_p, grads_s, strict=True):
        _assert_close(g_s, g_p, "gradient", scale)


def test_inference_and_sampling_unchanged():
    plain, saving = _pair()
    x = _images()
    for training in (False, True):
        z_p, ldj_p = plain._inverse_and_log_det(x, training=training)
        z_s, ldj_s = saving._inverse_and_log_det(x, training=training)
        _assert_close(z_s, z_p, f"z training={training}")
        _assert_close(ldj_s, ldj_p, f"log-det training={training}")
    z = tf.random.stateless_normal([3, *EVENT_SHAPE], [1, 2], dtype=tf.float64)
    _assert_close(saving.forward(z), plain.forward(z), "sample")
    round_trip = saving.forward(tf.identity(saving.inverse(x)))
    _assert_close(round_trip, x, "round trip")


def test_structure_and_layer_order():
    plain, saving = _flow(False), _flow(True)
    recomputed = [m for m in saving._flatten() if isinstance(m, RecomputedCoupling)]
    assert len(recomputed) == 3 + 3 + 4  # every coupling of both scales
    assert [layer.name for layer in plain.keras_layers] == [
        layer.name for layer in saving.keras_layers
    ]
    with pytest.raises(ValueError, match="training=True is only defined in the inverse"):
        recomputed[0].forward(tf.zeros([1, *EVENT_SHAPE], tf.float64), training=True)


def test_rejects_other_bijectors():
    with pytest.raises(TypeError, match="`coupling` must be a MaskedCoupling"):
        RecomputedCoupling(tfp.bijectors.Identity())
