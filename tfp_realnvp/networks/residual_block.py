"""The pre-activation residual block of the Real NVP s/t network."""

import keras

from tfp_realnvp.networks.fused_batch_norm import FusedBatchNormalization
from tfp_realnvp.networks.weight_norm_conv2d import WeightNormConv2D

# The authors' code normalises with momentum 0.9 and epsilon 1e-4 everywhere.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-4


def batch_norm_layer(name, **kwargs):
    """Keras batch norm as the paper uses it: statistics over the global batch across replicas.

    (`FusedBatchNormalization`: Keras's layer, computed by TF's fused kernel where it applies.)
    """
    return FusedBatchNormalization(
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        synchronized=True,
        name=name,
        **kwargs,
    )


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class ResidualBlock(keras.layers.Layer):
    """out = x + conv3x3(relu(bn(conv3x3(relu(bn(x))))))   (He et al. 2016, pre-activation).

    Both convolutions are weight-normalised; with `use_batch_norm=False` the `bn`s are dropped.

    Args:
      filters: channels of x and of both convolutions.
      use_batch_norm: normalise before each rectifier.
      magnitude_regularizer: Keras regularizer for the weight-norm magnitudes, or None.
    """

    def __init__(self, filters, *, use_batch_norm=True, magnitude_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.use_batch_norm = bool(use_batch_norm)
        self.magnitude_regularizer = keras.regularizers.get(magnitude_regularizer)
        conv = dict(magnitude_regularizer=self.magnitude_regularizer, dtype=self.dtype_policy)
        self.conv_1 = WeightNormConv2D(self.filters, 3, name="conv_1", **conv)
        self.conv_2 = WeightNormConv2D(self.filters, 3, name="conv_2", **conv)
        if self.use_batch_norm:
            self.norm_1 = batch_norm_layer("norm_1", dtype=self.dtype_policy)
            self.norm_2 = batch_norm_layer("norm_2", dtype=self.dtype_policy)

    def build(self, input_shape):
        if self.use_batch_norm:
            self.norm_1.build(input_shape)
            self.norm_2.build(input_shape)
        self.conv_1.build(input_shape)
        self.conv_2.build(input_shape)

    def _activate(self, norm, h, training):
        if self.use_batch_norm:
            h = norm(h, training=training)
        return keras.ops.relu(h)

    def call(self, inputs, training=False, fold_batch_norm=True):
        """The block; with `fold_batch_norm`, an inference-mode `norm_2` is folded into `conv_1`.

        (conv then batch norm with fixed statistics is one convolution, `fold_into`; the same
        map up to float rounding, one pass over the activations fewer.)
        """
        h = self._activate(getattr(self, "norm_1", None), inputs, training)
        if fold_batch_norm and self.use_batch_norm and self.norm_2.uses_moving_statistics(training):
            kernel, bias = self.norm_2.fold_into(self.conv_1.kernel(), self.conv_1.bias)
            h = keras.ops.relu(self.conv_1.convolve(h, kernel, bias))
        else:
            h = self._activate(getattr(self, "norm_2", None), self.conv_1(h), training)
        return inputs + self.conv_2(h)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "use_batch_norm": self.use_batch_norm,
            "magnitude_regularizer": keras.regularizers.serialize(self.magnitude_regularizer),
        }
