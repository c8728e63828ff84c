"""`tfp-realnvp train / evaluate / sample` in subprocesses, and resuming after SIGKILL."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

# A tiny flow on the embedded digits: a few seconds per process once TensorFlow is imported.
TINY = ["--num-scales", "1", "--num-res-blocks", "0", "--num-filters", "4", "--num-samples", "4"]
FREQUENT = ["--update-freq", "2"]
TIMEOUT = 300


def command(*args):
    return [sys.executable, "-m", "tfp_realnvp.cli", *args]


def run(*args):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        command(*args), capture_output=True, text=True, timeout=TIMEOUT, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def event_files(logdir, run_name):
    return sorted(
        glob.glob(os.path.join(logdir, run_name, "events.out.tfevents.*")), key=os.path.getmtime
    )


def scalar_steps(path, tag):
    steps = []
    for event in tf.compat.v1.train.summary_iterator(path):
        steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("run"))
    stdout = run(
        "train", "--logdir", logdir, "--epochs", "2", "--steps-per-epoch", "3", *TINY, *FREQUENT
    )
    return logdir, stdout


def held_out_bits_per_dim(stdout, prefix):
    match = re.search(rf"^{re.escape(prefix)}: (\d+\.\d+)$", stdout, flags=re.MULTILINE)
    assert match, stdout
    return float(match.group(1))


def test_train_writes_the_run(trained_run):
    logdir, stdout = trained_run
    assert "Training Real NVP (num_scales=1, num_res_blocks=0, num_filters=4) on digits" in stdout
    assert (
        "Validating after each epoch on up to 20 held-out batches, with batch-norm "
        "statistics refreshed first; the whole held-out split at the end." in stdout
    )
    assert "Evaluating on the whole test split." in stdout
    assert "Epoch 2/2" in stdout  # Keras's progress output
    bpd = held_out_bits_per_dim(stdout, "Held-out bits/dim (digits test)")
    assert 0.5 < bpd < np.log2(17) + 0.5
    names = (
        "config.json",
        "results.json",
        "model.keras",
        "samples.png",
        "backup/latest.weights.h5",
    )
    for name in names:
        assert os.path.isfile(os.path.join(logdir, name)), name
    with open(os.path.join(logdir, "config.json")) as file:
        config = json.load(file)
    assert config["dataset"] == "digits" and config["num_bins"] == 17
    assert config["flow"]["event_shape"] == [8, 8, 1] and config["flow"]["num_filters"] == 4
    (train_events,) = event_files(logdir, "train")
    assert scalar_steps(train_events, "epoch_bits_per_dim") == [0, 1]
    assert scalar_steps(train_events, "batch_bits_per_dim") == [2, 4, 6]  # --update-freq 2
    (validation_events,) = event_files(logdir, "validation")
    assert scalar_steps(validation_events, "epoch_bits_per_dim") == [0, 1]
    (sample_events,) = event_files(logdir, "samples")
    assert scalar_steps(sample_events, "samples") == [0, 1]


def test_rerunning_a_finished_run_changes_nothing_and_prints_its_result(trained_run, digests):
    logdir, first_stdout = trained_run
    before = digests(logdir)
    stdout = run(
        "train", "--logdir", logdir, "--epochs", "2", "--steps-per-epoch", "3", *TINY, *FREQUENT
    )
    assert digests(logdir) == before  # no new events file, nothing rewritten
    assert stdout.splitlines() == [
        f"{logdir} already holds a finished run of 2 epochs; nothing to do.",
        first_stdout.strip().splitlines()[-1],
    ]
    assert first_stdout.strip().splitlines()[-1].startswith("Held-out bits/dim (digits test): ")


def test_evaluate_prints_the_same_held_out_bits_per_dim(trained_run):
    logdir, train_stdout = trained_run
    expected = held_out_bits_per_dim(train_stdout, "Held-out bits/dim (digits test)")
    stdout = run("evaluate", "--logdir", logdir)
    assert held_out_bits_per_dim(stdout, "bits/dim (digits test)") == pytest.approx(expected)
    stdout = run("evaluate", "--model", os.path.join(logdir, "model.keras"))
    assert held_out_bits_per_dim(stdout, "bits/dim (digits test)") == pytest.approx(expected)


def test_sample_writes_a_png(trained_run, tmp_path):
    from PIL import Image

    logdir, _ = trained_run
    out = str(tmp_path / "grid.png")
    run("sample", "--logdir", logdir, "--num", "9", "--temperature", "0.7", "--out", out)
    image = Image.open(out)
    assert image.size == (3 * 33 + 1, 3 * 33 + 1)  # 3x3 digits zoomed 4x, 1-pixel padding
    pixels = np.asarray(image)
    assert pixels.min() < 64 and pixels.max() > 192  # not a blank image


def test_mixed_precision_and_memory_saving_runs_are_recorded(tmp_path):
    logdir = str(tmp_path / "run")
    options = ["--mixed-precision", "--memory-saving-gradients", "blocks"]
    stdout = run(
        "train", "--logdir", logdir, "--epochs", "1", "--steps-per-epoch", "2", *TINY, *options
    )
    assert np.isfinite(held_out_bits_per_dim(stdout, "Held-out bits/dim (digits test)"))
    with open(os.path.join(logdir, "config.json")) as file:
        flow = json.load(file)["flow"]
    assert flow["network_dtype_policy"] == "mixed_bfloat16"
    assert flow["memory_saving_gradients"] == "blocks"


def test_killed_run_resumes_from_its_last_completed_epoch(tmp_path):
    logdir = str(tmp_path / "run")
    args = ["train", "--logdir", logdir, "--epochs", "4", "--steps-per-epoch", "120", *TINY]
    metadata = os.path.join(logdir, "backup", "training_metadata.json")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(
        command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(metadata):
            assert first.poll() is None, first.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    with open(metadata) as file:
        completed = json.load(file)["epoch"]
    assert 1 <= completed < 4  # killed before the end
    assert not os.path.exists(os.path.join(logdir, "samples.png"))

    stdout = run(*args)
    assert f"Resuming {logdir} after epoch {completed} of 4." in stdout
    assert "Epoch 1/4" not in stdout and "Epoch 4/4" in stdout
    assert "Held-out bits/dim (digits test)" in stdout
    # The second process logs only the epochs it ran, under their own numbers.
    second_events = event_files(logdir, "train")[-1]
    assert scalar_steps(second_events, "epoch_bits_per_dim") == list(range(completed, 4))
    batch_steps = scalar_steps(second_events, "batch_bits_per_dim")
    assert batch_steps and min(batch_steps) > completed * 120
    with open(metadata) as file:
        assert json.load(file)["epoch"] == 4


def test_every_flow_option_and_class_conditioning_are_trained_saved_and_evaluated(tmp_path):
    from PIL import Image

    logdir = str(tmp_path / "run")
    # (The spline coupling's saving is tested in test_couplings; here the cheaper additive one.)
    options = ["--coupling", "additive", "--squeeze-order", "authors"]
    options += ["--normalization", "act_norm", "--channel-mixing", "invertible_1x1"]
    options += ["--split-prior", "learned", "--conditional"]
    tiny_two_scales = [*TINY[2:], "--num-scales", "2"]
    stdout = run(
        "train", "--logdir", logdir, "--epochs", "1", "--steps-per-epoch", "2",
        *tiny_two_scales, *options,
    )  # fmt: skip
    assert "Training class-conditional Real NVP" in stdout
    trained = held_out_bits_per_dim(stdout, "Held-out bits/dim of p(x | label) (digits test)")
    with open(os.path.join(logdir, "config.json")) as file:
        flow = json.load(file)["flow"]
    recorded = [flow[key] for key in ("coupling", "squeeze_order")]
    recorded += [flow[key] for key in ("normalization", "channel_mixing", "split_prior")]
    assert recorded == ["additive", "authors", "act_norm", "invertible_1x1", "learned"]
    assert flow["conditional_shape"] == [10]
    # --num-samples 4 with 10 classes: one row per digit of one 8x8 sample (zoomed 4x).
    assert Image.open(os.path.join(logdir, "samples.png")).size == (34, 10 * 33 + 1)

    stdout = run("evaluate", "--logdir", logdir)
    evaluated = held_out_bits_per_dim(stdout, "bits/dim of p(x | label) (digits test)")
    assert evaluated == pytest.approx(trained, abs=1e-3)
    match = re.search(r"^accuracy of argmax_y p\(y \| x\) \(digits test, (\d+) images, .*: "
                      r"(\d\.\d+)$", stdout, flags=re.MULTILINE)  # fmt: skip
    assert match, stdout
    assert int(match.group(1)) == 297 and 0 <= float(match.group(2)) <= 1
