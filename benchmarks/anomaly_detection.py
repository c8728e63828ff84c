"""Out-of-distribution detection with Real NVP: raw bits/dim against its corrections, measured.

Two pairs (in-distribution run, out-of-distribution images), each method's AUROC, AUPR and
false-positive rate at 95% true positives, from `tfp-realnvp score`'s CSVs:

    cifar10_vs_mnist   a flow trained on CIFAR-10; MNIST test digits padded to 32x32 and
                       repeated to 3 channels. Raw likelihood fails here (simple images).
    mnist_vs_cifar10   a flow trained on MNIST; CIFAR-10 test images in grey, central 28x28.
                       Raw likelihood works here.

Steps (the runs are ordinary `tfp-realnvp train` runs; `prepare` prints the commands):

    python benchmarks/anomaly_detection.py prepare --data ../shared/data --out /tmp/anomaly
    ... the four printed `tfp-realnvp train` commands (a flow and a --perturb 0.2 background
        flow per in-distribution dataset) ...
    python benchmarks/anomaly_detection.py measure --root /tmp/anomaly

`measure` writes benchmarks/results/anomaly_detection.json (with each run's architecture and
training budget) and the ROC plot docs/images/anomaly_roc.png.
"""

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys

import numpy as np

from tfp_realnvp.anomaly import roc_curve, summarize
from tfp_realnvp.data.arrays import read_cifar10_files, read_idx

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPOSITORY / "benchmarks" / "results" / "anomaly_detection.json"
PLOT = REPOSITORY / "docs" / "images" / "anomaly_roc.png"
METHODS = ("bits_per_dim", "input_complexity", "likelihood_ratio", "typicality")
TYPICALITY_BATCH = 16
# The models are small so that each trains in at most 30 minutes on 2 CPU cores.
ARCHITECTURE = ["--num-res-blocks", "2", "--num-filters", "32"]
TRAINING = ["--epochs", "100", "--steps-per-epoch", "150", "--validation-steps", "5"]
MAX_MINUTES = 30


def pairs(root, data):
    """name -> (run, background run, in-distribution source, out-of-distribution source)."""
    mnist = str(pathlib.Path(data).resolve() / "mnist")
    return {
        "cifar10_vs_mnist": ("cifar10", "cifar10_background", "cifar10", root / "mnist32x3.npz"),
        "mnist_vs_cifar10": ("mnist", "mnist_background", mnist, root / "cifar10_grey28.npz"),
    }


def prepare(args):
    """Writes the two out-of-distribution .npz sources and prints the training commands."""
    root, data = pathlib.Path(args.out), pathlib.Path(args.data)
    root.mkdir(parents=True, exist_ok=True)
    # MNIST 28x28 -> 32x32 with a black border of 2, grey repeated to RGB.
    digits = {
        split: read_idx(data / "mnist" / f"{split}-images-idx3-ubyte.gz")
        for split in ("train", "t10k")
    }
    padded = {
        k: np.repeat(np.pad(v, ((0, 0), (2, 2), (2, 2)))[..., None], 3, -1)
        for k, v in digits.items()
    }
    np.savez_compressed(
        root / "mnist32x3.npz", x_train=padded["train"][:2000], x_test=padded["t10k"]
    )
    # CIFAR-10 in grey (ITU-R BT.601 luma, rounded), the central 28x28.
    cifar = {
        split: read_cifar10_files(sorted((data / "cifar10").glob(pattern)))[0]
        for split, pattern in (("train", "data_batch_1.bin"), ("test", "test_batch*.bin"))
    }
    grey = {
        k: np.rint(v @ [0.299, 0.587, 0.114]).astype(np.uint8)[:, 2:30, 2:30, None]
        for k, v in cifar.items()
    }
    np.savez_compressed(
        root / "cifar10_grey28.npz", x_train=grey["train"][:2000], x_test=grey["test"]
    )
    print(f"wrote {root / 'mnist32x3.npz'} and {root / 'cifar10_grey28.npz'}; train with:")
    sources = {
        "cifar10": ["--dataset", "cifar10", "--manual-dir", str(data.resolve())],
        "mnist": ["--dataset", str(data.resolve() / "mnist")],
    }
    for name, source in sources.items():
        for run, extra in ((name, []), (f"{name}_background", ["--perturb", "0.2"])):
            command = ["tfp-realnvp", "train", *source, "--logdir", str(root / run)]
            print(
                f"  timeout {MAX_MINUTES * 60} "
                + " ".join([*command, *ARCHITECTURE, *TRAINING, "--seed", "0", *extra])
            )


