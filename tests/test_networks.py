"""The Keras layers: weight normalisation, bounded scale, conditioner config, model summary."""

import keras
import numpy as np
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.bijectors.masked_affine_coupling import TanhScale
from tfp_realnvp.networks import ResNetConditioner, WeightNormConv2D


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
