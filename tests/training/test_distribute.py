"""MirroredStrategy on two logical CPUs: one step equals one device on the same global batch,
for an unconditional model, a class-conditional one fitted on (images, labels), one trained
with memory-saving gradients (couplings and residual blocks recomputed, whose recomputation
synchronises the batch statistics again), and one whose optimizer averages the weights (EMA)
over two steps: the averages too are the one device's on every replica.

TensorFlow fixes its logical devices when it first initialises them, so the comparison runs in
a fresh interpreter (the test process has long initialised its single CPU).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.flow_cases import with_tests_on_path

# One worker runs the module (`pytest -n 2 --dist loadgroup`), so each comparison runs once.
pytestmark = pytest.mark.xdist_group("distribute")

SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import tfp_realnvp
    from tests.flow_cases import perturb

    GLOBAL_BATCH = 8
    CONDITIONAL = sys.argv[1] == "conditional"
    MEMORY_SAVING = "blocks" if sys.argv[1] == "memory_saving_blocks" else False
    EMA = sys.argv[1] == "ema"
    images = np.random.default_rng(3).uniform(size=[GLOBAL_BATCH, 4, 4, 2]).astype("float32")
    labels = np.arange(GLOBAL_BATCH, dtype="int32") % 3

    def train_one_step(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            flow = tfp_realnvp.RealNVPMultiScale(
                [4, 4, 2],
                num_scales=2,
                num_res_blocks=1 if MEMORY_SAVING else 0,
                num_filters=4,
                conditional_shape=[3] if CONDITIONAL else None,
                memory_saving_gradients=MEMORY_SAVING,
            )
            model = tfp_realnvp.RealNVPModel(flow, num_classes=3 if CONDITIONAL else None)
            perturb(model)  # away from the zero initialisation
            # Plain SGD: its step is proportional to the gradient, so a gradient scaled by the
            # number of replicas would show (Adam's first step would hide it).
            # With an EMA (two steps, so that the average differs from the weights), `compile`
            # wraps it in SkipNonFiniteSteps.
            averaging = {"use_ema": True, "ema_momentum": 0.5} if EMA else {}
            model.compile(optimizer=keras.optimizers.SGD(0.05, **averaging))
        initial = [v.numpy() for v in model.weights]
        data = (images, labels) if CONDITIONAL else images
        steps = 2 if EMA else 1
        batches = tf.data.Dataset.from_tensor_slices(data).batch(GLOBAL_BATCH).repeat(steps)
        history = model.fit(batches, epochs=1, verbose=0, shuffle=False).history
        return model, initial, history

    one, initial, one_history = train_one_step(tf.distribute.OneDeviceStrategy("/cpu:0"))
    mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two, _, two_history = train_one_step(mirrored_strategy)

    def averages(model):
        if not EMA:
            return []
        replicas = model.optimizer.inner_optimizer._model_variables_moving_average
        return [[r.numpy() for r in getattr(a.value, "values", [a.value])] for a in replicas]

    one_averages, two_averages = averages(one), averages(two)
    print(json.dumps({
        "average_moved": [
            float(np.max(np.abs(a[0] - initial[i])))
            for a, i in zip(one_averages, [i for i, v in enumerate(one.weights) if v.trainable])
        ],
        "average_difference": [
            float(np.max(np.abs(copy - a[0])))
            for a, b in zip(one_averages, two_averages)
            for copy in b
        ],
        "replicas": mirrored_strategy.num_replicas_in_sync,
        "names": [v.path for v in one.weights],
        "trainable": [v.trainable for v in one.weights],
        "moved": [float(np.max(np.abs(v.numpy() - w))) for v, w in zip(one.weights, initial)],
        "difference": [
            float(np.max(np.abs(v.numpy() - w.numpy()))) for v, w in zip(one.weights, two.weights)
        ],
        "loss": [one_history["loss"][0], two_history["loss"][0]],
        "bits_per_dim": [one_history["bits_per_dim"][0], two_history["bits_per_dim"][0]],
    }))
    """
)


@pytest.fixture(
    scope="module",
    params=[
        "unconditional",
        "conditional",
        pytest.param("memory_saving_blocks", marks=pytest.mark.slow),
        pytest.param("ema", marks=pytest.mark.slow),
    ],
)
def comparison(request, tmp_path_factory):
    script = tmp_path_factory.mktemp("distribute") / "mirrored.py"
    script.write_text(SCRIPT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": with_tests_on_path()}
    result = subprocess.run(
        [sys.executable, str(script), request.param],
        capture_output=True,
        text=True,
        timeout=540,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_replicas(comparison):
    assert comparison["replicas"] == 2


def test_one_mirrored_step_equals_one_device_on_the_global_batch(comparison):
    moved = np.array(comparison["moved"])
    difference = np.array(comparison["difference"])
    trainable = np.array(comparison["trainable"])
    names = comparison["names"]
    # The step changed most weights (not those whose gradient is zero or tiny: biases and
    # weight-norm magnitudes just before a batch norm) and every moving variance...
    assert np.mean(moved[trainable] > 1e-3) > 0.5
    variances = [i for i, name in enumerate(names) if "moving_variance" in name]
    assert len(variances) > 10 and np.all(moved[variances] > 1e-4)
    # ... identically on one device and on two replicas (gradient scale, global batch norm).
    worst = int(np.argmax(difference))
    assert difference.max() < 2e-5, (names[worst], difference[worst], moved[worst])


def test_metrics_agree(comparison):
    # The loss is a small difference of larger terms (NLL and L2), so round-off in the replicas'
    # partial sums shows at about 1e-5 of it; a wrongly scaled gradient would be off by far more.
    np.testing.assert_allclose(*comparison["loss"], rtol=1e-4)
    np.testing.assert_allclose(*comparison["bits_per_dim"], rtol=1e-5)


def test_the_weights_average_is_the_one_devices_on_every_replica(comparison):
    if not comparison["average_moved"]:
        pytest.skip("this model's optimizer keeps no average")
    # The average moved in two steps (and `fit` ended with it in the weights, which the test
    # above compares), and every replica's copy of it is the one device's.
    assert np.mean(np.array(comparison["average_moved"]) > 1e-3) > 0.5
    assert len(comparison["average_difference"]) == 2 * len(comparison["average_moved"])
    assert max(comparison["average_difference"]) < 2e-5
