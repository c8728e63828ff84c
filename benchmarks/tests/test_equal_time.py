"""benchmarks/equal_time.py: the minutes to reach a reference, and a run and report at the
smallest setting (the embedded digits, a budget of seconds)."""

import json

import pytest

from benchmarks import equal_time


def test_minutes_to_reach_the_references_last_validation():
    reference = [(60.0, 3.0), (120.0, 2.5)]
    assert equal_time.minutes_to_reach([(30.0, 2.9), (90.0, 2.5)], reference) == 1.5
    assert equal_time.minutes_to_reach([(30.0, 2.9), (90.0, 2.6)], reference) is None
    assert equal_time.minutes_to_reach([(30.0, 2.0)], None) is None


@pytest.mark.slow
def test_a_run_and_its_report(tmp_path, capsys):
    root = tmp_path / "equal_time"
    recipes = ["paper", "warmup"]
    equal_time.main(
        [
            "run",
            "--datasets",
            "digits",
            "--recipes",
            *recipes,
            "--minutes",
            "0.02",
            "--root",
            str(root),
        ]
    )
    for recipe in recipes:
        results = json.loads((root / "digits" / recipe / "results.json").read_text())
        assert results["time_budget"]["stopped"] and results["steps"] >= 1
    equal_time.main(["report", "--root", str(root)])
    report = json.loads((tmp_path / "equal_time.json").read_text())
    runs = report["runs"]["digits"]
    assert set(runs) == set(recipes) and runs["warmup"]["flags"][-2:] == ["--warmup-steps", "50"]
    assert all(len(run["curve"]) >= 1 for run in runs.values())  # the stopped epoch validated
    assert (tmp_path / "equal_time.png").stat().st_size > 0
    table = capsys.readouterr().out
    assert "| paper |" in table and "| warmup |" in table and "+0.000" in table
