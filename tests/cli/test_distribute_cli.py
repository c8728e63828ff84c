"""`tfp-realnvp train --strategy multi_worker|tpu`: two local workers, a killed worker, no TPU.

Two worker processes on this machine (TF_CONFIG on free loopback ports, one shared log dir) train
the tiny digits flow together; one process with `--strategy mirrored` (one replica on this
machine) trains on the same global batches (same seed: the workers shuffle alike and each keeps
its half of every batch; under any strategy Keras draws one batch before training, so the single
process needs one too, not `--strategy default`). Each
process runs the CLI through a wrapper that records the weights of the model it saves at the end
(a non-chief worker saves into a temporary folder that it deletes).
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.flow_cases import free_ports, with_tests_on_path

WRAPPER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tfp_realnvp.cli import main
    from tfp_realnvp.training import callbacks

    save = callbacks.save_model_atomically

    def save_and_record(model, filepath):
        save(model, filepath)
        # The trainable weights first, then the statistics: `trainable` says how many.
        weights = model.trainable_weights + model.non_trainable_weights
        trainable = np.array(len(model.trainable_weights))
        np.savez(sys.argv[1], *[variable.numpy() for variable in weights], trainable=trainable)

    callbacks.save_model_atomically = save_and_record
    sys.exit(main(sys.argv[2:]))
    """
)
TINY = ["--num-scales", "1", "--num-res-blocks", "1", "--num-filters", "4", "--num-samples", "4"]
# float32: the comparisons are to round-off (the default recipe's `auto` may pick bfloat16).
RUN = [*TINY, "--batch-size", "16", "--validation-steps", "1", "--verbose", "0", "--seed", "3"]
RUN += ["--precision", "float32"]
TIMEOUT = 1500  # per process; two workers on two busy cores can take many minutes


def held_out_bits_per_dim(stdout):
    match = re.search(r"^Held-out bits/dim \(digits test\): (\d+\.\d+)$", stdout, re.MULTILINE)
    assert match, stdout[-3000:]
    return float(match.group(1))


