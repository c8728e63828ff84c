"""Bits/dim on the MNIST test set against training wall-clock time, with the CLI's MNIST settings.

    python benchmarks/quality_over_time.py [--minutes 20] [--eval-images 1000]

Trains `RealNVPModel` exactly as `tfp-realnvp train --dataset mnist` does (3 scales, 4 residual
blocks, 32 feature maps, batch 64, Adam 1e-3 with global clipnorm 100, L2 5e-5), in chunks of
`--chunk-steps` steps. After each chunk the training clock is paused and bits/dim is measured in
inference mode on the first `--eval-images` MNIST test images (fixed dequantisation noise); at
the end, on the whole test set (`--final-eval-images`), before and after the batch-norm refresh
the CLI runs before it saves (`RealNVPModel.refresh_batch_norm_statistics`). Writes
`benchmarks/results/quality_over_time.csv` and `.png` and prints a JSON summary.
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import configure_threads, load_snapshot  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: wall-clock seconds; cpu: this process's CPU seconds / 2, the wall time on an "
        "idle 2-core machine (for a machine shared with other work)",
    )
    parser.add_argument("--max-wall-minutes", type=float, default=90.0)
    parser.add_argument("--chunk-steps", type=int, default=20)
    parser.add_argument("--eval-images", type=int, default=512)
    parser.add_argument("--final-eval-images", type=int, default=10000)
    parser.add_argument("--manual-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--out", default=str(HERE / "results" / "quality_over_time"))
    args = parser.parse_args(argv)
    threads = configure_threads()

    import keras
    import tensorflow as tf

    import tfp_realnvp
    from tfp_realnvp.cli.arguments import architecture
    from tfp_realnvp.data import load
    from tfp_realnvp.training.real_nvp_model import RealNVPModel, default_optimizer
    from tfp_realnvp.training.refresh_statistics import DEFAULT_REFRESH_STEPS as REFRESH_STEPS

    tf.random.set_seed(0)
    num_scales, num_res_blocks, num_filters = architecture("mnist")
    flow = tfp_realnvp.RealNVPMultiScale(
        [28, 28, 1], num_scales=num_scales, num_res_blocks=num_res_blocks, num_filters=num_filters
    )
    model = RealNVPModel(flow, num_bins=256)
    model.compile(optimizer=default_optimizer(1e-3))
    common = dict(batch_size=64, manual_dir=args.manual_dir, data_dir=args.data_dir)
    train = load("mnist", split="train", **common).repeat()
    test = load("mnist", split="test", noise_seed=0, **common)
    eval_small = test.take(-(-args.eval_images // 64))
    eval_full = test.take(-(-args.final_eval_images // 64))

    def bits_per_dim(batches):
        return float(model.evaluate(batches, verbose=0, return_dict=True)["bits_per_dim"])

    rows = [
        dict(
            train_seconds=0.0,
            wall_seconds=0.0,
            cpu_seconds=0.0,
            steps=0,
            test_bits_per_dim=bits_per_dim(eval_small),
        )
    ]
    print(json.dumps(rows[-1]), flush=True)
    loads = [load_snapshot()]
    budget, max_wall = 60.0 * args.minutes, 60.0 * args.max_wall_minutes
    clock = dict(trained=0.0, start=0.0, cpu=0.0, cpu_start=0.0, wall=0.0, began=time.time())
    process = psutil.Process()

    def cpu_seconds():
        times = process.cpu_times()
        return times.user + times.system

    class PausedClock(keras.callbacks.Callback):
        """Counts training time only; evaluates after every chunk, stops at the budget."""

        def on_epoch_begin(self, epoch, logs=None):
            clock["start"] = time.perf_counter()
            clock["cpu_start"] = cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            clock["wall"] += time.perf_counter() - clock["start"]
            clock["cpu"] += cpu_seconds() - clock["cpu_start"]
            clock["trained"] = clock["wall"] if args.clock == "wall" else clock["cpu"] / 2
            loads.append(load_snapshot())
            rows.append(
                dict(
                    train_seconds=clock["trained"],
                    wall_seconds=clock["wall"],
                    cpu_seconds=clock["cpu"],
                    steps=(epoch + 1) * args.chunk_steps,
                    test_bits_per_dim=bits_per_dim(eval_small),
                )
            )
            print(json.dumps(rows[-1]), flush=True)
            if clock["trained"] >= budget or time.time() - clock["began"] > max_wall:
                self.model.stop_training = True

    model.fit(
        train, steps_per_epoch=args.chunk_steps, epochs=10**6, verbose=0, callbacks=[PausedClock()]
    )
    trained, steps = clock["trained"], rows[-1]["steps"]
    final_stale = bits_per_dim(eval_full)
    # As the CLI does before it saves: moving batch-norm statistics caught up with the last weights.
    refresh_start = time.perf_counter()
    model.refresh_batch_norm_statistics(train, steps=REFRESH_STEPS)
    refresh_seconds = time.perf_counter() - refresh_start
    final = bits_per_dim(eval_full)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = dict(
        minutes=args.minutes,
        clock=args.clock,
        wall_seconds=clock["wall"],
        cpu_seconds=clock["cpu"],
        steps=steps,
        train_seconds=trained,
        eval_images=args.eval_images,
        final_eval_images=args.final_eval_images,
        final_test_bits_per_dim=final,
        final_test_bits_per_dim_before_refresh=final_stale,
        refresh_steps=REFRESH_STEPS,
        refresh_wall_seconds=refresh_seconds,
        architecture=dict(
            num_scales=num_scales, num_res_blocks=num_res_blocks, num_filters=num_filters
        ),
        batch_size=64,
        threads=threads,
        load=loads,
    )
    with open(out.with_suffix(".json"), "w") as f:
        json.dump(dict(summary=summary, rows=rows), f, indent=1)
    _plot(rows, final, out.with_suffix(".png"), args)
    print(json.dumps(summary), flush=True)


def _plot(rows, final, path, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    minutes = [r["train_seconds"] / 60 for r in rows]
    ax.plot(minutes, [r["test_bits_per_dim"] for r in rows], marker="o", ms=3)
    ax.axhline(
        final,
        ls="--",
        c="gray",
        label=f"full test set at the end, batch-norm statistics refreshed: {final:.3f}",
    )
    ax.set_xlabel(
        "training wall-clock time on 2 CPU cores (minutes)"
        if args.clock == "wall"
        else "training time on 2 idle CPU cores: process CPU time / 2 (minutes)"
    )
    ax.set_ylabel(f"bits/dim, first {args.eval_images} MNIST test images")
    ax.set_title("Real NVP on MNIST (3 scales, 4 blocks, 32 maps, batch 64)")
    ax.set_ylim(top=min(max(r["test_bits_per_dim"] for r in rows), 8.0))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
