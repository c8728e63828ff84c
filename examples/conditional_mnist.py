"""Class-conditional Real NVP on MNIST: p(x | y), samples of each digit, and a flow as a classifier.

A conditional flow is the same multi-scale Real NVP whose coupling networks also see a context,
here the one-hot label y: `RealNVPMultiScale(..., conditional_shape=[10])` in
`RealNVPModel(flow, num_classes=10)`, fitted on `(images, labels)` batches. Then

1. samples of each digit: `model.sample(n, labels=k)`, one row per class;
2. the exact conditional test likelihood p(x | y) in bits/dim, against an unconditional flow
   of the same size trained the same way: knowing the label can only help, by at most
   log2(10) bits per image (the information in the label);
3. the flow as a generative classifier, by Bayes' rule with a uniform prior:
   p(y | x) = p(x | y) / sum_y' p(x | y') (`model.classify`), and its test accuracy.

Data: `data.load(..., with_labels=True)`, from the four official MNIST idx .gz files
in `--manual-dir`, or with `--dataset digits` (and in `--quick` mode) the embedded 8x8 digits
(17 grey levels), which need no files.

Run:
    python examples/conditional_mnist.py --manual-dir ../shared/data/mnist   # on a GPU
    python examples/conditional_mnist.py --manual-dir ../shared/data/mnist --epochs 5 \\
        --steps-per-epoch 300 --num-res-blocks 2 --num-filters 16   # a smaller run on a CPU
    python examples/conditional_mnist.py --dataset digits --epochs 30 --num-scales 2 \
        --num-res-blocks 2 --num-filters 16                         # minutes on a CPU
    python examples/conditional_mnist.py --quick                    # digits, checks that it runs

Writes into `--outdir`: samples_per_class.png (a row per digit), unconditional_samples.png,
metrics.json (both bits/dim, the accuracy), conditional.keras.
"""

import argparse
import json
import pathlib
import time

import keras
import numpy as np

import tfp_realnvp
from tfp_realnvp import data
from tfp_realnvp.training import classification_accuracy, default_optimizer
from tfp_realnvp.training.image_grid import class_rows, image_grid, save_png

NUM_CLASSES = 10


# --- Data: (images, labels) batches, dequantised by `tfp_realnvp.data` ------------------------


def labelled_batches(args, split, batch_size):
    """(x, y) batches: x = (pixels + u) / num_bins, fresh noise u each training pass, fixed noise
    for the test split (reproducible bits/dim); y the integer digit."""
    training = split == "train"
    return data.load(
        args.dataset,
        split=split,
        batch_size=batch_size,
        manual_dir=args.manual_dir,
        training=training,
        noise_seed=None if training else args.seed,
        drop_remainder=training,
        with_labels=True,
    )


# --- The two models --------------------------------------------------------------------------


def train(args, event_shape, num_bins, train_data, conditional):
    """A flow (class-conditional or not) of the given size, fitted the same way."""
    keras.utils.set_random_seed(args.seed)
    flow = tfp_realnvp.RealNVPMultiScale(
        event_shape,
        num_scales=args.num_scales,
        num_res_blocks=args.num_res_blocks,
        num_filters=args.num_filters,
        conditional_shape=[NUM_CLASSES] if conditional else None,
    )
    model = tfp_realnvp.RealNVPModel(
        flow, num_bins=num_bins, num_classes=NUM_CLASSES if conditional else None
    )
    model.compile(optimizer=default_optimizer(args.learning_rate))
    batches = train_data if conditional else train_data.map(lambda x, y: x)  # labels dropped
    name = "conditional" if conditional else "unconditional"
    print(f"training the {name} flow")
    model.fit(
        batches.repeat() if args.steps_per_epoch else batches,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        verbose=2,
    )
    # The moving batch-norm statistics trail the last weights: re-estimate them.
    model.refresh_batch_norm_statistics(batches.repeat(), steps=5 if args.quick else 50)
    return model


def test_bits_per_dim(model, test_data):
    """Mean bits/dim over the test set: of p(x | y) for a conditional model, else of p(x)."""
    if model.num_classes is None:
        test_data = test_data.map(lambda x, y: x)
    return float(model.evaluate(test_data, verbose=0, return_dict=True)["bits_per_dim"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--manual-dir", default=None, help="folder with MNIST's idx .gz files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--steps-per-epoch", type=int, default=None, help="default: the whole training set"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-scales", type=int, default=3)
    parser.add_argument("--num-res-blocks", type=int, default=4)
    parser.add_argument("--num-filters", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--classify-count", type=int, default=1000, help="test images to classify (10 passes each)"
    )
    parser.add_argument("--samples-per-class", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--outdir", default="runs/examples/conditional_mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="digits, a few steps, tiny flows")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset = "digits"
        args.epochs, args.steps_per_epoch, args.batch_size = 2, 30, 50
        args.num_scales, args.num_res_blocks, args.num_filters = 1, 1, 8
        args.learning_rate, args.classify_count, args.samples_per_class = 3e-3, 297, 8
    if args.dataset == "mnist" and args.manual_dir is None:
        parser.error("--manual-dir (MNIST's idx .gz files) is needed for --dataset mnist")
    outdir = pathlib.Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    start = time.time()

    info = data.dataset_info(args.dataset)
    event_shape, num_bins = list(info.image_shape), info.num_bins
    train_data = labelled_batches(args, "train", args.batch_size)
    test_data = labelled_batches(args, "test", 500)

    conditional = train(args, event_shape, num_bins, train_data, conditional=True)
    unconditional = train(args, event_shape, num_bins, train_data, conditional=False)

    # --- 1. Samples of each digit: row k is p(x | y = k) ----------------------------------------
    labels, n = class_rows(NUM_CLASSES, NUM_CLASSES * args.samples_per_class)
    samples = conditional.sample(len(labels), labels=labels, temperature=args.temperature)
    save_png(outdir / "samples_per_class.png", image_grid(samples.numpy(), num_bins, columns=n))
    samples = unconditional.sample(len(labels), temperature=args.temperature)
    save_png(outdir / "unconditional_samples.png", image_grid(samples.numpy(), num_bins, n))

    # --- 2. Conditional and unconditional test bits/dim -----------------------------------------
    metrics = {
        "conditional_test_bits_per_dim": test_bits_per_dim(conditional, test_data),
        "unconditional_test_bits_per_dim": test_bits_per_dim(unconditional, test_data),
        # The most a label can lower bits/dim: log2(10) bits per image.
        "label_information_bits_per_dim": float(np.log2(NUM_CLASSES) / np.prod(event_shape)),
    }
    # --- 3. The flow as a classifier ---------------------------------------------------------
    accuracy, count = classification_accuracy(conditional, test_data, args.classify_count)
    metrics["classification_accuracy"], metrics["classified_images"] = accuracy, count
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    metrics["config"] = {k: v for k, v in vars(args).items() if k != "manual_dir"}
    metrics["seconds"] = time.time() - start
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    conditional.save(outdir / "conditional.keras")  # reload with keras.saving.load_model
    print(f"wrote samples_per_class.png, unconditional_samples.png, metrics.json into {outdir}")
    return metrics


if __name__ == "__main__":
    main()
