"""Glow's activation normalisation: a per-channel affine map, initialised from the first batch."""

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
    image_event_shape,
)
from tfp_realnvp.bijectors.global_moments import global_channel_moments


class ActNorm(FlowBijector):
    """Per-channel shift and scale, y = (x + b) * exp(logs), set from the first training batch.

    With per-channel shift b_c and log-scale logs_c, Glow's f (data -> latent, TFP's `inverse`)
    and g = f^-1 (`forward`, sampling) over an event [H, W, C] are

        f:  y[h, w, c] = (x[h, w, c] + b_c) * exp(logs_c)
        g:  x[h, w, c] = y[h, w, c] * exp(-logs_c) - b_c
            log|det df/dx| = H * W * sum_c logs_c          (the same for every event)

    Data-dependent initialisation: the first `inverse(x, training=True)` sets
    b = -mean(x) and logs = -log(std(x) + epsilon) per channel (over the batch and spatial axes,
    and over all replicas under `tf.distribute`), so that this batch's y has zero mean and unit
    variance per channel. Afterwards b and logs are ordinary trainable parameters, and training
    and inference give the same map (later training calls still take the batch statistics, a
    cheap reduction, and leave them unused). Whether the initialisation happened is a saved
    variable (`initialized`), so a reloaded model keeps its parameters. Before it, b = 0 and
    logs = 0: every call, `forward` and inference-mode `inverse` included, is the identity.

    Args:
      event_shape: [H, W, C] of the events.
      epsilon: > 0, added to the standard deviation at initialisation (Glow's 1e-6).
      validate_args: check inputs at run time.
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> norm = tfp_realnvp.ActNorm([4, 4, 2])
      >>> x = 3.0 + 2.0 * tf.random.stateless_normal([64, 4, 4, 2], seed=[0, 0])
      >>> y = norm.inverse(x, training=True)  # initialises: zero mean, unit variance
      >>> bool(np.allclose(tf.reduce_mean(y, axis=[0, 1, 2]), 0.0, atol=1e-4))
      True
      >>> norm.inverse_log_det_jacobian(x, event_ndims=3).shape  # 16 * sum(logs) per image
      TensorShape([64])

    Reference: Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions",
      NeurIPS 2018, https://arxiv.org/abs/1807.03039, section 3.1.
    """

    def __init__(
        self,
        event_shape,
        *,
        epsilon=1e-6,
        validate_args=False,
        dtype=tf.float32,
        name="act_norm",
    ):
        parameters = dict(locals())
        event_shape = image_event_shape(event_shape)
        if not epsilon > 0.0:
            raise ValueError(f"`epsilon` must be positive; got epsilon={epsilon!r}.")
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as name:
            self._event_shape = event_shape
            self._epsilon = float(epsilon)
            self._num_pixels = event_shape[0] * event_shape[1]
            self._params = ActNormParameters(event_shape[-1], dtype=dtype.name, name="params")
            self._hold_keras_layers(self._params)
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def bias(self):
        """The per-channel shift b [C]."""
        return self._params.bias

    @property
    def log_scale(self):
        """The per-channel log-scale logs [C]."""
        return self._params.log_scale

    @property
    def initialized(self):
        """Boolean variable: True once the first training batch has set b and logs."""
        return self._params.initialized

    def _initial_values(self, x):
        """(b, logs) that give x zero mean and unit variance per channel."""
        mean, variance = global_channel_moments(x)
        return -mean, -tf.math.log(tf.sqrt(variance) + self._epsilon)

    def _affine_parameters(self, x):
        """(b, logs, log|det df/dx| with the batch shape of x)."""
        bias = tf.convert_to_tensor(self._params.bias)
        log_scale = tf.convert_to_tensor(self._params.log_scale)
        log_det = self._num_pixels * tf.reduce_sum(log_scale)
        return bias, log_scale, tf.broadcast_to(log_det, tf.shape(x)[:-IMAGE_EVENT_NDIMS])

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        check_event_shape(x, self._event_shape, "x", self.name)
        if training:
            self._params.initialize_once(*self._initial_values(x))
        bias, log_scale, log_det = self._affine_parameters(x)
        return (x + bias) * tf.exp(log_scale), log_det

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        del training, conditional_input  # not used: initialisation needs data (inverse)
        check_event_shape(z, self._event_shape, "z", self.name)
        bias, log_scale, log_det = self._affine_parameters(z)
        return z * tf.exp(-log_scale) - bias, -log_det


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class ActNormParameters(keras.layers.Layer):
    """Holds an `ActNorm`'s shift `bias`, `log_scale` (both [C]) and its `initialized` flag.

    A Keras layer only so that `keras.Model` tracks, trains, distributes and saves the variables
    (the flag with them, so a reloaded model does not initialise again); the map is the
    bijector's.

    Args:
      num_channels: C, the length of `bias` and `log_scale`.
    """

    def __init__(self, num_channels, **kwargs):
        super().__init__(**kwargs)
        self.num_channels = int(num_channels)
        self._create_weights()

    def _create_weights(self):
        # The shapes depend on no input, so the weights exist from construction on.
        self.bias = self.add_weight(name="bias", shape=(self.num_channels,), initializer="zeros")
        self.log_scale = self.add_weight(
            name="log_scale", shape=(self.num_channels,), initializer="zeros"
        )
        self.initialized = self.add_weight(
            name="initialized", shape=(), initializer="zeros", dtype="bool", trainable=False
        )
        self.built = True

    def initialize_once(self, bias, log_scale):
        """Sets `bias`, `log_scale` and the flag, unless the flag is set already.

        A `tf.cond`, so that it works inside a traced train step. The values are computed by the
        caller, outside it: under `tf.distribute.MirroredStrategy` a cross-replica all-reduce
        cannot sit inside control flow (`merge_call` refuses), so every training call takes the
        batch statistics, a reduction that costs little next to the coupling networks.
        """

        def initialize():
            self.bias.assign(bias)
            self.log_scale.assign(log_scale)
            self.initialized.assign(True)

        tf.cond(tf.convert_to_tensor(self.initialized), lambda: None, initialize)

    def call(self, inputs=None):
        return self.bias, self.log_scale

    def get_config(self):
        return {**super().get_config(), "num_channels": self.num_channels}
