"""Keras's Adam, each variable's update one fused TensorFlow kernel: a smaller training graph."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update of a variable is TensorFlow's `ResourceApplyAdam`.

    The same map as Keras's Adam, at step t with gradient g:

        m <- m + (1 - beta_1) (g - m)
        v <- v + (1 - beta_2) (g^2 - v)
        w <- w - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    and the same state (Keras's `m` and `v` slots, so checkpoints of either optimizer restore
    into the other), but as one kernel per variable instead of about 30 ops. A flow has over a
    thousand variables, so the training step's graph is a fraction of the size: tracing it and
    Grappler's first optimisation, the cost of the first step, shrink with it.

    Keras's own update runs instead where the fused kernel does not apply: under a
    `tf.distribute` strategy (the kernel needs the local variable's handle), with `amsgrad`,
    for sparse gradients or for variables that are not float.
    """

    def update_step(self, gradient, variable, learning_rate):
        if (
            self.amsgrad
            or tf.distribute.has_strategy()
            or isinstance(gradient, tf.IndexedSlices)
            or not variable.dtype.is_floating
        ):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(m),
            v=_handle(v),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle
