"""Where the first training step's time goes: tracing, graph optimisation, the first run.

    python benchmarks/first_step.py --model mnist                     # as `fit` runs it
    python benchmarks/first_step.py --model mnist --grappler default  # TF's two rounds
    python benchmarks/first_step.py --model cifar10 --grappler lean --steps 3
    python benchmarks/first_step.py --model mnist --optimizer keras_adam   # before FusedAdam

One process per measurement (TensorFlow caches traced graphs and Grappler settings). The
CLI's models: mnist = 3 scales, 4 residual blocks, 32 feature maps, [28, 28, 1]; cifar10 =
the paper's, 2 scales, 8 blocks, 64 maps, [32, 32, 3]; batch 64, Adam with clipnorm 100, as
`tfp-realnvp train` compiles them. The step is `RealNVPModel.train_step` in a `tf.function`,
as Keras runs it (jit_compile off, Keras's choice on CPUs).

--grappler package (the default) calls the step as `RealNVPModel.fit` does: within
`one_round_graph_optimization()` (Grappler's default passes in one round, no memory optimizer),
or plainly for code from before it. The other choices call it plainly, with TF's default
passes ("default") or a process-wide set.

Phases, in seconds: build (model and optimizer), trace (Python builds the graph), first
(the first call: Grappler optimises the graph, then it runs once), steady (median of the
following --steps calls). Also the number of ops in the traced graph, functions included.
Appends one JSON line to --out.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

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
    "mnist": ([28, 28, 1], 3, 4, 32),
    "cifar10": ([32, 32, 3], 2, 8, 64),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mnist")
    parser.add_argument("--grappler", choices=sorted(GRAPPLER), default="package")
    parser.add_argument("--steps", type=int, default=3, help="steady steps timed")
    parser.add_argument(
        "--optimizer",
        choices=("fused_adam", "keras_adam"),
        default="fused_adam",
        help="the package's default (FusedAdam) or Keras's Adam with the same settings",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "results", "first_step.jsonl")
    )
    args = parser.parse_args()
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
    concrete = step.get_concrete_function(batch)
    times["trace"] = time.perf_counter() - start
    print(f"traced in {times['trace']:.1f} s", file=sys.stderr, flush=True)
    graph = concrete.graph
    ops = len(graph.get_operations()) + sum(
        len(function.graph.get_operations())
        for function in graph._functions.values()  # noqa: SLF001 (op count only)
        if hasattr(function, "graph")
    )
    start = time.perf_counter()
    with scope():
        logs = step(batch)
    float(logs["loss"])
    times["first"] = time.perf_counter() - start
    print(f"first call in {times['first']:.1f} s", file=sys.stderr, flush=True)
    steady = []
    for _ in range(args.steps):
        start = time.perf_counter()
        with scope():
            float(step(batch)["loss"])
        steady.append(time.perf_counter() - start)
    times["steady"] = statistics.median(steady)
    result = {
        "model": args.model,
        "grappler": args.grappler,
        "optimizer": args.optimizer,
        "batch_size": args.batch_size,
        "ops": ops,
        **{k: round(v, 2) for k, v in times.items()},
        "trace_plus_first": round(times["trace"] + times["first"], 2),
        "load_average": round(os.getloadavg()[0], 2),
        "commit": os.popen("git rev-parse --short HEAD 2>/dev/null").read().strip(),
    }
    print(json.dumps(result))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a") as file:
        file.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def call_scope(grappler):
    """The context the step is called in: `fit`'s for "package", else none."""
    if grappler != "package":
        return contextlib.nullcontext
    try:
        from tfp_realnvp.training.graph_optimization import one_round_graph_optimization
    except ImportError:  # code from before it: `fit` called the step plainly
        return contextlib.nullcontext
    return one_round_graph_optimization


if __name__ == "__main__":
    main()
