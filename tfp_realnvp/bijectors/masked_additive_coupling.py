"""NICE's additive coupling layer with a binary mask: a shift only, volume preserving."""

import keras
import numpy as np
import tensorflow as tf

from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling


class MaskedAdditiveCoupling(MaskedCoupling):
    """Additive coupling: the kept units pass through and shift the others; log-det 0.

    With keep_mask b (1 = passed through) and t = conditioner(b*x), the map f (data x -> latent
    z, TFP's `inverse`) and g = f^-1 (`forward`) are

        f:  z = b*x + (1-b) * (x + t(b*x))          log|det dz/dx| = 0
        g:  x = b*z + (1-b) * (z - t(b*z))

    Volume preserving: no exp() of a network output, so nothing can overflow. NICE puts a
    learned diagonal scale at the end of the flow; in a multi-scale flow the batch norm (or
    ActNorm) after each coupling fills that role.

    Args:
      keep_mask: [H, W, C] array of 0/1, 1 = passed through.
      conditioner: a Keras 3 layer [B, H, W, C] -> [B, H, W, C] (the shift).
      validate_args: check inputs at run time (here: only static shapes are checked).
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> mask = channel_mask([4, 4, 2])
      >>> coupling = MaskedAdditiveCoupling(mask, ResNetConditioner(8, 1, output_channels=2))
      >>> coupling.inverse_log_det_jacobian(tf.random.normal([3, 4, 4, 2]), event_ndims=3)
      <tf.Tensor: shape=(3,), dtype=float32, numpy=array([0., 0., 0.], dtype=float32)>

    Reference: Dinh, Krueger, Bengio, "NICE: Non-linear Independent Components Estimation",
      ICLR 2015 workshop, https://arxiv.org/abs/1410.8516, section 3.2.
    """

    params_per_unit = 1
    params_layout = "shift"

    def __init__(
        self,
        keep_mask: np.ndarray,
        conditioner: keras.layers.Layer,
        *,
        validate_args: bool = False,
        dtype: tf.DType | str = tf.float32,
        name: str = "masked_additive_coupling",
    ) -> None:
        parameters = dict(locals())
        super().__init__(
            keep_mask,
            conditioner,
            validate_args=validate_args,
            dtype=dtype,
            name=name,
            parameters=parameters,
        )

    def transform(self, x, params):
        return self.masked(x, x + params, tf.zeros_like(x))

    def untransform(self, z, params):
        return self.masked(z, z - params, tf.zeros_like(z))
