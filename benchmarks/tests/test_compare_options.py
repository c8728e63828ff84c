"""benchmarks/compare_options.py: options checked before training, the table, a quick run."""

import json

import pytest

from benchmarks import compare_options


@pytest.mark.parametrize(
    "options, message",
    [
        ('[{"colour": "red"}]', r"keyword\(s\) \['colour'\] that RealNVPMultiScale does not take"),
        ('[{"event_shape": [4, 4, 1]}]', r"keyword\(s\) \['event_shape'\]"),
        ('{"num_filters": 4}', "must be a non-empty JSON list of dicts"),
        ('[{"num_scales": 0}]', "num_scales"),  # a value the flow itself rejects
    ],
    ids=["unknown", "set-by-the-dataset", "not-a-list", "bad-value"],
)
def test_bad_options_fail_before_any_training(options, message, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a run started although the options were invalid")

    monkeypatch.setattr(compare_options, "run_in_process", no_training)
    with pytest.raises(ValueError, match=message):
        compare_options.main(["--options", options, "--datasets", "digits"])


def result(option, final, steps=10, dataset="mnist"):
    return dict(
        dataset=dataset,
        option=option,
        label=compare_options.label(option),
        parameters=1234,
        steps=steps,
        step_cpu_seconds=0.5,
        step_wall_seconds=0.3,
        peak_rss_mib=900.0,
        final_bits_per_dim_before_refresh=final + 0.1,
        final_bits_per_dim=final,
    )


def test_table_sorts_by_bits_per_dim_and_names_the_winner():
    failed = dict(
        run=json.dumps(dict(dataset="mnist", option={"coupling": "spline"})), error="boom"
    )
    results = [
        result({}, 1.30),
        result({"normalization": "act_norm"}, 1.20),
        failed,
        result({}, 3.60, dataset="cifar10"),
    ]
    text = compare_options.table(results)
    mnist, cifar = text.split("### cifar10")
    rows = [line for line in mnist.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| normalization=act_norm | 1,234 | 10 |")
    assert rows[2].startswith("| paper |")
    assert "| coupling=spline | failed: boom |" in mnist
    assert "Best at equal CPU time: normalization=act_norm, 0.100 bits/dim below" in mnist
    assert "Best at equal CPU time: paper, 0.000" in cifar


@pytest.mark.slow  # tracing a flow, in a fresh process: about a minute on the shared machine
def test_quick_run_writes_json_plot_and_table(tmp_path, capsys):
    out = tmp_path / "quick"
    argv = ["--quick", "--datasets", "digits", "--manual-dir", "", "--out", str(out)]
    [run] = compare_options.main(argv)
    assert "error" not in run, run.get("error")
    assert run["option"] == {} and run["dataset"] == "digits"
    assert run["steps"] >= 2 and run["parameters"] > 0 and run["peak_rss_mib"] > 0
    assert all(row["bits_per_dim"] > 0 for row in run["rows"])
    assert run["rows"][-1]["cpu_seconds"] >= 60 * compare_options.QUICK["cpu_minutes"]
    saved = json.loads(out.with_suffix(".json").read_text())["results"]
    assert saved[0]["final_bits_per_dim"] == run["final_bits_per_dim"]
    assert "| paper | " in capsys.readouterr().out
    assert out.with_suffix(".png").stat().st_size > 0


@pytest.mark.slow  # tracing a flow, in a fresh process: about a minute on the shared machine
def test_a_step_budget_trains_that_many_steps_whatever_their_cost(tmp_path):
    option = '[{"network_dtype_policy": "mixed_bfloat16"}]'
    argv = ["--quick", "--datasets", "digits", "--manual-dir", "", "--options", option]
    [run] = compare_options.main([*argv, "--steps", "4", "--out", str(tmp_path / "steps")])
    assert "error" not in run, run.get("error")
    assert run["option"] == {"network_dtype_policy": "mixed_bfloat16"} and run["steps"] == 4
