"""A multi-scale latent [..., H, W, C] and its parts, one per scale."""

from tfp_realnvp.bijectors.flow_bijector import check_event_shape
from tfp_realnvp.bijectors.squeeze import squeeze_2x2, unsqueeze_2x2


def latent_shapes(event_shape, num_scales):
    """The event shape of each scale's part of the latent, first scale first.

    Scale l < L - 1 factors out [H / 2^(l+1), W / 2^(l+1), C * 2^(l+1)]; the last scale keeps
    what reached it, of the same shape as the scale before it factored out.
    """
    height, width, channels = event_shape
    shapes = []
    for _ in range(num_scales - 1):
        height, width, channels = height // 2, width // 2, 2 * channels
        shapes.append([height, width, channels])
    shapes.append([height, width, channels])
    return shapes


def split_latents(z, factor_outs, squeeze_order, event_shape, name):
    """Splits latents z [..., H, W, C] into one part per scale (`latent_shapes`).

    Scale l's part is what that scale factored out (the last scale's, what reached it):
    squeeze, take the factored-out half of the channels, and repeat on the other half.
    """
    check_event_shape(z, event_shape, "z", name)
    parts = []
    for factor_out in factor_outs:
        factored, z = factor_out.split(squeeze_2x2(z, squeeze_order), "z")
        parts.append(factored)
    parts.append(z)
    return parts


def merge_latents(parts, factor_outs, squeeze_order, event_shape, name):
    """The inverse of `split_latents`: one latent [..., H, W, C] from the parts per scale."""
    num_scales = len(factor_outs) + 1
    if len(parts) != num_scales:
        raise ValueError(
            f"`parts` must hold one latent per scale ({num_scales}); got {len(parts)}."
        )
    shapes = latent_shapes(event_shape, num_scales)
    for index, (part, shape) in enumerate(zip(parts, shapes, strict=True)):
        check_event_shape(part, shape, f"parts[{index}]", name)
    z = parts[-1]
    for factor_out, factored in reversed(list(zip(factor_outs, parts[:-1], strict=True))):
        z = unsqueeze_2x2(factor_out.merge(factored, z), squeeze_order)
    return z
