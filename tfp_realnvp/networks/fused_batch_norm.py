"""Keras batch normalisation computed by TensorFlow's fused kernel where it applies."""

import keras
import tensorflow as tf

from tfp_realnvp.networks.moving_statistic import move_statistic


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (same variables, statistics and updates), faster on TF.

    Keras 3 normalises with separate moment, normalisation and update ops; for float32 NHWC
    inputs (or bfloat16 ones under a mixed_bfloat16 policy) on the TensorFlow backend, outside
    multi-replica training, this layer calls `tf.compat.v1.nn.fused_batch_norm` instead: in
    training mode one kernel forward and one backward. The results are the same up to
    round-off (float32; bfloat16 outputs are rounded once):

        y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta   (batch statistics, biased
        variance, gradient through them), then
        moving = momentum * moving + (1 - momentum) * batch statistic

    In inference (moving statistics) the same kernel normalises in one pass:

        y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta

    Anything else (another backend or dtype, a mask, renorm, a channel axis other than the
    last, several replicas, which need synchronised statistics) takes Keras's own path.
    """

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            # float32, or bfloat16 under mixed precision (float32 weights and statistics).
            and inputs.dtype in (tf.float32, tf.bfloat16)
            and self.compute_dtype == inputs.dtype.name
            and self.variable_dtype == "float32"
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and self.epsilon >= 1.001e-5  # the fused kernel's minimum
            and tf.distribute.get_strategy().num_replicas_in_sync == 1
        )

    def uses_moving_statistics(self, training):
        """Whether a call with `training` normalises with the moving statistics (as Keras)."""
        return not (training and self.trainable)

    def _gamma_beta(self, channels):
        # The fused kernel takes float32 scale and offset for float32 and bfloat16 inputs alike.
        gamma = self.gamma.value if self.scale else tf.ones([channels], tf.float32)
        beta = self.beta.value if self.center else tf.zeros([channels], tf.float32)
        return gamma, beta

    def fold_into(self, kernel, bias):
        """(kernel', bias') with conv(x, kernel') + bias' = BN(conv(x, kernel) + bias), inference.

        In inference the layer is the per-channel affine map BN(y) = a * y + b, with
        a = gamma / sqrt(moving_variance + epsilon) and b = beta - a * moving_mean, so a
        convolution followed by it is one convolution: kernel' = a * kernel (per output
        channel, the last axis), bias' = a * bias + b. Computed in the dtype of the moving
        statistics (the variables' dtype: float32 under mixed precision), returned in
        `kernel`'s and `bias`'s.
        """
        dtype = self.moving_variance.dtype
        gamma, beta = (tf.cast(v, dtype) for v in self._gamma_beta(kernel.shape[-1]))
        a = gamma * tf.math.rsqrt(self.moving_variance.value + self.epsilon)
        b = beta - a * self.moving_mean.value
        folded_kernel = tf.cast(kernel, dtype) * a
        folded_bias = tf.cast(bias, dtype) * a + b
        return tf.cast(folded_kernel, kernel.dtype), tf.cast(folded_bias, bias.dtype)

    def call(self, inputs, training=None, mask=None):
        inputs = tf.convert_to_tensor(inputs)
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma, beta = self._gamma_beta(channels)
        if self.uses_moving_statistics(training):
            # Inference, as Keras: the moving statistics (a frozen layer too). One pass.
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=self.moving_mean.value,
                variance=self.moving_variance.value,
                epsilon=self.epsilon,
                is_training=False,
            )
            return outputs
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel reports the unbiased (n / (n - 1)) variance; Keras's statistics are biased.
        variance = unbiased_variance * _bessel_inverse(inputs, channels, mean.dtype)
        # One read of each statistic (Keras's `assign_sub` would read it again).
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            move_statistic(moving, batch, self.momentum)
        return outputs


def _bessel_inverse(inputs, channels, dtype):
    """(n - 1) / n for the n = size / channels values per channel (1 when n = 1).

    A Python number when the shape is static (the usual case: one constant in the graph, not
    a chain of shape ops per batch norm), else a tensor.
    """
    size = inputs.shape.num_elements()
    if size is not None:
        count = size // channels
        return max(count - 1, 1) / count
    count = tf.cast(tf.size(inputs) // channels, dtype)
    return tf.math.maximum(count - 1.0, 1.0) / count
