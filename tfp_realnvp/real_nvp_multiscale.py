"""The whole multi-scale Real NVP flow as one TFP bijector."""

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.act_norm import ActNorm
from tfp_realnvp.bijectors.factor_out import FactorOut
from tfp_realnvp.bijectors.flow_bijector import (
    FlowBijector,
    check_event_shape,
    image_event_shape,
)
from tfp_realnvp.bijectors.flow_sequence import FlowSequence
from tfp_realnvp.bijectors.invertible_conv_1x1 import InvertibleConv1x1
from tfp_realnvp.bijectors.logit_preprocess import LogitPreprocess
from tfp_realnvp.bijectors.masked_additive_coupling import MaskedAdditiveCoupling
from tfp_realnvp.bijectors.masked_affine_coupling import MaskedAffineCoupling
from tfp_realnvp.bijectors.masked_spline_coupling import MaskedSplineCoupling
from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask
from tfp_realnvp.bijectors.moving_average_batch_norm import MovingAverageBatchNorm
from tfp_realnvp.bijectors.recomputed_coupling import RecomputedCoupling
from tfp_realnvp.bijectors.squeeze import Squeeze, squeeze_2x2, unsqueeze_2x2
from tfp_realnvp.networks.context_projection import conditional_event_shape, describe_value
from tfp_realnvp.networks.l2_penalty import L2Penalty
from tfp_realnvp.networks.resnet_conditioner import ResNetConditioner

tfb = tfp.bijectors

