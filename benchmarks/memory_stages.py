"""Where a PAPER-size training process's memory goes, stage by stage, with and without
memory-saving gradients.

    python benchmarks/memory_stages.py [--size paper] [--steps 3]

Each variant runs in its own process (`--variant normal|memory_saving` runs one and prints
JSON). Resident memory (RSS, `VmRSS`) and its high-water mark (`VmHWM`) are read from
`/proc/self/status` after: importing, building the flow and the optimizer, tracing the
training step (`get_concrete_function`), the first call (graph optimisation, oneDNN set-up,
the optimizer's slots), and then `--steps` more training steps with the high-water mark reset
first (`/proc/self/clear_refs`), which is the peak of training itself, apart from the one-off
cost of building the graph. Writes `benchmarks/results/memory_stages.json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import configure_threads  # noqa: E402

VARIANTS = ("normal", "memory_saving")
# Environment variables that change how freed memory is kept (recorded with the results).
ALLOCATOR_ENVIRONMENT = ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "TF_CPU_ALLOCATOR_USE_BFC")
ALLOCATOR_ENVIRONMENT += ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")


def memory_status():
    """This process's resident memory now and its high-water mark, in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return dict(rss_bytes=fields["VmRSS"], peak_rss_bytes=fields["VmHWM"])


def reset_peak():
    """Sets the high-water mark to the current RSS (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def run_variant(variant, size_name, steps):
    stages = {}
    threads = configure_threads()

    from benchmarks import flows_tf
    from benchmarks.worker import SIZES

    stages["imported"] = memory_status()
    size = SIZES[size_name]
    dist, train_kwargs = flows_tf.realnvp(size, memory_saving=variant == "memory_saving")
    train_step = flows_tf.training_step(dist, train_kwargs)  # builds the optimizer's slots
    pixels = flows_tf.fixed_pixels(size["batch_size"])
    stages["built"] = memory_status()

    train_step.get_concrete_function(pixels)
    stages["traced"] = memory_status()
    train_step(pixels).numpy()
    stages["first_step"] = memory_status()
    reset_peak()
    step_seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        train_step(pixels).numpy()
        step_seconds.append(time.perf_counter() - start)
    stages["steady_steps"] = memory_status()
    return dict(
        variant=variant,
        size=size_name,
        steps=steps,
        step_seconds=step_seconds,
        threads=threads,
        allocator_environment={k: os.environ[k] for k in ALLOCATOR_ENVIRONMENT if k in os.environ},
        stages=stages,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--size", choices=("small", "paper"), default="paper")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "memory_stages.json"))
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.size, args.steps)), flush=True)
        return
    results = []
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--variant", variant, "--size", args.size]
        command += ["--steps", str(args.steps)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