def score(root, run, background, source, out, max_images):
    """`tfp-realnvp score` of `source`; its CSV rows as {column: float array}."""
    command = [
        sys.executable,
        "-m",
        "tfp_realnvp.cli",
        "score",
        "--logdir",
        str(root / run),
        "--background-logdir",
        str(root / background),
        "--dataset",
        str(source),
        "--out",
        str(out),
        "--max-images",
        str(max_images),
        "--typicality-batch",
        str(TYPICALITY_BATCH),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(out) as file:
        rows = list(csv.DictReader(file))
    return {key: np.array([float(row[key] or "nan") for row in rows]) for key in rows[0]}


def compared(scores, method):
    """The values a method's summary compares: per image, or per batch for typicality."""
    values = scores[method]
    if method == "typicality":  # the CSV repeats each batch's statistic for its M images
        values = values[::TYPICALITY_BATCH]
        values = values[~np.isnan(values)]
    return values


def budget(logdir):
    """The run's architecture and training budget, from its config and its files' times."""
    from tfp_realnvp.training import callbacks

    config = json.loads((logdir / "config.json").read_text())
    epochs = callbacks.completed_epochs(str(logdir / "backup"))
    seconds = (logdir / "model.keras").stat().st_mtime - (logdir / "config.json").stat().st_mtime
    flow = config["flow"]
    return {
        "dataset": config["dataset"],
        "architecture": {k: flow[k] for k in ("num_scales", "num_res_blocks", "num_filters")},
        "batch_size": config["training"]["batch_size"],
        "steps": epochs * config["training"]["steps_per_epoch"],
        "minutes": round(seconds / 60, 1),
        "perturb": config["training"].get("perturb", 0.0),
    }


def measure(args):
    root = pathlib.Path(args.root)
    results = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "command": "python benchmarks/anomaly_detection.py measure --root " + str(root),
        "typicality_batch": TYPICALITY_BATCH,
        "pairs": {},
    }
    curves = {}
    for name, (run, background, inside, outside) in pairs(root, args.data).items():
        scores_in = score(root, run, background, inside, root / f"{name}_in.csv", args.max_images)
        scores_out = score(
            root, run, background, outside, root / f"{name}_out.csv", args.max_images
        )
        methods = {m: summarize(compared(scores_in, m), compared(scores_out, m)) for m in METHODS}
        results["pairs"][name] = {
            "in": str(inside),
            "out": str(outside),
            "count": [len(scores_in["bits_per_dim"]), len(scores_out["bits_per_dim"])],
            "mean_bits_per_dim": [
                float(np.mean(s["bits_per_dim"])) for s in (scores_in, scores_out)
            ],
            "methods": methods,
            "model": budget(root / run),
            "background": budget(root / background),
        }
        curves[name] = (scores_in, scores_out)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    plot(curves, results)
    print(table(results))
    print(f"wrote {RESULTS} and {PLOT}")


def table(results):
    """The results as a Markdown table: one row per pair and method."""
    rows = ["| pair | method | AUROC | AUPR | FPR@95TPR |", "|---|---|---|---|---|"]
    for name, pair in results["pairs"].items():
        for method, summary in pair["methods"].items():
            values = " | ".join(f"{summary[k]:.3f}" for k in ("auroc", "aupr", "fpr_at_95_tpr"))
            rows.append(f"| {name} | {method} | {values} |")
    return "\n".join(rows)


def plot(curves, results):
    """Histograms of bits/dim and input complexity on the failing pair; ROC curves of both."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 9))
    failing = "cifar10_vs_mnist"
    scores_in, scores_out = curves[failing]
    for ax, method in zip(axes[0], ("bits_per_dim", "input_complexity"), strict=True):
        both = np.concatenate([scores_in[method], scores_out[method]])
        edges = np.linspace(both.min(), both.max(), 50)
        ax.hist(scores_in[method], edges, density=True, alpha=0.6, label="CIFAR-10 test (in)")
        ax.hist(scores_out[method], edges, density=True, alpha=0.6, label="MNIST, 32x32x3 (out)")
        auroc = results["pairs"][failing]["methods"][method]["auroc"]
        ax.set(
            xlabel=f"{method} (bits/dim)",
            ylabel="density",
            title=f"CIFAR-10 flow: {method}, AUROC {auroc:.3f}",
        )
        ax.legend()
    titles = {
        "cifar10_vs_mnist": "CIFAR-10 (in) vs MNIST (out)",
        "mnist_vs_cifar10": "MNIST (in) vs CIFAR-10 grey (out)",
    }
    for ax, (name, (scores_in, scores_out)) in zip(axes[1], curves.items(), strict=True):
        for method in METHODS:
            fpr, tpr = roc_curve(compared(scores_in, method), compared(scores_out, method))
            auroc = results["pairs"][name]["methods"][method]["auroc"]
            label = f"{method}{' (batches of 16)' if method == 'typicality' else ''}: {auroc:.3f}"
            ax.plot(fpr, tpr, label=label)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(
            xlabel="false-positive rate", ylabel="true-positive rate", title=f"ROC, {titles[name]}"
        )
        ax.legend(title="AUROC", loc="lower right")
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=80)


def cpu_model():
    """The CPU's model name (lscpu) and core count."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in lines.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor()
    return f"{model}, {os.cpu_count()} cores"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="write the out-of-distribution sources")
    make.add_argument("--data", default="../shared/data", help="MNIST idx and CIFAR-10 .bin files")
    make.add_argument("--out", default="/tmp/anomaly", help="folder of the sources and runs")
    make.set_defaults(run=prepare)
    run = commands.add_parser("measure", help="score both pairs, write the JSON and the plot")
    run.add_argument("--root", default="/tmp/anomaly", help="the folder `prepare` wrote")
    run.add_argument("--data", default="../shared/data", help="as for prepare")
    run.add_argument("--max-images", type=int, default=2000, help="per scored set")
    run.set_defaults(run=measure)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
