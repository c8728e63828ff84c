"""The steps of a multi-scale flow, scale by scale, from its `FlowOptions`.

In data -> latent order (the paper's f), scale l of L (0-based, on events [H, W, C]):

    l < L - 1:  3 checkerboard couplings, squeeze, [mixing,] 3 channel-wise couplings,
                [learned split prior,] factor out half of the channels (scale l + 1 goes on
                with the other half), un-squeeze
    l = L - 1:  4 checkerboard couplings

each coupling followed by the normalization kind's step. Networks get `num_filters * 2^l`
feature maps on checkerboard couplings, twice that on channel-wise ones.
"""

import keras
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.factor_out import FactorOut
from tfp_realnvp.bijectors.flow_sequence import FlowSequence
from tfp_realnvp.bijectors.logit_preprocess import LogitPreprocess
from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask
from tfp_realnvp.bijectors.recomputed_coupling import RecomputedCoupling
from tfp_realnvp.bijectors.squeeze import Squeeze
from tfp_realnvp.multiscale.steps import NORMALIZATIONS
from tfp_realnvp.networks.resnet_conditioner import ResNetConditioner

tfb = tfp.bijectors


def build_steps(options, validate_args):
    """(the flow's steps as one `FlowSequence`, its `FactorOut`s outermost first)."""
    steps = (
        [] if options.logit_alpha is None else [LogitPreprocess(options.logit_alpha, validate_args)]
    )
    factor_outs = []  # filled by _scale, outermost first
    steps.append(_scale(options, list(options.event_shape), 0, factor_outs))
    return FlowSequence(steps, name="steps"), tuple(factor_outs)


def _scale(options, shape, index, factor_outs):
    """The flow steps of scale `index` (0-based) on events `shape`, in data -> latent order."""
    height, width, channels = shape
    filters = options.num_filters * 2**index
    last = index == options.num_scales - 1
    steps = []
    for i in range(4 if last else 3):
        mask = checkerboard_mask(shape, parity=(i + 1) % 2)
        steps += _coupling(
            options, f"scale_{index}_checkerboard_{i}", mask, "checkerboard", filters
        )
    if last:
        return FlowSequence(steps, name=f"scale_{index}")
    coupling_order, factor_out_order, factored = options.squeeze_orders
    squeezed = [height // 2, width // 2, 4 * channels]
    steps.append(Squeeze(coupling_order))
    for i in range(3):
        name = f"scale_{index}_channel_{i}"
        if options.channel_mixing is not None:
            mixing = options.channel_mixing.build(
                squeezed, options, dtype=options.dtype, name=f"{name}_mixing"
            )
            steps.append(mixing)
        mask = channel_mask(squeezed, keep_first_half=i % 2 == 0)
        steps += _coupling(options, name, mask, "channel", 2 * filters)
    if factor_out_order != coupling_order:
        steps += [tfb.Invert(Squeeze(coupling_order)), Squeeze(factor_out_order)]
    if options.split_prior == "learned":
        # Glow's split prior: a coupling of the factored-out half given the half that goes on.
        mask = channel_mask(squeezed, keep_first_half=factored == "second")
        name = f"scale_{index}_split_prior"
        steps += _coupling(options, name, mask, "channel", 2 * filters, normalized=False)
    next_shape = [height // 2, width // 2, 2 * channels]
    factor_out = FactorOut(_scale(options, next_shape, index + 1, factor_outs), factored=factored)
    factor_outs.insert(0, factor_out)  # after the inner scales': outermost first
    steps.append(factor_out)
    steps.append(tfb.Invert(Squeeze(factor_out_order)))
    return FlowSequence(steps, name=f"scale_{index}")


def _coupling(options, name, keep_mask, mask_kind, filters, normalized=True):
    """A coupling of the options' kind and, if `normalized`, the normalization step after it."""
    network_arguments = dict(
        event_shape=list(keep_mask.shape),
        keep_mask=keep_mask,
        mask_kind=mask_kind,
        num_filters=filters,
        output_channels=options.coupling.outputs_per_unit(options) * keep_mask.shape[-1],
        dtype=options.network_dtype_policy,
        name=f"{name}_network",
    )
    if options.conditional_shape is not None:
        network_arguments["conditional_shape"] = list(options.conditional_shape)
    make_network = options.conditioner_fn or _resnet_conditioner(options)
    conditioner = make_network(**network_arguments)
    if not isinstance(conditioner, keras.layers.Layer):
        raise ValueError(
            "`conditioner_fn` must return a Keras layer; "
            f"got {conditioner!r} for {network_arguments['name']}."
        )
    coupling = options.coupling.build(
        keep_mask, conditioner, options, dtype=options.dtype, name=name
    )
    if options.memory_saving_gradients is not None:
        coupling = RecomputedCoupling(coupling, name=f"{name}_recomputed")
    if not normalized or options.normalization is None:
        return [coupling]
    # Named after the kind ("..._batch_norm"): the names of the weights in saved models.
    suffix = NORMALIZATIONS.name_of(options.normalization, default="normalization")
    normalization = options.normalization.build(
        list(keep_mask.shape), keep_mask, options, dtype=options.dtype, name=f"{name}_{suffix}"
    )
    return [coupling, normalization]


def _resnet_conditioner(options):
    """The paper's coupling network: the default `conditioner_fn`."""

    def make_network(
        *, keep_mask, mask_kind, num_filters, output_channels, dtype, name, **arguments
    ):
        return ResNetConditioner(
            num_filters,
            options.num_res_blocks,
            mask_channel=keep_mask[..., 0] if mask_kind == "checkerboard" else None,
            use_batch_norm=options.networks_use_batch_norm,
            magnitude_regularizer=options.regularizer,
            output_channels=output_channels,
            conditional_shape=arguments.get("conditional_shape"),
            recompute_blocks=options.memory_saving_gradients == "blocks",
            dtype=dtype,
            name=name,
        )

    return make_network
