"""`tfp-realnvp`'s argument errors: one `error:` line naming the problem, exit status 2."""

import os
import re
import subprocess
import sys

import pytest

import tfp_realnvp
from tfp_realnvp.cli import main, run_config


def error_of(argv, capsys):
    """Runs the command, expects exit status 2 and one stderr line (no usage block); returns it."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def run_without_tensorflow(*args):
    """Runs `python -m tfp_realnvp.cli ARGS`; (status, stdout, stderr without import times).

    `-X importtime` lists every module the command imported: TensorFlow must not be one.
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tfp_realnvp.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stderr.splitlines()
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    assert "tfp_realnvp.cli" in imported and "tensorflow" not in imported
    stderr = [line for line in lines if not line.startswith("import time:")]
    return result.returncode, result.stdout, stderr


def test_help_and_usage_errors_answer_without_importing_tensorflow():
    status, stdout, stderr = run_without_tensorflow("--help")
    assert status == 0 and stdout.startswith("usage: tfp-realnvp") and not stderr
    status, stdout, stderr = run_without_tensorflow("train", "--help")
    assert status == 0 and "--steps-per-epoch" in stdout and not stderr
    status, stdout, stderr = run_without_tensorflow("train", "--epochs", "0")
    assert status == 2 and not stdout
    assert stderr == [
        "tfp-realnvp train: error: argument --epochs: must be a positive integer; got 0"
    ]
    status, _, stderr = run_without_tensorflow("fit")
    assert status == 2 and len(stderr) == 1
    assert stderr[0].startswith("tfp-realnvp: error: argument COMMAND: invalid choice: 'fit'")


def test_package_names_load_on_first_use():
    assert sorted(tfp_realnvp.__all__) == sorted(set(tfp_realnvp.__all__))
    for name in tfp_realnvp.__all__:
        assert getattr(tfp_realnvp, name).__name__ == name
    assert callable(tfp_realnvp.bits_per_dim)  # the function, not its submodule
    with pytest.raises(AttributeError, match="has no attribute 'RealNVP'"):
        tfp_realnvp.RealNVP  # noqa: B018


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "--batch-size", "-1"],
            "argument --batch-size: must be a positive integer; got -1",
        ),
        (["train", "--epochs", "0"], "argument --epochs: must be a positive integer; got 0"),
        (
            ["train", "--num-scales", "0"],
            "argument --num-scales: must be a positive integer; got 0",
        ),
        (
            ["train", "--num-filters", "-8"],
            "argument --num-filters: must be a positive integer; got -8",
        ),
        (
            ["train", "--num-res-blocks", "-1"],
            "argument --num-res-blocks: must be a non-negative integer; got -1",
        ),
        (
            ["train", "--steps-per-epoch", "x"],
            "argument --steps-per-epoch: must be a positive integer; got 'x'",
        ),
        (
            ["train", "--learning-rate", "-0.1"],
            "argument --learning-rate: must be a positive number; got -0.1",
        ),
        (
            ["train", "--learning-rate", "nan"],
            "argument --learning-rate: must be a positive number; got nan",
        ),
        (
            ["sample", "--logdir", "x", "--temperature", "-1"],
            "argument --temperature: must be a non-negative number; got -1",
        ),
        (
            ["sample", "--logdir", "x", "--num", "0"],
            "argument --num: must be a positive integer; got 0",
        ),
        (["evaluate"], "one of the arguments --logdir --model is required"),
        (
            ["sample", "--logdir", "a", "--model", "b.keras"],
            "argument --model: not allowed with argument --logdir",
        ),
    ],
    ids=[
        "batch-size",
        "epochs",
        "num-scales",
        "num-filters",
        "num-res-blocks",
        "steps-per-epoch",
        "learning-rate",
        "learning-rate-nan",
        "temperature",
        "num",
        "model-source",
        "both-sources",
    ],
)
def test_argument_errors(argv, message, capsys):
    command = argv[0]
    assert error_of(argv, capsys) == f"tfp-realnvp {command}: error: {message}"


def test_unknown_strategy(capsys):
    line = error_of(["train", "--strategy", "horovod"], capsys)
    # The list of choices is quoted differently by different Python versions.
    assert line.startswith(
        "tfp-realnvp train: error: argument --strategy: invalid choice: 'horovod'"
    )


def test_unknown_dataset(capsys, tmp_path):
    line = error_of(["train", "--dataset", "imagenet", "--logdir", str(tmp_path)], capsys)
    assert line.startswith(
        "tfp-realnvp train: error: argument --dataset: must be one of digits, mnist,"
    )
    assert line.endswith("'tfds:NAME', a folder or an array file; got 'imagenet'.")
    assert not os.listdir(tmp_path)


