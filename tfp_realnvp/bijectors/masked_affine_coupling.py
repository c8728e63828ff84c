"""Real NVP's affine coupling layer with a binary mask."""

import numpy as np
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
)
from tfp_realnvp.networks.tanh_scale import TanhScale


class MaskedAffineCoupling(FlowBijector):
    """Affine coupling: the kept units pass through and set the scale and shift of the others.

    With keep_mask b (1 = passed through), the paper's f (data x -> latent y) and g = f^-1 are

        f:  y = b*x + (1-b) * (x * exp(s(b*x)) + t(b*x))        log|det df/dx| = sum((1-b) * s)
        g:  x = b*y + (1-b) * (y - t(b*y)) * exp(-s(b*y))

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
      >>> coupling = MaskedAffineCoupling(
      ...     checkerboard_mask([8, 8, 1]), ResNetConditioner(32, 2, mask_channel=...))
      >>> z = coupling.inverse(images, training=True)

    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017,
      https://arxiv.org/abs/1605.08803, section 3.
    """

    def __init__(
        self,
        keep_mask,
        conditioner,
        *,
        initial_scale=1.0,
        scale_regularizer=None,
        validate_args=False,
        dtype=tf.float32,
        name="masked_affine_coupling",
    ):
        parameters = dict(locals())
        keep_mask = np.asarray(keep_mask)
        if keep_mask.ndim != IMAGE_EVENT_NDIMS:
            raise ValueError(
                f"`keep_mask` must have shape [H, W, C]; got shape {list(keep_mask.shape)}."
            )
        if not np.all((keep_mask == 0) | (keep_mask == 1)):
            raise ValueError("`keep_mask` must contain only 0 and 1 (1 = passed through).")
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as name:
            self._keep = tf.constant(keep_mask, dtype=dtype)
            self._transform = 1.0 - self._keep
            self._event_shape = list(keep_mask.shape)
            self._conditioner = conditioner
            if not conditioner.built:
                conditioner.build((None, *self._event_shape))
            self._log_scale = TanhScale(
                initial_scale, regularizer=scale_regularizer, dtype=dtype.name, name="log_scale"
            )
            self._hold_keras_layers(conditioner, self._log_scale)
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def keep_mask(self):
        """[H, W, C] tensor, 1 = passed through."""
        return self._keep

    @property
    def conditioner(self):
        return self._conditioner

    def _shift_and_log_scale(self, kept, training):
        """(t, s) from the kept units, both zero where the mask keeps."""
        check_event_shape(kept, self._event_shape, "x", self.name)
        # Keras convolutions take one batch axis: fold any batch shape into it and back.
        flat_params = self._conditioner(
            tf.reshape(kept, [-1, *self._event_shape]), training=training
        )
        # A mixed-precision network computes in a narrower dtype; the coupling does not.
        flat_params = tf.cast(flat_params, self._keep.dtype)
        channels = self._event_shape[-1]
        if flat_params.shape[-1] != 2 * channels:
            raise ValueError(
                f"{self.name}: the conditioner must return 2C = {2 * channels} channels (shift, "
                f"raw log-scale); it returned shape {flat_params.shape}."
            )
        params_shape = tf.concat([tf.shape(kept)[:-1], [2 * channels]], axis=0)
        params = tf.reshape(flat_params, params_shape)
        shift, raw_log_scale = tf.split(params, 2, axis=-1)
        return shift * self._transform, self._log_scale(raw_log_scale) * self._transform

    def _inverse_and_log_det(self, x, training=False):
        # f. Where b = 1, s = t = 0, so y = x * exp(s) + t leaves the kept units unchanged.
        shift, log_scale = self._shift_and_log_scale(x * self._keep, training)
        y = x * tf.exp(log_scale) + shift
        return y, tf.reduce_sum(log_scale, axis=[-3, -2, -1])

    def _forward_and_log_det(self, y, training=False):
        # g. The kept units of y equal those of x, so the network sees the same input as in f.
        shift, log_scale = self._shift_and_log_scale(y * self._keep, training)
        x = (y - shift) * tf.exp(-log_scale)
        return x, -tf.reduce_sum(log_scale, axis=[-3, -2, -1])
