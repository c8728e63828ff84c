"""Small cases with exactly known answers: layouts, masks, identities, latents, bits/dim."""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tfp_realnvp import (
    LogitPreprocess,
    MaskedAffineCoupling,
    RealNVPMultiScale,
    ResNetConditioner,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)

tfd = tfp.distributions


def test_squeeze_index_layout_on_an_arange():
    x = tf.reshape(tf.range(4 * 4 * 2, dtype=tf.float32), [1, 4, 4, 2])
    y = Squeeze().inverse(x).numpy()[0]
    assert y.shape == (2, 2, 8)
    # out[i, j, (2*di + dj)*C + c] = x[2i + di, 2j + dj, c]
    for i in range(2):
        for j in range(2):
            for di in range(2):
                for dj in range(2):
                    for c in range(2):
                        expected = x[0, 2 * i + di, 2 * j + dj, c]
                        assert y[i, j, (2 * di + dj) * 2 + c] == expected
    np.testing.assert_array_equal(y[0, 0], [0, 1, 2, 3, 8, 9, 10, 11])
    np.testing.assert_array_equal(Squeeze().forward(tf.constant(y[None])), x)


def test_checkerboard_masks_patterns():
    odd = checkerboard_mask([3, 4, 2], parity=1)
    np.testing.assert_array_equal(odd[..., 0], [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]])
    np.testing.assert_array_equal(odd[..., 1], odd[..., 0])
    np.testing.assert_array_equal(checkerboard_mask([3, 4, 2], parity=0), 1 - odd)


def test_channel_masks_patterns():
    first = channel_mask([2, 2, 6])
    np.testing.assert_array_equal(first[1, 0], [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(channel_mask([2, 2, 6], keep_first_half=False), 1 - first)


def test_coupling_leaves_kept_units_unchanged_and_changes_others():
    mask = checkerboard_mask([4, 4, 1])
    coupling = MaskedAffineCoupling(mask, ResNetConditioner(4, 1, mask_channel=mask[..., 0]))
    for variable in coupling.trainable_variables:
        variable.assign_add(tf.random.normal(variable.shape, stddev=0.3))
    x = tf.random.normal([2, 4, 4, 1])
    y = coupling.inverse(x).numpy()
    kept = mask.astype(bool)
    np.testing.assert_array_equal(y[:, kept], x.numpy()[:, kept])
    assert np.abs(y[:, ~kept] - x.numpy()[:, ~kept]).min() > 0


def test_new_flow_is_the_identity_in_logit_space():
    """Zero last layers: each coupling starts as the identity; so does the flow without BN."""
    flow = RealNVPMultiScale(
        [8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=4, use_batch_norm=False
    )
    x = tf.random.uniform([3, 8, 8, 1], 0.01, 0.99)
    logit = LogitPreprocess(0.05)
    # The latent is the logit of x in a permuted layout: compare sorted values per image.
    z = flow.inverse(x).numpy().reshape(3, -1)
    y = logit.inverse(x).numpy().reshape(3, -1)
    np.testing.assert_allclose(np.sort(z, axis=1), np.sort(y, axis=1), rtol=1e-6, atol=1e-6)
    expected = logit.inverse_log_det_jacobian(x, event_ndims=3)
    np.testing.assert_allclose(flow.inverse_log_det_jacobian(x, event_ndims=3), expected, 1e-5)


def test_new_batch_norms_only_divide_by_sqrt_of_one_plus_epsilon():
    """Fresh moving statistics (mean 0, variance 1): each BN scales the units it normalises."""
    flow = RealNVPMultiScale([8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=4)
    x = tf.random.uniform([3, 8, 8, 1], 0.01, 0.99)
    logit = LogitPreprocess(0.05)
    # Scale 1: 6 couplings transform half of 64 units; scale 2 (32 units): 4 transform 16.
    bn_term = -0.5 * (6 * 32 + 4 * 16) * math.log(1 + 1e-4)
    expected = logit.inverse_log_det_jacobian(x, event_ndims=3) + bn_term
    np.testing.assert_allclose(flow.inverse_log_det_jacobian(x, event_ndims=3), expected, 1e-5)


def test_latents_split_per_scale_and_merge_back():
    flow = RealNVPMultiScale([8, 8, 2], num_scales=3, num_res_blocks=1, num_filters=4)
    assert flow.latent_shapes() == [[4, 4, 4], [2, 2, 8], [2, 2, 8]]
    z = tf.random.normal([5, 8, 8, 2])
    parts = flow.split_latents(z)
    assert [p.shape[1:] for p in parts] == flow.latent_shapes()
    assert sum(int(np.prod(p.shape[1:])) for p in parts) == 8 * 8 * 2
    np.testing.assert_array_equal(flow.merge_latents(parts), z)
    # Scale 1's part is what the first scale factored out: first half of the squeezed channels.
    np.testing.assert_array_equal(parts[0], Squeeze().inverse(z)[..., :4])


def test_changing_one_scales_latent_changes_the_image():
    flow = RealNVPMultiScale([8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=4)
    z = tf.random.normal([1, 8, 8, 1])
    parts = flow.split_latents(z)
    x = flow.forward(z)
    x_changed = flow.forward(flow.merge_latents([parts[0] + 1.0, parts[1]]))
    assert np.abs((x_changed - x).numpy()).max() > 1e-3


def test_bits_per_dim_formula():
    d = 4 * 4 * 3
    log_prob = tf.constant([-100.0, 0.0])
    expected = (-log_prob.numpy() + d * math.log(256)) / (d * math.log(2))
    np.testing.assert_allclose(tfp_realnvp.bits_per_dim(log_prob, [4, 4, 3]), expected)
    # A uniform density on [0, 1]^D (log p = 0) costs exactly log2(num_bins) bits per dimension.
    np.testing.assert_allclose(tfp_realnvp.bits_per_dim(0.0, [4, 4, 3], num_bins=17), np.log2(17))


def test_logit_preprocess_maps_the_pixel_range_into_the_documented_interval():
    logit = LogitPreprocess(0.05)
    x = logit.forward(tf.constant([-50.0, 50.0]))
    np.testing.assert_allclose(x, [-0.05 / 0.9, 1 + 0.05 / 0.9], rtol=1e-5)
    np.testing.assert_allclose(
        logit.inverse(tf.constant([0.0, 0.5, 1.0])), [-2.944439, 0, 2.944439], rtol=1e-5
    )
