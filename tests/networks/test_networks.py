"""The Keras layers: weight norm, bounded scale, conditioner config and folding, model summary."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.bijectors.masked_affine_coupling import TanhScale
from tfp_realnvp.networks import L2Penalty, ResNetConditioner, WeightNormConv2D
from tfp_realnvp.networks.weight_norm_conv2d import weight_normalized_kernel


def test_weight_norm_kernel_has_the_magnitude_as_its_norm():
    conv = WeightNormConv2D(5, 3)
    conv.build((None, 6, 6, 2))
    conv.magnitude.assign([0.5, 1.0, 2.0, 3.0, 4.0])
    conv.direction.assign(tf.random.normal(conv.direction.shape))
    x = tf.random.normal([1, 6, 6, 2])
    # With a zero bias, the kernel of output o is read off as the response to a unit impulse.
    impulse = np.zeros([1, 3, 3, 2], np.float32)
    norms = []
    for o in range(5):
        kernel = np.zeros([3, 3, 2])
        for i in range(3):
            for j in range(3):
                for c in range(2):
                    impulse[:] = 0
                    impulse[0, 2 - i, 2 - j, c] = 1
                    kernel[i, j, c] = conv(tf.constant(impulse))[0, 1, 1, o]
        norms.append(np.linalg.norm(kernel))
    np.testing.assert_allclose(norms, [0.5, 1.0, 2.0, 3.0, 4.0], rtol=1e-5)
    assert conv(x).shape == [1, 6, 6, 5]


def autodiff_weight_norm(v, g):
    """g * v / ||v|| as plain ops (the kernel before the closed-form gradient): autodiff's."""
    return v * (g / tf.sqrt(tf.reduce_sum(tf.square(v), axis=(0, 1, 2))))


def test_weight_norm_kernel_gradient_is_autodiffs():
    # The closed-form gradient against autodiff of g * v / ||v||, for a random upstream gradient.
    rng = np.random.default_rng(0)
    direction = tf.constant(rng.normal(size=[3, 3, 2, 5]))
    magnitude = tf.constant(rng.normal(size=[5]))
    upstream = tf.constant(rng.normal(size=[3, 3, 2, 5]))

    def gradients(kernel_fn):
        with tf.GradientTape() as tape:
            tape.watch([direction, magnitude])
            loss = tf.reduce_sum(upstream * kernel_fn(direction, magnitude))
        return tape.gradient(loss, [direction, magnitude])

    np.testing.assert_allclose(
        weight_normalized_kernel(direction, magnitude),
        autodiff_weight_norm(direction, magnitude),
        rtol=1e-12,
    )
    for ours, autodiff in zip(
        gradients(weight_normalized_kernel), gradients(autodiff_weight_norm), strict=True
    ):
        np.testing.assert_allclose(ours, autodiff, rtol=1e-10, atol=1e-12)


def test_weight_norm_kernel_gradient_builds_fewer_ops_than_autodiff():
    """The point of the closed form: a smaller training graph (its size is the first step's
    cost). Counted in the traced gradient of one kernel, the same for both."""
    direction = tf.TensorSpec([3, 3, 8, 8], tf.float32)
    magnitude = tf.TensorSpec([8], tf.float32)

    def traced_ops(kernel_fn):
        @tf.function
        def gradients(v, g):
            with tf.GradientTape() as tape:
                tape.watch([v, g])
                loss = tf.reduce_sum(
                    tf.nn.conv2d(tf.ones([1, 4, 4, 8]), kernel_fn(v, g), 1, "SAME")
                )
            return tape.gradient(loss, [v, g])

        return len(gradients.get_concrete_function(direction, magnitude).graph.get_operations())

    assert traced_ops(weight_normalized_kernel) < traced_ops(autodiff_weight_norm)


def test_l2_penalty_is_keras_l2():
    x = tf.random.normal([3, 4])
    penalty = L2Penalty(5e-5)
    np.testing.assert_allclose(penalty(x), keras.regularizers.L2(5e-5)(x), rtol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(penalty))
    assert isinstance(restored, L2Penalty) and restored.l2 == penalty.l2


def test_zero_initialised_conv_outputs_zero():
    conv = WeightNormConv2D(4, 1, zero_init=True)
    np.testing.assert_array_equal(conv(tf.random.normal([2, 3, 3, 2])), 0.0)


def test_conditioner_config_round_trip_rebuilds_the_same_network():
    mask = tfp_realnvp.checkerboard_mask([4, 4, 1])[..., 0]
    net = ResNetConditioner(4, 2, mask_channel=mask, magnitude_regularizer="l2")
    x = tf.random.normal([2, 4, 4, 1])
    net(x)
    for weight in net.trainable_weights:
        weight.assign(tf.random.normal(weight.shape, stddev=0.1))
    clone = ResNetConditioner.from_config(net.get_config())
    clone(x)
    clone.set_weights(net.get_weights())
    np.testing.assert_allclose(clone(x), net(x), rtol=1e-6)
    assert clone(x).shape == [2, 4, 4, 2]


