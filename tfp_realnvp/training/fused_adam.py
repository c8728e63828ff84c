"""Keras's Adam, each variable's update one fused TensorFlow kernel: a smaller training graph."""

import keras
import tensorflow as tf

from tfp_realnvp.training.skip_non_finite_steps import (
    agreed_across_replicas,
    gradient_nan_unless_finite,
)


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

    A step whose loss or gradients are not all finite, on any replica, changes nothing
    (`skips_non_finite_steps`), as `SkipNonFiniteSteps` would make it, but without a `cond`
    (whose branches would take every gradient and variable as inputs): the replicas agree on
    the verdict (an all-reduce of one number), then run the same kernels with lr = 0,
    beta_1 = beta_2 = 1 and a zero gradient, the identity on w, m and v, and `iterations`
    does not count the step. `apply` returns whether the step was applied.

    The same code runs with and without a `tf.distribute` strategy: as in Keras, the gradients
    are summed across replicas and each replica's copy of a variable gets the same update.
    Keras's own update runs for what the kernel does not cover: `amsgrad`, sparse gradients,
    variables that are not float. With weight decay, an EMA of the weights or gradient
    accumulation (Keras's, around these updates) it does not skip steps itself:
    `RealNVPModel.compile` then wraps it in `SkipNonFiniteSteps`.
    """

    @property
    def skips_non_finite_steps(self):
        """Whether `apply` leaves the weights, `m`, `v` and `iterations` as they were when the
        loss (through `scale_loss`) or a gradient is NaN or infinite: without `amsgrad`, weight
        decay, an EMA of the weights or gradient accumulation."""
        return not (
            self.amsgrad
            or self.weight_decay is not None
            or self.use_ema
            or self.gradient_accumulation_steps
        )

    def scale_loss(self, loss):
        """Keras's scaled loss; where steps are skipped, its gradient is NaN if it is not finite."""
        loss = super().scale_loss(loss)
        return gradient_nan_unless_finite(loss) if self.skips_non_finite_steps else loss

    def apply(self, grads, trainable_variables=None):
        """Keras's `apply`; returns a bool tensor, whether the step was applied."""
        if not self.skips_non_finite_steps:
            super().apply(grads, trainable_variables)
            return tf.constant(True)
        before = tf.identity(self.iterations)
        super().apply(grads, trainable_variables)
        return self.iterations > before

    def _backend_apply_gradients(self, grads, trainable_variables):
        if not self.skips_non_finite_steps:
            return super()._backend_apply_gradients(grads, trainable_variables)
        norm = tf.linalg.global_norm(grads)  # one L2Loss per gradient: the clip and the verdict
        finite = agreed_across_replicas(tf.math.is_finite(norm))
        scale = self._global_clip_scale(norm)
        if not self.global_clipnorm and (self.clipnorm or self.clipvalue):  # Keras's, per gradient
            grads = self._clip_gradients(grads)
        # A skipped step's gradients are 0: multiply_no_nan gives 0 * NaN = 0, as a product
        # would not.
        scale = tf.where(finite, scale, tf.zeros_like(scale))
        grads = [tf.math.multiply_no_nan(g, tf.cast(scale, g.dtype)) for g in grads]
        self._fused_update(grads, trainable_variables, self.learning_rate, finite)
        # `apply` counts the step once this returns: count a skipped one back out first.
        self.iterations.assign_sub(tf.cast(tf.logical_not(finite), self.iterations.dtype))

    def _clip_gradients(self, grads):
        if not self.global_clipnorm:
            return super()._clip_gradients(grads)
        # One L2Loss per gradient (Keras's clip_by_global_norm squares and sums each one).
        scale = self._global_clip_scale(tf.linalg.global_norm([g for g in grads if g is not None]))
        return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads]

    def _global_clip_scale(self, norm):
        """clip / max(||g||, clip) with `global_clipnorm`, else 1: the factor of every gradient."""
        if not self.global_clipnorm:
            return tf.ones([], norm.dtype)
        clip = tf.cast(self.global_clipnorm, norm.dtype)
        return clip / tf.maximum(norm, clip)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Keras's step (with weight decay, EMA or accumulation) calls this: the fused update.
        if self.amsgrad:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        self._fused_update(grads, trainable_variables, learning_rate)

    def _fused_update(self, grads, trainable_variables, learning_rate, finite=None):
        """Sums the gradients across replicas and updates each replica's copy of each variable.

        The step's scalars are computed once per dtype, in this replica's context; where the
        bool tensor `finite` is False they make the update the identity.
        """
        variables = [_tf_variable(v) for v in trainable_variables]
        dtypes = {v.dtype for v in variables if v.dtype.is_floating}
        scalars = {d.name: self._step_scalars(d, learning_rate, finite) for d in dtypes}
        grads_and_vars = list(zip(grads, variables, strict=True))
        if tf.distribute.get_replica_context().num_replicas_in_sync > 1:
            # (With one replica the sum is the identity: no op per gradient to trace.)
            grads_and_vars = self._all_reduce_sum_gradients(grads_and_vars)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._update_each_copy,
            tf.distribute.get_strategy(),
            grads_and_vars,
            learning_rate,
            scalars,
        )

    def _update_each_copy(self, strategy, grads_and_vars, learning_rate, scalars):
        for gradient, variable in grads_and_vars:
            if gradient is not None:
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

    def _step_scalars(self, dtype, learning_rate, finite=None):
        """The arguments of `ResourceApplyAdam` that depend on the step, not on the variable.

        Where the bool tensor `finite` is False: lr = 0 and beta_1 = beta_2 = 1, so that with a
        zero gradient m, v and w stay exactly as they are (the bias corrections keep the real
        betas: their 1 - beta^t must not be 0).
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


def _tf_variable(variable):
    """The `tf.Variable` of a Keras or TensorFlow variable."""
    return variable.value if isinstance(variable, keras.Variable) else variable
