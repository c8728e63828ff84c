"""`tfp-realnvp score` on a tiny run: the CSV, the AUROC lines, the shape and argument errors;
and `train --perturb`, which trains the background model."""

import csv
import json
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tfp_realnvp.anomaly import png_bits_per_dim
from tfp_realnvp.cli import main

TINY = ["--epochs", "1", "--steps-per-epoch", "3", "--validation-steps", "1", "--verbose", "0"]
TINY_FLOW = ["--num-scales", "1", "--num-res-blocks", "1", "--num-filters", "8"]
AUROC_LINE = re.compile(r"AUROC (\w+): (\d\.\d{3})  \(AUPR \d\.\d{3}, FPR@95TPR \d\.\d{3}\)$")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run and a background run (--perturb 0.2) on 8-bit 8x8 digits, and sources to score."""
    folder = tmp_path_factory.mktemp("score")
    digits = np.minimum(load_digits().images * 16, 255).astype(np.uint8)[..., None]
    np.savez(folder / "digits8.npz", x_train=digits[:1500], x_test=digits[1500:])
    inverted = 255 - digits[1500:1540]
    np.savez(folder / "inverted.npz", x_train=inverted, x_test=inverted)
    large = np.repeat(np.repeat(digits[:20], 2, axis=1), 2, axis=2)  # 16x16
    np.savez(folder / "large.npz", x_train=large, x_test=large)
    np.savez(folder / "rgb.npz", x=np.repeat(digits[:20], 3, axis=-1))
    for name, extra in (("run", []), ("background", ["--perturb", "0.2"])):
        logdir = str(folder / name)
        data = ["--dataset", str(folder / "digits8.npz"), "--seed", "0"]
        assert main(["train", "--logdir", logdir, *data, *TINY, *TINY_FLOW, *extra]) == 0
    return folder


def score(runs, capsys, *argv):
    """Runs `score` on the tiny run; (AUROC per method, CSV rows)."""
    out = runs / "scores.csv"
    assert main(["score", "--logdir", str(runs / "run"), "--out", str(out), *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    aurocs = {m.group(1): float(m.group(2)) for m in map(AUROC_LINE.match, lines) if m}
    with open(out) as file:
        return aurocs, list(csv.DictReader(file))


def test_the_background_run_records_its_perturbation(runs):
    config = json.loads((runs / "background" / "config.json").read_text())
    assert config["training"]["perturb"] == 0.2
    assert json.loads((runs / "run" / "config.json").read_text())["training"]["perturb"] == 0


def test_scores_every_image_and_prints_each_methods_auroc(runs, capsys):
    aurocs, rows = score(
        runs,
        capsys,
        "--dataset",
        str(runs / "inverted.npz"),
        "--background-logdir",
        str(runs / "background"),
        "--typicality-batch",
        "8",
    )
    methods = ["bits_per_dim", "input_complexity", "likelihood_ratio", "typicality"]
    assert list(aurocs) == methods and all(0 <= a <= 1 for a in aurocs.values())
    assert list(rows[0]) == ["index", *methods] and len(rows) == 40
    assert [int(row["index"]) for row in rows] == list(range(40))
    # Input complexity is bits/dim less the PNG length of the same 8-bit image.
    inverted = np.load(runs / "inverted.npz")["x_test"]
    bits = np.array([float(row["bits_per_dim"]) for row in rows])
    complexity = np.array([float(row["input_complexity"]) for row in rows])
    np.testing.assert_allclose(complexity, bits - png_bits_per_dim(inverted, 256), atol=2e-6)
    # Each image gets its batch's statistic: 5 batches of 8.
    typicality = [row["typicality"] for row in rows]
    assert all(typicality[i] == typicality[i // 8 * 8] for i in range(40))
    assert len(set(typicality)) == 5


def test_a_source_against_itself_scores_one_half(runs, capsys):
    own = str(runs / "digits8.npz")
    aurocs, rows = score(runs, capsys, "--dataset", own, "--method", "bits_per_dim", "typicality")
    assert aurocs == {"bits_per_dim": 0.5, "typicality": 0.5}
    assert len(rows) == 297
    aurocs, _ = score(
        runs, capsys, "--dataset", own, "--against", own, "--method", "input_complexity"
    )
    assert aurocs == {"input_complexity": 0.5}


def test_image_size_resizes_images_of_another_size(runs, capsys):
    argv = ["--dataset", str(runs / "large.npz"), "--image-size", "8", "--method", "bits_per_dim"]
    aurocs, rows = score(runs, capsys, *argv)
    assert list(aurocs) == ["bits_per_dim"] and len(rows) == 20


def test_images_of_another_shape_are_refused_naming_both_shapes(runs, cli_error):
    run = ["score", "--logdir", str(runs / "run")]
    line = cli_error([*run, "--dataset", str(runs / "large.npz")])
    assert line.startswith("tfp-realnvp score: error: argument --dataset: ")
    assert "has images [16, 16, 1] but the model was trained on [8, 8, 1] (--image-size" in line
    line = cli_error([*run, "--dataset", str(runs / "rgb.npz")])
    assert line.endswith(
        "has images [8, 8, 3] but the model was trained on [8, 8, 1] (other channels)"
    )
    line = cli_error([*run, "--dataset", "digits"])  # 17 levels, not 256
    assert "argument --num-bits: 'digits' has 17 levels but the model was trained on 256" in line


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "argument --dataset: required"),
        (
            ["--dataset", "digits", "--method", "likelihood_ratio"],
            "argument --method: likelihood_ratio needs --background-logdir RUN",
        ),
        (
            ["--dataset", "digits", "--background-logdir", "no/such/run"],
            "argument --background-logdir: 'no/such/run' is not a directory",
        ),
        (["--dataset", "digits", "--method", "bits"], "argument --method: invalid choice: 'bits'"),
        (
            ["--dataset", "digits", "--typicality-batch", "0"],
            "argument --typicality-batch: must be a positive integer; got 0",
        ),
        (
            ["--dataset", "digits", "--max-images", "x"],
            "argument --max-images: must be a positive integer; got 'x'",
        ),
    ],
)
def test_argument_errors_are_one_line(runs, cli_error, argv, message):
    line = cli_error(["score", "--logdir", str(runs / "run"), *argv])
    assert line.startswith("tfp-realnvp score: error: ") and message in line


def test_perturb_must_be_a_probability(cli_error):
    line = cli_error(["train", "--perturb", "1.5"])
    assert (
        line == "tfp-realnvp train: error: argument --perturb: must be a number in [0, 1]; got 1.5"
    )
