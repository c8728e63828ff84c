"""The first training step and the steady step: tracing, graph optimisation, the first run.

The CLI's models: digits = 2 scales, 1 residual block, 32 feature maps, [8, 8, 1] (seconds);
mnist = 3 scales, 4 blocks, 32 maps, [28, 28, 1]; cifar10 = the paper's, 2 scales, 8 blocks,
64 maps, [32, 32, 3]; batch 64 and the package's default optimizer, as `tfp-realnvp train`
compiles them. The step is `RealNVPModel.train_step` in a `tf.function`, as Keras runs it
(jit_compile off, Keras's choice on CPUs), with TensorFlow's default thread pools.

Phases, in seconds: build (model and optimizer), trace (Python builds the graph), first (the
first call: Grappler optimises the graph, then it runs once), steady (median of the following
`--steps` calls); and the number of ops in the traced graph, functions included.

Each measurement runs in a fresh process (TensorFlow caches traced graphs and Grappler
settings). `--against DIR` measures another checkout of the package too (for example
`git worktree add /tmp/before <commit>`), alternating with this one, `--rounds` times each:
the way to tell whether a change made the first or the steady step slower.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import machine, print_result, run_in_process

# Grappler passes: "lean" keeps the ones that make the steady step faster on CPUs (the remapper
# fuses convolutions with their bias and activation for oneDNN; layout; memory) and turns off
# the whole-graph rewrites whose cost grows with the op count.
GRAPPLER = {
    "package": None,
    "default": None,
    "off": {"disable_meta_optimizer": True},
    "lean": {
        "constant_folding": False,
        "arithmetic_optimization": False,
        "dependency_optimization": False,
        "loop_optimization": False,
        "function_optimization": False,
        "shape_optimization": False,
        "debug_stripper": False,
        "pin_to_host_optimization": False,
        "implementation_selector": False,
        "auto_mixed_precision": False,
        "disable_model_pruning": True,
    },
}
MODELS = {
    "digits": ([8, 8, 1], 2, 1, 32),
    "mnist": ([28, 28, 1], 3, 4, 32),
    "cifar10": ([32, 32, 3], 2, 8, 64),
}
REPOSITORY = Path(__file__).resolve().parents[2]


def add_arguments(parser):
    parser.add_argument("--model", choices=sorted(MODELS), default="mnist")
    parser.add_argument(
        "--grappler",
        choices=sorted(GRAPPLER),
        default="package",
        help="package: the step called as `fit` calls it; default: TF's passes, called plainly; "
        "off / lean: those passes for the whole process",
    )
    parser.add_argument("--steps", type=int, default=3, help="steady steps timed")
    parser.add_argument(
        "--optimizer",
        choices=("default", "keras_adam"),
        default="default",
        help="the package's default_optimizer(), or Keras's Adam with the same settings",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--against", help="another checkout of the package, measured in turn")
    parser.add_argument("--rounds", type=int, default=1, help="processes per checkout")
    parser.add_argument("--out", default=str(REPOSITORY / "benchmarks/results/first_step.jsonl"))
    parser.add_argument("--package-dir", help=argparse.SUPPRESS)  # one measurement (internal)


def main(args, runner):
    """Runs the measurements, each in a fresh process; appends them to `args.out`."""
    if args.package_dir:
        print_result(measure(args))
        return None
    checkouts = [str(REPOSITORY)] + ([str(Path(args.against).resolve())] if args.against else [])
    options = dict(
        model=args.model,
        grappler=args.grappler,
        steps=args.steps,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
    )
    results = []
    for _ in range(args.rounds):
        for checkout in checkouts:
            result = run_in_process([runner, "first-step"], dict(options, package_dir=checkout))
            results.append(result)
            if "error" not in result:
                with open(args.out, "a") as out:
                    out.write(json.dumps(result) + "\n")
    print(markdown(results))
    return results


def measure(args):
    """One measurement, in this process, of the package in `args.package_dir`."""
    sys.path.insert(0, args.package_dir)  # before any import of the package
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import tfp_realnvp
    from tfp_realnvp.training import default_optimizer

    if GRAPPLER[args.grappler] is not None:
        tf.config.optimizer.set_experimental_options(GRAPPLER[args.grappler])
    scope = call_scope(args.grappler)
    shape, num_scales, num_res_blocks, num_filters = MODELS[args.model]
    times = {}
    start = time.perf_counter()
    flow = tfp_realnvp.RealNVPMultiScale(
        shape, num_scales=num_scales, num_res_blocks=num_res_blocks, num_filters=num_filters
    )
    model = tfp_realnvp.RealNVPModel(flow)
    optimizer = default_optimizer()
    if args.optimizer == "keras_adam":
        optimizer = keras.optimizers.Adam.from_config(optimizer.get_config())
    model.compile(optimizer=optimizer)
    times["build"] = time.perf_counter() - start

    rng = np.random.default_rng(0)
    batch = tf.constant(rng.uniform(size=[args.batch_size, *shape]).astype("float32"))
    step = tf.function(model.train_step)
    start = time.perf_counter()
    graph = step.get_concrete_function(batch).graph
    times["trace"] = time.perf_counter() - start
    ops = len(graph.get_operations()) + sum(
        len(function.graph.get_operations())
        for function in graph._functions.values()  # noqa: SLF001 (op count only)
        if hasattr(function, "graph")
    )
    start = time.perf_counter()
    with scope():
        float(step(batch)["loss"])
    times["first"] = time.perf_counter() - start
    steady = []
    for _ in range(args.steps):
        start = time.perf_counter()
        with scope():
            float(step(batch)["loss"])
        steady.append(time.perf_counter() - start)
    times["steady"] = statistics.median(steady)
    commit = subprocess.run(
        ["git", "-C", args.package_dir, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "model": args.model,
        "grappler": args.grappler,
        "optimizer": args.optimizer,
        "batch_size": args.batch_size,
        "ops": ops,
        **{k: round(v, 2) for k, v in times.items()},
        "trace_plus_first": round(times["trace"] + times["first"], 2),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d"),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu": machine()["cpu"],
    }


def call_scope(grappler):
    """The context the step is called in: `fit`'s for "package", else none."""
    if grappler != "package":
        return contextlib.nullcontext
    try:
        from tfp_realnvp.training.graph_optimization import one_round_graph_optimization
    except ImportError:  # code without it: `fit` calls the step plainly
        return contextlib.nullcontext
    return one_round_graph_optimization


def markdown(results):
    """The measurements as a Markdown table, in the order they ran."""
    lines = [
        "| model | commit | ops | build (s) | trace (s) | first call (s) | trace + first (s) "
        "| steady step (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['model']} | failed: {r['error']} |")
            continue
        lines.append(
            f"| {r['model']} | {r['commit']} | {r['ops']:,} | {r['build']} | {r['trace']} "
            f"| {r['first']} | {r['trace_plus_first']} | {r['steady']} |"
        )
    return "\n".join(lines) + "\n"