def test_image_size_the_architecture_cannot_squeeze(capsys, tmp_path):
    line = error_of(["train", "--num-scales", "5", "--logdir", str(tmp_path)], capsys)
    assert line == (
        "tfp-realnvp train: error: argument --num-scales: With num_scales=5, height and width "
        "are squeezed 4 time(s) and must be divisible by 16; got event_shape=[8, 8, 1] "
        "(--dataset digits)"
    )
    line = error_of(["train", "--dataset", "mnist", "--num-scales", "4"], capsys)
    assert line.endswith("must be divisible by 8; got event_shape=[28, 28, 1] (--dataset mnist)")
    assert not os.listdir(tmp_path)


def test_log_dir_of_another_architecture(capsys, tmp_path):
    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=8)
    saved = {"dataset": "digits", "num_bins": 17, "flow": flow.get_config(), "training": {}}
    run_config.write_config(str(tmp_path), saved)
    argv = ["train", "--logdir", str(tmp_path), "--precision", "float32", "--num-res-blocks", "1"]
    argv += ["--num-filters"]
    line = error_of([*argv, "4"], capsys)
    assert line == (
        f"tfp-realnvp train: error: argument --logdir: '{tmp_path}' holds a run of another "
        "architecture or recipe (num_filters=8 there, 4 asked); pass the same flags or choose a "
        "new --logdir"
    )
    line = error_of(["train", "--logdir", str(tmp_path), "--dataset", "mnist"], capsys)
    assert "(dataset='digits' there, 'mnist' asked)" in line
    assert run_config.read_config(str(tmp_path)) == saved  # left as it was


def test_dataset_not_available(capsys, tmp_path):
    empty = tmp_path / "manual"
    empty.mkdir()
    argv = ["train", "--dataset", "mnist", "--manual-dir", str(empty), "--logdir"]
    line = error_of([*argv, str(tmp_path / "run"), "--data-dir", str(tmp_path / "tfds")], capsys)
    assert line.startswith(
        f"tfp-realnvp train: error: argument --manual-dir: '{empty}' (or its subfolder 'mnist') "
        "lacks train-images-idx3-ubyte.gz,"
    )
    assert not (tmp_path / "run" / "config.json").exists()


def test_evaluate_and_sample_sources(capsys, tmp_path):
    missing = str(tmp_path / "missing")
    line = error_of(["evaluate", "--logdir", missing], capsys)
    assert line == f"tfp-realnvp evaluate: error: argument --logdir: '{missing}' is not a directory"
    line = error_of(["sample", "--logdir", str(tmp_path)], capsys)
    assert line == (
        f"tfp-realnvp sample: error: argument --logdir: '{tmp_path}' holds no model.keras; "
        "train first (tfp-realnvp train --logdir ...)"
    )
    line = error_of(["evaluate", "--model", missing + ".keras"], capsys)
    assert line == f"tfp-realnvp evaluate: error: argument --model: no such file '{missing}.keras'"
    (tmp_path / "weights.h5").write_bytes(b"")
    line = error_of(["sample", "--model", str(tmp_path / "weights.h5"), "--out", "a.png"], capsys)
    assert line.endswith(
        "argument --model: expected a .keras file; got " + repr(str(tmp_path / "weights.h5"))
    )


def test_sample_output_and_model_file_checks(capsys, tmp_path):
    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], num_scales=1, num_res_blocks=0, num_filters=2)
    path = str(tmp_path / "tiny.keras")
    tfp_realnvp.RealNVPModel(flow).save(path)
    line = error_of(["sample", "--model", path, "--out", str(tmp_path / "s.jpg")], capsys)
    assert (
        line
        == f"tfp-realnvp sample: error: argument --out: must be a .png file; got '{tmp_path}/s.jpg'"
    )
    line = error_of(["sample", "--model", path], capsys)
    assert line == "tfp-realnvp sample: error: argument --out: required with --model"
    out = str(tmp_path / "nowhere" / "s.png")
    line = error_of(["sample", "--model", path, "--out", out], capsys)
    assert line.endswith(f"argument --out: no such directory '{tmp_path}/nowhere'")
    line = error_of(["evaluate", "--model", path], capsys)
    assert line == (
        f"tfp-realnvp evaluate: error: argument --dataset: required, since '{path}' has no "
        "config.json beside it"
    )
    line = error_of(["evaluate", "--model", path, "--dataset", "digits"], capsys)
    assert line == (
        "tfp-realnvp evaluate: error: argument --dataset: 'digits' has images [8, 8, 1] but "
        "the model was trained on [4, 4, 1] (--image-size resizes them)"
    )
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    line = error_of(["sample", "--model", str(tmp_path / "broken.keras"), "--out", "a.png"], capsys)
    assert line.startswith(f"tfp-realnvp sample: error: cannot load '{tmp_path}/broken.keras': ")


