"""Batch normalisation as a bijector: batch statistics in training, moving averages otherwise."""

import keras
import numpy as np
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
    image_event_shape,
)
from tfp_realnvp.bijectors.global_moments import global_channel_moments
from tfp_realnvp.networks.moving_statistic import move_statistic

_STATISTICS = ("batch", "running_average")


class MovingAverageBatchNorm(FlowBijector):
    """Per-channel batch normalisation of the transformed units, with its log-det.

    With per-channel mean mu and variance var, and keep_mask b (1 = left unchanged), the paper's
    f (data -> latent, TFP's `inverse`) and its log-det over an event [H, W, C] are

        f:  y = b*x + (1-b) * (x - mu) / sqrt(var + eps)
            log|det df/dx| = -1/2 * sum_c n_c * log(var_c + eps),   n_c = sum_{h,w} (1-b)[h,w,c]

    and g = f^-1 (`forward`, sampling) is x = b*y + (1-b) * (y * sqrt(var + eps) + mu).

    Which statistics, chosen per call:
      - `training=False` (the default; evaluation, sampling, export): the moving averages, so
        the map is a fixed, exactly invertible function of x.
      - `training=True` (`inverse` only): mu and var of this batch's transformed units, over
        the batch and spatial axes and across replicas under `tf.distribute`; the gradient flows
        through them. The moving averages then move towards them:
        moving = momentum * moving + (1 - momentum) * batch.
        With `training_statistics="running_average"` (the paper's variant, section 3.7), the
        batch is normalised with the updated moving averages instead, the gradient flowing
        through the current batch's part only.

    Args:
      event_shape: [H, W, C] of the events.
      keep_mask: optional [H, W, C] 0/1 array of units left unchanged (the coupling's mask, so
        only the units it transformed are normalised). None normalises every unit.
      momentum: in [0, 1); the authors' code uses 0.9.
      epsilon: > 0, added to the variance; the authors' code uses 1e-4.
      training_statistics: "batch" (default) or "running_average".
      validate_args: check inputs at run time.
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Reference: Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167; Real NVP section 3.7,
      https://arxiv.org/abs/1605.08803.
    """

    def __init__(
        self,
        event_shape,
        *,
        keep_mask=None,
        momentum=0.9,
        epsilon=1e-4,
        training_statistics="batch",
        validate_args=False,
        dtype=tf.float32,
        name="moving_average_batch_norm",
    ):
        parameters = dict(locals())
        event_shape = image_event_shape(event_shape)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1); got momentum={momentum!r}.")
        if not epsilon > 0.0:
            raise ValueError(f"`epsilon` must be positive; got epsilon={epsilon!r}.")
        if training_statistics not in _STATISTICS:
            raise ValueError(
                f"`training_statistics` must be one of {_STATISTICS}; "
                f"got training_statistics={training_statistics!r}."
            )
        keep = np.zeros(event_shape) if keep_mask is None else np.asarray(keep_mask)
        if list(keep.shape) != event_shape:
            raise ValueError(
                f"`keep_mask` must have shape event_shape={event_shape}; "
                f"got shape {list(keep.shape)}."
            )
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as name:
            self._event_shape = event_shape
            self._momentum = float(momentum)
            self._epsilon = float(epsilon)
            self._training_statistics = training_statistics
            self._keep = tf.constant(keep, dtype=dtype)
            self._transform = 1.0 - self._keep
            # n_c: how many units of channel c one event contributes.
            self._units_per_channel = tf.reduce_sum(self._transform, axis=[0, 1])
            self._moments = MovingMoments(event_shape[-1], dtype=dtype.name, name="moments")
            self._hold_keras_layers(self._moments)
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def moving_mean(self):
        return self._moments.moving_mean

    @property
    def moving_variance(self):
        return self._moments.moving_variance

    def _batch_moments(self, x):
        """Mean and variance of the transformed units per channel, over the global batch."""
        return global_channel_moments(x, mask=self._transform)

    def _moving_statistics(self):
        return (
            tf.convert_to_tensor(self._moments.moving_mean),
            tf.convert_to_tensor(self._moments.moving_variance),
        )

    def _statistics(self, x, training):
        if not training:
            return self._moving_statistics()
        mean, variance = self._batch_moments(x)
        moving = self._moments.update(mean, variance, self._momentum)
        return moving if self._training_statistics == "running_average" else (mean, variance)

    def _log_det(self, variance, x):
        log_det = -0.5 * tf.reduce_sum(
            self._units_per_channel * tf.math.log(variance + self._epsilon)
        )
        return tf.broadcast_to(log_det, tf.shape(x)[:-IMAGE_EVENT_NDIMS])

    def _normalise(self, x, mean, variance):
        """f with given statistics: (y, log|det df/dx|)."""
        normalised = (x - mean) * tf.math.rsqrt(variance + self._epsilon)
        return x + self._transform * (normalised - x), self._log_det(variance, x)

    def _denormalise(self, y, mean, variance):
        """g = f^-1 with given statistics: (x, log|det dg/dy|)."""
        restored = y * tf.sqrt(variance + self._epsilon) + mean
        return y + self._transform * (restored - y), -self._log_det(variance, y)

    # The normalisation does not depend on a conditional flow's context: it is ignored.

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        check_event_shape(x, self._event_shape, "x", self.name)
        mean, variance = self._statistics(x, training)
        return self._normalise(x, mean, variance)

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        check_event_shape(z, self._event_shape, "z", self.name)
        mean, variance = self._moving_statistics()
        return self._denormalise(z, mean, variance)


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class MovingMoments(keras.layers.Layer):
    """Holds the moving per-channel mean and variance of a `MovingAverageBatchNorm` bijector.

    A Keras layer only so that `keras.Model` tracks, distributes and saves these variables; the
    normalisation itself is the bijector's. Updates follow Keras's convention:

        moving = momentum * moving + (1 - momentum) * batch_statistic

    Args:
      num_channels: length of both statistics (the last axis of the normalised tensor).
    """

    def __init__(self, num_channels, **kwargs):
        super().__init__(**kwargs)
        self.num_channels = int(num_channels)
        # The shapes depend on no input, so the weights exist from construction on.
        self.moving_mean = self.add_weight(
            name="moving_mean",
            shape=(self.num_channels,),
            initializer="zeros",
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=(self.num_channels,),
            initializer="ones",
            trainable=False,
            autocast=False,
        )
        self.built = True

    def update(self, batch_mean, batch_variance, momentum):
        """Moves both statistics towards this batch's; returns the updated (mean, variance)."""
        return (
            move_statistic(self.moving_mean, batch_mean, momentum),
            move_statistic(self.moving_variance, batch_variance, momentum),
        )

    def get_config(self):
        return {**super().get_config(), "num_channels": self.num_channels}
