"""The whole multi-scale Real NVP flow as one TFP bijector."""

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import FlowBijector, check_event_shape
from tfp_realnvp.multiscale import latents
from tfp_realnvp.multiscale.assembly import build_steps
from tfp_realnvp.multiscale.conditioning import checked_context
from tfp_realnvp.multiscale.options import FlowOptions
from tfp_realnvp.multiscale.steps import CHANNEL_MIXINGS, COUPLINGS, NORMALIZATIONS


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

    Each coupling (`MaskedAffineCoupling` by default, masks alternating) is followed by a
    `MovingAverageBatchNorm` of the units it transformed. Coupling networks are
    `ResNetConditioner`s (or what `conditioner_fn` builds) whose width doubles at each scale;
    channel-wise couplings get twice the checkerboard width. With L scales, the last scale sees
    [H/2^(L-1), W/2^(L-1), C*2^(L-1)].

    Squeeze orders (`squeeze_order`): with "space_to_depth" (the default) a scale squeezes with
    `tf.nn.space_to_depth`'s channel layout, runs its channel-wise couplings, factors out the
    first half of the channels and un-squeezes. With "authors" it follows the authors' code
    exactly: the channel-wise couplings see the authors' `squeeze_2x2` layout (channel-major),
    then the scale un-squeezes, squeezes again with their `squeeze_2x2_ordered` layout and
    factors out the second half, which holds the anti-diagonal pixels (1,0), (0,1) of every 2x2
    patch; the diagonal ones (0,0), (1,1) go on. (Both keep the paper's checkerboard parity,
    odd squares first; the authors' code starts with the even ones, its mirror image.)

    log|det| is the sum over every step, including the logit preprocessing, so
    `log_prob` is the density of x in [0, 1]^D (pixel space); `bits_per_dim` turns it into the
    paper's unit. Training mode is chosen per call (`training=True` in `inverse`, or
    `bijector_kwargs={"training": True}` in `log_prob`); the default is inference, a fixed,
    exactly invertible map.

    Conditional flows, p(x | c) (`conditional_shape` set): every coupling network also sees a
    context c, `flow.inverse(x, conditional_input=c)`, `flow.forward(z, conditional_input=c)`,
    or through a distribution `dist.log_prob(x, bijector_kwargs={"conditional_input": c})` and
    `dist.sample(n, bijector_kwargs={"conditional_input": c})`. c is a float tensor
    [..., *conditional_shape] with the batch shape of x (or without batch axes: one context
    for every image). The networks add a learned projection of c to their first hidden
    features (see `ResNetConditioner`); the log-det formulas hold for every c, so the
    log-likelihood is exact per context.

    Every coupling's `scale` starts at 1 and its network's last layer at 0, so a new flow is
    the identity in logit space. (The authors' code starts checkerboard scales at 0, which with
    a zero last layer would leave those log-scales without a gradient: s = scale * tanh(raw) has
    d s = 0 when scale = raw = 0.)

    Args:
      event_shape: [H, W, C]; H and W divisible by 2^(num_scales - 1).
      num_scales: L >= 1.
      num_res_blocks: residual blocks per coupling network.
      num_filters: feature maps of the first scale's checkerboard networks.
      coupling: the coupling map: "affine" (the paper, `MaskedAffineCoupling`), "additive"
        (NICE, `MaskedAdditiveCoupling`: shift only, log-det 0), "spline" (rational-quadratic
        splines, `MaskedSplineCoupling`, with `spline_bins` bins on [-3, 3]), another name
        registered with `tfp_realnvp.multiscale.register_coupling`, a `CouplingKind` or a
        `MaskedCoupling` subclass (see `tfp_realnvp.multiscale.steps`).
      spline_bins: bins K of each spline (coupling="spline"); the networks output 3K - 1
        numbers per transformed unit.
      conditioner_fn: None (the paper's `ResNetConditioner`s), or a callable building each
        coupling's network, called with the keywords `event_shape` ([H, W, C] of the
        coupling), `keep_mask` ([H, W, C] 0/1 array, 1 = passed through), `mask_kind`
        ("checkerboard" or "channel"), `num_filters` (this scale's width), `output_channels`
        (what the coupling needs), `dtype` (the networks' Keras dtype policy) and `name`, and
        in a conditional flow `conditional_shape`; it returns a Keras 3 layer
        [B, H, W, C] -> [B, H, W, output_channels], which a conditional flow calls as
        `layer(x, context=c, training=...)` with c [B, *conditional_shape] (the layer creates
        its weights in `build(input_shape)`, as the coupling builds it before the first call).
        Register it (`@keras.saving.register_keras_serializable()`) so that saved models find
        it again.
      squeeze_order: "space_to_depth" or "authors" (see above).
      logit_alpha: alpha of `LogitPreprocess` (x in [0, 1]); None: no preprocessing.
      normalization: what follows every coupling: "batch_norm" (the paper: a
        `MovingAverageBatchNorm` of the units it transformed, and batch norm inside the
        networks), "act_norm" (Glow's `ActNorm` of every unit, initialised from the first
        training batch; networks without batch norm, so nothing depends on the batch after
        the first step), None (neither), or a registered name, `NormalizationKind` or
        bijector class (`tfp_realnvp.multiscale.register_normalization`).
      use_batch_norm: the older switch, kept for saved configurations and scripts: False
        turns batch norm off (normalization=None unless another normalization is asked for);
        None (the default) leaves it to `normalization`.
      channel_mixing: None (the paper) or "invertible_1x1": Glow's `InvertibleConv1x1` before
        every channel-wise coupling, a learned mixing instead of the fixed channel halves; or
        a registered name, `ChannelMixingKind` or bijector class
        (`tfp_realnvp.multiscale.register_channel_mixing`).
      split_prior: "standard" (the paper: factored-out halves are standard normal) or
        "learned" (Glow's split prior: each factored-out half z1 gets N(mu(z2), sigma(z2)^2)
        from a zero-initialised network of the half z2 that goes on, written as an affine
        coupling of z1 given z2 just before the factor-out, so the base stays standard normal).
      batch_norm_momentum, batch_norm_epsilon: of every `MovingAverageBatchNorm`.
      batch_norm_statistics: "batch" or "running_average" (see `MovingAverageBatchNorm`).
      l2_regularization: L2 coefficient on the weight-norm magnitudes and coupling scales (the
        paper's 5e-5), attached as Keras regularizers: `keras.Model.fit` adds it to the loss;
        custom loops add `flow.regularization_loss()`.
      memory_saving_gradients: train without keeping the couplings' activations. False: keep
        them (the fastest). True or "couplings": each coupling is a `RecomputedCoupling`,
        whose gradient rebuilds the coupling's input from its output by invertibility and
        re-runs the network in the backward pass: about 4/3 of the compute, and the memory of
        one network's activations instead of all of them. "blocks": that, and inside the
        re-run each residual block keeps only its input and is run once more in the backward
        pass (`ResNetConditioner(recompute_blocks=True)`): about 5/3 of the compute, and the
        memory of one block's activations. Same values, same gradients, same moving-average
        updates in every case; only `inverse(..., training=True)` is affected. "blocks" needs
        the paper's networks (no `conditioner_fn`).
      network_dtype_policy: Keras dtype policy of the coupling networks (a name or a
        `keras.DTypePolicy`), for mixed precision: "mixed_bfloat16" runs their convolutions in
        bfloat16 with float32 weights, while the coupling arithmetic, the log-determinants,
        the batch norms after the couplings and the latents stay in `dtype`. Inverse and
        forward use the same network outputs, so they still invert each other to `dtype`'s
        precision. None: `dtype` throughout.
      conditional_shape: None (an unconditional flow, p(x)), or the shape of one context c of
        p(x | c): [K] (a vector: a one-hot label, attributes) or [h, w, K] (a feature map,
        resized to each coupling's height and width).
      validate_args: check inputs at run time (pixel values in [0, 1], not NaN).
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> flow = RealNVPMultiScale([8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=8)
      >>> dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [8, 8, 1]), flow)
      >>> images = tf.random.uniform([4, 8, 8, 1])
      >>> bits_per_dim(dist.log_prob(images), [8, 8, 1]).shape
      TensorShape([4])

      The paper's CIFAR-10 model is `RealNVPMultiScale([32, 32, 3])` (2 scales, 8 residual
      blocks, 64 feature maps); `coupling="spline"` swaps every affine map for splines.

    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017,
      https://arxiv.org/abs/1605.08803, sections 3.4-3.7.
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        num_scales: int = 2,
        num_res_blocks: int = 8,
        num_filters: int = 64,
        coupling: str | type = "affine",
        spline_bins: int = 8,
        conditioner_fn: Callable[..., keras.layers.Layer] | None = None,
        squeeze_order: str = "space_to_depth",
        normalization: str | type | None = "batch_norm",
        channel_mixing: str | type | None = None,
        split_prior: str = "standard",
        logit_alpha: float | None = 0.05,
        use_batch_norm: bool | None = None,
        batch_norm_momentum: float = 0.9,
        batch_norm_epsilon: float = 1e-4,
        batch_norm_statistics: str = "batch",
        l2_regularization: float = 5e-5,
        memory_saving_gradients: bool | str = False,
        network_dtype_policy: str | keras.DTypePolicy | None = None,
        conditional_shape: Sequence[int] | None = None,
        validate_args: bool = False,
        dtype: tf.DType | str = tf.float32,
        name: str = "real_nvp_multiscale",
    ) -> None:
        parameters = dict(locals())
        arguments = {
            k: v for k, v in parameters.items() if k not in ("self", "validate_args", "name")
        }
        options = FlowOptions(**{k: v for k, v in arguments.items() if not k.startswith("__")})
        if options.conditional_shape is not None:
            parameters["conditional_shape"] = list(options.conditional_shape)
        with tf.name_scope(name) as name:
            self._options = options
            # A tuple of factor-outs: a list attribute would be tracked as a mutable
            # ListWrapper, which SavedModel export refuses.
            self._flow, self._factor_outs = build_steps(options, validate_args)
            super().__init__(
                forward_min_event_ndims=3,
                validate_args=validate_args,
                dtype=options.dtype,
                parameters=parameters,
                name=name,
            )

    # -- the map --------------------------------------------------------------------------------

    @property
    def options(self) -> FlowOptions:
        """The flow's checked options (`FlowOptions`)."""
        return self._options

    @property
    def event_shape(self) -> list[int]:
        """[H, W, C] of the images (and of the latents)."""
        return list(self._options.event_shape)

    @property
    def num_scales(self) -> int:
        return self._options.num_scales

    @property
    def conditional_shape(self):
        """The shape of one context c ([K] or [h, w, K]); None for an unconditional flow."""
        shape = self._options.conditional_shape
        return None if shape is None else list(shape)

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        check_event_shape(x, self.event_shape, "x", self.name)
        context = checked_context(conditional_input, x, self.conditional_shape, "x", self)
        return self._flow._inverse_and_log_det(x, training, context)

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        check_event_shape(z, self.event_shape, "z", self.name)
        context = checked_context(conditional_input, z, self.conditional_shape, "z", self)
        return self._flow._forward_and_log_det(z, training, context)

    def get_config(self) -> dict:
        """The constructor's arguments but `name`, JSON-friendly: `from_config` rebuilds the flow.

        Step kinds are saved by their registered names; a `conditioner_fn` the Keras way
        (`keras.saving.serialize_keras_object`), so a function registered with
        `@keras.saving.register_keras_serializable()` is found again when the flow is rebuilt,
        in another process too.
        """
        config = {
            key: value
            for key, value in self.parameters.items()
            if key not in ("self", "name") and not key.startswith("__")
        }
        config["event_shape"] = [int(d) for d in config["event_shape"]]
        config["dtype"] = tf.as_dtype(config["dtype"]).name
        config["coupling"] = COUPLINGS.name_of(config["coupling"])
        config["normalization"] = NORMALIZATIONS.name_of(config["normalization"])
        config["channel_mixing"] = CHANNEL_MIXINGS.name_of(config["channel_mixing"])
        if config["network_dtype_policy"] is not None:
            policy = keras.dtype_policies.get(config["network_dtype_policy"])
            config["network_dtype_policy"] = policy.name
        if config["conditioner_fn"] is not None:
            config["conditioner_fn"] = keras.saving.serialize_keras_object(config["conditioner_fn"])
        return config

    @classmethod
    def from_config(cls, config: dict) -> "RealNVPMultiScale":
        """The flow of `get_config()`'s dict (its weights are new)."""
        config = dict(config)
        if isinstance(config.get("conditioner_fn"), dict):
            config["conditioner_fn"] = keras.saving.deserialize_keras_object(
                config["conditioner_fn"]
            )
        return cls(**config)

    def regularization_loss(self) -> tf.Tensor:
        """The L2 penalty on weight-norm magnitudes and coupling scales (0 if none): a scalar."""
        losses = [loss for layer in self.keras_layers for loss in layer.losses]
        return tf.add_n(losses) if losses else tf.zeros([], self.dtype)

    # -- latents per scale ----------------------------------------------------------------------

    def latent_shapes(self) -> list[list[int]]:
        """The event shape of each scale's part of the latent, first scale first."""
        return latents.latent_shapes(self.event_shape, self.num_scales)

    def split_latents(self, z: tf.Tensor) -> list[tf.Tensor]:
        """Splits latents [..., H, W, C] into one part per scale (`latent_shapes()`).

        Scale l's part is what that scale factored out (the last scale's, what reached it):
        squeeze, take the factored-out half of the channels, and repeat on the other half.
        """
        z = tf.convert_to_tensor(z, dtype=self.dtype)
        order = self._options.squeeze_orders[1]
        return latents.split_latents(z, self._factor_outs, order, self.event_shape, self.name)

    def merge_latents(self, parts: Sequence[tf.Tensor]) -> tf.Tensor:
        """The inverse of `split_latents`: one latent [..., H, W, C] from the parts per scale."""
        parts = [tf.convert_to_tensor(p, dtype=self.dtype) for p in parts]
        order = self._options.squeeze_orders[1]
        return latents.merge_latents(parts, self._factor_outs, order, self.event_shape, self.name)
