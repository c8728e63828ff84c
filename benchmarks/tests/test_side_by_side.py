"""benchmarks/side_by_side.py: per-round ratios, shares of the matmul peak, the tables."""

import json

import pytest

from benchmarks import side_by_side


def test_summary_gives_ratios_per_round_and_shares_of_the_peak():
    times = {"log_prob": {"tf": [1.0, 2.0, 1.0], "torch": [2.0, 3.0, 4.0], "matmul": [1, 1, 2]}}
    contestants = dict(
        tf=dict(flops_per_image=1e9),
        torch=dict(flops_per_image=None),
        matmul=dict(flops_per_call=64e9),
    )
    row = side_by_side.summary(times, contestants, batch_size=32)["log_prob"]
    assert row["tf"]["images_per_s"] == 32.0 and row["tf"]["gflops"] == 32.0
    assert row["torch"]["speed_vs_first"] == dict(median=0.5, min=0.25, max=2 / 3)
    # tf ran at 32, 16, 32 GFLOP/s while the matmul ran at 64, 64, 32.
    assert row["tf"]["share_of_matmul"] == dict(median=0.5, min=0.25, max=1.0)
    assert "images_per_s" not in row["matmul"] and "speed_vs_first" not in row["matmul"]
    assert "share_of_matmul" not in row["torch"]


def test_markdown_has_a_row_per_contestant_and_each_peak_rss():
    times = {"train": {"tf": [2.0, 2.0], "torch": [4.0, 3.0]}}
    flops = dict(tf=dict(flops_per_image=1e9), torch=dict(flops_per_image=None))
    result = dict(
        phases=side_by_side.summary(times, flops, batch_size=4),
        peak_rss_bytes=dict(tf=3 * 2**30, torch=2**29),
    )
    text = side_by_side.markdown(result)
    assert "| tf | 2.0 | 6.0 | - | - |" in text  # 4 images in 2 s, 3 GFLOP each in training
    assert "| torch | 1.1 | - | 0.58 [0.50, 0.67] | - |" in text
    assert "| tf | 3.00 |" in text and "| torch | 0.50 |" in text


def test_unknown_contestants_are_refused_before_any_process_starts(capsys):
    with pytest.raises(SystemExit):
        side_by_side.main(["--contestants", "tf,pytorch"])
    assert "unknown contestant(s) ['pytorch']" in capsys.readouterr().err


@pytest.mark.slow  # two processes trace a tiny flow: about a minute on the shared machine
def test_tiny_run_writes_ratios_and_peak_rss(tmp_path):
    out = tmp_path / "side_by_side.json"
    argv = ["--size", "tiny", "--contestants", "tf,tf_unfolded,matmul", "--rounds", "2"]
    side_by_side.main([*argv, "--phases", "log_prob", "--out", str(out)])
    result = json.loads(out.read_text())
    row = result["phases"]["log_prob"]
    assert len(row["tf"]["seconds"]) == 2 and row["tf"]["images_per_s"] > 0
    assert row["tf_unfolded"]["speed_vs_first"]["median"] > 0
    assert 0 < row["tf"]["share_of_matmul"]["median"]
    assert set(result["peak_rss_bytes"]) == {"tf", "tf_unfolded", "matmul"}
    assert all(peak > 2**27 for peak in result["peak_rss_bytes"].values())
    assert result["machine"]["cores"] >= 1
