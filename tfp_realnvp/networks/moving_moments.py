"""The state of a moving-average batch normalisation: per-channel moving mean and variance."""

import keras


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
        self._create_weights()

    def _create_weights(self):
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
        mean = momentum * self.moving_mean + (1.0 - momentum) * batch_mean
        variance = momentum * self.moving_variance + (1.0 - momentum) * batch_variance
        self.moving_mean.assign(mean)
        self.moving_variance.assign(variance)
        return mean, variance

    def call(self, inputs=None):
        return self.moving_mean, self.moving_variance

    def get_config(self):
        return {**super().get_config(), "num_channels": self.num_channels}
