"""MultiWorkerMirroredStrategy: two worker processes on localhost train together and agree.

Each worker is a fresh interpreter with its own TF_CONFIG; both run `model.fit` for a few steps
on the same global batches and save their weights. Worker 0 also trains the same model on one
device (no strategy) on the same global batches, the reference both must match.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.flow_cases import free_ports, with_tests_on_path

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    import keras
    import tfp_realnvp
    from tests.flow_cases import perturb

    out = sys.argv[1]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    GLOBAL_BATCH, STEPS = 8, 3
    images = np.random.default_rng(3).uniform(size=[GLOBAL_BATCH * STEPS, 4, 4, 1])
    images = images.astype("float32")

    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            flow = tfp_realnvp.RealNVPMultiScale(
                [4, 4, 1], num_scales=1, num_res_blocks=0, num_filters=4
            )
            model = tfp_realnvp.RealNVPModel(flow)
            perturb(model)
            model.compile(optimizer=keras.optimizers.SGD(0.05))
        batches = tf.data.Dataset.from_tensor_slices(images).batch(GLOBAL_BATCH)
        history = model.fit(batches, epochs=1, verbose=0).history
        return {v.path: v.numpy() for v in model.weights}, history

    weights, history = train(strategy)
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "loss": history["loss"][0],
        "weights": {name: value.tolist() for name, value in weights.items()},
    }

    # A NaN gradient on the second worker only: both workers skip the step, with the default
    # optimizer (which skips by itself) and with any other one (wrapped).
    for label, make_optimizer in (
        ("fused_adam", lambda: tfp_realnvp.training.FusedAdam(0.1)),
        ("wrapper", lambda: tfp_realnvp.training.SkipNonFiniteSteps(keras.optimizers.SGD(0.1))),
    ):
        with strategy.scope():
            w = keras.Variable(tf.ones([3]))
            optimizer = make_optimizer()
            optimizer.build([w])

        @tf.function
        def step(bad):
            def replica_step():
                gradient = tf.where(tf.logical_and(bad, index == 1), np.nan, 1.0) * tf.ones([3])
                return optimizer.apply([gradient], [w])

            return strategy.experimental_local_results(strategy.run(replica_step))

        skipped = [bool(a) for a in step(tf.constant(True))]
        unchanged = w.numpy().tolist()
        applied = [bool(a) for a in step(tf.constant(False))]
        result[label] = {
            "skipped_step_applied": skipped,
            "after_skipped_step": unchanged,
            "finite_step_applied": applied,
            "after_finite_step": w.numpy().tolist(),
            "iterations": int(optimizer.iterations.numpy()),
        }
    if index == 0:
        reference, reference_history = train(tf.distribute.get_strategy())
        result["reference_loss"] = reference_history["loss"][0]
        result["reference"] = {name: value.tolist() for name, value in reference.items()}
    with open(out, "w") as file:
        json.dump(result, file)
    """
)
TIMEOUT = 420


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("multi_worker")
    script = directory / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes, outputs = [], []
    try:
        for index in range(2):
            out = directory / f"worker_{index}.json"
            log = open(directory / f"worker_{index}.log", "w")  # noqa: SIM115 - closed below
            config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            environment = {
                **os.environ,
                "TF_CONFIG": json.dumps(config),
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONPATH": with_tests_on_path(),
            }
            process = subprocess.Popen(
                [sys.executable, str(script), str(out)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )
            processes.append((process, log))
            outputs.append(out)
        for index, (process, log) in enumerate(processes):
            try:
                process.wait(timeout=TIMEOUT)
            finally:
                log.close()
            text = (directory / f"worker_{index}.log").read_text()
            assert process.returncode == 0, f"worker {index}:\n{text[-3000:]}"
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [json.loads(out.read_text()) for out in outputs]


@pytest.mark.slow
def test_workers_form_one_cluster(workers):
    assert [w["replicas"] for w in workers] == [2, 2]


@pytest.mark.slow
def test_workers_agree_with_each_other_and_with_one_device(workers):
    first, second = workers
    assert first["weights"].keys() == second["weights"].keys() == first["reference"].keys()
    moved = 0
    for name, value in first["weights"].items():
        value = np.asarray(value)
        np.testing.assert_allclose(value, second["weights"][name], atol=1e-6, err_msg=name)
        np.testing.assert_allclose(value, first["reference"][name], atol=2e-5, err_msg=name)
        moved += not np.allclose(value, 0) and not np.allclose(value, 1)
    assert moved > 10
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-6)
    assert first["loss"] == pytest.approx(first["reference_loss"], rel=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["fused_adam", "wrapper"])
def test_a_nan_gradient_on_one_worker_skips_the_step_on_both(workers, optimizer):
    first, second = (w[optimizer] for w in workers)
    for worker in (first, second):
        assert worker["skipped_step_applied"] == [False]
        assert worker["after_skipped_step"] == [1.0, 1.0, 1.0]
        assert worker["finite_step_applied"] == [True] and worker["iterations"] == 1
    assert first["after_finite_step"] == second["after_finite_step"] != [1.0, 1.0, 1.0]
