"""The runners' shared tools: load-aware timing, running a measurement in its own process."""

from pathlib import Path

from benchmarks import common

ROOT = Path(common.__file__).resolve().parents[1]


def test_timed_calls_discards_disturbed_calls(monkeypatch):
    # A fake clock: the machine is busy (other processes) during the first two calls only.
    state = dict(call=0, wall=0.0, own=0.0, busy=0.0)

    class Times:
        def __init__(self, user):
            self.user, self.system, self.nice, self.irq, self.softirq, self.steal = (
                user,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
            )

    class Process:
        def cpu_times(self):
            return Times(state["own"])

    def fn():
        state["call"] += 1
        state["wall"] += 1.0 + state["call"]  # call k takes 1 + k seconds
        state["own"] += 1.0
        state["busy"] += 1.0 + (2.0 if state["call"] <= 3 else 0.0)  # warm-up + 2 disturbed

    monkeypatch.setattr(common.psutil, "Process", Process)
    monkeypatch.setattr(common.psutil, "cpu_times", lambda: Times(state["busy"]))
    monkeypatch.setattr(common.time, "perf_counter", lambda: state["wall"])
    result = common.timed_calls(fn, warmup=1, repeats=3, max_calls=6)
    assert result["calls"] == 5 and result["clean_calls"] == 3 and not result["disturbed"]
    assert result["median_s"] == 6.0  # clean calls 4, 5, 6 took 5, 6, 7 s
    assert [c["other_cores"] > 0.15 for c in result["all_calls"]] == [True] * 2 + [False] * 3


def test_run_in_process_returns_the_result_line_or_the_error(tmp_path):
    script = tmp_path / "measure.py"
    script.write_text(
        "import argparse, sys\n"
        "from benchmarks.common import print_result\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--size-name')\n"
        "parser.add_argument('--fail', action='store_true')\n"
        "args = parser.parse_args()\n"
        "print('noise before the result')\n"
        "if args.fail:\n"
        "    sys.exit('it broke')\n"
        "print_result(dict(size=args.size_name))\n"
    )
    quiet = dict(environment=dict(PYTHONPATH=str(ROOT)), log=lambda message: None)
    assert common.run_in_process([script], dict(size_name="small"), **quiet) == dict(size="small")
    failed = common.run_in_process([script], dict(fail=True), **quiet)
    assert failed["fail"] is True and "it broke" in failed["error"]


def test_matching_width_inverts_a_quadratic_parameter_count():
    def parameters(width):
        return 3 * width * width + 10 * width + 7

    assert common.matching_width(parameters, parameters(200)) == 200
    assert common.matching_width(parameters, parameters(203)) == 200  # a multiple of 8
    assert common.matching_width(parameters, 5) == 8  # no width is small enough
