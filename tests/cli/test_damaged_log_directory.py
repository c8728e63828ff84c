"""Every file of a log directory damaged in turn, then `evaluate`, `sample` and `train`.

Damage is one `error:` line naming the file, exit status 2, with nothing changed; or a line
saying what `train` does about it, which then recovers the run to its bits/dim of before.
"""

import json
import os
import re

import pytest

# The expensive recoveries are checked on every damage in the slow suite, on "half" always.
EVERY_DAMAGE_SLOW = [
    "half",
    pytest.param("garbage", marks=pytest.mark.slow),
    pytest.param("empty", marks=pytest.mark.slow),
]
DAMAGES = {
    "garbage": lambda data: b"\x89garbage\xff\x00" * 16,
    "empty": lambda data: b"",
    "half": lambda data: data[: len(data) // 2],
}


def damage(path, how):
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(DAMAGES[how](data))


def read_results(logdir):
    with open(logdir / "results.json") as file:
        return json.load(file)


def check_evaluate_and_sample(command, logdir, tmp_path):
    status, out, err = command("evaluate", "--logdir", logdir)
    assert status == 0 and re.search(r"^bits/dim \(digits test\): \d\.\d{4}$", out, re.M), err
    out_png = tmp_path / "samples.png"
    status, out, err = command("sample", "--logdir", logdir, "--num", "4", "--out", out_png)
    assert status == 0 and out_png.exists(), err


def one_error_line(status, err, command_name):
    assert status == 2
    (line,) = err.strip().splitlines()
    prefix = f"tfp-realnvp {command_name}: error: "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


@pytest.mark.parametrize("how", list(DAMAGES))
def test_config(trained_run, command, train_argv, digests, tmp_path, how):
    path = trained_run / "config.json"
    damage(path, how)
    before = digests(trained_run)
    status, _, err = command("evaluate", "--logdir", trained_run)
    line = one_error_line(status, err, "evaluate")
    assert line.startswith(f"'{path}' is damaged: ")
    assert line.endswith("move it away and give them yourself (--dataset, and --image-size or "
                         "--num-bits where the run had them)")  # fmt: skip
    out_png = tmp_path / "samples.png"
    status, _, err = command("sample", "--logdir", trained_run, "--num", "4", "--out", out_png)
    assert status == 0, err  # sample does not need it
    status, _, err = command(*train_argv(trained_run))
    line = one_error_line(status, err, "train")
    assert line.startswith(f"'{path}' is damaged: ")
    assert "delete it and run the same command again to write it anew from the flags" in line
    assert digests(trained_run) == before


@pytest.mark.parametrize("how", EVERY_DAMAGE_SLOW)
def test_results(trained_run, command, train_argv, tmp_path, how):
    expected = read_results(trained_run)
    path = trained_run / "results.json"
    damage(path, how)
    check_evaluate_and_sample(command, trained_run, tmp_path)  # they do not read it
    status, out, err = command(*train_argv(trained_run))
    assert status == 0, err
    assert re.search(
        rf"^'{re.escape(str(path))}' is damaged: .*; evaluating the model again to rewrite it\.$",
        out,
        re.M,
    ), out
    results = read_results(trained_run)
    del results["model_sha256"], expected["model_sha256"]  # model.keras is saved anew
    assert results == expected


@pytest.mark.parametrize("name", ["training_metadata.json", "latest.weights.h5"])
@pytest.mark.parametrize("how", EVERY_DAMAGE_SLOW)
def test_backup_continues_from_the_model(trained_run, command, train_argv, tmp_path, name, how):
    expected = read_results(trained_run)
    path = trained_run / "backup" / name
    damage(path, how)
    check_evaluate_and_sample(command, trained_run, tmp_path)  # they do not read it
    status, out, err = command(*train_argv(trained_run))
    assert status == 0, err
    model = trained_run / "model.keras"
    assert re.search(
        rf"^'{re.escape(str(path))}' is damaged: .*; continuing from "
        rf"'{re.escape(str(model))}' \(its weights and optimizer state\)\.$",
        out,
        re.M,
    ), out
    results = read_results(trained_run)
    assert results["bits_per_dim"] == pytest.approx(expected["bits_per_dim"], abs=1e-6)
    assert results["epochs"] == 2
    status, out, err = command(*train_argv(trained_run))  # the backup is whole again
    assert status == 0 and "already holds a finished run of 2 epochs; nothing to do." in out


@pytest.mark.parametrize("how", list(DAMAGES))
def test_model_is_rebuilt_from_the_backup(trained_run, command, train_argv, digests, tmp_path, how):
    expected = read_results(trained_run)
    path = trained_run / "model.keras"
    damage(path, how)
    before = digests(trained_run)
    sample_png = ["--out", tmp_path / "s.png"]
    for name, more in (("evaluate", []), ("sample", sample_png)):
        status, _, err = command(name, "--logdir", trained_run, *more)
        line = one_error_line(status, err, name)
        assert re.fullmatch(
            rf"cannot load '{re.escape(str(path))}': it is damaged: .*; the same `tfp-realnvp "
            r"train` command run again rebuilds a log dir's model.keras from its backup",
            line,
        ), line
    assert digests(trained_run) == before
    status, out, err = command(*train_argv(trained_run))
    assert status == 0, err
    assert re.search(
        rf"^'{re.escape(str(path))}' is damaged: .*; rebuilding it from the backup and "
        r"evaluating again\.$",
        out,
        re.M,
    ), out
    assert read_results(trained_run)["bits_per_dim"] == pytest.approx(
        expected["bits_per_dim"], abs=1e-6
    )
    check_evaluate_and_sample(command, trained_run, tmp_path)


def test_nothing_intact_is_said_and_nothing_is_changed(trained_run, command, train_argv, digests):
    damage(trained_run / "model.keras", "half")
    damage(trained_run / "backup" / "latest.weights.h5", "half")
    before = digests(trained_run)
    status, _, err = command(*train_argv(trained_run))
    line = one_error_line(status, err, "train")
    assert line.startswith(f"'{trained_run}/backup/latest.weights.h5' is damaged: ")
    assert f", and '{trained_run}/model.keras' is damaged: " in line
    assert line.endswith(
        f": nothing in '{trained_run}' can be resumed, and nothing was changed; move its files "
        "away to train from the start, or choose another --logdir"
    )
    assert digests(trained_run) == before


def test_an_unfinished_run_continues_from_the_model(trained_run, command, train_argv):
    # Killed during its final evaluation, then its backup damaged: epochs from the step count.
    os.remove(trained_run / "results.json")
    damage(trained_run / "backup" / "training_metadata.json", "half")
    status, out, err = command(*train_argv(trained_run, "--epochs", "3"))
    assert status == 0, err
    assert "continuing from" in out and "Resuming" in out and "after epoch 2 of 3." in out
    assert read_results(trained_run)["epochs"] == 3


def test_tensorboard_folder_that_is_a_file(trained_run, command, train_argv, digests):
    folder = trained_run / "train"
    for name in os.listdir(folder):
        os.remove(folder / name)
    folder.rmdir()
    folder.write_bytes(b"")
    before = digests(trained_run)
    status, _, err = command(*train_argv(trained_run))
    assert one_error_line(status, err, "train") == (
        f"'{folder}' is a file, where TensorBoard writes the run's train events into a folder; "
        "move it away and run the same command again"
    )
    assert digests(trained_run) == before


def test_temporary_files_of_killed_runs_are_removed(trained_run, command, train_argv):
    left = [trained_run / ".partial-99999-0a1b2c3d.model.keras"]
    left.append(trained_run / "backup" / ".partial-99999-0a1b2c3d.latest.weights.h5")
    for path in left:
        path.write_bytes(b"half")
    status, out, _ = command(*train_argv(trained_run))
    assert status == 0 and "nothing to do" in out
    assert not any(path.exists() for path in left)
