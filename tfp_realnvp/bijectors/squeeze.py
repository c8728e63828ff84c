"""Real NVP's squeeze: trade spatial resolution for channels, [H, W, C] <-> [H/2, W/2, 4C]."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.flow_bijector import IMAGE_EVENT_NDIMS

tfb = tfp.bijectors


def _static_event_shape(tensor, arg_name):
    event_shape = tensor.shape[-IMAGE_EVENT_NDIMS:]
    if tensor.shape.rank is None or not event_shape.is_fully_defined():
        raise ValueError(
            f"Squeeze: `{arg_name}` needs a known event shape [..., H, W, C]; "
            f"got shape {tensor.shape}."
        )
    return [int(d) for d in event_shape]


def squeeze_2x2(x):
    """[..., H, W, C] -> [..., H/2, W/2, 4C]; out[i, j, (2*di + dj)*C + c] = x[2i+di, 2j+dj, c].

    This is `tf.nn.space_to_depth`'s layout, with any number of batch axes.
    """
    height, width, channels = _static_event_shape(x, "x")
    if height % 2 or width % 2:
        raise ValueError(
            "Squeeze needs an even height and width; got event shape "
            f"{[height, width, channels]} (height={height}, width={width})."
        )
    batch_shape = tf.shape(x)[:-IMAGE_EVENT_NDIMS]
    squeezed = tf.nn.space_to_depth(tf.reshape(x, [-1, height, width, channels]), 2)
    return tf.reshape(
        squeezed, tf.concat([batch_shape, [height // 2, width // 2, 4 * channels]], axis=0)
    )


def unsqueeze_2x2(y):
    """The inverse of `squeeze_2x2`: [..., H/2, W/2, 4C] -> [..., H, W, C]."""
    height, width, channels = _static_event_shape(y, "y")
    if channels % 4:
        raise ValueError(
            "Un-squeezing needs a channel count divisible by 4; got event shape "
            f"{[height, width, channels]} (channels={channels})."
        )
    batch_shape = tf.shape(y)[:-IMAGE_EVENT_NDIMS]
    unsqueezed = tf.nn.depth_to_space(tf.reshape(y, [-1, height, width, channels]), 2)
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
    layout). H and W must be even. `tfb.Invert(Squeeze())` squeezes in the forward direction.

    Example:
      >>> x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])  # one 4x4 image, pixels numbered 0..15
      >>> z = Squeeze().inverse(x)
      >>> z.shape
      TensorShape([1, 2, 2, 4])
      >>> z[0, 0, 0].numpy()  # the top-left 2x2 patch
      array([0., 1., 4., 5.], dtype=float32)

    Reference: Real NVP section 3.6, https://arxiv.org/abs/1605.08803.
    """

    def __init__(self, validate_args=False, name="squeeze"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    def _forward(self, x):
        return unsqueeze_2x2(x)

    def _inverse(self, y):
        return squeeze_2x2(y)

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