class Cluster:
    """Processes of one `train` command: two workers of a fresh local cluster, or one alone."""

    def __init__(self, directory, name, args, workers):
        self.directory, self.name = directory, name
        script = directory / "wrapper.py"
        script.write_text(WRAPPER)
        ports = free_ports(workers)
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        self.processes = []
        for index in range(workers):
            environment = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONPATH": with_tests_on_path(),
            }
            if workers > 1:
                task = {"type": "worker", "index": index}
                environment["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
            log = open(self.log_path(index), "w")  # noqa: SIM115 - closed in wait()
            weights = str(self.weights_path(index))
            process = subprocess.Popen(
                [sys.executable, str(script), weights, "train", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )
            self.processes.append((process, log))

    def log_path(self, index):
        return self.directory / f"{self.name}_{index}.log"

    def weights_path(self, index):
        return self.directory / f"{self.name}_{index}.npz"

    def wait(self):
        """Waits for every process; returns their outputs (asserting that each succeeded)."""
        outputs = []
        for index, (process, log) in enumerate(self.processes):
            try:
                process.wait(timeout=TIMEOUT)
            finally:
                log.close()
            text = self.log_path(index).read_text()
            assert process.returncode == 0, f"{self.name} {index}:\n{text[-3000:]}"
            outputs.append(text)
        return outputs

    def kill(self):
        for process, log in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()

    def weights(self, index, trainable_only=False):
        """The weights the process saved: every one, or the trainable ones only."""
        with np.load(self.weights_path(index)) as arrays:
            count = int(arrays["trainable"]) if trainable_only else len(arrays.files) - 1
            return [arrays[f"arr_{i}"] for i in range(count)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two workers and one process, at the same time (2 epochs of 2 steps, 4 + 1 validation)."""
    directory = tmp_path_factory.mktemp("multi_worker_cli")
    args = ["--epochs", "2", "--steps-per-epoch", "2", *RUN]
    logdir, alone_logdir = directory / "run", directory / "alone"
    workers = Cluster(
        directory, "worker", ["--logdir", str(logdir), *args, "--strategy", "multi_worker"], 2
    )
    alone_args = ["--logdir", str(alone_logdir), *args, "--strategy", "mirrored"]
    alone = Cluster(directory, "alone", alone_args, 1)
    try:
        start = time.monotonic()
        outputs = workers.wait()
        (alone_output,) = alone.wait()
        print(f"two workers and one process: {time.monotonic() - start:.0f} s")
    finally:
        workers.kill()
        alone.kill()
    return {
        "logdir": logdir,
        "outputs": outputs,
        "weights": [workers.weights(0), workers.weights(1)],
        "alone_output": alone_output,
        "trainable_weights": workers.weights(0, trainable_only=True),
        "alone_trainable_weights": alone.weights(0, trainable_only=True),
    }


@pytest.mark.slow
def test_only_the_chief_writes_the_log_dir(runs):
    logdir = runs["logdir"]
    names = sorted(os.listdir(logdir))
    assert names == [
        ".lock",  # the chief's: one writer per log dir
        "backup",
        "config.json",
        "model.keras",
        "results.json",
        "samples",
        "samples.png",
        "train",
        "validation",
    ]
    assert sorted(os.listdir(logdir / "backup")) == ["latest.weights.h5", "training_metadata.json"]
    # One writer: one event file per TensorBoard run.
    for run in ("train", "validation", "samples"):
        assert len(os.listdir(logdir / run)) == 1, run
    chief, other = runs["outputs"]
    assert f"Saved {logdir}/model.keras" in chief
    assert "Saved" not in other


@pytest.mark.slow
def test_workers_end_with_the_same_weights_and_bits_per_dim(runs):
    chief, other = runs["weights"]
    assert len(chief) == len(other) > 10
    for a, b in zip(chief, other, strict=True):
        np.testing.assert_array_equal(a, b)
    first, second = (held_out_bits_per_dim(output) for output in runs["outputs"])
    assert first == second


@pytest.mark.slow
def test_workers_train_as_one_process_on_the_same_global_batches(runs):
    bits_per_dim = held_out_bits_per_dim(runs["outputs"][0])
    # The batch-norm statistics are refreshed from training batches before the evaluation,
    # whose dequantisation noise each setup draws on its own: a few thousandths of a bit.
    assert bits_per_dim == pytest.approx(held_out_bits_per_dim(runs["alone_output"]), abs=5e-3)
    # Trainable weights only: the refreshed statistics differ by the refresh batches' noise.
    pairs = zip(runs["trainable_weights"], runs["alone_trainable_weights"], strict=True)
    difference = np.concatenate([np.abs(a - b).ravel() for a, b in pairs])
    # Round-off differs (two replicas sum their gradients; Keras's batch norm instead of the
    # fused kernel), and Adam's first steps move a weight by about the learning rate whatever
    # the gradient's size: a gradient near 0 whose sign flips moves a weight by up to 2e-3 per
    # step the other way. Other batches would move the statistics and most weights more.
    assert np.mean(difference <= 1e-4) > 0.98
    assert difference.max() < 2 * 4 * 1e-3  # 4 steps of Adam at the default rate 1e-3


@pytest.mark.slow
def test_killed_worker_and_restarted_cluster_resume_from_the_last_backup(tmp_path):
    logdir = tmp_path / "run"
    args = ["--logdir", str(logdir), "--epochs", "3", "--steps-per-epoch", "40", *RUN]
    args += ["--strategy", "multi_worker"]
    metadata = logdir / "backup" / "training_metadata.json"
    first = Cluster(tmp_path, "first", args, 2)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not metadata.exists():
            for process, _ in first.processes:
                assert process.poll() is None, first.log_path(0).read_text()[-3000:]
            assert time.monotonic() < deadline, "no backup in time"
            time.sleep(0.05)
        first.processes[1][0].send_signal(signal.SIGKILL)  # worker 1 dies mid-way
        completed = json.loads(metadata.read_text())["epoch"]
    finally:
        first.kill()  # the chief waits for its peer for ever: stop it too
    assert 1 <= completed < 3
    assert not (logdir / "samples.png").exists()

    second = Cluster(tmp_path, "second", args, 2)
    try:
        outputs = second.wait()
    finally:
        second.kill()
    for output in outputs:
        assert f"Resuming {logdir} after epoch {completed} of 3." in output
    assert held_out_bits_per_dim(outputs[0]) == held_out_bits_per_dim(outputs[1])
    assert json.loads(metadata.read_text())["epoch"] == 3
    assert (logdir / "samples.png").exists()


@pytest.mark.parametrize(
    "strategy, missing, message",
    [
        (
            "tpu",
            "TPU_NAME",
            r"--strategy tpu: no TPU found \(.+\); run on a Cloud TPU and set TPU_NAME .+",
        ),
        (
            "multi_worker",
            "TF_CONFIG",
            r"--strategy multi_worker needs the TF_CONFIG environment variable, e\.g\. \{.+\}",
        ),
    ],
    ids=["tpu", "multi_worker"],
)
def test_strategy_without_its_machines_fails_at_once_with_one_line(
    strategy, missing, message, tmp_path
):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop(missing, None)
    logdir = tmp_path / "run"
    command = ["train", "--strategy", strategy, *TINY, "--logdir", str(logdir)]
    result = subprocess.run(
        [sys.executable, "-m", "tfp_realnvp.cli", *command],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(f"tfp-realnvp train: error: {message}", last), last
    assert not logdir.exists()
