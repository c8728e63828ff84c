"""benchmarks/step_anatomy.py: its tables, and each subcommand at its smallest setting."""

import json
import subprocess
import sys

import pytest

from benchmarks import step_anatomy
from benchmarks.anatomy import first_step, memory_stages, profile_parts


def test_first_step_table_shows_each_run_and_failures():
    run = dict(model="mnist", commit="abc1234", ops=24767, build=5.7, trace=9.5, first=9.1)
    rows = [dict(run, trace_plus_first=18.6, steady=2.35), dict(model="mnist", error="boom")]
    text = first_step.markdown(rows)
    assert "| mnist | abc1234 | 24,767 | 5.7 | 9.5 | 9.1 | 18.6 | 2.35 |" in text
    assert "| mnist | failed: boom |" in text


def test_memory_table_gives_rss_and_peak_after_each_stage():
    stage = dict(rss_bytes=2**30, peak_rss_bytes=2**31)
    run = dict(
        variant="normal",
        allocator_environment={"MALLOC_ARENA_MAX": "2"},
        stages={name: stage for name in memory_stages.STAGES},
    )
    row = memory_stages.markdown([run]).splitlines()[2]
    assert row == "| normal | MALLOC_ARENA_MAX=2 | " + " | ".join(["1.00 / 2.00"] * 5) + " |"


def test_parts_table_gives_each_part_its_share_of_the_step():
    parts = [dict(name="networks", count=3, ms=30.0), dict(name="squeeze", count=2, ms=5.0)]
    text = profile_parts.markdown(dict(parts=parts, step_ms=120.0))
    assert "| networks | 3 | 30.0 | 90 | 90% |" in text
    assert "| squeeze | 2 | 5.0 | 10 | 10% |" in text
    assert "| whole training step (measured) | 1 | 120 | - | - |" in text


@pytest.mark.slow  # a fresh process traces the digits model's training step: about 30 s
def test_first_step_of_the_digits_model(tmp_path):
    out = tmp_path / "first_step.jsonl"
    argv = ["first-step", "--model", "digits", "--steps", "1", "--out", str(out)]
    [result] = step_anatomy.main(argv)
    assert "error" not in result, result.get("error")
    assert result["ops"] > 1000 and result["first"] > 0 and result["steady"] > 0
    assert json.loads(out.read_text()) == result


@pytest.mark.slow  # a fresh process trains the tiny flow for two steps
def test_memory_stages_of_what_fit_runs(tmp_path):
    out = tmp_path / "memory.json"
    argv = ["memory", "--size", "tiny", "--steps", "1", "--variants", "memory_saving"]
    [result] = step_anatomy.main([*argv, "--out", str(out)])
    assert "error" not in result, result.get("error")
    stages = result["stages"]
    assert stages["first_step"]["peak_rss_bytes"] > stages["built"]["rss_bytes"] > 0
    assert json.loads(out.read_text()) == [result]


@pytest.mark.slow  # each part traced and timed once
def test_parts_of_the_tiny_flow(tmp_path):
    # In a process of its own, as it is run: it sets TF's thread pools before TF starts.
    out = tmp_path / "parts.json"
    command = ["parts", "--size", "tiny", "--repeats", "1", "--out", str(out)]
    run = subprocess.run(
        [sys.executable, step_anatomy.__file__, *command],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["parts"]) == 14 and result["step_ms"] > 0
