"""Which option of `RealNVPMultiScale` learns fastest, and how good does a model get, at equal
CPU time (or at equal steps) on real data?

    python benchmarks/compare_options.py [--cpu-minutes 20] [--datasets mnist,cifar10]
        [--options '[{}, {"coupling": "additive"}, ...]'] [--steps N] [--quick]
    python benchmarks/compare_options.py --quick --datasets digits --manual-dir ''  # a minute

Every option is a dict of `RealNVPMultiScale` keyword arguments (`--options`, a JSON list; `{}`
is the paper's model); by default the paper's model, the other couplings (additive, spline),
Glow's steps (act norm, invertible 1x1 convolution, learned split prior) and the Glow-like
combination (act norm + invertible 1x1 + affine). A keyword the flow does not take, or a value
it rejects, fails before any training.

For each dataset and option, in its own process (so that its peak memory is its own): the same
seed, the same order of training batches, the CLI's architecture for the dataset and the paper's
recipe (batch 64, Adam 1e-3, global clipnorm 100). Training runs in chunks of `--chunk-steps`
steps until the process has used `--cpu-minutes` of CPU time for training (CPU time, not wall
time, because the machine is shared: other work slows the wall clock, not the CPU clock), or,
with `--steps`, for that many steps (rounded up to whole chunks) whatever they cost: the way to
compare options that change the arithmetic rather than the model, such as
`{"network_dtype_policy": "mixed_bfloat16"}`. The clock includes the one-off tracing of the
training step, as a user's would (`tracing_cpu_seconds`: the first chunk's CPU time beyond the
later chunks' median). After each chunk, with the clock paused: bits/dim on the first
`--eval-images` held-out images (fixed dequantisation noise, inference mode); at the end, on
`--final-eval-images`, before and after the batch-norm statistics refresh the CLI runs before
it saves.

Writes `<out>.json` (every run, every point) and `<out>.png` (held-out bits/dim against CPU
time, one panel per dataset), and prints a table per dataset (parameters, steps, step time,
peak memory, bits/dim) as Markdown. `--quick`: the paper's model only, a tiny network, seconds
of training.
"""

import argparse
import inspect
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import (  # noqa: E402
    configure_threads,
    load_snapshot,
    machine,
    peak_rss_bytes,
    print_result,
    run_in_process,
)

GLOW_LIKE = {"normalization": "act_norm", "channel_mixing": "invertible_1x1"}
OPTIONS = [
    {},
    {"coupling": "additive"},
    {"coupling": "spline"},
    {"normalization": "act_norm"},
    {"channel_mixing": "invertible_1x1"},
    {"split_prior": "learned"},
    GLOW_LIKE,
]
# Fixed by the dataset: an option cannot change them.
SET_BY_THE_DATASET = ("event_shape", "dtype")
QUICK = dict(
    options=[{}],
    cpu_minutes=0.05,
    chunk_steps=2,
    eval_images=64,
    final_eval_images=128,
    architecture=dict(num_scales=1, num_res_blocks=0, num_filters=4),
)


def label(option):
    """A readable name of an option: its keywords, or the paper's model for `{}`."""
    if option == GLOW_LIKE:
        return "Glow-like (act_norm + invertible_1x1)"
    return ", ".join(f"{key}={value}" for key, value in sorted(option.items())) or "paper"


def flow_kwargs(dataset, option, architecture_override=None):
    """RealNVPMultiScale's keyword arguments for a run: the CLI's architecture, then the option."""
    from tfp_realnvp.cli.arguments import architecture
    from tfp_realnvp.data import image_shape

    shape = list(image_shape(dataset))
    num_scales, num_res_blocks, num_filters = architecture(dataset, shape)
    kwargs = dict(num_scales=num_scales, num_res_blocks=num_res_blocks, num_filters=num_filters)
    kwargs.update(architecture_override or {})
    kwargs.update(option)
    return dict(event_shape=shape, **kwargs)


def check_options(options, datasets, architecture_override=None):
    """Fails before any training unless every option builds a flow for every dataset."""
    import tfp_realnvp

    if not isinstance(options, list) or not options:
        raise ValueError(f"`--options` must be a non-empty JSON list of dicts; got {options!r}.")
    accepted = set(inspect.signature(tfp_realnvp.RealNVPMultiScale).parameters)
    accepted -= set(SET_BY_THE_DATASET)
    for option in options:
        if not isinstance(option, dict):
            raise ValueError(f"`--options` must hold dicts of keywords; got {option!r}.")
        unknown = sorted(set(option) - accepted)
        if unknown:
            raise ValueError(
                f"`--options`: {option} has keyword(s) {unknown} that RealNVPMultiScale does "
                f"not take here; it takes {sorted(accepted)}."
            )
        for dataset in datasets:  # the flow's own checks of the values
            tfp_realnvp.RealNVPMultiScale(**flow_kwargs(dataset, option, architecture_override))


# -- one run, in its own process -----------------------------------------------------------------