COUPLINGS = ("affine", "additive", "spline")
NORMALIZATIONS = ("batch_norm", "act_norm", None)
CHANNEL_MIXINGS = (None, "invertible_1x1")
SPLIT_PRIORS = ("standard", "learned")
# memory_saving_gradients: what is recomputed in the backward pass (True means "couplings").
MEMORY_SAVINGS = (False, True, "couplings", "blocks")
# squeeze_order -> (order of the squeeze before the channel-wise couplings,
#                   order of the squeeze at the factor-out, which half is factored out)
SQUEEZE_ORDERS = {
    "space_to_depth": ("space_to_depth", "space_to_depth", "first"),
    "authors": ("authors", "authors_diagonal_first", "second"),
}


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
        (NICE, `MaskedAdditiveCoupling`: shift only, log-det 0) or "spline" (rational-quadratic
        splines, `MaskedSplineCoupling`, with `spline_bins` bins on [-3, 3]).
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
        the first step) or None (neither).
      use_batch_norm: the older switch, kept for saved configurations and scripts: False
        turns batch norm off (normalization=None unless another normalization is asked for);
        None (the default) leaves it to `normalization`.
      channel_mixing: None (the paper) or "invertible_1x1": Glow's `InvertibleConv1x1` before
        every channel-wise coupling, a learned mixing instead of the fixed channel halves.
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
        coupling: str = "affine",
        spline_bins: int = 8,
        conditioner_fn: Callable[..., keras.layers.Layer] | None = None,
        squeeze_order: str = "space_to_depth",
        normalization: str | None = "batch_norm",
        channel_mixing: str | None = None,
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
        event_shape = _checked_event_shape(event_shape, num_scales)
        for arg_name, value, minimum in (
            ("num_res_blocks", num_res_blocks, 0),
            ("num_filters", num_filters, 1),
        ):
            if not isinstance(value, int) or value < minimum:
                raise ValueError(f"`{arg_name}` must be an integer >= {minimum}; got {value!r}.")
        if coupling not in COUPLINGS:
            raise ValueError(f"`coupling` must be one of {COUPLINGS}; got coupling={coupling!r}.")
        if isinstance(spline_bins, bool) or not isinstance(spline_bins, int) or spline_bins < 2:
            raise ValueError(
                f"`spline_bins` must be an integer >= 2; got spline_bins={spline_bins!r}."
            )
        if conditioner_fn is not None and not callable(conditioner_fn):
            raise ValueError(
                "`conditioner_fn` must be None or a callable returning a Keras layer; "
                f"got conditioner_fn={conditioner_fn!r}."
            )
        if squeeze_order not in SQUEEZE_ORDERS:
            raise ValueError(
                f"`squeeze_order` must be one of {tuple(SQUEEZE_ORDERS)}; "
                f"got squeeze_order={squeeze_order!r}."
            )
        normalization = _checked_normalization(normalization, use_batch_norm)
        if channel_mixing not in CHANNEL_MIXINGS:
            raise ValueError(
                f"`channel_mixing` must be one of {CHANNEL_MIXINGS}; "
                f"got channel_mixing={channel_mixing!r}."
            )
        if split_prior not in SPLIT_PRIORS:
            raise ValueError(
                f"`split_prior` must be one of {SPLIT_PRIORS}; got split_prior={split_prior!r}."
            )
        memory_saving = _checked_memory_saving(memory_saving_gradients, conditioner_fn)
        if l2_regularization < 0:
            raise ValueError(f"`l2_regularization` must be >= 0; got {l2_regularization!r}.")
        dtype = tf.as_dtype(dtype)
        if dtype not in (tf.float32, tf.float64):
            raise ValueError(f"`dtype` must be float32 or float64; got dtype={dtype.name}.")
        network_policy = _checked_network_policy(network_dtype_policy, dtype)
        if conditional_shape is not None:
            conditional_shape = conditional_event_shape(conditional_shape)
            parameters["conditional_shape"] = conditional_shape
        with tf.name_scope(name) as name:
            self._event_shape = event_shape
            self._num_scales = num_scales
            # A tuple: tf.Module would wrap a list in a ListWrapper.
            self._conditional_shape = conditional_shape and tuple(conditional_shape)
            self._config = dict(
                coupling=coupling,
                spline_bins=spline_bins,
                conditioner_fn=conditioner_fn,
                squeeze_orders=SQUEEZE_ORDERS[squeeze_order],
                num_res_blocks=num_res_blocks,
                num_filters=num_filters,
                normalization=normalization,
                channel_mixing=channel_mixing,
                split_prior=split_prior,
                momentum=batch_norm_momentum,
                epsilon=batch_norm_epsilon,
                statistics=batch_norm_statistics,
                regularizer=L2Penalty(l2_regularization) if l2_regularization else None,
                memory_saving=memory_saving,
                network_policy=network_policy,
                dtype=dtype,
            )
            steps = [] if logit_alpha is None else [LogitPreprocess(logit_alpha, validate_args)]
            factor_outs = []  # one per scale but the last, outermost first, filled by _scale
            steps.append(self._scale(event_shape, 0, factor_outs))
            # A tuple: a list attribute would be tracked as a mutable ListWrapper, which
            # SavedModel export refuses.
            self._factor_outs = tuple(factor_outs)
            self._flow = FlowSequence(steps, name="steps")
            super().__init__(
                forward_min_event_ndims=3,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    # -- construction ---------------------------------------------------------------------------

    def _scale(self, shape, index, factor_outs):
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
        coupling_order, factor_out_order, factored = self._config["squeeze_orders"]
        squeezed = [height // 2, width // 2, 4 * channels]
        steps.append(Squeeze(coupling_order))
        for i in range(3):
            name = f"scale_{index}_channel_{i}"
            if self._config["channel_mixing"] == "invertible_1x1":
                steps.append(InvertibleConv1x1(squeezed, **self._step_options(f"{name}_mixing")))
            mask = channel_mask(squeezed, keep_first_half=i % 2 == 0)
            steps += self._coupling(name, mask, 2 * filters, False)
        if factor_out_order != coupling_order:
            steps += [tfb.Invert(Squeeze(coupling_order)), Squeeze(factor_out_order)]
        if self._config["split_prior"] == "learned":
            # An affine coupling of the factored-out half given the half that goes on.
            mask = channel_mask(squeezed, keep_first_half=factored == "second")
            name = f"scale_{index}_split_prior"
            steps += self._coupling(name, mask, 2 * filters, False, normalized=False)
        next_shape = [height // 2, width // 2, 2 * channels]
        factor_out = FactorOut(self._scale(next_shape, index + 1, factor_outs), factored=factored)
        factor_outs.insert(0, factor_out)  # after the inner scales': outermost first
        steps.append(factor_out)
        steps.append(tfb.Invert(Squeeze(factor_out_order)))
        return FlowSequence(steps, name=f"scale_{index}")

    def _step_options(self, name):
        return dict(dtype=self._config["dtype"], name=name)

    def _coupling(self, name, keep_mask, filters, checkerboard, normalized=True):
        """A coupling and, if `normalized`, the normalisation step after it."""
        config = self._config
        kind = config["coupling"]
        per_unit = {
            "affine": MaskedAffineCoupling.params_per_unit,
            "additive": MaskedAdditiveCoupling.params_per_unit,
            "spline": MaskedSplineCoupling.params_for_bins(config["spline_bins"]),
        }[kind]
        network_arguments = dict(
            event_shape=list(keep_mask.shape),
            keep_mask=keep_mask,
            mask_kind="checkerboard" if checkerboard else "channel",
            num_filters=filters,
            output_channels=per_unit * keep_mask.shape[-1],
            dtype=config["network_policy"],
            name=f"{name}_network",
        )
        if self._conditional_shape is not None:
            network_arguments["conditional_shape"] = self.conditional_shape
        make_network = config["conditioner_fn"] or self._resnet_conditioner
        conditioner = make_network(**network_arguments)
        if not isinstance(conditioner, keras.layers.Layer):
            raise ValueError(
                "`conditioner_fn` must return a Keras layer; "
                f"got {conditioner!r} for {network_arguments['name']}."
            )
        common = self._step_options(name)
        if kind == "affine":
            coupling = MaskedAffineCoupling(
                keep_mask, conditioner, scale_regularizer=config["regularizer"], **common
            )
        elif kind == "additive":
            coupling = MaskedAdditiveCoupling(keep_mask, conditioner, **common)
        else:
            coupling = MaskedSplineCoupling(
                keep_mask, conditioner, num_bins=config["spline_bins"], **common
            )
        if config["memory_saving"] is not None:
            coupling = RecomputedCoupling(coupling, name=f"{name}_recomputed")
        normalization = config["normalization"] if normalized else None
        if normalization == "batch_norm":
            return [
                coupling,
                MovingAverageBatchNorm(
                    keep_mask.shape,
                    keep_mask=keep_mask,
                    momentum=config["momentum"],
                    epsilon=config["epsilon"],
                    training_statistics=config["statistics"],
                    **self._step_options(f"{name}_batch_norm"),
                ),
            ]
        if normalization == "act_norm":
            return [coupling, ActNorm(keep_mask.shape, **self._step_options(f"{name}_act_norm"))]
        return [coupling]

    def _resnet_conditioner(
        self,
        *,
        keep_mask,
        mask_kind,
        num_filters,
        output_channels,
        dtype,
        name,
        conditional_shape=None,
        **_,
    ):
        """The paper's coupling network: the default `conditioner_fn`."""
        config = self._config
        return ResNetConditioner(
            num_filters,
            config["num_res_blocks"],
            mask_channel=keep_mask[..., 0] if mask_kind == "checkerboard" else None,
            use_batch_norm=config["normalization"] == "batch_norm",
            magnitude_regularizer=config["regularizer"],
            output_channels=output_channels,
            conditional_shape=conditional_shape,
            recompute_blocks=config["memory_saving"] == "blocks",
            dtype=dtype,
            name=name,
        )

    # -- the map --------------------------------------------------------------------------------

    @property
    def event_shape(self) -> list[int]:
        """[H, W, C] of the images (and of the latents)."""
        return list(self._event_shape)

    @property
    def num_scales(self) -> int:
        return self._num_scales

    @property
    def conditional_shape(self):
        """The shape of one context c ([K] or [h, w, K]); None for an unconditional flow."""
        return None if self._conditional_shape is None else list(self._conditional_shape)

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        check_event_shape(x, self._event_shape, "x", self.name)
        context = self._context(conditional_input, x, "x")
        return self._flow._inverse_and_log_det(x, training, context)

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        check_event_shape(z, self._event_shape, "z", self.name)
        context = self._context(conditional_input, z, "z")
        return self._flow._forward_and_log_det(z, training, context)

    def _context(self, conditional_input, images, arg_name):
        """The context of `images` [..., H, W, C]: checked, in the flow's dtype, batch-shaped."""
        shape = self.conditional_shape
        if shape is None:
            if conditional_input is not None:
                raise ValueError(
                    f"{self.name}: this flow is unconditional (conditional_shape=None), so "
                    "`conditional_input` must be None; got conditional_input="
                    f"{describe_value(conditional_input)}. Build it with "
                    "RealNVPMultiScale(..., conditional_shape=[...]) to condition it."
                )
            return None
        if conditional_input is None:
            raise ValueError(
                f"{self.name}: this flow is conditional (conditional_shape={shape}), so "
                f"`conditional_input` must be a context of shape [..., {_dims(shape)}]: "
                f"{'inverse' if arg_name == 'x' else 'forward'}({arg_name}, conditional_input=c) "
                "or bijector_kwargs={'conditional_input': c}; got conditional_input=None."
            )
        context = tf.convert_to_tensor(conditional_input)
        if not context.dtype.is_floating:
            raise ValueError(
                f"{self.name}: `conditional_input` must be a float tensor (class labels as "
                f"one-hot vectors, tf.one_hot(labels, K)); got conditional_input="
                f"{describe_value(context)}."
            )
        context = tf.cast(context, self.dtype)
        rank = context.shape.rank
        event_rank = len(shape)
        if rank is None or rank < event_rank or context.shape[rank - event_rank :] != shape:
            raise ValueError(
                f"{self.name}: `conditional_input` must have shape [..., {_dims(shape)}] "
                f"(conditional_shape={shape}); got conditional_input={describe_value(context)}."
            )
        batch_shape = images.shape[:-3]
        if rank == event_rank:  # one context for every image
            context = tf.broadcast_to(context, tf.concat([tf.shape(images)[:-3], shape], 0))
            return tf.ensure_shape(context, batch_shape.concatenate(shape))
        if not context.shape[: rank - event_rank].is_compatible_with(batch_shape):
            raise ValueError(
                f"{self.name}: `conditional_input` must have the batch shape of `{arg_name}`, "
                f"{batch_shape.as_list()} (or none: one context for all); got "
                f"conditional_input={describe_value(context)} for {arg_name} of shape "
                f"{images.shape.as_list()}."
            )
        if self.validate_args:
            check = tf.debugging.assert_equal(
                tf.shape(context)[: rank - event_rank],
                tf.shape(images)[:-3],
                message=f"`conditional_input` must have the batch shape of `{arg_name}`",
            )
            with tf.control_dependencies([check]):
                context = tf.identity(context)
        return context

    def get_config(self) -> dict:
        """The constructor's arguments but `name`, JSON-friendly: `from_config` rebuilds the flow.

        A `conditioner_fn` is stored the Keras way (`keras.saving.serialize_keras_object`), so
        a function registered with `@keras.saving.register_keras_serializable()` is found again
        when the flow is rebuilt, in another process too.
        """
        config = {
            key: value
            for key, value in self.parameters.items()
            if key not in ("self", "name") and not key.startswith("__")
        }
        config["event_shape"] = [int(d) for d in config["event_shape"]]
        config["dtype"] = tf.as_dtype(config["dtype"]).name
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
        height, width, channels = self._event_shape
        shapes = []
        for _ in range(self._num_scales - 1):
            height, width, channels = height // 2, width // 2, 2 * channels
            shapes.append([height, width, channels])
        shapes.append([height, width, channels])
        return shapes

    def split_latents(self, z: tf.Tensor) -> list[tf.Tensor]:
        """Splits latents [..., H, W, C] into one part per scale (`latent_shapes()`).

        Scale l's part is what that scale factored out (the last scale's, what reached it):
        squeeze, take the factored-out half of the channels, and repeat on the other half.
        """
        z = tf.convert_to_tensor(z, dtype=self.dtype)
        check_event_shape(z, self._event_shape, "z", self.name)
        order = self._config["squeeze_orders"][1]
        parts = []
        for factor_out in self._factor_outs:
            factored, z = factor_out.split(squeeze_2x2(z, order), "z")
            parts.append(factored)
        parts.append(z)
        return parts

    def merge_latents(self, parts: Sequence[tf.Tensor]) -> tf.Tensor:
        """The inverse of `split_latents`: one latent [..., H, W, C] from the parts per scale."""
        if len(parts) != self._num_scales:
            raise ValueError(
                f"`parts` must hold one latent per scale ({self._num_scales}); got {len(parts)}."
            )
        parts = [tf.convert_to_tensor(p, dtype=self.dtype) for p in parts]
        for index, (part, shape) in enumerate(zip(parts, self.latent_shapes(), strict=True)):
            check_event_shape(part, shape, f"parts[{index}]", self.name)
        order = self._config["squeeze_orders"][1]
        z = parts[-1]
        for factor_out, factored in reversed(list(zip(self._factor_outs, parts[:-1], strict=True))):
            z = unsqueeze_2x2(factor_out.merge(factored, z), order)
        return z


def _checked_normalization(normalization, use_batch_norm):
    """`normalization`, reconciled with the older `use_batch_norm` switch."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {NORMALIZATIONS}; got normalization={normalization!r}."
        )
    if use_batch_norm is None:
        return normalization
    if use_batch_norm not in (True, False):
        raise ValueError(
            f"`use_batch_norm` must be True, False or None; got use_batch_norm={use_batch_norm!r}."
        )
    if use_batch_norm and normalization != "batch_norm":
        raise ValueError(
            f"`use_batch_norm=True` contradicts normalization={normalization!r}; "
            "pass `normalization` alone."
        )
    # use_batch_norm=False turns batch norm off (the default normalization) and nothing else.
    return None if normalization == "batch_norm" and not use_batch_norm else normalization


def _checked_memory_saving(memory_saving_gradients, conditioner_fn):
    """None (keep every activation), "couplings" or "blocks" (see the class docstring)."""
    value = memory_saving_gradients
    if isinstance(value, str) and value in MEMORY_SAVINGS:
        level = value
    elif isinstance(value, bool):
        level = "couplings" if value else None
    else:
        raise ValueError(
            f"`memory_saving_gradients` must be one of {MEMORY_SAVINGS}; "
            f"got memory_saving_gradients={value!r}."
        )
    if level == "blocks" and conditioner_fn is not None:
        raise ValueError(
            "memory_saving_gradients='blocks' recomputes the residual blocks of the paper's "
            "networks, and a `conditioner_fn` builds networks of its own; got "
            f"conditioner_fn={conditioner_fn!r}. Use memory_saving_gradients=True."
        )
    return level


def _dims(shape):
    return ", ".join(str(d) for d in shape)


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
    shape = image_event_shape(event_shape)
    factor = 2 ** (num_scales - 1)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"With num_scales={num_scales}, height and width are squeezed {num_scales - 1} "
            f"time(s) and must be divisible by {factor}; got event_shape={shape}."
        )
    return shape
