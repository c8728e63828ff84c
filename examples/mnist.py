"""Real NVP on MNIST with Keras: bits/dim, samples, temperatures, interpolations, and scales.

Trains a multi-scale `RealNVPMultiScale` wrapped in `RealNVPModel` with `fit` on the
tensorflow-datasets MNIST pipeline of `tfp_realnvp.data`, then shows what an invertible model
with an exact likelihood gives:

1. exact test log-likelihood, in bits per dimension (the paper's unit);
2. samples, and samples at several temperatures (z ~ N(0, T^2 I): lower T, cleaner digits);
3. interpolation between the latents of two test digits, z(t) = cos(pi t/2) z_a + sin(pi t/2) z_b
   (the form of the paper's latent-manifold figures: it keeps |z| typical of the prior);
4. what each scale encodes (the paper's figure on multi-scale latents): encode a test digit, keep
   one scale's latents, draw the others from the prior, merge and decode.

MNIST images are 28 x 28 = 4 * 7 pixels, so at most 3 scales (every scale but the last squeezes
by 2).

Data: tensorflow-datasets downloads MNIST on first use. Offline, point `--manual-dir` at a folder
with the four official idx .gz files (tensorflow-datasets still checks their checksums).

Run:
    python examples/mnist.py                                   # on a GPU: 20 epochs
    python examples/mnist.py --epochs 10 --steps-per-epoch 200 --num-res-blocks 2 \\
        --num-filters 16                                       # a smaller run on a CPU
    python examples/mnist.py --quick --manual-dir ../shared/data/mnist   # checks that it runs

Writes into `--outdir`: samples.png, temperatures.png, interpolation.png, scales.png,
bits_per_dim.png (the learning curve), overview.png (samples and curve), metrics.json,
model.keras (`keras.saving.load_model`) and TensorBoard logs in tensorboard/.
"""

import argparse
import json
import math
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf
from _pictures import draw_learning_curve, plt, save_figure, show_images

import tfp_realnvp
import tfp_realnvp.data
from tfp_realnvp.training import callbacks, default_optimizer


def load_data(args):
    """Dequantised MNIST batches in [0, 1): training (fresh noise each pass), test (fixed noise)."""
    common = dict(data_dir=args.data_dir, manual_dir=args.manual_dir)
    train = tfp_realnvp.data.load(
        "mnist", split="train", batch_size=args.batch_size, drop_remainder=True, **common
    )
    test = tfp_realnvp.data.load(
        "mnist", split="test", batch_size=args.eval_batch_size, noise_seed=0, **common
    )
    return train, test


# --- Pictures ------------------------------------------------------------------------------------


def samples_picture(model, seed):
    figure, ax = plt.subplots(figsize=(5, 5.3))
    show_images(ax, model.sample(64, temperature=1.0, seed=seed), columns=8, title="samples, T = 1")
    return figure


def temperature_picture(model, temperatures, per_row, seed):
    """One row of samples per temperature T: z ~ N(0, T^2 I), x = g(z)."""
    figure, axes = plt.subplots(len(temperatures), 1, figsize=(8, 1.3 * len(temperatures)))
    for i, (ax, t) in enumerate(zip(axes, temperatures, strict=True)):
        samples = model.sample(per_row, temperature=t, seed=seed + i)
        show_images(ax, samples, columns=per_row, title=f"T = {t:g}")
    return figure


def interpolation_picture(model, images, num_steps):
    """Each row: test digit a, decoded z(t) for t in [0, 1], test digit b."""
    rows = []
    for a, b in zip(images[0::2], images[1::2], strict=False):
        z_a, z_b = model.encode(tf.stack([a, b]))
        t = np.linspace(0.0, 1.0, num_steps, dtype=np.float32)[:, None, None, None]
        path = np.cos(np.pi * t / 2) * z_a + np.sin(np.pi * t / 2) * z_b
        decoded = model.decode(path).numpy()
        rows.append(np.concatenate([a[None], decoded, b[None]]))
    figure, ax = plt.subplots(figsize=(8, 0.9 * len(rows) + 0.5))
    show_images(
        ax, np.concatenate(rows), columns=num_steps + 2, title="test digit a  ->  test digit b"
    )
    return figure


def scales_picture(model, images, temperature, seed):
    """Rows: test digits. Columns: the digit, its reconstruction g(f(x)), then for each scale l
    the decoding of [z_1, ..., z_L] with only z_l kept and the others drawn from the prior."""
    parts = model.encode(images, per_scale=True)
    columns = {"x": images, "g(f(x))": model.decode(parts).numpy()}
    for kept in range(len(parts)):
        generator = tf.random.Generator.from_seed(seed + kept)
        mixed = [
            part if i == kept else temperature * generator.normal(tf.shape(part))
            for i, part in enumerate(parts)
        ]
        columns[f"keep z{kept + 1}"] = model.decode(mixed).numpy()
    figure, axes = plt.subplots(1, len(columns), figsize=(1.3 * len(columns), 1.1 * len(images)))
    for ax, (title, column) in zip(axes, columns.items(), strict=True):
        show_images(ax, column, columns=1, title=title)
    return figure


