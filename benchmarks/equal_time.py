"""Which training recipe reaches the lowest held-out bits/dim in the same wall-clock time?

Each recipe is an ordinary `tfp-realnvp train` run with `--time-budget MINUTES`, in a process
of its own, one after another (or pinned to one core with `--cpu`, so that other work on the
other core does not share its time); everything but the recipe's flags is the same: the data,
the seed, the architecture, the validation every `--steps-per-epoch` steps. The curve of each
run is its validations (TensorBoard's `validation/` events: held-out bits/dim on
`--validation-steps` batches, after the statistics refresh) against the seconds since its
process started; the table's figure is its `results.json`: the whole held-out split at the end.

    python benchmarks/equal_time.py prepare         # MNIST as one .npz (below)
    python benchmarks/equal_time.py run --datasets mnist cifar10 --recipes paper modern --minutes 30
    python benchmarks/equal_time.py report          # the table, the plot, the JSON

`run` skips a run whose results.json exists, so the same command finishes an interrupted set.
"""

import argparse
import glob
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
ROOT = HERE / "results" / "equal_time"

# dataset -> the `train` flags that name its data. MNIST: all 60,000 training images and the
# first 2,000 test images (`prepare` writes them; the whole test split would take each run
# minutes on one core to evaluate). CIFAR-10: the two training batches here, the 1,000 test
# images, and a network small enough that a run of minutes takes hundreds of steps (the CLI's
# default for MNIST).
MNIST_FILE = ROOT / "data" / "mnist.npz"
DATASETS = {
    "digits": ["--dataset", "digits"],  # the runner's own test (seconds)
    "mnist": ["--dataset", str(MNIST_FILE)],
    "cifar10": [
        "--dataset",
        "cifar10",
        "--manual-dir",
        str(DATA),
        "--num-res-blocks",
        "2",
        "--num-filters",
        "32",
    ],
}
# The recipes: name -> the `train` flags; each piece alone is the paper's recipe with it.
RECIPES = {
    "paper": ["--recipe", "paper"],
    "warmup": ["--recipe", "paper", "--warmup-steps", "50"],
    "cosine": ["--recipe", "paper", "--lr-decay", "cosine"],
    "ema": ["--recipe", "paper", "--ema", "0.99"],
    "adamax": ["--recipe", "paper", "--optimizer", "adamax"],
    "bfloat16": ["--recipe", "paper", "--precision", "mixed_bfloat16"],
    "variational": ["--recipe", "paper", "--dequantization", "variational"],
    "modern": ["--recipe", "modern"],
    "modern_1x1": ["--recipe", "modern", "--channel-mixing", "invertible_1x1"],
    "modern_spline": ["--recipe", "modern", "--coupling", "spline"],
}
TRAINING = ["--seed", "0", "--steps-per-epoch", "60", "--validation-steps", "4", "--verbose", "2"]


def prepare(args):
    """Writes MNIST_FILE from the idx files beside the repository."""
    import gzip

    import numpy as np

    def images(name):
        with gzip.open(DATA / "mnist" / name) as file:
            data = file.read()
        count, rows, columns = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, columns, 1)

    MNIST_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        MNIST_FILE,
        x_train=images("train-images-idx3-ubyte.gz"),
        x_test=images("t10k-images-idx3-ubyte.gz")[:2000],
    )
    print(f"wrote {MNIST_FILE}")


def run(args):
    root = pathlib.Path(args.root)
    for dataset in args.datasets:
        for recipe in args.recipes:
            logdir = root / dataset / recipe
            if (logdir / "results.json").exists():
                print(f"{logdir}: done")
                continue
            command = [
                sys.executable,
                "-m",
                "tfp_realnvp.cli",
                "train",
                *DATASETS[dataset],
                "--logdir",
                str(logdir),
                "--time-budget",
                str(args.minutes),
                *TRAINING,
                *RECIPES[recipe],
            ]
            if args.cpu is not None:
                command = ["taskset", "-c", str(args.cpu), *command]
            logdir.mkdir(parents=True, exist_ok=True)
            print(" ".join(command), flush=True)
            started = time.time()
            (logdir / "started.json").write_text(json.dumps({"started": started}))
            with open(logdir / "train.log", "w") as log:
                subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
            print(f"{logdir}: {time.time() - started:.0f} s", flush=True)


