"""Where a training process's memory goes, stage by stage, for each memory-saving level.

What `RealNVPModel.fit` runs: the model's `train_step` with the package's default optimizer,
called as `fit` calls it, on the benchmarks' flow (`--size`: 2 scales on 32x32x3 images, paper
= the paper's CIFAR-10 model, batch 64). Resident memory (RSS, `VmRSS`) and its high-water mark
(`VmHWM`) are read after: importing, building the model and the optimizer, tracing the
training step, the first call (graph optimisation, oneDNN set-up, the optimizer's slots), and
`--steps` more steps with the high-water mark reset first (`/proc/self/clear_refs`), which is
the peak of training itself. Each variant runs in a fresh process, so its peak is its own.

Environment variables that change how freed memory is kept (`MALLOC_ARENA_MAX`,
`TF_ONEDNN_USE_SYSTEM_ALLOCATOR`, ...) are recorded with the results. With
`TF_CPU_ALLOCATOR_USE_BFC=true`, the peak held by the steady steps' tensors is recorded too
(TF's allocator statistics, unlike RSS not inflated by allocator caches).
"""

import contextlib
import json
import os
import time
from pathlib import Path

from benchmarks.common import (
    SIZES,
    configure_threads,
    memory_status,
    print_result,
    reset_peak_rss,
    run_in_process,
)

# Each variant's `memory_saving_gradients`.
VARIANTS = {"normal": False, "memory_saving": True, "memory_saving_blocks": "blocks"}
ALLOCATOR_ENVIRONMENT = ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "TF_CPU_ALLOCATOR_USE_BFC")
ALLOCATOR_ENVIRONMENT += ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")
STAGES = ("imported", "built", "traced", "first_step", "steady_steps")
RESULTS = Path(__file__).resolve().parents[1] / "results"


def add_arguments(parser):
    parser.add_argument("--size", choices=sorted(SIZES), default="paper")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", default=str(RESULTS / "memory_stages.json"))
    parser.add_argument("--variant", choices=VARIANTS, help="run this variant here (internal)")


def main(args, runner):
    """Each variant in a fresh process; writes their records to `args.out`."""
    if args.variant:
        print_result(measure(args.variant, args.size, args.steps))
        return None
    results = []
    for variant in args.variants.split(","):
        options = dict(variant=variant, size=args.size, steps=args.steps)
        results.append(run_in_process([runner, "memory"], options))
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(markdown(results))
    return results


def fit_step(size, memory_saving):
    """`RealNVPModel.train_step` as `fit` runs it, its input, and its call context."""
    import tensorflow as tf

    import tfp_realnvp
    from benchmarks import flows_tf

    try:
        from tfp_realnvp.training.graph_optimization import one_round_graph_optimization
    except ImportError:  # code without it: `fit` calls the step plainly
        one_round_graph_optimization = contextlib.nullcontext
    model = tfp_realnvp.RealNVPModel(flows_tf.realnvp_flow(size, memory_saving))
    model.compile()  # the default optimizer; builds its slots
    images = flows_tf.dequantise(flows_tf.fixed_pixels(size["batch_size"]))
    step = tf.function(lambda x: model.train_step(x)["loss"])
    return step, images, one_round_graph_optimization


def measure(variant, size_name, steps):
    """One variant's stages, in this process."""
    stages = {}
    threads = configure_threads()
    import tensorflow as tf

    stages["imported"] = memory_status()
    train_step, batch, call_context = fit_step(SIZES[size_name], VARIANTS[variant])
    stages["built"] = memory_status()
    train_step.get_concrete_function(batch)
    stages["traced"] = memory_status()
    with call_context():
        train_step(batch).numpy()
    stages["first_step"] = memory_status()
    reset_peak_rss()
    bfc = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC") == "true"
    if bfc:
        tf.config.experimental.reset_memory_stats("CPU:0")
    step_seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        with call_context():
            train_step(batch).numpy()
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
        steady_tensor_peak_bytes=(
            tf.config.experimental.get_memory_info("CPU:0")["peak"] if bfc else None
        ),
        date=time.strftime("%Y-%m-%d"),
    )


def markdown(results):
    """RSS / peak RSS after each stage, a row per variant, in GiB."""
    lines = [
        "| variant | allocator | " + " | ".join(f"{s}: RSS / peak (GiB)" for s in STAGES) + " |",
        "|---|---|" + "---:|" * len(STAGES),
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['variant']} | failed: {r['error']} |")
            continue
        environment = ", ".join(f"{k}={v}" for k, v in r["allocator_environment"].items())
        gib = [(r["stages"][s]["rss_bytes"], r["stages"][s]["peak_rss_bytes"]) for s in STAGES]
        cells = [f"{now / 2**30:.2f} / {peak / 2**30:.2f}" for now, peak in gib]
        lines.append(f"| {r['variant']} | {environment or 'default'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