def cpu_seconds():
    times = psutil.Process().cpu_times()
    return times.user + times.system


def train_one(spec):
    """Trains one option on one dataset for a CPU-time budget; returns the run's record."""
    threads = configure_threads()
    import keras

    import tfp_realnvp
    from tfp_realnvp.cli.loading import dataset_info, held_out_batches, load_batches
    from tfp_realnvp.data import num_bins
    from tfp_realnvp.training import default_optimizer
    from tfp_realnvp.training.refresh_statistics import DEFAULT_REFRESH_STEPS as REFRESH_STEPS

    dataset, seed = spec["dataset"], spec["seed"]
    # The official files are read directly where the manual folder has them (no preparation).
    folder = os.path.join(spec["manual_dir"] or "", dataset)
    source = dict(
        source=folder if spec["manual_dir"] and os.path.isdir(folder) else dataset,
        data_dir=spec["data_dir"],
        manual_dir=None,
        image_size=None,
        num_bits=None,
        horizontal_flip=None,
    )
    keras.utils.set_random_seed(seed)  # the data first: the same batches whatever the flow
    train = load_batches(source, dataset_info(source).train_split, 64).repeat()
    held_out = held_out_batches(source, 64)
    keras.utils.set_random_seed(seed)
    kwargs = flow_kwargs(dataset, spec["option"], spec["architecture"])
    flow = tfp_realnvp.RealNVPMultiScale(**kwargs)
    model = tfp_realnvp.RealNVPModel(flow, num_bins=num_bins(dataset))
    model.compile(optimizer=default_optimizer())

    def bits_per_dim(num_images):
        batches = held_out.take(math.ceil(num_images / 64))
        return float(model.evaluate(batches, verbose=0, return_dict=True)["bits_per_dim"])

    rows = [
        dict(
            cpu_seconds=0.0,
            wall_seconds=0.0,
            steps=0,
            bits_per_dim=bits_per_dim(spec["eval_images"]),
        )
    ]
    budget = math.inf if spec["steps"] else 60.0 * spec["cpu_minutes"]
    chunk = spec["chunk_steps"]

    class CpuBudget(keras.callbacks.Callback):
        """Counts training CPU time only; evaluates after every chunk; stops at the budget
        (CPU time, or steps)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.cpu, self.wall = cpu_seconds(), time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            cpu, wall = cpu_seconds() - self.cpu, time.perf_counter() - self.wall
            rows.append(
                dict(
                    cpu_seconds=rows[-1]["cpu_seconds"] + cpu,
                    wall_seconds=rows[-1]["wall_seconds"] + wall,
                    steps=rows[-1]["steps"] + chunk,
                    chunk_cpu_seconds=cpu,
                    chunk_wall_seconds=wall,
                    bits_per_dim=bits_per_dim(spec["eval_images"]),
                )
            )
            print(json.dumps(rows[-1]), flush=True)
            out_of_steps = spec["steps"] and rows[-1]["steps"] >= spec["steps"]
            if rows[-1]["cpu_seconds"] >= budget or out_of_steps:
                self.model.stop_training = True

    model.fit(train, steps_per_epoch=chunk, epochs=10**6, verbose=0, callbacks=[CpuBudget()])
    before_refresh = bits_per_dim(spec["final_eval_images"])
    model.refresh_batch_norm_statistics(train, steps=REFRESH_STEPS)
    # The first chunk holds the tracing; the step time is a later chunks' median when there are.
    chunks = rows[2:] or rows[1:]
    step_cpu = statistics.median(r["chunk_cpu_seconds"] / chunk for r in chunks)
    return dict(
        spec,
        label=label(spec["option"]),
        flow=kwargs,
        parameters=int(sum(math.prod(v.shape) for v in model.trainable_weights)),
        steps=rows[-1]["steps"],
        step_cpu_seconds=step_cpu,
        tracing_cpu_seconds=rows[1]["chunk_cpu_seconds"] - chunk * step_cpu if rows[2:] else None,
        step_wall_seconds=statistics.median(r["chunk_wall_seconds"] / chunk for r in chunks),
        peak_rss_mib=peak_rss_bytes() / 2**20,
        final_bits_per_dim_before_refresh=before_refresh,
        final_bits_per_dim=bits_per_dim(spec["final_eval_images"]),
        refresh_steps=REFRESH_STEPS,
        rows=rows,
        threads=threads,
        load=load_snapshot(),
        machine=machine(),
        date=time.strftime("%Y-%m-%d"),
    )


# -- the comparison -------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--options", default=None, help="JSON list of RealNVPMultiScale kwargs")
    parser.add_argument("--datasets", default="mnist,cifar10", help="comma-separated")
    parser.add_argument("--cpu-minutes", type=float, default=20.0, help="training CPU time each")
    parser.add_argument("--steps", type=int, default=None, help="train this many steps instead")
    parser.add_argument("--chunk-steps", type=int, default=50)
    parser.add_argument("--eval-images", type=int, default=512)
    parser.add_argument("--final-eval-images", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--manual-dir",
        default=str(HERE.parent.parent / "shared" / "data"),
        help="folder with the official files ('' for none, as for digits)",
    )
    parser.add_argument("--data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--out", default=None, help="path prefix of the .json and .png")
    parser.add_argument(
        "--architecture",
        default=None,
        help="JSON dict overriding the CLI's num_scales / num_res_blocks / num_filters",
    )
    parser.add_argument("--quick", action="store_true", help="paper's model, tiny, seconds")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)  # one run (internal)
    args = parser.parse_args(argv)
    if args.run is not None:
        print_result(train_one(json.loads(args.run)))
        return None

    quick = QUICK if args.quick else {}
    options = json.loads(args.options) if args.options else quick.get("options", OPTIONS)
    datasets = args.datasets.split(",")
    architecture = json.loads(args.architecture) if args.architecture else quick.get("architecture")
    check_options(options, datasets, architecture)
    out = Path(
        args.out
        or HERE / "results" / ("compare_options_quick" if args.quick else "compare_options")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(
        started=time.strftime("%Y-%m-%d %H:%M:%S"), argv=sys.argv[1:] if argv is None else argv
    )
    results = []
    for dataset in datasets:
        for option in options:
            spec = dict(
                dataset=dataset,
                option=option,
                architecture=architecture,
                seed=args.seed,
                cpu_minutes=quick.get("cpu_minutes", args.cpu_minutes),
                steps=args.steps,
                chunk_steps=quick.get("chunk_steps", args.chunk_steps),
                eval_images=quick.get("eval_images", args.eval_images),
                final_eval_images=quick.get("final_eval_images", args.final_eval_images),
                manual_dir=args.manual_dir or None,
                data_dir=args.data_dir,
            )
            timeout_s = 3600 + 300 * spec["cpu_minutes"]  # slow on a busy machine, never stuck
            options = dict(run=json.dumps(spec))
            results.append(run_in_process([__file__], options, timeout_s=timeout_s))
            # Written after every run, so an interrupted comparison still reports what it has.
            out.with_suffix(".json").write_text(
                json.dumps(dict(meta=meta, results=results), indent=1)
            )
    plot(results, out.with_suffix(".png"))
    print(table(results))
    return results


def spec_of(result):
    """The run's specification: in its record, or, for a failed run, in its command line."""
    return json.loads(result["run"]) if "error" in result else result


