"""The bounded log-scale of an affine coupling: s = scale * tanh(raw)."""

import keras
from keras import ops


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
        self._create_weights()

    def _create_weights(self):
        # The shapes depend on no input, so the weights exist from construction on.
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
