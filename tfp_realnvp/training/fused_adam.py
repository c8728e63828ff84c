"""Keras's Adam, each variable's update one fused TensorFlow kernel: a smaller training graph."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update of a variable is TensorFlow's `ResourceApplyAdam`.

    The same map as Keras's Adam, at step t with gradient g:

        g <- g * clip / max(||g||, clip)          (with `global_clipnorm`; ||.|| over all g)
        m <- m + (1 - beta_1) (g - m)
        v <- v + (1 - beta_2) (g^2 - v)
        w <- w - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    and the same state (Keras's `m` and `v` slots, so checkpoints of either optimizer restore
    into the other), but as one kernel per variable instead of about 30 ops: the step's scalars
    (beta_1^t, beta_2^t, the casts) and the global gradient norm are computed once per step.
    A flow has over a thousand variables, so the training step's graph is a fraction of the
    size: tracing it and Grappler's first optimisation, the cost of the first step, shrink
    with it.

    The same code runs with and without a `tf.distribute` strategy: as in Keras, the gradients
    are summed across replicas and each replica's copy of a variable gets the same update.
    Keras's own update runs for what the kernel does not cover: `amsgrad`, sparse gradients,
    variables that are not float. Weight decay, an EMA of the weights and gradient
    accumulation are Keras's, around these updates.

    It does not skip non-finite steps itself: `RealNVPModel` wraps it in `SkipNonFiniteSteps`.
    """

    def _clip_gradients(self, grads):
        if not self.global_clipnorm:
            return super()._clip_gradients(grads)
        # One L2Loss per gradient (Keras's clip_by_global_norm squares and sums each one).
        norm = tf.linalg.global_norm([g for g in grads if g is not None])
        clip = tf.cast(self.global_clipnorm, norm.dtype)
        scale = clip / tf.maximum(norm, clip)
        return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if self.amsgrad:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        variables = [_tf_variable(v) for v in trainable_variables]
        # The step's scalars, once per dtype in this replica's context, handed to each update.
        dtypes = {v.dtype for v in variables if v.dtype.is_floating}
        scalars = {dtype.name: self._step_scalars(dtype, learning_rate) for dtype in dtypes}
        grads_and_vars = self._all_reduce_sum_gradients(list(zip(grads, variables, strict=True)))
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._fused_update_step,
            self._distribution_strategy,
            grads_and_vars,
            learning_rate,
            scalars,
        )

    def _fused_update_step(self, strategy, grads_and_vars, learning_rate, scalars):
        for gradient, variable in grads_and_vars:
            if gradient is None:
                continue
            strategy.extended.update(
                variable, self._update_one, args=(gradient, learning_rate, scalars), group=False
            )

    def _update_one(self, variable, gradient, learning_rate, scalars):
        """One variable's update, on one replica's copy of it (inside `extended.update`)."""
        if isinstance(gradient, tf.IndexedSlices) or not variable.dtype.is_floating:
            return self.update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step_scalars = scalars[variable.dtype.name]
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=_tf_variable(m).handle,
            v=_tf_variable(v).handle,
            grad=tf.cast(gradient, step_scalars["lr"].dtype),
            **step_scalars,
        )

    def _step_scalars(self, dtype, learning_rate):
        """The arguments of `ResourceApplyAdam` that depend on the step, not on the variable."""
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        return dict(
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
        )


def _tf_variable(variable):
    """The `tf.Variable` of a Keras or TensorFlow variable."""
    return variable.value if isinstance(variable, keras.Variable) else variable
