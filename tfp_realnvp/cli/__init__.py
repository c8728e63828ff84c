"""The `tfp-realnvp` command: train, evaluate and sample multi-scale Real NVP flows.

    tfp-realnvp train --logdir runs/digits              # the embedded 8x8 digits, minutes on a CPU
    tfp-realnvp train --dataset cifar10 --manual-dir ../shared/data --logdir runs/cifar10
    tfp-realnvp train --dataset my_photos/ --image-size 64 --num-bits 5 --flip
    tfp-realnvp evaluate --logdir runs/digits           # held-out bits/dim
    tfp-realnvp sample --logdir runs/digits --num 64 --temperature 0.7 --out samples.png
    tfp-realnvp score --logdir runs/cifar10 --dataset other.npz   # out-of-distribution scores
    tfp-realnvp train --conditional --logdir runs/digits_by_class   # p(x | label)
    tfp-realnvp sample --logdir runs/digits_by_class --label 3 --out threes.png

Bad arguments end with a one-line `error:` message and exit status 2; a NaN or infinite loss
ends training with exit status 1, keeping the last good checkpoint.
"""

import argparse
import sys

from tfp_realnvp import recipes
from tfp_realnvp.cli import quiet_start, strategy
from tfp_realnvp.cli.arguments import (
    add_data_arguments,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors are the one line that matters (no usage block)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser():
    """The argument parser of `tfp-realnvp` and its subcommands."""
    parser = _ArgumentParser(
        prog="tfp-realnvp",
        description="Multi-scale Real NVP (Dinh et al., ICLR 2017) with TensorFlow Probability "
        "and Keras 3: train, evaluate, sample.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a flow; resumes if the log dir holds an interrupted run",
        description="Train a Real NVP flow. Writes TensorBoard events, checkpoints, "
        "model.keras, samples.png, config.json and results.json into --logdir; running the "
        "same command again resumes after the last completed epoch, or only prints the "
        "result of a finished run.",
    )
    add_data_arguments(train, default_dataset="digits")
    train.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help="random horizontal flips in training (default: the paper's recipe; off for files)",
    )
    train.add_argument(
        "--perturb",
        type=probability,
        default=0.0,
        metavar="MU",
        help="replace each training pixel value with probability MU by uniform noise: a "
        "background model for `score --background-logdir` (Ren et al.: 0.1-0.3; default: 0)",
    )
    train.add_argument("--logdir", help="log directory (default: runs/<dataset>)")
    train.add_argument("--epochs", type=positive_int, help="epochs in all (default: per dataset)")
    train.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    train.add_argument("--num-scales", type=positive_int, help="default: per dataset")
    train.add_argument("--num-res-blocks", type=non_negative_int, help="default: per dataset")
    train.add_argument("--num-filters", type=positive_int, help="default: per dataset")
    train.add_argument(
        "--coupling",
        choices=("affine", "additive", "spline"),
        default="affine",
        help="coupling map: affine (the paper), additive (NICE), spline (rational-quadratic)",
    )
    train.add_argument(
        "--spline-bins", type=positive_int, default=8, help="bins per spline (--coupling spline)"
    )
    train.add_argument(
        "--squeeze-order",
        choices=("space_to_depth", "authors"),
        default="space_to_depth",
        help="channel order of the squeezes: tf.nn.space_to_depth's, or the authors' code's",
    )
    train.add_argument(
        "--normalization",
        choices=("batch_norm", "act_norm", "none"),
        default="batch_norm",
        help="after each coupling: batch_norm (the paper), act_norm (Glow) or none",
    )
    train.add_argument(
        "--channel-mixing",
        choices=("none", "invertible_1x1"),
        default="none",
        help="invertible_1x1: Glow's learned 1x1 convolution before each channel-wise coupling",
    )
    train.add_argument(
        "--split-prior",
        choices=("standard", "learned"),
        default="standard",
        help="prior of the factored-out halves: standard normal, or learned (Glow)",
    )
    train.add_argument(
        "--conditional",
        action="store_true",
        help="class-conditional flow p(x | label), for datasets with class labels; sample grids "
        "then show one row per class",
    )
    train.add_argument(
        "--learning-rate", type=positive_float, default=1e-3, help="peak learning rate (1e-3)"
    )
    train.add_argument(
        "--recipe",
        choices=sorted(recipes.RECIPES),
        default=recipes.DEFAULT_RECIPE,
        help="the training recipe: paper (Adam at a constant rate, the last weights, uniform "
        "dequantisation, float32 networks) or modern (the same with bfloat16 networks where "
        "the hardware has fast bfloat16); the flags below override its parts (default: "
        f"{recipes.DEFAULT_RECIPE})",
    )
    train.add_argument(
        "--optimizer",
        choices=("adam", "adamax"),
        help="adam (the paper) or adamax (Glow); both clip the gradient norm at 100 "
        "(default: the recipe's)",
    )
    train.add_argument(
        "--warmup-steps",
        type=non_negative_int,
        metavar="N",
        help="linear learning-rate warm-up over N steps (Glow, Flow++; 0: none; default: the "
        "recipe's)",
    )
    train.add_argument(
        "--lr-decay",
        choices=("none", "cosine"),
        help="cosine: decay the learning rate to 0 after the warm-up, over the time budget "
        "with --time-budget, else over the run's steps (default: the recipe's)",
    )
    train.add_argument(
        "--ema",
        type=_momentum,
        metavar="MOMENTUM",
        help="Polyak averaging of the weights with this momentum (Flow++: 0.999), or off; "
        "validation, model.keras, evaluate and sample use the average (default: the recipe's)",
    )
    train.add_argument(
        "--dequantization",
        choices=("uniform", "variational"),
        help="uniform: x + u, u ~ U[0, 1); variational: u ~ q(u | x), a small conditional flow "
        "trained with the model (Flow++); bits/dim is then a bound (default: the recipe's)",
    )
    train.add_argument(
        "--steps-per-epoch", type=positive_int, help="default: one pass over the training set"
    )
    train.add_argument(
        "--time-budget",
        type=positive_float,
        metavar="MINUTES",
        help="stop training after MINUTES of wall-clock time (at a step boundary), then "
        "evaluate and save as a finished run; each invocation has the whole budget",
    )
    train.add_argument(
        "--validation-steps",
        type=positive_int,
        help="held-out batches per validation during training (default: 20); the whole "
        "held-out split is evaluated at the end",
    )
    train.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile the train step with XLA (default: Keras decides; off on CPUs)",
    )
    train.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        help="mixed_bfloat16: coupling networks in bfloat16, the flow, log-dets and statistics "
        "in float32; auto: mixed_bfloat16 where the hardware has fast bfloat16 (AMX or "
        "AVX512-BF16 CPUs, GPUs of compute capability 8.0+, TPUs) (default: the recipe's)",
    )
    train.add_argument(
        "--mixed-precision", action="store_true", help="the same as --precision mixed_bfloat16"
    )
    train.add_argument(
        "--memory-saving-gradients",
        nargs="?",
        const=True,
        default=False,
        choices=("couplings", "blocks"),
        help="recompute activations in the backward pass (less memory): the couplings' "
        "(the flag alone), or also each residual block's ('blocks': least memory)",
    )
    train.add_argument(
        "--strategy", choices=strategy.STRATEGIES, default="default", help=strategy.HELP
    )
    train.add_argument(
        "--update-freq", type=positive_int, default=50, help="TensorBoard steps (default: 50)"
    )
    train.add_argument("--num-samples", type=positive_int, default=64, help="grid size")
    train.add_argument(
        "--temperature", type=non_negative_float, default=1.0, help="of the sample grids"
    )
    train.add_argument("--seed", type=non_negative_int, help="seed of weights and data order")
    train.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras's progress output; 2 also shows TensorFlow's start-up lines",
    )
    train.set_defaults(run=_run("train"), command_parser=train)

    evaluate = commands.add_parser(
        "evaluate",
        help="print the held-out bits/dim of a trained model",
        description="Print the bits/dim of a trained model on held-out data (inference mode, "
        "fixed dequantisation noise); of a class-conditional model, the bits/dim of p(x | label) "
        "and its accuracy as a classifier (Bayes' rule).",
    )
    _add_model_arguments(evaluate)
    add_data_arguments(evaluate)  # each defaults to the run's (config.json)
    evaluate.add_argument("--split", help="default: the dataset's held-out split")
    evaluate.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    evaluate.add_argument(
        "--importance-samples",
        type=positive_int,
        metavar="S",
        help="also report the tighter bound -log (1/S) sum_s p(x + u_s) / q(u_s | x), u_s drawn "
        "from the dequantisation noise (the variational q, or uniform); S times the work",
    )
    evaluate.set_defaults(run=_run("evaluate"), command_parser=evaluate)

    score = commands.add_parser(
        "score",
        help="out-of-distribution scores of each image, and each method's AUROC",
        description="Score each image of --dataset as out of distribution (bits/dim, higher = "
        "more anomalous), write one CSV row per image, and print each method's AUROC, AUPR and "
        "false-positive rate at 95% true positives against the run's held-out split "
        "(or --against). Input complexity corrects bits/dim by the PNG length of the image; "
        "the likelihood ratio by a background model (train --perturb); the typicality test "
        "judges batches.",
    )
    _add_model_arguments(score)
    add_data_arguments(score)  # --dataset is required; its options default to the run's
    score.add_argument("--split", help="of --dataset (default: its held-out split)")
    score.add_argument(
        "--against",
        metavar="SOURCE",
        help="in-distribution data, its held-out split (default: the run's own held-out split)",
    )
    score.add_argument(
        "--method",
        nargs="+",
        choices=("bits_per_dim", "input_complexity", "likelihood_ratio", "typicality"),
        metavar="METHOD",
        help="bits_per_dim, input_complexity, likelihood_ratio, typicality (default: all; "
        "likelihood_ratio with --background-logdir)",
    )
    score.add_argument(
        "--background-logdir", metavar="RUN", help="a run trained with --perturb (the background)"
    )
    score.add_argument(
        "--typicality-batch",
        type=positive_int,
        default=16,
        metavar="M",
        help="images per batch of the typicality test (default: 16)",
    )
    score.add_argument(
        "--max-images", type=positive_int, metavar="N", help="per data source (default: all)"
    )
    score.add_argument("--out", help="CSV file (default: <logdir>/scores.csv)")
    score.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    score.set_defaults(run=_run("score"), command_parser=score)

    sample = commands.add_parser(
        "sample",
        help="write a grid of samples as a PNG",
        description="Write a grid of samples of a trained model as a PNG image.",
    )
    _add_model_arguments(sample)
    sample.add_argument("--num", type=positive_int, default=64, help="samples (default: 64)")
    sample.add_argument(
        "--temperature", type=non_negative_float, default=1.0, help="latent std (default: 1)"
    )
    sample.add_argument(
        "--label",
        type=non_negative_int,
        help="class of every sample (class-conditional models; default: one row per class)",
    )
    sample.add_argument("--out", help="PNG file (default: <logdir>/samples.png)")
    sample.add_argument("--seed", type=non_negative_int, help="seed of the latents")
    sample.set_defaults(run=_run("sample"), command_parser=sample)
    return parser


def _momentum(text):
    """argparse type: a number in [0, 1), or "off"."""
    if text == "off":
        return recipes.OFF
    try:
        value = probability(text)
    except argparse.ArgumentTypeError:
        value = None
    if value is None or value == 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1) or off; got {text!r}")
    return value


def _run(command):
    """The function running `command`, imported only when called (TensorFlow loads slowly)."""

    def run(args):
        import importlib

        return importlib.import_module(f"tfp_realnvp.cli.{command}").run(args)

    return run


def _add_model_arguments(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--logdir", help="a log directory written by `tfp-realnvp train`")
    source.add_argument("--model", help="a .keras file saved by `tfp-realnvp train`")


def main(argv=None):
    """Entry point of the `tfp-realnvp` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from tfp_realnvp.checked_files import DamagedFileError
    from tfp_realnvp.cli.errors import TrainingFailed, UsageError

    try:
        quiet_start.start_tensorflow(args)
        return args.run(args)
    except (UsageError, DamagedFileError) as error:  # a damaged file: one line too, never a trace
        args.command_parser.error(str(error))  # exits with status 2
    except TrainingFailed as error:
        print(f"{args.command_parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
