"""`tfp-realnvp` on the user's own images: a PNG folder, an .npz and re-compressed MNIST idx
files train through the command line; every data problem is one `error:` line, exit status 2."""

import json
import os
import re
import subprocess
import sys

import keras
import pytest
from PIL import Image

from tests.image_sources import (
    MNIST_DIR,
    class_images,
    recompressed_mnist,
    write_npz,
    write_png_folder,
)
from tfp_realnvp.cli import main
from tfp_realnvp.training import RealNVPModel  # registered for keras.saving.load_model

TINY = ["--num-filters", "4", "--num-res-blocks", "1", "--num-samples", "4"]
SHORT = ["--epochs", "1", "--steps-per-epoch", "2", "--validation-steps", "1", "--batch-size", "8"]

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {MNIST_DIR} (see shared/data/README.md)",
)


def train(*args, cwd=None):
    """`python -m tfp_realnvp.cli train ...` in a subprocess; returns its stdout."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "tfp_realnvp.cli", "train", *args, *TINY, *SHORT, "--verbose", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def held_out(stdout):
    match = re.search(r"^Held-out bits/dim \(.* test\): (\d+\.\d+)$", stdout, flags=re.MULTILINE)
    assert match, stdout
    return float(match.group(1))


def config_of(logdir):
    with open(os.path.join(logdir, "config.json")) as file:
        return json.load(file)


def error_of(argv, capsys):
    """Runs the command in this process, expects exit status 2, returns the one error line
    (the last; the usage, and tensorflow-datasets' progress bars if it tried, come before)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("tfp-realnvp ")]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    return lines[-1]


def test_png_folder_trains_and_evaluate_finds_it_again(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "my images"
    write_png_folder(folder, count=30)
    logdir = tmp_path / "run"
    stdout = train("--dataset", "my images", "--logdir", str(logdir), cwd=tmp_path)
    assert "Training Real NVP (num_scales=2, num_res_blocks=1, num_filters=4) on " in stdout
    assert "[8, 8, 3], 256 levels" in stdout
    config = config_of(logdir)
    assert config["dataset"] == str(folder) and config["data"]["image_size"] is None
    bits_per_dim = held_out(stdout)
    assert 0 < bits_per_dim < 20
    monkeypatch.chdir(logdir)  # the recorded source does not depend on the working directory
    assert main(["evaluate", "--logdir", str(logdir)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"bits/dim ({folder} test): {bits_per_dim:.4f}"  # 3 held-out images


@pytest.mark.slow  # a training run in a subprocess; the PNG folder's run stays in the default set
def test_five_bit_npz_reports_bits_per_dim_with_32_levels(tmp_path, capsys):
    write_npz(tmp_path / "faces.npz")
    logdir = str(tmp_path / "run")
    stdout = train("--dataset", str(tmp_path / "faces.npz"), "--num-bits", "5", "--logdir", logdir)
    assert "[8, 8, 1], 32 levels" in stdout
    assert config_of(logdir)["num_bins"] == 32 and config_of(logdir)["data"]["num_bits"] == 5
    model = keras.saving.load_model(os.path.join(logdir, "model.keras"), compile=False)
    assert isinstance(model, RealNVPModel) and model.num_bins == 32
    assert 0 < held_out(stdout) < 20
    line = error_of(["evaluate", "--logdir", logdir, "--num-bits", "8"], capsys)
    assert line.endswith("has 256 levels but the model was trained on 32")


@needs_mnist
@pytest.mark.slow  # a training run in a subprocess
def test_recompressed_mnist_files_train_without_checksums(tmp_path):
    folder = recompressed_mnist(tmp_path / "mnist_copy", keep=300)  # a short run
    logdir = str(tmp_path / "run")
    stdout = train("--dataset", str(folder), "--logdir", logdir, "--num-scales", "1")
    assert "[28, 28, 1], 256 levels" in stdout
    assert 0 < held_out(stdout) < 20


@needs_mnist
def test_checksum_mismatch_is_one_line_naming_the_way_around_it(tmp_path, capsys):
    folder = recompressed_mnist(tmp_path / "mnist_copy")
    data_dir = tmp_path / "tfds"
    data_dir.mkdir()
    argv = ["train", "--dataset", "mnist", "--manual-dir", str(folder), "--data-dir"]
    line = error_of([*argv, str(data_dir), "--logdir", str(tmp_path / "run")], capsys)
    assert line.startswith(
        f"tfp-realnvp train: error: dataset 'mnist' is not available: the files in --manual-dir "
        f"'{folder}' are not the official 'mnist' files tensorflow-datasets verifies: "
    )
    assert "train-images-idx3-ubyte.gz (sha256 " in line
    assert line.endswith(f"pass the folder itself as --dataset ('{folder}').")
    assert os.listdir(data_dir) == [] and not (tmp_path / "run" / "config.json").exists()


def write_pngs(folder, images):
    folder.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index}.png")


def test_data_problems_are_one_line_usage_errors(tmp_path, capsys):
    images, _ = class_images(4)
    write_pngs(tmp_path / "corrupt", images)
    (tmp_path / "corrupt" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    write_pngs(tmp_path / "mixed", [images[0], images[1][:4]])
    (tmp_path / "empty").mkdir()
    write_pngs(tmp_path / "fine", images)
    prefix = "tfp-realnvp train: error: "
    run = ["--logdir", str(tmp_path / "run")]

    line = error_of(["train", "--dataset", str(tmp_path / "corrupt"), *run], capsys)
    assert line.startswith(f"{prefix}argument --dataset: image '{tmp_path}/corrupt/2.png' canno")
    line = error_of(["train", "--dataset", str(tmp_path / "mixed"), *run], capsys)
    assert line == (
        f"{prefix}argument --dataset: folder images differ in size: '{tmp_path}/mixed/1.png' is "
        f"4x8 but '{tmp_path}/mixed/0.png' is 8x8; pass --image-size to resize them all to one "
        "size."
    )
    line = error_of(["train", "--dataset", str(tmp_path / "empty"), *run], capsys)
    assert line == (
        f"{prefix}argument --dataset: folder '{tmp_path}/empty' holds no PNG or JPEG images "
        "(looked in it and in its sub-folders)."
    )
    line = error_of(["train", "--dataset", str(tmp_path / "nowhere"), *run], capsys)
    assert line.startswith(f"{prefix}argument --dataset: '{tmp_path}/nowhere': no such file or f")
    fine = ["train", "--dataset", str(tmp_path / "fine")]
    line = error_of([*fine, "--image-size", "2", *run], capsys)
    assert line == (
        f"{prefix}argument --image-size: images of 2x2 are too small; the last scale is at least "
        "4x4 (pass --image-size 4 or more)"
    )
    line = error_of([*fine, "--image-size", "10", "--num-scales", "3", *run], capsys)
    assert line.startswith(f"{prefix}argument --num-scales: With num_scales=3, height and width")
    assert "must be divisible by 4; got event_shape=[10, 10, 3] (--dataset " in line
    line = error_of(["train", "--dataset", "digits", "--num-bits", "5", *run], capsys)
    assert line == (
        f"{prefix}argument --num-bits: reduces 8-bit images, but 'digits' has 17 levels; "
        "got num_bits=5."
    )
    line = error_of(["train", "--image-size", "8y8"], capsys)
    assert line.endswith("argument --image-size: must be H or HxW with positive integers, such as "
                         "32 or 64x48; got '8y8'")  # fmt: skip
    line = error_of(["train", "--num-bits", "9"], capsys)
    assert line.endswith("argument --num-bits: must be an integer from 1 to 8; got 9")
    assert not (tmp_path / "run").exists()


def test_default_scales_follow_the_image_size():
    from tfp_realnvp.cli.arguments import architecture

    assert architecture("digits", (8, 8, 1)) == (2, 1, 32)  # the named recipe at its own size
    assert architecture("mnist", (28, 28, 1)) == (3, 4, 32)
    assert architecture("any", (32, 32, 3)) == (4, 4, 32)  # last scale 4x4, as ImageNet32
    assert architecture("any", (64, 64, 3)) == (5, 4, 32)  # as CelebA and LSUN
    assert architecture("mnist", (32, 32, 1)) == (4, 4, 32)  # another size: the rule
    assert architecture("any", (28, 20, 1)) == (3, 4, 32)  # squeezed twice: 7x5
    assert architecture("any", (6, 6, 1)) == (1, 4, 32)
    assert architecture("any", (8, 8, 1), num_scales=1, num_filters=8) == (1, 4, 8)


def test_unavailable_dataset_fails_at_once_in_the_command_words(tmp_path, capsys, offline):
    data_dir = tmp_path / "tfds"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(data_dir), "--logdir"]
    line = error_of([*argv, str(tmp_path / "run")], capsys)
    assert line.startswith(
        "tfp-realnvp train: error: dataset 'mnist' is not available: 'mnist' is not prepared in "
        "--data-dir and cannot be downloaded: "
    )
    assert f"downloads and prepares it into --data-dir (now '{data_dir}')" in line
    assert "(3) pass --manual-dir a folder holding the four official idx files" in line
    assert "data_dir" not in line and "manual_dir" not in line and "`" not in line
    assert not data_dir.exists() or not os.listdir(data_dir)
