"""One `train` per log directory: a second one is refused in one line, a dead holder's lock is
taken over."""

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from tfp_realnvp.cli import lock

# A process that holds the lock of argv[1] until its stdin closes (imports no TensorFlow).
HOLDER = """
import sys
from tfp_realnvp.cli import lock
with lock.hold(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """`holder(logdir)`: a started process holding logdir's lock (ended after the test)."""
    started = []

    def start(logdir):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(logdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout.readline() == "held\n"
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_second_train_is_refused_and_writes_nothing(holder, command, train_argv, tmp_path):
    logdir = tmp_path / "run"
    process = holder(logdir)
    status, out, err = command(*train_argv(logdir))
    assert status == 2 and not out
    (line,) = err.strip().splitlines()
    assert re.fullmatch(
        rf"tfp-realnvp train: error: argument --logdir: '{re.escape(str(logdir))}' is in use by "
        rf"pid {process.pid} on host {re.escape(socket.gethostname())} \(since "
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d\), which holds "
        rf"'{re.escape(str(logdir))}/\.lock'; wait for it to end or choose another --logdir",
        line,
    ), line
    assert os.listdir(logdir) == [".lock"]


def test_a_lock_left_by_a_killed_process_is_taken_over(holder, tmp_path, capsys):
    logdir = tmp_path / "run"
    process = holder(logdir)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with lock.hold(str(logdir)):
        with open(logdir / ".lock") as file:
            assert json.load(file)["pid"] == os.getpid()  # for a refusal's message
    assert re.fullmatch(
        rf"Taking over '{re.escape(str(logdir))}': its lock was left by pid {process.pid} on "
        rf"host {re.escape(socket.gethostname())} \(since [^)]+\), which ended without "
        r"releasing it\.\n",
        capsys.readouterr().out,
    )
    assert (logdir / ".lock").read_bytes() == b""  # released cleanly: no record left
    with lock.hold(str(logdir)):
        pass
    assert capsys.readouterr().out == ""


def test_a_lock_from_before_a_reboot_says_so(tmp_path, capsys):
    record = {"host": socket.gethostname(), "pid": 1, "since": "2020-01-01 00:00:00+00:00"}
    (tmp_path / ".lock").write_text(json.dumps({**record, "boot_id": "an earlier boot"}))
    with lock.hold(str(tmp_path)):
        pass
    assert capsys.readouterr().out.endswith(
        "which ended without releasing it (the machine restarted since).\n"
    )


@pytest.mark.slow
def test_two_trains_started_together_one_runs_one_is_refused(train_argv, tmp_path):
    logdir = tmp_path / "run"
    # Without TF_CPP_MIN_LOG_LEVEL the command line starts TensorFlow quietly: the refusal is
    # all the refused process writes to standard error.
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argvs = [train_argv(logdir, "--num-filters", filters) for filters in ("4", "2")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tfp_realnvp.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for argv in argvs
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    statuses = sorted(process.returncode for process in processes)
    assert statuses == [0, 2], outputs
    winner = [process.returncode for process in processes].index(0)
    (refusal,) = outputs[1 - winner][1].strip().splitlines()
    assert f"is in use by pid {processes[winner].pid} on host" in refusal
    with open(logdir / "config.json") as file:
        assert json.load(file)["flow"]["num_filters"] == int(argvs[winner][-1])
    for folder in ("train", "validation", "samples"):
        assert len(glob.glob(str(logdir / folder / "events.out.tfevents.*"))) == 1
