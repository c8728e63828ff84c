"""`benchmarks/gpu_check.py --cpu`: the GPU check's steps on tiny sizes, so it is ready for a GPU.

The speeds it measures here mean nothing; the test checks that every row is complete and that
the short training lowers the batch's bits/dim.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CIFAR10_BATCH = ROOT.parent / "shared" / "data" / "cifar10" / "data_batch_1.bin"


@pytest.mark.slow  # tracing the CIFAR-10-shaped flow takes about a minute per row on 2 cores
def test_cpu_mode_writes_complete_rows(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--cpu"]
    command += ["--precisions", "float32,mixed_bfloat16", "--xla", "off", "--repeats", "1"]
    command += ["--steps", "3", "--out", str(tmp_path)]
    if CIFAR10_BATCH.exists():
        command += ["--cifar10-batch", str(CIFAR10_BATCH)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["size"]["batch_size"] == 4
    assert [(row["precision"], row["xla"]) for row in report["rows"]] == [
        ("float32", "off"),
        ("mixed_bfloat16", "off"),
    ]
    for row in report["rows"]:
        assert "error" not in row, row
        assert row["loss_finite"]
        assert row["bits_per_dim_end"] < row["bits_per_dim_start"]
        for key in ("train_images_per_s", "log_prob_images_per_s", "sample_images_per_s"):
            assert np.isfinite(row[key]) and row[key] > 0, key
        assert row["peak_memory_mib"] > 0
    table = (tmp_path / "gpu_check.md").read_text().splitlines()
    assert table[2].startswith("| precision | XLA | train img/s |")
    assert table[4].startswith("| float32 | off | ") and table[5].startswith("| mixed_bfloat16 |")


def test_table_prints_missing_values_as_dashes():
    from benchmarks import gpu_check

    rows = [
        {"precision": "float32", "xla": "on", "train_images_per_s": 1234.5},
        {"precision": "mixed_float16", "xla": "on", "error": "ValueError: no"},
    ]
    lines = gpu_check.table(rows).splitlines()
    assert lines[2].startswith("| float32 | on | 1234 | - |")  # missing values print as "-"
    assert lines[3] == "| mixed_float16 | on | - | - | - | - | - | - | - |"
