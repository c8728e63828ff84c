"""The paper's CIFAR-10 model and recipe, end to end (meant for a GPU).

Dinh et al. (2017), section 4.1, and the authors' code, for CIFAR-10:

    model:    2 scales, 8 residual blocks, 64 feature maps, batch normalisation,
              logit preprocessing with alpha = 0.05                (RealNVPMultiScale defaults)
    data:     dequantised x = (pixels + u) / 256, random horizontal flips    (tfp_realnvp.data)
    training: Adam (lr 1e-3, beta1 0.9, beta2 0.999), batch 64, gradients clipped to global norm
              100, L2 5e-5 on the weight-norm magnitudes and coupling scales, no schedule
    result:   3.49 bits/dim on the test set (the paper, after long training); a public PyTorch
              reimplementation reports 3.70 (validation) after 20 epochs, about 4 min/epoch on
              one Titan Xp.

Long runs are interrupted, so training uses the package's callbacks for long runs
(`tfp_realnvp.training.callbacks`): `TrainingBackup` saves the model, the optimizer and
the epoch at every epoch end, kill-safe, and running the same command again resumes where it
stopped; `StopOnNonFiniteLoss` stops at a NaN loss before anything is saved;
`AtomicModelCheckpoint` keeps the last finite epoch's model. TensorBoard logs the loss,
bits/dim and samples (`tensorboard --logdir <outdir>/tensorboard`). `--strategy mirrored` trains
on every visible GPU with `tf.distribute.MirroredStrategy` (the global batch is split across
them; batch-norm statistics are taken over the global batch).

Data: tensorflow-datasets downloads CIFAR-10 on first use; offline, `--manual-dir` points at a
folder with the official binary records (data_batch_*.bin, test_batch.bin).

Run:
    python examples/cifar10.py                                # the paper's recipe; GPU
    python examples/cifar10.py --strategy mirrored            # every visible GPU
    python examples/cifar10.py --quick --manual-dir ../shared/data/cifar10   # tiny, on a CPU

Writes into `--outdir`: samples.png (T = 1 and T = 0.7), bits_per_dim.png, metrics.json,
model.keras, and backup/ and tensorboard/.
"""

import argparse
import json
import pathlib
import time

import keras
import tensorflow as tf
from _pictures import draw_learning_curve, plt, save_figure, show_images

import tfp_realnvp
import tfp_realnvp.data
from tfp_realnvp.training import callbacks, default_optimizer

PAPER_TEST_BITS_PER_DIM = 3.49


def make_strategy(name):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()  # the default: one device


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manual-dir", default=None, help="folder with CIFAR-10's .bin files")
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data folder")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: all data")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--num-scales", type=int, default=2)
    parser.add_argument("--num-res-blocks", type=int, default=8)
    parser.add_argument("--num-filters", type=int, default=64)
    parser.add_argument("--l2", type=float, default=5e-5)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--strategy", choices=["default", "mirrored"], default="default")
    parser.add_argument("--outdir", default="runs/examples/cifar10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a tiny model, a few steps (CPU)")
    args = parser.parse_args(argv)
    eval_steps = None
    if args.quick:
        args.epochs, args.steps_per_epoch, args.batch_size = 2, 2, 8
        args.num_res_blocks, args.num_filters = 1, 4
        eval_steps = 1
    keras.utils.set_random_seed(args.seed)
    outdir = pathlib.Path(args.outdir)
    start = time.time()

    # --- Data: flips and fresh dequantisation noise in training; fixed noise for the test -----
    common = dict(data_dir=args.data_dir, manual_dir=args.manual_dir)
    train = tfp_realnvp.data.load(
        "cifar10", split="train", batch_size=args.batch_size, drop_remainder=True, **common
    )
    test = tfp_realnvp.data.load("cifar10", split="test", batch_size=500, noise_seed=0, **common)
    if args.steps_per_epoch:
        train = train.repeat()

    # --- Model and recipe, built in the strategy's scope ---------------------------------------
    strategy = make_strategy(args.strategy)
    print(f"{strategy.num_replicas_in_sync} replica(s)")
    with strategy.scope():
        flow = tfp_realnvp.RealNVPMultiScale(
            [32, 32, 3],
            num_scales=args.num_scales,
            num_res_blocks=args.num_res_blocks,
            num_filters=args.num_filters,
            l2_regularization=args.l2,
        )
        model = tfp_realnvp.RealNVPModel(flow, num_bins=256)
        model.compile(optimizer=default_optimizer(args.learning_rate))  # Adam, clipnorm 100
    num_weights = sum(int(tf.size(v)) for v in model.trainable_variables)
    print(f"{num_weights:,} trainable weights; latents per scale {flow.latent_shapes()}")

    # --- Training: resumable, logged -----------------------------------------------------------
    backup = callbacks.TrainingBackup(str(outdir / "backup"))
    run_callbacks = [
        callbacks.StopOnNonFiniteLoss(),  # first: nothing is saved after a NaN loss
        backup,
        callbacks.TensorBoard(str(outdir / "tensorboard")),
        callbacks.SampleGrid(str(outdir / "tensorboard"), temperature=0.7),
        callbacks.AtomicModelCheckpoint(str(outdir / "model.keras")),
    ]
    history = model.fit(
        train,
        epochs=args.epochs,
        initial_epoch=backup.restore(model),  # 0 for a new run; a rerun resumes
        steps_per_epoch=args.steps_per_epoch,
        validation_data=test,
        validation_steps=eval_steps,
        callbacks=run_callbacks,
        verbose=2,
    ).history

    # --- Evaluation and samples ----------------------------------------------------------------
    # The moving batch-norm statistics trail the last weights: re-estimate them first.
    model.refresh_batch_norm_statistics(train.repeat(), steps=5 if args.quick else 50)
    test_bpd = model.evaluate(test, steps=eval_steps, return_dict=True, verbose=0)["bits_per_dim"]
    print(f"test: {test_bpd:.3f} bits/dim (the paper: {PAPER_TEST_BITS_PER_DIM})")
    figure, axes = plt.subplots(1, 2, figsize=(10, 5.3))
    for ax, t in zip(axes, (1.0, 0.7), strict=True):
        samples = model.sample(64, temperature=t, seed=args.seed)
        show_images(ax, samples, columns=8, title=f"samples, T = {t:g}")
    save_figure(figure, outdir / "samples.png")
    epochs = list(range(1, len(history["bits_per_dim"]) + 1))
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(PAPER_TEST_BITS_PER_DIM, color="grey", linestyle="--", label="the paper (test)")
    draw_learning_curve(ax, epochs, history, "epoch", "Real NVP on CIFAR-10")
    save_figure(figure, outdir / "bits_per_dim.png")
    model.save(outdir / "model.keras")  # with the re-estimated batch-norm statistics
    metrics = {
        "test_bits_per_dim": test_bpd,
        "paper_test_bits_per_dim": PAPER_TEST_BITS_PER_DIM,
        "train_bits_per_dim": history["bits_per_dim"],
        "val_bits_per_dim": history["val_bits_per_dim"],
        "trainable_weights": num_weights,
        "config": {k: v for k, v in vars(args).items() if k not in ("manual_dir", "data_dir")},
        "seconds": time.time() - start,
    }
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"wrote samples.png, bits_per_dim.png, metrics.json and model.keras into {outdir}")
    return metrics


if __name__ == "__main__":
    main()
