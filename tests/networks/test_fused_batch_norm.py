"""`FusedBatchNormalization` (the networks' batch norm) equals Keras's layer, and folds exactly."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.networks import WeightNormConv2D
from tfp_realnvp.networks.fused_batch_norm import FusedBatchNormalization


def _pair(center_and_scale, dtype="float32", input_dtype=None):
    options = dict(momentum=0.9, epsilon=1e-4, center=center_and_scale, scale=center_and_scale)
    reference = keras.layers.BatchNormalization(dtype=dtype, **options)
    fused = FusedBatchNormalization(dtype=dtype, **options)
    shape = [6, 5, 4, 3]
    reference.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    for a, b in zip(reference.weights, fused.weights, strict=True):
        value = rng.uniform(0.5, 1.5, size=a.shape)
        a.assign(value)
        b.assign(value)
    x = tf.constant(rng.normal(1.0, 3.0, size=shape), input_dtype or dtype)
    return reference, fused, x


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("center_and_scale", [True, False], ids=["affine", "no_affine"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_outputs_gradients_and_moving_statistics(training, center_and_scale, dtype):
    reference, fused, x = _pair(center_and_scale, dtype)
    projection = tf.constant(np.random.default_rng(1).normal(size=x.shape), dtype)
    moving_before = fused.moving_variance.numpy()
    results = []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(y * projection)
        results.append((y, tape.gradient(loss, [x, *layer.trainable_weights]), layer.weights))
    (y_r, g_r, w_r), (y_f, g_f, w_f) = results
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10)
    np.testing.assert_allclose(y_f, y_r, **tolerance)
    for a, b in zip(g_f, g_r, strict=True):
        np.testing.assert_allclose(a, b, **tolerance)
    for a, b in zip(w_f, w_r, strict=True):  # moving mean and (biased) variance updated alike
        np.testing.assert_allclose(a, b, **tolerance)
    assert np.any(fused.moving_variance.numpy() != moving_before) == training


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_fused_kernel_is_used_for_float32(training):
    _, fused, x = _pair(True)
    graph = tf.function(lambda x: fused(x, training=training)).get_concrete_function(x).graph
    kernels = [op for op in graph.get_operations() if op.type.startswith("FusedBatchNorm")]
    assert [op.get_attr("is_training") for op in kernels] == [training]


def test_frozen_layer_normalises_with_its_moving_statistics():
    reference, fused, x = _pair(True)
    reference.trainable = fused.trainable = False
    np.testing.assert_allclose(
        fused(x, training=True), reference(x, training=True), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(fused(x, training=True), fused(x, training=False), rtol=1e-6)


def test_mixed_bfloat16_takes_the_fused_kernel_and_matches_keras():
    reference, fused, x = _pair(True, dtype="mixed_bfloat16", input_dtype="bfloat16")
    graph = tf.function(lambda x: fused(x, training=True)).get_concrete_function(x).graph
    fused_ops = [op for op in graph.get_operations() if op.type.startswith("FusedBatchNorm")]
    assert fused_ops and fused_ops[0].get_attr("T") == tf.bfloat16
    y_r, y_f = reference(x, training=True), fused(x, training=True)
    assert y_f.dtype == tf.bfloat16
    # One bfloat16 rounding of outputs of size ~3: 2^-6.
    np.testing.assert_allclose(tf.cast(y_f, tf.float32), tf.cast(y_r, tf.float32), atol=2e-2)
    for a, b in zip(fused.weights, reference.weights, strict=True):
        assert a.dtype == "float32"
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_statelessscope_discards_the_update():
    _, fused, x = _pair(True)
    before = [w.numpy() for w in fused.weights]
    with keras.StatelessScope():
        fused(x, training=True)
    for a, b in zip(before, fused.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("center_and_scale", [True, False], ids=["affine", "no_affine"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_folding_into_a_convolution_equals_convolution_then_batch_norm(center_and_scale, dtype):
    _, fused, x = _pair(center_and_scale, dtype)
    conv = WeightNormConv2D(3, 3, dtype=dtype)
    conv.build(x.shape)
    for weight in conv.trainable_weights:
        weight.assign(tf.random.normal(weight.shape, stddev=0.5, dtype=dtype))
    kernel, bias = fused.fold_into(conv.kernel(), conv.bias)
    assert kernel.dtype == bias.dtype == dtype
    np.testing.assert_allclose(
        conv.convolve(x, kernel, bias), fused(conv(x), training=False), rtol=1e-5, atol=1e-5
    )
