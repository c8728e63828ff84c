"""Real NVP (this package) against the same model in PyTorch, TFP's Glow and normflows' Glow.

    python benchmarks/run.py [--quick] [--wait-for-quiet SECONDS]

Each configuration runs in its own process (`benchmarks/worker.py`), so peak RSS is its own.
Writes `benchmarks/results/benchmark.json` and `benchmarks/RESULTS.md` (`--quick`: only
`benchmarks/results/benchmark_quick.json`, SMALL size, 2 timed calls).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import load_snapshot, wait_for_quiet  # noqa: E402
from benchmarks.report import write_report  # noqa: E402
from benchmarks.worker import SIZES  # noqa: E402


def matched_widths(size):
    """Glow widths (TFP, normflows) whose parameter counts match Real NVP's at `size`."""
    from benchmarks import flows_tf, flows_torch

    target = flows_tf.num_parameters(flows_tf.realnvp(SIZES[size])[0])
    return target, flows_tf.glow_matching(target), flows_torch.glow_matching(target)


def run_worker(log, timeout_s=3000, script=HERE / "worker.py", **options):
    """Runs `script --key value ...` in its own process; its last `RESULT {json}` line, parsed."""
    command = [sys.executable, str(script)]
    for key, value in options.items():
        command += [f"--{key}", str(value)]
    log(" ".join(command[1:]))
    start = time.perf_counter()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return dict(options, error=f"timed out after {timeout_s} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        log(f"  failed (exit {done.returncode}): {' | '.join(tail)}")
        return dict(options, error=" | ".join(tail))
    result = json.loads(lines[-1][len("RESULT ") :])
    result["process_wall_s"] = time.perf_counter() - start
    log(f"  done in {result['process_wall_s']:.0f} s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="SMALL size only, 2 timed calls")
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=600.0,
        help="seconds to wait for a quiet machine before starting (0: do not wait)",
    )
    parser.add_argument("--sizes", default=None, help="comma-separated: small,paper")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the configurations that the previous results file already has (no error)",
    )
    args = parser.parse_args(argv)
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    log_path = results_dir / ("benchmark_quick.log" if args.quick else "benchmark.log")
    log_file = open(log_path, "w")

    def log(message):
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    sizes = (args.sizes or ("small" if args.quick else "paper,small")).split(",")
    repeats = 2 if args.quick else 5
    quiet = None
    if args.wait_for_quiet > 0:
        quiet = wait_for_quiet(args.wait_for_quiet, log=log)
        log(f"load before starting: {quiet}")
    meta = dict(
        started=time.strftime("%Y-%m-%d %H:%M:%S"),
        quick=args.quick,
        repeats=repeats,
        machine=dict(
            cpu=_cpu_name(),
            cores=os.cpu_count(),
            python=platform.python_version(),
            memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        ),
        gpu="none on this machine (no GPU in this session)",
        wait_for_quiet=quiet,
        load=[load_snapshot()],
    )
    name = "benchmark_quick.json" if args.quick else "benchmark.json"
    results, previous = [], []
    if args.resume and (results_dir / name).exists():
        previous = json.loads((results_dir / name).read_text())["results"]
        previous = [r for r in previous if "error" not in r]
        meta["resumed_from"] = "results of an earlier, interrupted run of the same command"

    def done(options):
        for r in previous:
            if all(
                str(r.get(k, "train,log_prob,sample" if k == "phases" else None)) == str(v)
                for k, v in options.items()
            ):
                return r
        return None

    def save(result):
        """Keeps every result as it comes, so an interrupted run still reports what it has."""
        results.append(result)
        meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(results_dir / name, "w") as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
        if not args.quick:
            write_report(meta, results, HERE / "RESULTS.md")

    def run(**options):
        options.setdefault("phases", "train,log_prob,sample")
        key = {k: v for k, v in options.items() if k in ("model", "size", "variant", "phases")}
        earlier = done(key)
        if earlier is not None:
            log(f"kept from the earlier run: {key}")
            return save(earlier)
        return save(run_worker(log, **options))

    run(model="sgemm", phases="sgemm")
    for size in sizes:
        target, tf_width, torch_width = matched_widths(size)
        log(
            f"{size}: Real NVP {target} parameters; Glow widths TFP {tf_width}, normflows "
            f"{torch_width}"
        )
        common = dict(size=size, repeats=repeats)
        # XLA rows time the training step only (its compile time is the point), and come last.
        xla = dict(phases="train")
        run(model="realnvp", variant="function", **common)
        # The fair peer: the same architecture in PyTorch (realnvp_torch.py).
        run(model="realnvp_torch", variant="eager", **common)
        if size == "paper" or not args.quick:
            run(model="realnvp", variant="memory_saving", **common)
        run(model="normflows", variant="eager", width=torch_width, **common)
        run(model="glow_tfp", variant="function", width=tf_width, **common)
        if not args.quick:
            # Memory held by tensors during a training step (TF's allocator statistics).
            for variant in ("function", "memory_saving"):
                run(model="realnvp", variant=variant, size=size, phases="memory")
            run(model="realnvp", variant="xla", **common, **xla)
            run(model="glow_tfp", variant="xla", width=tf_width, **common, **xla)
            # Mixed precision: bfloat16 convolutions (oneDNN uses AMX / AVX512-BF16 on CPUs
            # that have them), side by side with PyTorch's autocast on the same CPU.
            run(model="realnvp", variant="mixed_bfloat16", **common)
            run(model="realnvp_torch", variant="autocast_bfloat16", **common)
            run(model="normflows", variant="autocast_bfloat16", width=torch_width, **common)
        meta["load"].append(load_snapshot())
    log(f"wrote {results_dir / name}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
