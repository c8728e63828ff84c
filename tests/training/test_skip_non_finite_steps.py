"""SkipNonFiniteSteps: a step whose loss or gradients are not finite changes nothing, on one
device and under MirroredStrategy on two logical CPUs (in a fresh interpreter: TensorFlow
fixes its logical devices when it first initialises them)."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.training import FusedAdam, SkipNonFiniteSteps


def _state(optimizer, variables):
    return [v.numpy().copy() for v in [*variables, *optimizer.variables]]


@pytest.mark.parametrize(
    "inner",
    [lambda: keras.optimizers.SGD(0.1, momentum=0.9), lambda: FusedAdam(0.1, global_clipnorm=1)],
    ids=["sgd", "fused_adam"],
)
@pytest.mark.parametrize("run", ["eager", "tf_function"])
def test_a_non_finite_gradient_changes_nothing(inner, run):
    variables = [keras.Variable(tf.ones([2, 3])), keras.Variable(tf.zeros([2]))]
    optimizer = SkipNonFiniteSteps(inner())
    optimizer.build(variables)

    def apply(gradients):
        return optimizer.apply(gradients, variables)

    apply = tf.function(apply) if run == "tf_function" else apply
    assert bool(apply([tf.ones([2, 3]), tf.ones([2])]))  # a first step: slots not zero
    before = _state(optimizer, variables)
    for bad in (np.nan, np.inf, -np.inf):
        assert not bool(apply([tf.ones([2, 3]), tf.constant([1.0, bad])]))
        for old, new in zip(before, _state(optimizer, variables), strict=True):
            np.testing.assert_array_equal(old, new)  # weights, iterations, slots
    assert bool(apply([tf.ones([2, 3]), tf.ones([2])]))
    assert int(optimizer.iterations) == 2  # the finite step after them is applied and counted
    assert not np.array_equal(variables[1].numpy(), before[1])


def test_a_non_finite_loss_with_finite_gradients_is_skipped():
    """log(w) at w = -1 is NaN, its gradient 1 / w = -1 is finite: scale_loss makes it NaN."""
    w = keras.Variable(-1.0)
    optimizer = SkipNonFiniteSteps(keras.optimizers.SGD(0.1))
    with tf.GradientTape() as tape:
        loss = tf.math.log(w)
        scaled = optimizer.scale_loss(loss)
    (gradient,) = tape.gradient(scaled, [w])
    assert np.isnan(scaled.numpy()) and np.isnan(gradient.numpy())
    assert not bool(optimizer.apply([gradient], [w]))
    assert float(w.numpy()) == -1.0 and int(optimizer.iterations) == 0


def test_the_wrapper_shows_the_inner_optimizers_state_and_saves_it():
    inner = FusedAdam(2e-3, global_clipnorm=100.0)
    optimizer = SkipNonFiniteSteps(inner)
    optimizer.learning_rate = 5e-4  # e.g. a Keras callback
    assert float(inner.learning_rate) == pytest.approx(5e-4)
    assert optimizer.iterations is inner.iterations
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is SkipNonFiniteSteps and type(again.inner_optimizer) is FusedAdam
    assert again.inner_optimizer.global_clipnorm == 100.0
    assert float(again.learning_rate) == pytest.approx(5e-4)


def test_a_wrong_inner_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match=r"`inner_optimizer` must be .* got inner_optimizer=3"):
        SkipNonFiniteSteps(3)


MIRRORED = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import tfp_realnvp
    from tfp_realnvp.training import SkipNonFiniteSteps

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {"replicas": strategy.num_replicas_in_sync}

    def copies(variables):
        # Every replica's copy of every variable.
        return [
            np.array(c) for v in variables for c in strategy.experimental_local_results(v.value)
        ]

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    # 1. A NaN gradient on the second replica only: the step is skipped on both, by the
    # wrapper (around Keras's Adam) and by FusedAdam itself.
    for label, make_optimizer in (
        ("wrapper", lambda: SkipNonFiniteSteps(keras.optimizers.Adam(0.1))),
        ("fused_adam", lambda: tfp_realnvp.training.FusedAdam(0.1, global_clipnorm=1.0)),
    ):
        with strategy.scope():
            w = keras.Variable(tf.ones([3]))
            optimizer = make_optimizer()
            optimizer.build([w])

        @tf.function
        def step(bad):
            def replica_step():
                replica = tf.distribute.get_replica_context().replica_id_in_sync_group
                gradient = tf.where(tf.logical_and(bad, replica == 1), np.nan, 1.0) * tf.ones([3])
                return optimizer.apply([gradient], [w])

            return strategy.experimental_local_results(strategy.run(replica_step))

        before = copies([w, *optimizer.variables])
        result[label + "_nan_applied"] = [bool(a) for a in step(tf.constant(True))]
        result[label + "_nan_unchanged"] = same(before, copies([w, *optimizer.variables]))
        result[label + "_finite_applied"] = [bool(a) for a in step(tf.constant(False))]
        result[label + "_finite_iterations"] = int(optimizer.iterations.numpy())

    # 2. fit with a non-finite loss at its second step: that step changes nothing on any
    # replica (weights, statistics, optimizer slots and iterations), training goes on.
    keras.utils.set_random_seed(0)
    with strategy.scope():
        flow = tfp_realnvp.RealNVPMultiScale([4, 4, 2], num_scales=1, num_res_blocks=0,
                                             num_filters=4)
        model = tfp_realnvp.RealNVPModel(flow)
        model.compile()
    scales = [v for v in model.trainable_variables if v.path.endswith("log_scale/scale")]

    class OverflowAtTheSecondStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                self.saved = [s.numpy() for s in scales]
                for s in scales:
                    s.assign(tf.fill(s.shape, 1e30))  # exp(s) overflows: the loss is inf
                self.before = copies([*model.variables, *model.optimizer.variables])

        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                after = copies([*model.variables, *model.optimizer.variables])
                result["skipped_step_unchanged"] = same(self.before, after)
                result["variables_compared"] = len(after)
                for s, value in zip(scales, self.saved):
                    s.assign(value)

    images = np.random.default_rng(0).uniform(size=[32, 4, 4, 2]).astype("float32")
    history = model.fit(
        tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0,
        callbacks=[OverflowAtTheSecondStep()],
    ).history
    result["skipped_steps"] = history["skipped_steps"]
    result["loss"] = history["loss"]
    result["iterations"] = int(model.optimizer.iterations.numpy())
    result["finite"] = all(np.all(np.isfinite(c)) for c in copies(model.variables))

    # 3. A batch the input check refuses (a NaN pixel in the second replica's half) raises and
    # changes nothing either.
    before = copies([*model.variables, *model.optimizer.variables])
    bad = images[:8].copy()
    bad[6, 0, 0, 0] = np.nan
    try:
        model.fit(tf.data.Dataset.from_tensors(bad), epochs=1, verbose=0)
    except tf.errors.InvalidArgumentError as error:
        result["refused"] = "must hold finite pixel values" in str(error)
    after = copies([*model.variables, *model.optimizer.variables])
    result["refused_batch_unchanged"] = same(before, after)

    # 4. FusedAdam's kernels under the strategy: Keras's Adam's steps on every replica's copy.
    def two_steps(make_optimizer):
        with strategy.scope():
            w = keras.Variable(tf.linspace(-1.0, 1.0, 6))
            optimizer = make_optimizer(0.1, global_clipnorm=1.0)
            optimizer.build([w])

        @tf.function
        def step():
            def replica_step():
                replica = tf.distribute.get_replica_context().replica_id_in_sync_group
                gradient = (w.value - 0.3) * tf.cast(replica + 1, tf.float32)
                optimizer.apply([gradient], [w])

            strategy.run(replica_step)

        step()
        step()
        return copies([w, *optimizer.variables])

    fused = two_steps(tfp_realnvp.training.FusedAdam)
    plain = two_steps(keras.optimizers.Adam)
    result["fused_adam_difference"] = max(
        float(np.max(np.abs(a - b))) for a, b in zip(fused, plain, strict=True)
    )
    print(json.dumps(result))
    """
)


@pytest.mark.xdist_group("distribute")
def test_under_mirrored_strategy_a_non_finite_step_changes_nothing_on_any_replica():
    run = subprocess.run(
        [sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for label in ("wrapper", "fused_adam"):
        assert result[label + "_nan_applied"] == [False, False]
        assert result[label + "_nan_unchanged"]
        assert result[label + "_finite_applied"] == [True, True]
        assert result[label + "_finite_iterations"] == 1
    assert result["variables_compared"] > 100
    assert result["skipped_step_unchanged"]
    assert result["skipped_steps"] == [1] and result["iterations"] == 3
    assert np.isfinite(result["loss"][0]) and result["finite"]
    assert result["refused"] and result["refused_batch_unchanged"]
    assert result["fused_adam_difference"] < 1e-5  # float32 rounding of values near 1