def table(results):
    """Markdown: per dataset, the options sorted by final held-out bits/dim, and the winner."""
    lines = []
    for dataset in dict.fromkeys(spec_of(r)["dataset"] for r in results):
        runs = [r for r in results if spec_of(r)["dataset"] == dataset]
        done = sorted((r for r in runs if "error" not in r), key=lambda r: r["final_bits_per_dim"])
        lines += [
            f"### {dataset}",
            "",
            "| option | parameters | steps | CPU s / step | wall s / step | peak RSS (MiB) "
            "| held-out bits/dim | after batch-norm refresh |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in done:
            lines.append(
                f"| {r['label']} | {r['parameters']:,} | {r['steps']} "
                f"| {r['step_cpu_seconds']:.3f} | {r['step_wall_seconds']:.3f} "
                f"| {r['peak_rss_mib']:.0f} | {r['final_bits_per_dim_before_refresh']:.3f} "
                f"| {r['final_bits_per_dim']:.3f} |"
            )
        for r in runs:
            if "error" in r:
                lines.append(f"| {label(spec_of(r)['option'])} | failed: {r['error']} |")
        paper = [r for r in done if r["option"] == {}]
        if done and paper:
            best = done[0]
            gap = paper[0]["final_bits_per_dim"] - best["final_bits_per_dim"]
            lines += [
                "",
                f"Best at equal CPU time: {best['label']}, {gap:.3f} bits/dim below the paper's "
                "model (after the refresh).",
            ]
        lines.append("")
    return "\n".join(lines)


def plot(results, path):
    """Held-out bits/dim against training CPU minutes: a panel per dataset, a line per option."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in results if "error" not in r]
    datasets = list(dict.fromkeys(r["dataset"] for r in done))
    fig, axes = plt.subplots(
        1, max(1, len(datasets)), figsize=(6 * max(1, len(datasets)), 4), squeeze=False
    )
    for ax, dataset in zip(axes[0], datasets, strict=False):
        runs = [r for r in done if r["dataset"] == dataset]
        for r in runs:
            points = r["rows"][1:]  # the untrained model's point would flatten the curves
            ax.plot(
                [p["cpu_seconds"] / 60 for p in points],
                [p["bits_per_dim"] for p in points],
                label=r["label"],
            )
        ax.set_title(f"{dataset}: held-out bits/dim at equal CPU time")
        ax.set_xlabel("training CPU time of the process (minutes)")
        ax.set_ylabel(f"bits/dim, first {runs[0]['eval_images']} held-out images")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
