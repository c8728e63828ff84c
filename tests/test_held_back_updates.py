"""A training step holds its batch-norm updates back, then assigns each statistic once."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.networks.fused_batch_norm import FusedBatchNormalization
from tfp_realnvp.networks.held_back_updates import HeldBackUpdates

SHAPE = [4, 4, 3]


def fused_float32():
    layer = FusedBatchNormalization(momentum=0.8)
    layer.build([None, *SHAPE])
    return layer.non_trainable_variables, lambda x: layer(x, training=True), "float32"


def keras_path_float64():  # the fused kernel takes no float64: Keras's own path
    layer = FusedBatchNormalization(momentum=0.8, dtype="float64")
    layer.build([None, *SHAPE])
    return layer.non_trainable_variables, lambda x: layer(x, training=True), "float64"


def flow_batch_norm():  # `MovingAverageBatchNorm`'s statistics (`MovingMoments`)
    norm = tfp_realnvp.MovingAverageBatchNorm(SHAPE, momentum=0.8)
    statistics = [norm.moving_mean, norm.moving_variance]  # Keras variables, as a model's
    return statistics, lambda x: norm.inverse(x, training=True), "float32"


@pytest.mark.parametrize("make", [fused_float32, keras_path_float64, flow_batch_norm])
def test_held_back_updates_are_the_direct_updates_or_none(make):
    statistics, train, dtype = make()
    assert len(statistics) == 2
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, [8, *SHAPE]).astype(dtype) for _ in range(2)]
    before = [v.numpy() for v in statistics]

    def reset():
        for variable, value in zip(statistics, before, strict=True):
            variable.assign(value)

    for x in batches:  # twice: the second call starts from the first's update
        train(x)
    direct = [v.numpy() for v in statistics]
    assert not np.allclose(direct[0], before[0])
    reset()

    for applied, expected in ((True, direct), (False, before)):
        held_back = HeldBackUpdates(statistics)
        with held_back:
            for x in batches:
                train(x)
        for variable, value in zip(statistics, before, strict=True):
            np.testing.assert_array_equal(variable.numpy(), value)  # nothing assigned yet
        held_back.apply(tf.constant(applied))
        for variable, value in zip(statistics, expected, strict=True):
            np.testing.assert_allclose(variable.numpy(), value, rtol=1e-6)
        reset()


def test_the_training_step_assigns_each_statistic_once():
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(SHAPE, num_scales=1, num_res_blocks=1, num_filters=4)
    model = tfp_realnvp.RealNVPModel(flow)
    model.compile()
    graph = tf.function(model.train_step).get_concrete_function(tf.TensorSpec([8, *SHAPE])).graph
    handles = {id(external): internal.name for external, internal in graph.captures}
    statistic_handles = {handles[id(v.value.handle)] for v in model.non_trainable_variables}
    assigned = collections.Counter(
        op.inputs[0].name for op in graph.get_operations() if op.type == "AssignVariableOp"
    )
    assert len(statistic_handles) == len(model.non_trainable_variables) > 20
    assert {assigned[name] for name in statistic_handles} == {1}
