"""Bad input gets a clear error that names the argument and the value received."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tfp_realnvp import (
    FactorOut,
    LogitPreprocess,
    MaskedAdditiveCoupling,
    MaskedAffineCoupling,
    MaskedSplineCoupling,
    MovingAverageBatchNorm,
    RealNVPMultiScale,
    ResNetConditioner,
    Squeeze,
    WeightNormConv2D,
    channel_mask,
    checkerboard_mask,
)


def _small_flow(**kwargs):
    return RealNVPMultiScale([4, 4, 1], num_res_blocks=0, num_filters=2, **kwargs)


def test_squeeze_rejects_odd_height_or_width():
    with pytest.raises(ValueError, match=r"even height and width.*height=5, width=4"):
        Squeeze().inverse(tf.zeros([1, 5, 4, 1]))
    with pytest.raises(ValueError, match=r"height=4, width=3"):
        Squeeze().inverse(tf.zeros([1, 4, 3, 1]))


def test_unsqueeze_rejects_channels_not_divisible_by_four():
    with pytest.raises(ValueError, match=r"divisible by 4.*channels=6"):
        Squeeze().forward(tf.zeros([1, 2, 2, 6]))


def test_channel_mask_rejects_an_odd_channel_count():
    with pytest.raises(ValueError, match=r"must be even; got event_shape=\[2, 2, 3\]"):
        channel_mask([2, 2, 3])


def test_masks_reject_bad_shapes_and_parity():
    with pytest.raises(ValueError, match=r"`event_shape` must be \[H, W, C\].*\[4, 4\]"):
        checkerboard_mask([4, 4])
    with pytest.raises(ValueError, match=r"`parity` must be 0 or 1; got parity=2"):
        checkerboard_mask([4, 4, 1], parity=2)


def test_factor_out_rejects_an_odd_channel_count():
    mask = checkerboard_mask([4, 4, 1])
    inner = MaskedAffineCoupling(mask, ResNetConditioner(2, 0, mask_channel=mask[..., 0]))
    with pytest.raises(ValueError, match=r"splits the channels in half.*\(1, 4, 4, 3\)"):
        FactorOut(inner).inverse(tf.zeros([1, 4, 4, 3]))


def test_flow_rejects_images_of_another_event_shape():
    flow = _small_flow()
    with pytest.raises(ValueError, match=r"event shape \[8, 8, 1\].*event_shape=\[4, 4, 1\]"):
        flow.inverse(tf.zeros([2, 8, 8, 1]))
    with pytest.raises(ValueError, match=r"event shape \[4, 4, 3\].*event_shape=\[4, 4, 1\]"):
        flow.forward(tf.zeros([2, 4, 4, 3]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(event_shape=[6, 6, 1], num_scales=3), r"divisible by 4; got event_shape=\[6, 6, 1\]"),
        (dict(event_shape=[5, 4, 1], num_scales=2), r"divisible by 2; got event_shape=\[5, 4, 1\]"),
        (dict(event_shape=[4, 4], num_scales=2), r"positive sizes; got event_shape=\[4, 4\]"),
        (dict(event_shape=[4, 4, 1], num_scales=0), r"`num_scales` must be .*got num_scales=0"),
        (dict(event_shape=[4, 4, 1], num_res_blocks=-1), r"`num_res_blocks` .* got -1"),
        (dict(event_shape=[4, 4, 1], num_filters=0), r"`num_filters` .* got 0"),
        (dict(event_shape=[4, 4, 1], l2_regularization=-1.0), r"`l2_regularization` .* -1.0"),
        (
            dict(event_shape=[4, 4, 1], dtype=tf.int32),
            r"`dtype` must be float32 or float64; got dtype=int32",
        ),
        (dict(event_shape=[4, 4, 1], logit_alpha=0.5), r"`alpha` must be .* got alpha=0.5"),
        (dict(event_shape=[4, 4, 1], batch_norm_momentum=1.0), r"`momentum` .* momentum=1.0"),
        (dict(event_shape=[4, 4, 1], coupling="affin"), r"`coupling` must be one of .*'affin'"),
        (dict(event_shape=[4, 4, 1], spline_bins=1), r"`spline_bins` .* got spline_bins=1"),
        (dict(event_shape=[4, 4, 1], conditioner_fn="resnet"), r"`conditioner_fn` .*'resnet'"),
        (dict(event_shape=[4, 4, 1], conditioner_fn=lambda **_: 3), r"must return a Keras layer"),
        (dict(event_shape=[4, 4, 1], squeeze_order="nchw"), r"`squeeze_order` .*'nchw'"),
        (dict(event_shape=[4, 4, 1], normalization="bn"), r"`normalization` must be .*'bn'"),
        (
            dict(event_shape=[4, 4, 1], normalization="act_norm", use_batch_norm=True),
            r"`use_batch_norm=True` contradicts normalization='act_norm'",
        ),
        (dict(event_shape=[4, 4, 1], channel_mixing="1x1"), r"`channel_mixing` .*'1x1'"),
        (dict(event_shape=[4, 4, 1], split_prior="glow"), r"`split_prior` .*'glow'"),
        (
            dict(event_shape=[4, 4, 1], memory_saving_gradients="block"),
            r"`memory_saving_gradients` must be one of .*got memory_saving_gradients='block'",
        ),
        (
            dict(event_shape=[4, 4, 1], memory_saving_gradients=1),
            r"got memory_saving_gradients=1\.",
        ),
        (
            dict(
                event_shape=[4, 4, 1],
                memory_saving_gradients="blocks",
                conditioner_fn=lambda **kwargs: ResNetConditioner(2, 1),
            ),
            r"memory_saving_gradients='blocks' recomputes the residual blocks.*conditioner_fn=<",
        ),
    ],
)
def test_flow_construction_errors(kwargs, message):
    kwargs.setdefault("num_res_blocks", 0)
    kwargs.setdefault("num_filters", 2)
    with pytest.raises(ValueError, match=message):
        RealNVPMultiScale(**kwargs)


@pytest.mark.parametrize("alpha", [0.0, 0.5, -0.1, 0.7, "0.05"])
def test_logit_alpha_outside_open_interval(alpha):
    with pytest.raises(ValueError, match=r"`alpha` must be a number in \(0, 0.5\); got alpha="):
        LogitPreprocess(alpha)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(momentum=1.0), r"`momentum` must be in \[0, 1\); got momentum=1.0"),
        (dict(momentum=-0.1), r"got momentum=-0.1"),
        (dict(epsilon=0.0), r"`epsilon` must be positive; got epsilon=0.0"),
        (dict(training_statistics="lagged"), r"training_statistics='lagged'"),
        (dict(keep_mask=np.zeros([4, 4, 2])), r"`keep_mask` must have shape .* \[4, 4, 2\]"),
    ],
)
def test_batch_norm_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MovingAverageBatchNorm([4, 4, 1], **kwargs)


@pytest.mark.parametrize(
    "bad, message",
    [(-0.5, "lie in \\[0, 1\\]"), (1.5, "lie in \\[0, 1\\]"), (np.nan, "NaN or Inf")],
)
def test_pixels_outside_the_unit_interval_or_nan_with_validate_args(bad, message):
    x = np.full([1, 4, 4, 1], 0.5, np.float32)
    x[0, 1, 2, 0] = bad
    flow = _small_flow(validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"pixel values `x`.*" + message):
        flow.inverse(tf.constant(x))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        LogitPreprocess(validate_args=True).inverse_log_det_jacobian(tf.constant(x), 3)


def test_without_validate_args_pixels_are_not_checked():
    x = tf.fill([1, 4, 4, 1], 1.5)
    assert _small_flow().inverse(x).shape == [1, 4, 4, 1]


def test_coupling_rejects_bad_masks_and_networks():
    with pytest.raises(
        ValueError, match=r"`keep_mask` must have shape \[H, W, C\]; got .*\[4, 4\]"
    ):
        MaskedAffineCoupling(np.ones([4, 4]), ResNetConditioner(2, 0))
    with pytest.raises(ValueError, match=r"`keep_mask` must contain only 0 and 1"):
        MaskedAffineCoupling(np.full([4, 4, 1], 0.5), ResNetConditioner(2, 0))
    wrong_width = keras.layers.Conv2D(3, 1)
    coupling = MaskedAffineCoupling(checkerboard_mask([4, 4, 1]), wrong_width)
    with pytest.raises(ValueError, match=r"must return 2C = 2 channels.*\(1, 4, 4, 3\)"):
        coupling.inverse(tf.zeros([1, 4, 4, 1]))
    with pytest.raises(ValueError, match=r"event shape \[4, 4, 2\].*event_shape=\[4, 4, 1\]"):
        coupling.inverse(tf.zeros([1, 4, 4, 2]))


def test_coupling_argument_errors():
    mask = checkerboard_mask([4, 4, 1])
    with pytest.raises(ValueError, match=r"`num_bins` must be an integer >= 2; got num_bins=1"):
        MaskedSplineCoupling(mask, ResNetConditioner(2, 0), num_bins=1)
    with pytest.raises(ValueError, match=r"`bound` must be a positive number; got bound=0"):
        MaskedSplineCoupling(mask, ResNetConditioner(2, 0), bound=0)
    with pytest.raises(ValueError, match=r"`output_channels` .* got output_channels=0"):
        ResNetConditioner(2, 0, output_channels=0)
    additive = MaskedAdditiveCoupling(mask, ResNetConditioner(2, 0))  # 2C outputs, C needed
    with pytest.raises(ValueError, match=r"must return C = 1 channels \(shift\)"):
        additive.inverse(tf.zeros([1, 4, 4, 1]))
    with pytest.raises(TypeError, match=r"`coupling` must be a MaskedCoupling"):
        tfp_realnvp.RecomputedCoupling(tfp.bijectors.Identity())
    with pytest.raises(ValueError, match=r"`order` must be one of .* got order='nchw'"):
        Squeeze(order="nchw")
    with pytest.raises(ValueError, match=r"`factored` must be 'first' or 'second'; got factored=1"):
        FactorOut(Squeeze(), factored=1)


@pytest.mark.parametrize("training", ["yes", 1, tf.constant(True)])
def test_training_must_be_a_python_bool_or_none(training):
    norm = MovingAverageBatchNorm([2, 2, 1])
    with pytest.raises(ValueError, match=r"`training` must be True, False or None; got training="):
        norm.inverse(tf.zeros([1, 2, 2, 1]), training=training)


def test_network_argument_errors():
    with pytest.raises(ValueError, match=r"`num_filters` must be positive; got num_filters=0"):
        ResNetConditioner(0, 1)
    with pytest.raises(ValueError, match=r"`num_res_blocks` must be >= 0; got num_res_blocks=-2"):
        ResNetConditioner(4, -2)
    with pytest.raises(ValueError, match=r"`mask_channel` must be an \[H, W\] array; got .*\[4\]"):
        ResNetConditioner(4, 1, mask_channel=np.ones([4]))
    with pytest.raises(ValueError, match=r"`mask_channel` has shape \[4, 4\] .* \[8, 8\]"):
        ResNetConditioner(4, 1, mask_channel=np.ones([4, 4])).build((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"`kernel_size` must be a positive odd .*kernel_size=2"):
        WeightNormConv2D(4, 2)


def test_merge_latents_needs_one_part_per_scale():
    flow = _small_flow()
    with pytest.raises(ValueError, match=r"one latent per scale \(2\); got 1"):
        flow.merge_latents([tf.zeros([1, 2, 2, 2])])
    with pytest.raises(ValueError, match=r"`parts\[0\]` has event shape \[2, 2, 3\]"):
        flow.merge_latents([tf.zeros([1, 2, 2, 3]), tf.zeros([1, 2, 2, 2])])
