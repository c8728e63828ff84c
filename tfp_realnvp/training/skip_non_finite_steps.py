"""An optimizer wrapper that skips every step whose loss or gradients are not finite."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class SkipNonFiniteSteps(keras.optimizers.Optimizer):
    """Applies `inner_optimizer`'s step only when the loss and every gradient are finite.

        finite = all(isfinite(g) for g in grads, on every replica)  [and isfinite(loss)]
        finite:      inner_optimizer.apply(grads, variables)
        not finite:  nothing (weights, slots and `iterations` keep their values)

    The decision is taken once for the whole step, after the replicas agree on it (an
    all-reduce of each replica's verdict), so one NaN on one replica skips the step on every
    replica and every worker: the same code holds with no strategy, `MirroredStrategy`,
    `MultiWorkerMirroredStrategy` and `TPUStrategy`. Like Keras's `LossScaleOptimizer`, the
    inner step runs in a `cond` in cross-replica context where a strategy needs `merge_call`
    (a `cond` in a replica context cannot hold a branch that calls it), and in a plain `cond`
    elsewhere.

    The loss is checked through `scale_loss`, which Keras's training step calls on the loss
    before differentiating it: the loss comes back unchanged, but a non-finite loss makes every
    gradient NaN, so a step whose loss is NaN or infinite is skipped even where its gradients
    would be finite (d log(x) = dx / x is finite where log(x) is NaN).

    `apply` returns whether the step was applied (a bool tensor); a skipped step leaves
    `iterations` as it was. Other state the step changed (batch-norm statistics) is the
    caller's to restore (`RealNVPModel.train_step` does).

    Like optax's `apply_if_finite`, and the skipping half of `LossScaleOptimizer` without its
    loss scale.

    Args:
      inner_optimizer: the `keras.optimizers.Optimizer` that makes the steps. Its learning rate
        and iterations are this optimizer's; its variables are the only ones saved.
      name: the wrapper's name.

    Example:
      >>> optimizer = SkipNonFiniteSteps(keras.optimizers.SGD(0.1))
      >>> w = keras.Variable(1.0)
      >>> bool(optimizer.apply([tf.constant(float("nan"))], [w]))
      False
      >>> float(w.numpy()), int(optimizer.iterations.numpy())
      (1.0, 0)
    """

    def __init__(self, inner_optimizer, name=None, **kwargs):
        if isinstance(inner_optimizer, (str, dict)):
            inner_optimizer = keras.optimizers.get(inner_optimizer)
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                "`inner_optimizer` must be a keras.optimizers.Optimizer (or its name); got "
                f"inner_optimizer={inner_optimizer!r}."
            )
        super().__init__(learning_rate=0.0, name=name or "skip_non_finite_steps", **kwargs)
        self.inner_optimizer = inner_optimizer

    # -- delegated to the inner optimizer ------------------------------------------------------

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        self.built = True

    @property
    def variables(self):
        # Only the inner optimizer's: checkpoints stay those of the optimizer it wraps.
        return self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def scale_loss(self, loss):
        """The inner optimizer's scaled loss, whose gradient is NaN if the loss is not finite."""
        return gradient_nan_unless_finite(self.inner_optimizer.scale_loss(loss))

    # -- the step ------------------------------------------------------------------------------

    def apply(self, grads, trainable_variables=None):
        """Runs the inner optimizer's step if every gradient on every replica is finite.

        Returns a bool tensor: whether the step was applied (the same on every replica).
        """
        if not self.built:
            self.build(trainable_variables)
        grads = list(grads)
        finite = agreed_across_replicas(_all_finite(grads))
        if tf.__internal__.distribute.strategy_supports_no_merge_call():
            self._apply_if(finite, grads, trainable_variables)
            return finite

        def apply_in_cross_replica_context(strategy, finite, grads, trainable_variables):
            def apply_on_each_replica():
                strategy.extended.call_for_each_replica(
                    self.inner_optimizer.apply, args=(grads, trainable_variables)
                )

            # Every replica holds the same verdict (all-reduced above): take the first's.
            tf.cond(strategy.experimental_local_results(finite)[0], apply_on_each_replica, _nothing)

        tf.distribute.get_replica_context().merge_call(
            apply_in_cross_replica_context, args=(finite, grads, trainable_variables)
        )
        return finite

    def _apply_if(self, finite, grads, trainable_variables):
        def apply():
            self.inner_optimizer.apply(grads, trainable_variables)

        tf.cond(finite, apply, _nothing)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError("SkipNonFiniteSteps runs on the TensorFlow backend only.")

    # -- saving --------------------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)


def skipping_non_finite_steps(optimizer):
    """`optimizer` wrapped in `SkipNonFiniteSteps`, unless it skips such steps itself (this
    wrapper, or `FusedAdam` with `skips_non_finite_steps`)."""
    if isinstance(optimizer, SkipNonFiniteSteps):
        return optimizer
    if getattr(optimizer, "skips_non_finite_steps", False):
        return optimizer
    return SkipNonFiniteSteps(optimizer)


def _all_finite(grads):
    """A bool scalar: every value of every (non-None) gradient is finite."""
    checks = [tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def agreed_across_replicas(finite):
    """`finite` of this replica, AND-ed over all replicas of all workers (an all-reduce)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return finite
    failures = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(~finite, tf.float32))
    return tf.equal(failures, 0.0)


@tf.custom_gradient
def gradient_nan_unless_finite(loss):
    """The identity on `loss`, with gradient upstream * (1 if loss is finite else NaN)."""

    def gradient(upstream):
        nan = tf.constant(float("nan"), upstream.dtype)
        return tf.where(tf.math.is_finite(loss), upstream, nan)

    return tf.identity(loss), gradient


def _nothing():
    """The branch of a skipped step."""
