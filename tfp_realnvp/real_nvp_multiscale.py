"""The whole multi-scale Real NVP flow as one TFP bijector."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.factor_out import FactorOut
from tfp_realnvp.bijectors.flow_bijector import FlowBijector, check_event_shape
from tfp_realnvp.bijectors.flow_sequence import FlowSequence
from tfp_realnvp.bijectors.logit_preprocess import LogitPreprocess
from tfp_realnvp.bijectors.masked_affine_coupling import MaskedAffineCoupling
from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask
from tfp_realnvp.bijectors.moving_average_batch_norm import MovingAverageBatchNorm
from tfp_realnvp.bijectors.recompute import RecomputedCoupling
from tfp_realnvp.bijectors.squeeze import Squeeze, squeeze_2x2, unsqueeze_2x2
from tfp_realnvp.networks.resnet_conditioner import ResNetConditioner

tfb = tfp.bijectors


class RealNVPMultiScale(FlowBijector):
    """Multi-scale Real NVP: images [..., H, W, C] <-> latents of the same shape.

    TFP's convention: `forward` samples (latent z -> image x), `inverse` is the paper's f
    (x -> z), so `tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), event_shape), flow)`
    has the exact log-likelihood. The paper's f, scale by scale:

        x --logit--> scale 1: 3 checkerboard couplings, squeeze, 3 channel-wise couplings,
                              factor out half of the channels (final latents),
                     scale 2: the same on the other half, ...
                     scale L: 4 checkerboard couplings
        and un-squeeze back, so z has the image's shape [H, W, C].

    Each coupling (`MaskedAffineCoupling`, masks alternating) is followed by a
    `MovingAverageBatchNorm` of the units it transformed. Coupling networks are
    `ResNetConditioner`s whose width doubles at each scale; channel-wise couplings get twice the
    checkerboard width. With L scales, the last scale sees [H/2^(L-1), W/2^(L-1), C*2^(L-1)].

    log|det| is the sum over every step, including the logit preprocessing, so
    `log_prob` is the density of x in [0, 1]^D (pixel space); `bits_per_dim` turns it into the
    paper's unit. Training mode is chosen per call (`training=True` in `inverse`, or
    `bijector_kwargs={"training": True}` in `log_prob`); the default is inference, a fixed,
    exactly invertible map.

    Every coupling's `scale` starts at 1 and its network's last layer at 0, so a new flow is
    the identity in logit space. (The authors' code starts checkerboard scales at 0, which with
    a zero last layer would leave those log-scales without a gradient: s = scale * tanh(raw) has
    d s = 0 when scale = raw = 0.)

    Args:
      event_shape: [H, W, C]; H and W divisible by 2^(num_scales - 1).
      num_scales: L >= 1.
      num_res_blocks: residual blocks per coupling network.
      num_filters: feature maps of the first scale's checkerboard networks.
      logit_alpha: alpha of `LogitPreprocess` (x in [0, 1]); None: no preprocessing.
      use_batch_norm: batch normalisation in the networks and after every coupling.
      batch_norm_momentum, batch_norm_epsilon: of every `MovingAverageBatchNorm`.
      batch_norm_statistics: "batch" or "running_average" (see `MovingAverageBatchNorm`).
      l2_regularization: L2 coefficient on the weight-norm magnitudes and coupling scales (the
        paper's 5e-5), attached as Keras regularizers: `keras.Model.fit` adds it to the loss;
        custom loops add `flow.regularization_loss()`.
      memory_saving_gradients: train without keeping the couplings' activations: each coupling
        (with its batch norm) is a `RecomputedCoupling`, whose gradient rebuilds the coupling's
        input from its output by invertibility and re-runs the network in the backward pass.
        Same values, same gradients, same moving-average updates; about 4/3 of the compute
        and a fraction of the peak memory. Only `inverse(..., training=True)` is affected.
      network_dtype_policy: Keras dtype policy of the coupling networks (a name or a
        `keras.DTypePolicy`), for mixed precision: "mixed_bfloat16" runs their convolutions in
        bfloat16 with float32 weights, while the coupling arithmetic, the log-determinants,
        the batch norms after the couplings and the latents stay in `dtype`. Inverse and
        forward use the same network outputs, so they still invert each other to `dtype`'s
        precision. None: `dtype` throughout.
      validate_args: check inputs at run time (pixel values in [0, 1], not NaN).
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> flow = RealNVPMultiScale([32, 32, 3], num_scales=2, num_res_blocks=8, num_filters=64)
      >>> dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [32, 32, 3]), flow)
      >>> bpd = bits_per_dim(dist.log_prob(images), [32, 32, 3])

    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017,
      https://arxiv.org/abs/1605.08803, sections 3.4-3.7.
    """

    def __init__(
        self,
        event_shape,
        *,
        num_scales=2,
        num_res_blocks=8,
        num_filters=64,
        logit_alpha=0.05,
        use_batch_norm=True,
        batch_norm_momentum=0.9,
        batch_norm_epsilon=1e-4,
        batch_norm_statistics="batch",
        l2_regularization=5e-5,
        memory_saving_gradients=False,
        network_dtype_policy=None,
        validate_args=False,
        dtype=tf.float32,
        name="real_nvp_multiscale",
    ):
        parameters = dict(locals())
        event_shape = _checked_event_shape(event_shape, num_scales)
        for arg_name, value, minimum in (
            ("num_res_blocks", num_res_blocks, 0),
            ("num_filters", num_filters, 1),
        ):
            if not isinstance(value, int) or value < minimum:
                raise ValueError(f"`{arg_name}` must be an integer >= {minimum}; got {value!r}.")
        if l2_regularization < 0:
            raise ValueError(f"`l2_regularization` must be >= 0; got {l2_regularization!r}.")
        dtype = tf.as_dtype(dtype)
        if dtype not in (tf.float32, tf.float64):
            raise ValueError(f"`dtype` must be float32 or float64; got dtype={dtype.name}.")
        network_policy = _checked_network_policy(network_dtype_policy, dtype)
        with tf.name_scope(name) as name:
            self._event_shape = event_shape
            self._num_scales = num_scales
            self._config = dict(
                num_res_blocks=num_res_blocks,
                num_filters=num_filters,
                use_batch_norm=use_batch_norm,
                momentum=batch_norm_momentum,
                epsilon=batch_norm_epsilon,
                statistics=batch_norm_statistics,
                regularizer=keras.regularizers.L2(l2_regularization) if l2_regularization else None,
                memory_saving_gradients=bool(memory_saving_gradients),
                network_policy=network_policy,
                dtype=dtype,
            )
            steps = [] if logit_alpha is None else [LogitPreprocess(logit_alpha, validate_args)]
            steps.append(self._scale(event_shape, 0))
            self._flow = FlowSequence(steps, name="steps")
            super().__init__(
                forward_min_event_ndims=3,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    # -- construction ---------------------------------------------------------------------------

    def _scale(self, shape, index):
        """The flow steps of scale `index` (0-based) on events `shape`, in data -> latent order."""
        height, width, channels = shape
        filters = self._config["num_filters"] * 2**index
        last = index == self._num_scales - 1
        steps = []
        for i in range(4 if last else 3):
            mask = checkerboard_mask(shape, parity=(i + 1) % 2)
            steps += self._coupling(f"scale_{index}_checkerboard_{i}", mask, filters, True)
        if last:
            return FlowSequence(steps, name=f"scale_{index}")
        squeezed = [height // 2, width // 2, 4 * channels]
        steps.append(Squeeze())
        for i in range(3):
            mask = channel_mask(squeezed, keep_first_half=i % 2 == 0)
            steps += self._coupling(f"scale_{index}_channel_{i}", mask, 2 * filters, False)
        next_shape = [height // 2, width // 2, 2 * channels]
        steps.append(FactorOut(self._scale(next_shape, index + 1)))
        steps.append(tfb.Invert(Squeeze()))
        return FlowSequence(steps, name=f"scale_{index}")

    def _coupling(self, name, keep_mask, filters, checkerboard):
        """A coupling and, with batch norm, the normalisation of the units it transformed."""
        config = self._config
        conditioner = ResNetConditioner(
            filters,
            config["num_res_blocks"],
            mask_channel=keep_mask[..., 0] if checkerboard else None,
            use_batch_norm=config["use_batch_norm"],
            magnitude_regularizer=config["regularizer"],
            dtype=config["network_policy"],
            name=f"{name}_network",
        )
        coupling = MaskedAffineCoupling(
            keep_mask,
            conditioner,
            scale_regularizer=config["regularizer"],
            dtype=config["dtype"],
            name=name,
        )
        batch_norm = None
        if config["use_batch_norm"]:
            batch_norm = MovingAverageBatchNorm(
                keep_mask.shape,
                keep_mask=keep_mask,
                momentum=config["momentum"],
                epsilon=config["epsilon"],
                training_statistics=config["statistics"],
                dtype=config["dtype"],
                name=f"{name}_batch_norm",
            )
        if config["memory_saving_gradients"]:
            return [RecomputedCoupling(coupling, batch_norm, name=f"{name}_recomputed")]
        return [coupling] if batch_norm is None else [coupling, batch_norm]

    # -- the map --------------------------------------------------------------------------------

    @property
    def event_shape(self):
        """[H, W, C] of the images (and of the latents)."""
        return list(self._event_shape)

    @property
    def num_scales(self):
        return self._num_scales

    def _inverse_and_log_det(self, x, training=False):
        check_event_shape(x, self._event_shape, "x", self.name)
        return self._flow._inverse_and_log_det(x, training=training)

    def _forward_and_log_det(self, z, training=False):
        check_event_shape(z, self._event_shape, "z", self.name)
        return self._flow._forward_and_log_det(z, training=training)

    def regularization_loss(self):
        """The L2 penalty on weight-norm magnitudes and coupling scales (0 if none): a scalar."""
        losses = [loss for layer in self.keras_layers for loss in layer.losses]
        return tf.add_n(losses) if losses else tf.zeros([], self.dtype)

    # -- latents per scale ----------------------------------------------------------------------

    def latent_shapes(self):
        """The event shape of each scale's part of the latent, first scale first."""
        height, width, channels = self._event_shape
        shapes = []
        for _ in range(self._num_scales - 1):
            height, width, channels = height // 2, width // 2, 2 * channels
            shapes.append([height, width, channels])
        shapes.append([height, width, channels])
        return shapes

    def split_latents(self, z):
        """Splits latents [..., H, W, C] into one part per scale (`latent_shapes()`).

        Scale l's part is what that scale factored out (the last scale's, what reached it):
        squeeze, take the first half of the channels, and repeat on the second half.
        """
        z = tf.convert_to_tensor(z, dtype=self.dtype)
        check_event_shape(z, self._event_shape, "z", self.name)
        parts = []
        for _ in range(self._num_scales - 1):
            factored, z = tf.split(squeeze_2x2(z), 2, axis=-1)
            parts.append(factored)
        parts.append(z)
        return parts

    def merge_latents(self, parts):
        """The inverse of `split_latents`: one latent [..., H, W, C] from the parts per scale."""
        if len(parts) != self._num_scales:
            raise ValueError(
                f"`parts` must hold one latent per scale ({self._num_scales}); got {len(parts)}."
            )
        parts = [tf.convert_to_tensor(p, dtype=self.dtype) for p in parts]
        for index, (part, shape) in enumerate(zip(parts, self.latent_shapes(), strict=True)):
            check_event_shape(part, shape, f"parts[{index}]", self.name)
        z = parts[-1]
        for factored in reversed(parts[:-1]):
            z = unsqueeze_2x2(tf.concat([factored, z], axis=-1))
        return z