def test_sample_writes_a_png_grid(tmp_path, capsys):
    from PIL import Image

    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], num_scales=1, num_res_blocks=0, num_filters=2)
    path = str(tmp_path / "tiny.keras")
    tfp_realnvp.RealNVPModel(flow, num_bins=17).save(path)
    out = str(tmp_path / "grid.png")
    assert (
        main(["sample", "--model", path, "--num", "6", "--temperature", "0.5", "--out", out]) == 0
    )
    assert capsys.readouterr().out.strip() == f"Wrote 6 samples (temperature 0.5) to {out}."
    image = Image.open(out)
    # 3 columns x 2 rows of 4x4 images zoomed 8x, 1-pixel padding; grey.
    assert image.size == (3 * 33 + 1, 2 * 33 + 1) and image.mode == "L"


def test_sample_of_a_class_conditional_model(tmp_path, capsys):
    from PIL import Image

    flow = tfp_realnvp.RealNVPMultiScale(
        [4, 4, 1], num_scales=1, num_res_blocks=0, num_filters=2, conditional_shape=[3]
    )
    path = str(tmp_path / "by_class.keras")
    tfp_realnvp.RealNVPModel(flow, num_bins=17, num_classes=3).save(path)
    out = str(tmp_path / "grid.png")
    assert main(["sample", "--model", path, "--num", "5", "--out", out]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Wrote 6 samples, one row per class of 3 (temperature 1) to {out}."
    )
    assert Image.open(out).size == (2 * 33 + 1, 3 * 33 + 1)  # 3 rows of 2 (ceil(5 / 3))
    assert main(["sample", "--model", path, "--num", "4", "--label", "2", "--out", out]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Wrote 4 samples of class 2 (temperature 1) to {out}."
    )
    line = error_of(["sample", "--model", path, "--label", "3", "--out", out], capsys)
    assert line == "tfp-realnvp sample: error: argument --label: must be a class from 0 to 2; got 3"
    flow = tfp_realnvp.RealNVPMultiScale(
        [8, 8, 1], num_scales=1, num_res_blocks=0, num_filters=2, conditional_shape=[3]
    )
    tfp_realnvp.RealNVPModel(flow, num_bins=17, num_classes=3).save(path)
    line = error_of(["evaluate", "--model", path, "--dataset", "digits"], capsys)
    assert line == (
        "tfp-realnvp evaluate: error: argument --dataset: the model is class-conditional with 3 "
        "classes but 'digits' has 10 classes"
    )


def test_label_and_conditional_errors(tmp_path, capsys):
    import numpy as np

    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], num_scales=1, num_res_blocks=0, num_filters=2)
    path = str(tmp_path / "tiny.keras")
    tfp_realnvp.RealNVPModel(flow).save(path)
    out = str(tmp_path / "grid.png")
    line = error_of(["sample", "--model", path, "--label", "1", "--out", out], capsys)
    assert line == (
        "tfp-realnvp sample: error: argument --label: the model is not class-conditional; "
        "got --label 1"
    )
    unlabelled = str(tmp_path / "images.npy")
    np.save(unlabelled, np.zeros([20, 8, 8, 1], np.uint8))
    line = error_of(["train", "--dataset", unlabelled, "--conditional"], capsys)
    assert line == (
        f"tfp-realnvp train: error: argument --conditional: {unlabelled!r} has no labels (a "
        "folder of images gets them from one sub-folder per class)"
    )


def test_non_finite_loss_ends_training_with_status_1(capsys, tmp_path):
    # A huge learning rate: the first step throws the weights so far that the loss overflows.
    logdir = str(tmp_path / "run")
    argv = ["train", "--logdir", logdir, "--epochs", "2", "--steps-per-epoch", "3", "--verbose"]
    tiny = ["--num-scales", "1", "--num-res-blocks", "0", "--num-filters", "4"]
    assert main([*argv, "0", *tiny, "--num-samples", "4", "--learning-rate", "1e30"]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(
        "tfp-realnvp train: error: the training loss or its gradient became NaN or infinite at "
        r"epoch 1, batch [23]; training stopped before saving anything\. The last good "
        rf"checkpoint \(epoch 0\) is kept in {re.escape(logdir)}/backup; lower --learning-rate "
        r"or check the data, then rerun\.",
        line,
    ), line
    assert not os.path.exists(f"{logdir}/model.keras")
    assert not os.path.exists(f"{logdir}/samples.png")
