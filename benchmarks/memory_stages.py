"""Where a PAPER-size training process's memory goes, stage by stage, with and without
memory-saving gradients.

    python benchmarks/memory_stages.py [--size paper] [--steps 3] [--trainer loop|model]

Each variant runs in its own process (`--variant normal|memory_saving|memory_saving_blocks`
runs one and prints JSON; memory_saving_blocks is `memory_saving_gradients="blocks"`). Resident
memory (RSS, `VmRSS`) and its high-water mark (`VmHWM`) are read from `/proc/self/status`
after: importing, building the flow and the optimizer, tracing the training step
(`get_concrete_function`), the first call (graph optimisation, oneDNN set-up, the optimizer's
slots), and then `--steps` more training steps with the high-water mark reset
first (`/proc/self/clear_refs`), which is the peak of training itself, apart from the one-off
cost of building the graph. Writes `benchmarks/results/memory_stages.json`.

--trainer loop (the default; the rows recorded since session 4): a plain TFP training loop,
-mean log_prob of a `tfd.TransformedDistribution` and Keras's Adam, as the peers are trained.
--trainer model: what `RealNVPModel.fit` runs: the model's `train_step` with the package's
default optimizer (`FusedAdam`), called within `one_round_graph_optimization()`.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import configure_threads  # noqa: E402

# Each variant's `memory_saving_gradients`.
VARIANTS = {"normal": False, "memory_saving": True, "memory_saving_blocks": "blocks"}
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


def loop_step(size, memory_saving):
    """A plain TFP training loop's step with Keras's Adam, its input, and its call context."""
    from benchmarks import flows_tf

    dist, train_kwargs = flows_tf.realnvp(size, memory_saving=memory_saving)
    train_step = flows_tf.training_step(dist, train_kwargs)  # builds the optimizer's slots
    return train_step, flows_tf.fixed_pixels(size["batch_size"]), contextlib.nullcontext


def model_step(size, memory_saving):
    """`RealNVPModel.train_step` as `fit` runs it, its input, and its call context."""
    import tensorflow as tf

    import tfp_realnvp
    from benchmarks import flows_tf
    from tfp_realnvp.training.graph_optimization import one_round_graph_optimization

    model = tfp_realnvp.RealNVPModel(flows_tf.realnvp_flow(size, memory_saving))
    model.compile()  # FusedAdam; builds the optimizer's slots
    images = flows_tf.dequantise(flows_tf.fixed_pixels(size["batch_size"]))
    step = tf.function(lambda x: model.train_step(x)["loss"])
    return step, images, one_round_graph_optimization


def run_variant(variant, size_name, steps, trainer="loop"):
    stages = {}
    threads = configure_threads()

    from benchmarks.worker import SIZES

    stages["imported"] = memory_status()
    size = SIZES[size_name]
    make_step = loop_step if trainer == "loop" else model_step
    train_step, batch, call_context = make_step(size, VARIANTS[variant])
    stages["built"] = memory_status()

    train_step.get_concrete_function(batch)
    stages["traced"] = memory_status()
    with call_context():
        train_step(batch).numpy()
    stages["first_step"] = memory_status()
    reset_peak()
    step_seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        with call_context():
            train_step(batch).numpy()
        step_seconds.append(time.perf_counter() - start)
    stages["steady_steps"] = memory_status()
    return dict(
        variant=variant,
        trainer=trainer,
        size=size_name,
        steps=steps,
        step_seconds=step_seconds,
        threads=threads,
        allocator_environment={k: os.environ[k] for k in ALLOCATOR_ENVIRONMENT if k in os.environ},
        stages=stages,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=VARIANTS, help="run this variant alone")
    parser.add_argument("--size", choices=("small", "paper"), default="paper")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--trainer", choices=("loop", "model"), default="loop")
    parser.add_argument("--out", default=str(HERE / "results" / "memory_stages.json"))
    args = parser.parse_args(argv)
    if args.variant:
        result = run_variant(args.variant, args.size, args.steps, args.trainer)
        print(json.dumps(result), flush=True)
        return
    results = []
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--variant", variant, "--size", args.size]
        command += ["--steps", str(args.steps), "--trainer", args.trainer]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
