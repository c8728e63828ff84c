"""Real NVP's squeeze: trade spatial resolution for channels, [H, W, C] <-> [H/2, W/2, 4C]."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.flow_bijector import IMAGE_EVENT_NDIMS

tfb = tfp.bijectors

# Where pixel (di, dj) of a 2x2 patch and channel c go in the squeezed channels, per order:
#   "space_to_depth"           (2*di + dj) * C + c     tf.nn.space_to_depth's layout
#   "authors"                  c * 4 + 2*di + dj       the authors' `squeeze_2x2`
#   "authors_diagonal_first"   k * C + c, k the index of (di, dj) in
#                              [(0, 0), (1, 1), (1, 0), (0, 1)]: the authors' `squeeze_2x2_ordered`,
#                              whose first half holds the patch's diagonal
SQUEEZE_ORDERS = ("space_to_depth", "authors", "authors_diagonal_first")
_DIAGONAL_FIRST = (0, 3, 2, 1)  # k -> 2*di + dj


def squeeze_permutation(channels, order):
    """Indices into space_to_depth's 4C channels that give `order`'s: out = s2d[..., perm]."""
    if order not in SQUEEZE_ORDERS:
        raise ValueError(f"`order` must be one of {SQUEEZE_ORDERS}; got order={order!r}.")
    position, channel = np.meshgrid(np.arange(4), np.arange(channels), indexing="ij")
    if order == "space_to_depth":
        return np.arange(4 * channels)
    if order == "authors":  # out index c * 4 + p holds s2d index p * C + c
        return (position * channels + channel).T.reshape(-1)
    return (np.asarray(_DIAGONAL_FIRST)[:, None] * channels + channel).reshape(-1)


def _static_event_shape(tensor, arg_name):
    event_shape = tensor.shape[-IMAGE_EVENT_NDIMS:]
    if tensor.shape.rank is None or not event_shape.is_fully_defined():
        raise ValueError(
            f"Squeeze: `{arg_name}` needs a known event shape [..., H, W, C]; "
            f"got shape {tensor.shape}."
        )
    return [int(d) for d in event_shape]


def squeeze_2x2(x, order="space_to_depth"):
    """[..., H, W, C] -> [..., H/2, W/2, 4C], each 2x2 patch into one pixel's channels.

    With the default order, out[i, j, (2*di + dj)*C + c] = x[2i+di, 2j+dj, c]:
    `tf.nn.space_to_depth`'s layout, with any number of batch axes; see `SQUEEZE_ORDERS`.
    """
    height, width, channels = _static_event_shape(x, "x")
    if height % 2 or width % 2:
        raise ValueError(
            "Squeeze needs an even height and width; got event shape "
            f"{[height, width, channels]} (height={height}, width={width})."
        )
    batch_shape = tf.shape(x)[:-IMAGE_EVENT_NDIMS]
    squeezed = tf.nn.space_to_depth(tf.reshape(x, [-1, height, width, channels]), 2)
    if order != "space_to_depth":
        squeezed = tf.gather(squeezed, squeeze_permutation(channels, order), axis=-1)
    return tf.reshape(
        squeezed, tf.concat([batch_shape, [height // 2, width // 2, 4 * channels]], axis=0)
    )


def unsqueeze_2x2(y, order="space_to_depth"):
    """The inverse of `squeeze_2x2`: [..., H/2, W/2, 4C] -> [..., H, W, C]."""
    height, width, channels = _static_event_shape(y, "y")
    if channels % 4:
        raise ValueError(
            "Un-squeezing needs a channel count divisible by 4; got event shape "
            f"{[height, width, channels]} (channels={channels})."
        )
    batch_shape = tf.shape(y)[:-IMAGE_EVENT_NDIMS]
    y = tf.reshape(y, [-1, height, width, channels])
    if order != "space_to_depth":
        y = tf.gather(y, np.argsort(squeeze_permutation(channels // 4, order)), axis=-1)
    unsqueezed = tf.nn.depth_to_space(y, 2)
    return tf.reshape(
        unsqueezed, tf.concat([batch_shape, [2 * height, 2 * width, channels // 4]], axis=0)
    )


class Squeeze(tfb.Bijector):
    """Reshapes each 2x2xC patch into a 1x1x4C pixel; volume preserving (log-det 0).

    Following TFP's convention (forward = sampling, latent -> data), this package's bijectors
    implement the paper's data -> latent map f as `inverse`. So:

        inverse (f):  [..., H, W, C]      -> [..., H/2, W/2, 4C]    squeezes
        forward (g):  [..., H/2, W/2, 4C] -> [..., H, W, C]         un-squeezes

    with out[i, j, (2*di + dj)*C + c] = x[2i + di, 2j + dj, c] (`tf.nn.space_to_depth`'s
    layout) by default. H and W must be even. `tfb.Invert(Squeeze())` squeezes in the forward
    direction.

    Args:
      order: the channel order of the squeezed pixels, one of `SQUEEZE_ORDERS`:
        "space_to_depth" (default), "authors" (the authors' code's `squeeze_2x2`,
        out[i, j, 4c + 2di + dj]) or "authors_diagonal_first" (their `squeeze_2x2_ordered`:
        the patch's pixels in the order (0,0), (1,1), (1,0), (0,1), each with all C channels).
      validate_args: check inputs at run time.
      name: name of the bijector.

    Example:
      >>> x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])  # one 4x4 image, pixels numbered 0..15
      >>> z = Squeeze().inverse(x)
      >>> z.shape
      TensorShape([1, 2, 2, 4])
      >>> z[0, 0, 0].numpy()  # the top-left 2x2 patch
      array([0., 1., 4., 5.], dtype=float32)

    Reference: Real NVP section 3.6, https://arxiv.org/abs/1605.08803.
    """

    def __init__(self, order="space_to_depth", validate_args=False, name="squeeze"):
        parameters = dict(locals())
        if order not in SQUEEZE_ORDERS:
            raise ValueError(f"`order` must be one of {SQUEEZE_ORDERS}; got order={order!r}.")
        with tf.name_scope(name) as name:
            self._order = order
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def order(self):
        return self._order

    def _forward(self, z):
        return unsqueeze_2x2(z, self._order)

    def _inverse(self, x):
        return squeeze_2x2(x, self._order)

    def _forward_log_det_jacobian(self, x):
        # Zero, with the batch shape like every log-det of this package.
        return tf.zeros(tf.shape(x)[:-IMAGE_EVENT_NDIMS], dtype=x.dtype)

    def _forward_event_shape(self, input_shape):
        height, width, channels = input_shape[-IMAGE_EVENT_NDIMS:]
        return input_shape[:-IMAGE_EVENT_NDIMS].concatenate(
            [_times(height, 2), _times(width, 2), _div(channels, 4)]
        )

    def _inverse_event_shape(self, output_shape):
        height, width, channels = output_shape[-IMAGE_EVENT_NDIMS:]
        return output_shape[:-IMAGE_EVENT_NDIMS].concatenate(
            [_div(height, 2), _div(width, 2), _times(channels, 4)]
        )

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-3], input_shape[-3:-1] * 2, input_shape[-1:] // 4], 0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-3], output_shape[-3:-1] // 2, output_shape[-1:] * 4], 0)


def _times(dim, factor):
    return None if dim is None else dim * factor


def _div(dim, factor):
    return None if dim is None else dim // factor
