"""FusedAdam: Keras's Adam map and state, one fused kernel per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.training import FusedAdam, SkipNonFiniteSteps, default_optimizer
from tfp_realnvp.training.skip_non_finite_steps import skipping_non_finite_steps


def _steps(optimizer, count=5):
    """A few Adam steps on a quadratic with well-scaled gradients; the variables after them."""
    variables = [
        keras.Variable(np.linspace(-1.0, 1.0, 6).reshape(2, 3).astype("float32")),
        keras.Variable(np.array([0.5, -2.0], "float32")),
    ]
    optimizer.build(variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = sum(tf.reduce_sum((v - 0.3) ** 2 * (i + 1)) for i, v in enumerate(variables))
        optimizer.apply(tape.gradient(loss, variables), variables)

    for _ in range(count):
        step()
    return [v.numpy() for v in variables], optimizer


@pytest.mark.parametrize("clipping", [{}, {"global_clipnorm": 0.5}], ids=["plain", "clipped"])
def test_same_map_and_state_as_keras_adam(clipping):
    # The gradients' global norm is about 4: a clip at 0.5 scales every step.
    options = dict(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-6, **clipping)
    fused, fused_optimizer = _steps(FusedAdam(**options))
    plain, plain_optimizer = _steps(keras.optimizers.Adam(**options))
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.max(np.abs(fused[1] - [0.5, -2.0])) > 0.1  # the steps moved the variables
    states = zip(fused_optimizer.variables, plain_optimizer.variables, strict=True)
    for a, b in states:  # iterations, m and v of each variable
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_keras_saving_round_trip_of_the_default_optimizer():
    optimizer = default_optimizer(2e-3)
    assert isinstance(optimizer, FusedAdam)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdam
    assert again.get_config()["global_clipnorm"] == optimizer.get_config()["global_clipnorm"]
    assert float(again.learning_rate) == pytest.approx(2e-3)


def _update_graph_ops(count):
    """The op types of one default-optimizer step on `count` variables."""
    variables = [keras.Variable(tf.ones([3, 3, 4, 4]) * i) for i in range(1, count + 1)]
    optimizer = default_optimizer()
    optimizer.build(variables)

    @tf.function
    def step(gradients):
        optimizer.apply(gradients, variables)

    graph = step.get_concrete_function([tf.TensorSpec(v.shape) for v in variables]).graph
    kinds = [op.type for op in graph.get_operations()]
    assert kinds.count("ResourceApplyAdam") == count
    assert kinds.count("Pow") == 2  # beta_1^t and beta_2^t, once for all variables
    return [kind for kind in kinds if kind not in ("Placeholder", "Identity")]


def test_the_update_is_a_few_ops_per_variable():
    """One kernel per variable plus clipping's norm and scaling: the step's scalars once."""
    # 3 ops per variable besides its inputs and the (cross-replica sum's) identity: its part of
    # the norm, the clipping (0 for a non-finite step), the kernel. Keras's Adam has about 30.
    per_variable = (len(_update_graph_ops(40)) - len(_update_graph_ops(20))) / 20
    assert per_variable == 3


def test_a_non_finite_gradient_changes_nothing():
    variables = [keras.Variable(tf.ones([2, 3])), keras.Variable(tf.zeros([2]))]
    optimizer = default_optimizer(0.05)
    assert optimizer.skips_non_finite_steps
    optimizer.build(variables)
    apply = tf.function(lambda gradients: optimizer.apply(gradients, variables))
    assert bool(apply([tf.ones([2, 3]), tf.ones([2])]))  # a first step: m and v not zero
    before = [v.numpy() for v in [*variables, *optimizer.variables]]
    for bad in (np.nan, np.inf):
        assert not bool(apply([tf.ones([2, 3]), tf.constant([1.0, bad])]))
        after = [v.numpy() for v in [*variables, *optimizer.variables]]
        for old, new in zip(before, after, strict=True):  # weights, iterations, m and v
            np.testing.assert_array_equal(old, new)
    assert bool(apply([tf.ones([2, 3]), tf.ones([2])]))
    assert int(optimizer.iterations) == 2  # the finite step after them is applied and counted
    assert not np.array_equal(variables[1].numpy(), before[1])


def test_the_model_wraps_it_only_where_it_does_not_skip_itself():
    assert not FusedAdam(weight_decay=0.01).skips_non_finite_steps
    assert not FusedAdam(amsgrad=True).skips_non_finite_steps
    assert type(skipping_non_finite_steps(FusedAdam())) is FusedAdam
    wrapped = skipping_non_finite_steps(FusedAdam(weight_decay=0.01))
    assert type(wrapped) is SkipNonFiniteSteps


def test_weight_decay_is_keras_around_the_fused_update():
    fused, _ = _steps(FusedAdam(learning_rate=0.05, weight_decay=0.1))
    plain, _ = _steps(keras.optimizers.Adam(learning_rate=0.05, weight_decay=0.1))
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)  # float rounding, 5 steps
