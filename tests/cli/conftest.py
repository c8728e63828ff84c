"""One tiny trained run shared by the command-line tests, and how they call the command."""

import shutil

import pytest

from tfp_realnvp.cli import main

# The smallest flow on the embedded digits, a few steps: seconds once TensorFlow is imported.
TINY = ["--num-scales", "1", "--num-res-blocks", "0", "--num-filters", "4", "--num-samples", "4"]
SHORT = ["--epochs", "2", "--steps-per-epoch", "3", "--validation-steps", "1", "--seed", "0"]


def _train_argv(logdir, *more):
    return ["train", "--logdir", str(logdir), *TINY, *SHORT, "--verbose", "0", *more]


@pytest.fixture(scope="session")
def train_argv():
    """`train_argv(logdir, *more)`: the arguments of the shared run's `train`, for `logdir`."""
    return _train_argv


@pytest.fixture(scope="session")
def trained_run_once(tmp_path_factory):
    """A finished run of `train_argv`, trained once per session; copy it before changing it."""
    logdir = tmp_path_factory.mktemp("shared") / "run"
    assert main(_train_argv(logdir)) == 0
    return logdir


@pytest.fixture
def trained_run(trained_run_once, tmp_path, capsys):
    """A copy of the shared finished run, for one test."""
    logdir = tmp_path / "run"
    shutil.copytree(trained_run_once, logdir)
    capsys.readouterr()  # the shared run's output, when it was trained for this test
    return logdir


@pytest.fixture
def command(capsys):
    """`command(*argv)` runs `tfp-realnvp` in this process: (exit status, stdout, stderr)."""

    def run(*argv):
        try:
            status = main([str(arg) for arg in argv])
        except SystemExit as exit_info:
            status = exit_info.code
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
