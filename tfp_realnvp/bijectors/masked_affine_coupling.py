"""Real NVP's affine coupling layer with a binary mask."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling


class MaskedAffineCoupling(MaskedCoupling):
    """Affine coupling: the kept units pass through and set the scale and shift of the others.

    With keep_mask b (1 = passed through), the paper's f (data x -> latent z) and g = f^-1 are

        f:  z = b*x + (1-b) * (x * exp(s(b*x)) + t(b*x))        log|det dz/dx| = sum((1-b) * s)
        g:  x = b*z + (1-b) * (z - t(b*z)) * exp(-s(b*z))

    where (t, raw) = conditioner(b*x) and s = scale * tanh(raw) with a learned scalar `scale`.
    This is the paper's equation (9); the authors' code uses (x + t) * exp(s) instead.
    TFP's forward direction is sampling, so `inverse` is f and `forward` is g.

    The conditioner is any Keras 3 layer mapping [B, H, W, C] -> [B, H, W, 2C] (shift first,
    then raw log-scale), for example `ResNetConditioner`, whose zero-initialised last layer makes a
    new coupling the identity. It is called once per `forward` / `inverse` evaluation (value and
    log-det together), with `training` passed on.

    Args:
      keep_mask: [H, W, C] array of 0/1, 1 = passed through; see `checkerboard_mask` and
        `channel_mask`. Fixes the event shape.
      conditioner: a Keras 3 layer, built here for inputs [None, H, W, C] if not yet built.
      initial_scale: starting value of the learned bound `scale` of s.
      scale_regularizer: Keras regularizer for `scale`, or None.
      validate_args: check inputs at run time (here: only static shapes are checked).
      dtype: tf.float32 or tf.float64. The conditioner's variables are in this dtype; it may
        compute in a narrower one (mixed precision): its output is cast to `dtype`.
      name: name of the bijector.

    Example:
      >>> mask = checkerboard_mask([8, 8, 1])
      >>> coupling = MaskedAffineCoupling(mask, ResNetConditioner(8, 1, mask_channel=mask[..., 0]))
      >>> images = tf.random.uniform([4, 8, 8, 1])
      >>> coupling.inverse(images, training=True).shape
      TensorShape([4, 8, 8, 1])

    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017,
      https://arxiv.org/abs/1605.08803, section 3.
    """

    params_per_unit = 2
    params_layout = "shift, raw log-scale"

    def __init__(
        self,
        keep_mask: np.ndarray,
        conditioner: keras.layers.Layer,
        *,
        initial_scale: float = 1.0,
        scale_regularizer: keras.regularizers.Regularizer | str | None = None,
        validate_args: bool = False,
        dtype: tf.DType | str = tf.float32,
        name: str = "masked_affine_coupling",
    ) -> None:
        parameters = dict(locals())
        with tf.name_scope(name):  # its variable's path: <coupling name>/log_scale/scale
            self._log_scale = TanhScale(
                initial_scale,
                regularizer=scale_regularizer,
                dtype=tf.as_dtype(dtype).name,
                name="log_scale",
            )
        super().__init__(
            keep_mask,
            conditioner,
            validate_args=validate_args,
            dtype=dtype,
            name=name,
            parameters=parameters,
        )

    def _map_layers(self):
        return (self._log_scale,)

    def shift_and_log_scale(self, params):
        """(t, s) from the network's output [..., 2C]: shift first, then raw log-scale."""
        shift, raw_log_scale = tf.split(params, 2, axis=-1)
        return shift, self._log_scale(raw_log_scale)

    def transform(self, x, params):
        shift, log_scale = self.shift_and_log_scale(params)
        return self.masked(x, x * tf.exp(log_scale) + shift, log_scale)

    def untransform(self, z, params):
        shift, log_scale = self.shift_and_log_scale(params)
        return self.masked(z, (z - shift) * tf.exp(-log_scale), -log_scale)


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class TanhScale(keras.layers.Layer):
    """Bounds a coupling's raw log-scale: `s = scale * tanh(raw)`, with a learned scalar `scale`.

    |s| <= |scale| keeps exp(s) from exploding early in training (the authors' code does the
    same, one scalar per coupling).

    Args:
      initial_scale: the starting value of `scale`.
      regularizer: a Keras regularizer for `scale` (the paper puts L2 5e-5 on it), or None.
    """

    def __init__(self, initial_scale=1.0, *, regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = float(initial_scale)
        self.regularizer = keras.regularizers.get(regularizer)
        # The shape depends on no input, so the weight exists from construction on.
        self.scale = self.add_weight(
            name="scale",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_scale),
            regularizer=self.regularizer,
        )
        self.built = True

    def call(self, raw):
        return self.scale * ops.tanh(raw)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "initial_scale": self.initial_scale,
            "regularizer": keras.regularizers.serialize(self.regularizer),
        }
