"""Images per second of the input pipeline alone (no model): ``tfp_realnvp.data.load``.

Reads MNIST (built by tensorflow-datasets from ``../shared/data/mnist`` through its manual path)
and CIFAR-10 (binary records in ``../shared/data/cifar10``), batch 64, the training pipeline
(shuffle, flips, fresh dequantisation noise). The first pass fills the in-memory cache and is
not timed; the next ``--epochs`` passes are. Compare the result with the training step's
images/s: the pipeline must be faster or it is the bottleneck.

    python benchmarks/pipeline_throughput.py
    python benchmarks/pipeline_throughput.py --datasets cifar10 --out results.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import tensorflow as tf

import tfp_realnvp.data as data

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--split", default="train")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1, help="timed passes after the warm-up")
    parser.add_argument("--manual-dir", type=Path, default=SHARED_DATA)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "tfds")
    parser.add_argument("--out", type=Path, help="append one JSON line per dataset to this file")
    return parser.parse_args(argv)


def images_per_second(dataset: tf.data.Dataset, epochs: int) -> tuple[int, float]:
    """(images, seconds) over ``epochs`` full passes of ``dataset`` after one untimed pass."""
    for _ in dataset:  # warm-up: builds the graph, fills the cache and the prefetch buffer
        pass
    images = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in dataset:
            images += int(batch.shape[0])
    return images, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for name in args.datasets:
        manual_dir = None if name == "digits" else args.manual_dir
        dataset = data.load(
            name,
            split=args.split,
            batch_size=args.batch_size,
            data_dir=args.data_dir,
            manual_dir=manual_dir,
            download=False,
        )
        images, seconds = images_per_second(dataset, args.epochs)
        record = {
            "benchmark": "pipeline_throughput",
            "dataset": name,
            "split": args.split,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "images": images,
            "seconds": round(seconds, 3),
            "images_per_s": round(images / seconds, 1),
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "host": platform.node(),
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        print(
            f"{name:>10} {args.split}: {images} images in {seconds:.2f} s = "
            f"{record['images_per_s']:.0f} images/s (batch {args.batch_size})"
        )
        if args.out is not None:
            with args.out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
