"""Does the package run well on a GPU? The paper's CIFAR-10 Real NVP there: speed, peak memory
and a short training, in one go.

    benchmarks/gpu_check.sh [CIFAR10_BATCH.bin] [OUT_DIR]   # the tests, the CLI, then this
    python benchmarks/gpu_check.py [--cifar10-batch data_batch_1.bin] [--out DIR]
    python benchmarks/gpu_check.py --cpu --out /tmp/gpu_check    # tiny sizes, no GPU, seconds

For each precision of the coupling networks (float32, mixed_bfloat16, mixed_float16; the flow
itself stays float32) and each compilation (tf.function, XLA): images per second of one training
step (Adam, dequantisation included), of `log_prob` and of sampling, the peak memory of the
device while it trains (`tf.config.experimental.get_memory_info`), and whether `--steps`
training steps on the batch lower its bits/dim. mixed_float16 runs without loss scaling: its
row says whether the loss stayed finite. The batch is the first images of a CIFAR-10 binary
batch file (random pixels without one). Writes `gpu_check.json` and `gpu_check.md` into --out.
`benchmarks/gpu_check.sh` runs this after the GPU-relevant tests.
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SIZES  # noqa: E402

PRECISIONS = {"float32": None, "mixed_bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}
# The paper's CIFAR-10 model (8 residual blocks, 64 feature maps, 2 scales) with its batch 64.
PAPER = SIZES["paper"]
TINY = SIZES["tiny"]
COLUMNS = [
    ("precision", "precision", "{}"),
    ("xla", "XLA", "{}"),
    ("train_images_per_s", "train img/s", "{:.0f}"),
    ("log_prob_images_per_s", "log_prob img/s", "{:.0f}"),
    ("sample_images_per_s", "sample img/s", "{:.0f}"),
    ("train_compile_s", "first step s", "{:.1f}"),
    ("peak_memory_mib", "peak MiB", "{:.0f}"),
    ("bits_per_dim_start", "bits/dim start", "{:.3f}"),
    ("bits_per_dim_end", "bits/dim end", "{:.3f}"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar10-batch", help="a CIFAR-10 binary batch (data_batch_1.bin)")
    parser.add_argument("--out", default="benchmarks/results/gpu", help="output folder")
    parser.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU (a test)")
    parser.add_argument("--repeats", type=int, help="timed calls (default: 20; --cpu: 2)")
    parser.add_argument("--steps", type=int, help="training steps (default: 200; --cpu: 3)")
    parser.add_argument(
        "--precisions", default=",".join(PRECISIONS), help="comma-separated subset of these"
    )
    parser.add_argument("--xla", default="off,on", help="off, on, or off,on")
    return parser.parse_args(argv)


def pixels_of(path, batch_size):
    """uint8 [batch_size, 32, 32, 3]: the first images of a CIFAR-10 binary file, or random."""
    from benchmarks import flows_tf

    if path is None:
        return flows_tf.fixed_pixels(batch_size)
    import tensorflow as tf

    from tfp_realnvp.data.arrays import read_cifar10_files

    images, _ = read_cifar10_files([Path(path)])
    return tf.constant(images[:batch_size])


def measure(size, policy, xla, pixels, device, repeats, steps):
    """One row: speed of train / log_prob / sample, peak memory, bits/dim before and after."""
    import numpy as np
    import tensorflow as tf

    import tfp_realnvp
    from benchmarks import common, flows_tf

    batch = size["batch_size"]
    tf.config.experimental.reset_memory_stats(device)
    dist, train_kwargs = flows_tf.realnvp(size, network_dtype_policy=policy)
    train_step = flows_tf.training_step(dist, train_kwargs, jit_compile=xla)
    log_prob = tf.function(lambda p: dist.log_prob(flows_tf.dequantise(p)), jit_compile=xla)
    sample = tf.function(lambda: dist.sample(batch), jit_compile=xla)

    def bits_per_dim():
        values = tfp_realnvp.bits_per_dim(log_prob(pixels), flows_tf.IMAGE_SHAPE)
        return float(np.mean(values.numpy()))

    start = time.perf_counter()
    losses = [float(train_step(pixels).numpy())]
    row = dict(train_compile_s=time.perf_counter() - start, bits_per_dim_start=bits_per_dim())
    losses += [float(train_step(pixels).numpy()) for _ in range(steps - 1)]
    row["peak_memory_mib"] = tf.config.experimental.get_memory_info(device)["peak"] / 2**20
    row["bits_per_dim_end"] = bits_per_dim()
    row["loss_finite"] = bool(np.all(np.isfinite(losses)))
    for phase, call in (
        ("train", lambda: train_step(pixels).numpy()),
        ("log_prob", lambda: log_prob(pixels).numpy()),
        ("sample", lambda: sample().numpy()),
    ):
        timing = common.timed_calls(call, warmup=1, repeats=repeats, max_calls=repeats)
        row[f"{phase}_images_per_s"] = batch / timing["median_s"]
    return row


def table(rows):
    """The rows as a markdown table."""
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        cells = []
        for key, _, form in COLUMNS:
            value = row.get(key)
            ok = value is not None and not (isinstance(value, float) and not math.isfinite(value))
            cells.append(form.format(value) if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"  # for get_memory_info("CPU:0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.cpu:
        sys.exit("gpu_check: no GPU visible to TensorFlow (pip install 'tensorflow[and-cuda]'?)")
    size = TINY if args.cpu else PAPER
    repeats = args.repeats or (2 if args.cpu else 20)
    steps = args.steps or (3 if args.cpu else 200)
    device = "CPU:0" if args.cpu else "GPU:0"
    pixels = pixels_of(args.cifar10_batch, size["batch_size"])
    result = dict(
        device=tf.config.experimental.get_device_details(gpus[0]) if gpus else "CPU",
        tensorflow=tf.__version__,
        python=platform.python_version(),
        size=size,
        data=args.cifar10_batch or "random pixels",
        steps=steps,
        repeats=repeats,
        rows=[],
    )
    for precision in args.precisions.split(","):
        for xla in args.xla.split(","):
            row = dict(precision=precision, xla=xla)
            print(f"{precision}, XLA {xla} ...", flush=True)
            try:
                row.update(
                    measure(
                        size, PRECISIONS[precision], xla == "on", pixels, device, repeats, steps
                    )
                )
            except Exception as error:  # a precision or XLA failing is a result, not a stop
                row["error"] = " ".join(f"{type(error).__name__}: {error}".split())[:500]
            print(json.dumps(row), flush=True)
            result["rows"].append(row)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    errors = [
        f"- {r['precision']}, XLA {r['xla']}: {r['error']}" for r in result["rows"] if "error" in r
    ]
    device = result["device"]
    name = device.get("device_name", "GPU") if isinstance(device, dict) else device
    heading = (
        f"{name}, TensorFlow {result['tensorflow']}: batch {size['batch_size']}, "
        f"num_res_blocks={size['num_res_blocks']}, num_filters={size['num_filters']}; "
        f"{repeats} timed calls (median), {steps} training steps on {result['data']}.\n\n"
    )
    (out / "gpu_check.md").write_text(heading + table(result["rows"]) + "\n".join(errors) + "\n")
    print(table(result["rows"]))
    # Other precisions may fail (a result); float32 must not.
    return 1 if any("error" in r for r in result["rows"] if r["precision"] == "float32") else 0


if __name__ == "__main__":
    sys.exit(main())