def test_model_summary_lists_every_layer(capsys):
    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=4)
    model = tfp_realnvp.RealNVPModel(flow, num_bins=17)
    model.summary(print_fn=print)
    printed = capsys.readouterr().out
    assert printed.count("ResNetConditioner") == 10 and "Total params" in printed
    params = sum(int(np.prod(w.shape)) for w in model.weights)
    assert f"{params:,}" in printed
    assert len(model.trainable_weights) == len(flow.trainable_variables)
    assert keras.saving.get_registered_object("tfp_realnvp>TanhScale") is TanhScale


def _moved(net, x):
    """Random weights and moving statistics away from their initial values (a trained net)."""
    net(x)
    rng = np.random.default_rng(3)
    for weight in net.weights:
        value = rng.uniform(0.5, 1.5, size=weight.shape) * rng.choice([-1.0, 1.0], weight.shape)
        if "variance" in weight.path:
            value = np.abs(value)
        weight.assign(value.astype(np.float32) * (0.3 if "direction" in weight.path else 1.0))
    return net


def _batch_norm_ops(net, x):
    graph = tf.function(lambda x: net(x, training=False)).get_concrete_function(x).graph
    return sum(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())


@pytest.mark.parametrize("checkerboard", [True, False], ids=["checkerboard", "channel"])
def test_folded_batch_norms_give_the_layer_by_layer_network(checkerboard):
    """Inference with each block's second batch norm folded into its first convolution."""
    x = tf.random.normal([3, 6, 6, 2])
    mask = tfp_realnvp.checkerboard_mask([6, 6, 2])[..., 0] if checkerboard else None
    net = _moved(ResNetConditioner(8, 2, mask_channel=mask), x)
    assert net.fold_batch_norms
    folded, folded_norms = net(x, training=False), _batch_norm_ops(net, x)
    net.fold_batch_norms = False
    plain, plain_norms = net(x, training=False), _batch_norm_ops(net, x)
    assert (folded_norms, plain_norms) == (4, 6)  # input, output; 2 per block, one of them folds
    assert np.abs(plain).max() > 1.0  # not a trivially small output
    np.testing.assert_allclose(folded, plain, rtol=1e-5, atol=1e-5 * np.abs(plain).max())
    # Training normalises with batch statistics: nothing folds, the two paths are one.
    net.fold_batch_norms = True
    training = net(x, training=True)
    net.fold_batch_norms = False
    np.testing.assert_allclose(net(x, training=True), training, rtol=1e-6)


def test_folded_flow_has_the_plain_flows_log_det_and_inverts():
    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 2], num_res_blocks=1, num_filters=4)
    x = tf.random.uniform([4, 8, 8, 2], 0.05, 0.95)
    flow.inverse(x, training=True)  # builds the networks
    for weight in flow.trainable_variables:
        weight.assign_add(tf.random.normal(weight.shape, stddev=0.1))
    for _ in range(3):
        flow.inverse(x, training=True)  # moves the moving statistics
    networks = [layer for layer in flow.keras_layers if isinstance(layer, ResNetConditioner)]
    results = []
    for fold in (True, False):
        for net in networks:
            net.fold_batch_norms = fold
        z = flow.inverse(x)
        results.append((z, flow.inverse_log_det_jacobian(x), flow.forward(tf.identity(z))))
    (z, log_det, x_back), (z_plain, log_det_plain, _) = results
    np.testing.assert_allclose(z, z_plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_det, log_det_plain, rtol=1e-5)
    np.testing.assert_allclose(x_back, x, atol=1e-5)


def test_recomputed_blocks_give_the_same_gradients_and_run_the_blocks_again():
    """`recompute_blocks=True`: the same output, gradients and moving statistics; the gradient
    graph runs each block's two convolutions once more (the recomputation)."""
    x = tf.random.normal([3, 6, 6, 2])
    num_blocks = 2
    nets = [_moved(ResNetConditioner(8, num_blocks, recompute_blocks=r), x) for r in (0, 1)]
    results, convolutions = [], []
    for net in nets:

        @tf.function
        def output_and_gradients(x, net=net):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = net(x, training=True)
                loss = tf.reduce_sum(tf.sin(y))
            return y, tape.gradient(loss, [x, *net.trainable_weights])

        graph = output_and_gradients.get_concrete_function(x).graph
        convolutions.append(sum(op.type == "Conv2D" for op in graph.get_operations()))
        results.append(output_and_gradients(x))
    # Forward: input conv and skip, 3 per block (2 + its skip), output conv.
    assert convolutions == [3 + 3 * num_blocks, 3 + 5 * num_blocks]
    (y, gradients), (y_again, gradients_again) = results
    np.testing.assert_allclose(y_again, y, rtol=1e-6)
    scale = max(np.abs(g).max() for g in gradients)
    # Not a comparison of zeros. (Biases before a batch norm have gradients of round-off size:
    # the batch norm removes their effect, so they are compared to the largest gradient.)
    assert sum(np.abs(g).max() > 1e-3 * scale for g in gradients) > len(gradients) // 2
    for g, g_again in zip(gradients, gradients_again, strict=True):
        np.testing.assert_allclose(g_again, g, rtol=1e-4, atol=1e-5 * scale)
    # The statistics moved once, by the forward pass (the recomputation discards its updates).
    for a, b in zip(nets[0].non_trainable_weights, nets[1].non_trainable_weights, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6)
    assert nets[1].get_config()["recompute_blocks"] is True
