"""A 2-D convolution with weight normalisation (Salimans & Kingma, 2016)."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class WeightNormConv2D(keras.layers.Layer):
    """Convolution whose kernel is a direction times a learned magnitude.

        kernel[..., o] = g[o] * v[..., o] / ||v[..., o]||_2     (norm over kh, kw, c_in)
        y = conv2d(x, kernel, stride 1, 'same' padding) + bias

    The magnitude `g` is the weight the paper's L2 penalty applies to (`magnitude_regularizer`).
    With `zero_init=True`, g starts at 0, so the layer outputs its (zero) bias: the last layer of
    a coupling's network starts that way so every new coupling is the identity.

    Args:
      filters: number of output channels.
      kernel_size: int, the kernel's height and width.
      zero_init: start with g = 0 (output identically zero) instead of g = 1.
      magnitude_regularizer: a Keras regularizer for g, or None.

    Reference: Salimans & Kingma, "Weight Normalization", https://arxiv.org/abs/1602.07868
    """

    def __init__(
        self, filters, kernel_size, *, zero_init=False, magnitude_regularizer=None, **kwargs
    ):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"`filters` must be a positive integer; got filters={filters!r}.")
        if int(kernel_size) <= 0 or int(kernel_size) % 2 == 0:
            raise ValueError(
                f"`kernel_size` must be a positive odd integer; got kernel_size={kernel_size!r}."
            )
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.zero_init = bool(zero_init)
        self.magnitude_regularizer = keras.regularizers.get(magnitude_regularizer)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.direction = self.add_weight(
            name="direction",
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=0.05),
        )
        self.magnitude = self.add_weight(
            name="magnitude",
            shape=(self.filters,),
            initializer="zeros" if self.zero_init else "ones",
            regularizer=self.magnitude_regularizer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def kernel(self):
        """g * v / ||v||: the kernel [k, k, C_in, filters] that the layer applies."""
        # Read as tensors here (autocast under mixed precision): the custom gradient is taken
        # with respect to these reads, so it needs no variables of its own (nor replicas').
        return weight_normalized_kernel(
            tf.convert_to_tensor(self.direction), tf.convert_to_tensor(self.magnitude)
        )

    def call(self, inputs):
        return self.convolve(inputs, self.kernel(), self.bias)

    def convolve(self, inputs, kernel, bias):
        """conv2d(inputs, kernel, stride 1, 'same') + bias: this layer's map with given weights.

        (A `BiasAdd` op: TF's graph optimiser fuses it, and a ReLU after it, into the
        convolution's kernel.)
        """
        return tf.nn.bias_add(ops.conv(inputs, kernel, strides=1, padding="same"), bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "zero_init": self.zero_init,
            "magnitude_regularizer": keras.regularizers.serialize(self.magnitude_regularizer),
        }


@tf.custom_gradient
def weight_normalized_kernel(direction, magnitude):
    """w = g * v / ||v|| per output channel (norm over all axes but the last), and its gradient.

    The gradient is the closed form of Salimans & Kingma (2016), eq. (4), with s = g / ||v||:

        dL/dg = sum(dL/dw * v) / ||v||
        dL/dv = s * dL/dw - (s * dL/dg / ||v||) * v

    Autodiff of the forward map builds about twice as many ops (a broadcast reduction for
    each product and the division); a flow has hundreds of these kernels, and its training
    graph's size is what its first step costs (tracing and graph optimisation).
    """
    axes = tuple(range(len(direction.shape) - 1))
    inverse_norm = tf.math.rsqrt(tf.reduce_sum(tf.square(direction), axis=axes))
    scale = magnitude * inverse_norm

    def gradient(upstream):
        magnitude_grad = tf.reduce_sum(upstream * direction, axis=axes) * inverse_norm
        direction_grad = upstream * scale - direction * (magnitude_grad * scale * inverse_norm)
        return direction_grad, magnitude_grad

    return direction * scale, gradient