def _checked_network_policy(network_dtype_policy, dtype):
    """The Keras dtype policy of the coupling networks; its variables must be in `dtype`."""
    if network_dtype_policy is None:
        return keras.DTypePolicy(dtype.name)
    try:
        policy = keras.dtype_policies.get(network_dtype_policy)
    except ValueError as error:
        raise ValueError(
            "`network_dtype_policy` must be a Keras dtype policy such as 'mixed_bfloat16'; "
            f"got network_dtype_policy={network_dtype_policy!r}."
        ) from error
    if policy.variable_dtype != dtype.name:
        raise ValueError(
            f"`network_dtype_policy` must keep the networks' weights in dtype={dtype.name}; "
            f"got network_dtype_policy={policy.name!r} (weights in {policy.variable_dtype})."
        )
    return policy


def _checked_event_shape(event_shape, num_scales):
    if not isinstance(num_scales, int) or num_scales < 1:
        raise ValueError(f"`num_scales` must be an integer >= 1; got num_scales={num_scales!r}.")
    shape = [int(d) for d in event_shape]
    if len(shape) != 3 or min(shape) <= 0:
        raise ValueError(f"`event_shape` must be [H, W, C] with positive sizes; got {shape}.")
    factor = 2 ** (num_scales - 1)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"With num_scales={num_scales}, height and width are squeezed {num_scales - 1} "
            f"time(s) and must be divisible by {factor}; got event_shape={shape}."
        )
    return shape