def validation_curve(logdir):
    """[(seconds since the process started, held-out bits/dim)] of a run's validations."""
    import tensorflow as tf

    started = json.loads((logdir / "started.json").read_text())["started"]
    points = []
    for path in sorted(glob.glob(str(logdir / "validation" / "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "epoch_bits_per_dim":
                    number = (
                        float(tf.make_ndarray(value.tensor))
                        if value.HasField("tensor")
                        else value.simple_value
                    )
                    points.append((event.wall_time - started, number))
    return sorted(points)


def report(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = pathlib.Path(args.root)
    table = {}
    datasets = [d for d in DATASETS if (root / d).is_dir()]
    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        table[dataset] = {}
        for recipe in RECIPES:
            logdir = root / dataset / recipe
            if not (logdir / "results.json").exists() or not (logdir / "started.json").exists():
                continue  # not finished
            results = json.loads((logdir / "results.json").read_text())
            curve = validation_curve(logdir)
            table[dataset][recipe] = {
                "flags": RECIPES[recipe],
                "bits_per_dim": results["bits_per_dim"],
                "steps": results["steps"],
                "train_seconds": results.get("time_budget", {}).get("train_seconds"),
                "curve": curve,
            }
            if curve:
                seconds, bits = zip(*curve, strict=True)
                axis.plot([s / 60 for s in seconds], bits, marker=".", label=recipe)
        axis.set_title(dataset)
        axis.set_xlabel("wall-clock minutes since the process started")
        axis.set_ylabel("held-out bits/dim (validation)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(root.parent / f"{root.name}.png", dpi=100)
    machine = {"cpu": _cpu_model(), "cores": os.cpu_count()}
    (root.parent / f"{root.name}.json").write_text(
        json.dumps({"machine": machine, "runs": table}, indent=1)
    )
    print(f"{machine['cpu']}, {machine['cores']} cores; {root.parent / root.name}.{{png,json}}")
    for dataset, rows in table.items():
        paper = rows.get("paper", {})
        print(f"\n{dataset}\n")
        print("| recipe | steps | bits/dim | vs the paper's recipe | reaches the paper's last |")
        print("|---|---:|---:|---:|---:|")
        for recipe, row in sorted(rows.items(), key=lambda item: item[1]["bits_per_dim"]):
            difference = f"{row['bits_per_dim'] - paper['bits_per_dim']:+.3f}" if paper else ""
            reached = minutes_to_reach(row["curve"], paper.get("curve"))
            reached = "" if reached is None else f"{reached:.1f} min"
            print(
                f"| {recipe} | {row['steps']} | {row['bits_per_dim']:.3f} | {difference} "
                f"| {reached} |"
            )


def minutes_to_reach(curve, reference):
    """The minutes at which `curve` first validates at or below `reference`'s last validation
    (None if never, or without a reference)."""
    if not reference:
        return None
    target = reference[-1][1]
    return next((seconds / 60 for seconds, bits in curve if bits <= target), None)


def _cpu_model():
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="train each recipe on each dataset")
    runner.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=["mnist"])
    runner.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=["paper", "modern"])
    runner.add_argument("--minutes", type=float, default=30.0, help="--time-budget of each run")
    runner.add_argument("--cpu", type=int, help="pin every run to this core (taskset)")
    runner.add_argument("--root", default=str(ROOT))
    reporter = commands.add_parser("report", help="the table, the plot and the JSON")
    reporter.add_argument("--root", default=str(ROOT))
    commands.add_parser("prepare", help="write MNIST as one .npz")
    args = parser.parse_args(argv)
    {"run": run, "report": report, "prepare": prepare}[args.command](args)


if __name__ == "__main__":
    main()