def draw_curve(ax, history, steps_per_epoch):
    """Bits/dim at the end of each epoch, against training steps."""
    steps = [(i + 1) * steps_per_epoch for i in range(len(history["bits_per_dim"]))]
    draw_learning_curve(ax, steps, history, "training steps", "Real NVP on MNIST")


def curve_picture(history, steps_per_epoch):
    figure, ax = plt.subplots(figsize=(6, 4))
    draw_curve(ax, history, steps_per_epoch)
    return figure


def overview_picture(model, history, steps_per_epoch, seed):
    """Samples and the learning curve side by side."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    show_images(left, model.sample(64, temperature=1.0, seed=seed), columns=8, title="samples")
    draw_curve(right, history, steps_per_epoch)
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manual-dir", default=None, help="folder with MNIST's idx .gz files")
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data folder")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--steps-per-epoch", type=int, default=None, help="default: the whole training set"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-batch-size", type=int, default=500)
    parser.add_argument("--num-scales", type=int, default=3)
    parser.add_argument("--num-res-blocks", type=int, default=4)
    parser.add_argument("--num-filters", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--outdir", default="runs/examples/mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps of a tiny flow")
    args = parser.parse_args(argv)
    eval_steps = None
    if args.quick:
        args.epochs, args.steps_per_epoch, args.batch_size = 2, 2, 16
        args.num_scales, args.num_res_blocks, args.num_filters = 2, 1, 4
        args.eval_batch_size, eval_steps = 100, 1
    keras.utils.set_random_seed(args.seed)
    outdir = pathlib.Path(args.outdir)
    start = time.time()

    # --- Data and model --------------------------------------------------------------------------
    train, test = load_data(args)
    flow = tfp_realnvp.RealNVPMultiScale(
        [28, 28, 1],
        num_scales=args.num_scales,
        num_res_blocks=args.num_res_blocks,
        num_filters=args.num_filters,
    )
    model = tfp_realnvp.RealNVPModel(flow)  # num_bins=256: 8-bit pixels
    # The paper's recipe: Adam (beta 0.9, 0.999), global gradient-norm clipping at 100.
    model.compile(optimizer=default_optimizer(args.learning_rate))
    print(f"latent shapes per scale: {flow.latent_shapes()}")

    # --- Training --------------------------------------------------------------------------------
    refresh_steps = 5 if args.quick else 50
    history = model.fit(
        train.repeat() if args.steps_per_epoch else train,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=test,
        validation_steps=eval_steps or 4,  # a quick look each epoch; the full test set below
        callbacks=[
            callbacks.StopOnNonFiniteLoss(),
            # The moving batch-norm statistics trail the weights: re-estimated before every
            # validation (and so before the test below), the test curve has no jumps.
            callbacks.RefreshBatchNormStatistics(train, steps=refresh_steps),
            callbacks.TensorBoard(str(outdir / "tensorboard")),
        ],
        verbose=2,
    ).history
    steps_per_epoch = args.steps_per_epoch or math.ceil(60000 / args.batch_size)

    # --- 1. Test bits/dim (inference mode, the whole test set) ---------------------------------
    # (statistics refreshed for the last weights at the last validation)
    test_bpd = model.evaluate(test, steps=eval_steps, return_dict=True, verbose=0)["bits_per_dim"]
    print(f"test: {test_bpd:.3f} bits/dim")

    # --- 2-4. Pictures ---------------------------------------------------------------------------
    digits = next(iter(test)).numpy()[:16]
    pictures = {
        "samples.png": samples_picture(model, args.seed),
        "temperatures.png": temperature_picture(model, [0.5, 0.7, 0.85, 1.0], 10, args.seed),
        "interpolation.png": interpolation_picture(model, digits[:8], 8),
        "scales.png": scales_picture(model, digits[:6], 1.0, args.seed),
        "bits_per_dim.png": curve_picture(history, steps_per_epoch),
        "overview.png": overview_picture(model, history, steps_per_epoch, args.seed),
    }
    for name, figure in pictures.items():
        save_figure(figure, outdir / name)
    metrics = {
        "test_bits_per_dim": test_bpd,
        "train_bits_per_dim": history["bits_per_dim"],
        "val_bits_per_dim": history.get("val_bits_per_dim"),
        "steps_per_epoch": steps_per_epoch,
        "config": {k: v for k, v in vars(args).items() if k not in ("manual_dir", "data_dir")},
        "seconds": time.time() - start,
    }
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    model.save(outdir / "model.keras")  # reload with keras.saving.load_model
    print(f"wrote {', '.join(pictures)}, metrics.json and model.keras into {outdir}")
    return metrics


if __name__ == "__main__":
    main()
