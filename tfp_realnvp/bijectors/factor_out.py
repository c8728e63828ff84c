"""Real NVP's multi-scale factor-out: half of the channels leave, the rest go on."""

import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    forward_and_log_det,
    inverse_and_log_det,
)


class FactorOut(FlowBijector):
    """Factors out half of the channels; `remaining` transforms the other half.

    In the paper's f (data -> latent, TFP's `inverse`), at each scale half of the dimensions are
    final latents and the other half go on to the next scale. With the first half factored out
    (the default):

        f:  [x_out, x_on] = split(x, 2, channels)      z = concat([x_out, f_rest(x_on)])
        log|det df/dx| = log|det df_rest/dx_on|

    and with `factored="second"` (the authors' code) [x_on, x_out] = split(x, 2, channels).

    and g (`forward`) undoes it with `remaining`'s forward. The event shape [H, W, C] is kept;
    C must be even and `remaining` must map [H, W, C/2] to itself.

    Args:
      remaining: the bijector for the half that goes on (the next scales of the flow).
      factored: which half of the channels leaves as final latents, "first" or "second".
      validate_args: check inputs at run time.
      name: name of the bijector.

    Example:
      >>> factor_out = FactorOut(tfb.Scale(2.0))  # stands for the next scales: f_rest(x) = x / 2
      >>> x = tf.ones([1, 2, 2, 2])
      >>> factor_out.inverse(x)[0, 0, 0].numpy()  # channel 0 leaves as it is, channel 1 goes on
      array([1. , 0.5], dtype=float32)
      >>> float(factor_out.inverse_log_det_jacobian(x))  # 4 units halved: 4 log(1/2)
      -2.77...

    Reference: Real NVP section 3.6 and figure 4(b), https://arxiv.org/abs/1605.08803.
    """

    def __init__(self, remaining, factored="first", validate_args=False, name="factor_out"):
        parameters = dict(locals())
        if factored not in ("first", "second"):
            raise ValueError(f"`factored` must be 'first' or 'second'; got factored={factored!r}.")
        with tf.name_scope(name) as name:
            self._remaining = remaining
            self._factored_first = factored == "first"
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def remaining(self):
        return self._remaining

    def split(self, tensor, arg_name="x"):
        """(factored-out half, half that goes on) of `tensor`'s channels."""
        channels = tensor.shape[-1]
        if channels is None or channels % 2:
            raise ValueError(
                f"{self.name}: FactorOut splits the channels in half, so `{arg_name}` needs an "
                f"even, known channel count; got shape {tensor.shape}."
            )
        first, second = tf.split(tensor, 2, axis=-1)
        return (first, second) if self._factored_first else (second, first)

    def merge(self, factored, going_on):
        """The inverse of `split`."""
        halves = [factored, going_on] if self._factored_first else [going_on, factored]
        return tf.concat(halves, axis=-1)

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        factored, going_on = self.split(x, "x")
        latent, log_det = inverse_and_log_det(
            self._remaining, going_on, training, conditional_input
        )
        return self.merge(factored, latent), log_det

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        factored, latent = self.split(z, "z")
        going_on, log_det = forward_and_log_det(
            self._remaining, latent, training, conditional_input
        )
        return self.merge(factored, going_on), log_det
