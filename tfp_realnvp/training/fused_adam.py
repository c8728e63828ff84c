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

    A step whose gradients are not all finite changes nothing (`skips_non_finite_steps`): it
    runs the same kernels with lr = 0, beta_1 = beta_2 = 1 and a zero gradient, the identity
    on w, m and v, and `iterations` does not count it. So a training step needs no `tf.cond`
    around the optimizer, whose branches would take every gradient and variable as inputs.

    Keras's own update runs instead where the fused kernel does not apply: under a
    `tf.distribute` strategy (the kernel needs the local variable's handle), with `amsgrad`,
    for sparse gradients or for variables that are not float. With weight decay, an
    exponential moving average of the weights or gradient accumulation, Keras runs the step
    and each variable's update is still one kernel, but non-finite steps are not skipped.
    """

    @property
    def skips_non_finite_steps(self):
        """Whether `apply` leaves the weights, `m`, `v` and `iterations` as they were when a
        gradient is NaN or infinite: without a `tf.distribute` strategy, `amsgrad`, weight
        decay, an EMA of the weights or gradient accumulation."""
        return (
            self._fusable()
            and self.weight_decay is None
            and not self.use_ema
            and not self.gradient_accumulation_steps
        )

    def _fusable(self):
        return not self.amsgrad and not tf.distribute.has_strategy()

    def _backend_apply_gradients(self, grads, trainable_variables):
        variables = [_tf_variable(v) for v in trainable_variables]
        if not (self.skips_non_finite_steps and _dense_and_of_one_float_dtype(grads, variables)):
            return super()._backend_apply_gradients(grads, trainable_variables)
        norm = tf.linalg.global_norm(grads)  # one L2Loss per gradient
        finite = tf.math.is_finite(norm)
        scale = tf.ones([], norm.dtype)
        if self.global_clipnorm:
            clip = tf.cast(self.global_clipnorm, norm.dtype)
            scale = clip / tf.maximum(norm, clip)
        elif self.clipnorm or self.clipvalue:  # Keras's clipping, per gradient
            grads = self._clip_gradients(grads)
        # A skipped step's gradients are 0: multiply_no_nan gives 0 * NaN = 0, as a product
        # would not.
        scale = tf.where(finite, scale, tf.zeros_like(scale))
        scalars = self._step_scalars(variables[0].dtype, self.learning_rate, finite)
        for gradient, variable in zip(grads, variables, strict=True):
            self._apply_fused(tf.math.multiply_no_nan(gradient, scale), variable, scalars)
        # `apply` counts the step once this returns: count a skipped one back out first.
        self._iterations.assign_sub(tf.cast(tf.logical_not(finite), self._iterations.dtype))

    def update_step(self, gradient, variable, learning_rate):
        if (
            not self._fusable()
            or isinstance(gradient, tf.IndexedSlices)
            or not variable.dtype.is_floating
        ):
            return super().update_step(gradient, variable, learning_rate)
        self._apply_fused(gradient, variable, self._step_scalars(variable.dtype, learning_rate))

    def _step_scalars(self, dtype, learning_rate, finite=None):
        """The arguments of `ResourceApplyAdam` that depend on the step, not on the variable.

        Where the boolean tensor `finite` is False: lr = 0 and beta_1 = beta_2 = 1, so that
        with a zero gradient m, v and w stay exactly as they are (the bias corrections keep the
        real betas: their 1 - beta^t must not be 0). Without `finite`, the step applies.
        """
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        scalars = dict(
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
        )
        if finite is not None:
            zero, one = tf.zeros([], dtype), tf.ones([], dtype)
            for name, skipped in (("lr", zero), ("beta1", one), ("beta2", one)):
                scalars[name] = tf.where(finite, scalars[name], skipped)
        return scalars

    def _apply_fused(self, gradient, variable, scalars):
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        tf.raw_ops.ResourceApplyAdam(
            var=_tf_variable(variable).handle,
            m=_tf_variable(m).handle,
            v=_tf_variable(v).handle,
            grad=tf.cast(gradient, scalars["lr"].dtype),
            **scalars,
        )


def _tf_variable(variable):
    """The `tf.Variable` of a Keras or TensorFlow variable."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _dense_and_of_one_float_dtype(grads, variables):
    dtypes = {tf.as_dtype(x.dtype) for x in [*grads, *variables]}
    return (
        not any(isinstance(g, tf.IndexedSlices) for g in grads)
        and len(dtypes) == 1
        and dtypes.pop().is_floating
    )
