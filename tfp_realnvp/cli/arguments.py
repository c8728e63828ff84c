"""Argument types and per-dataset defaults of the `tfp-realnvp` command line."""

import argparse
import math

from tfp_realnvp.cli.errors import UsageError

# The paper's architectures (section 4.1 and the authors' README) at each dataset's own image
# size, and a small one for the embedded digits so that the default command trains in minutes
# on two CPU cores.   dataset -> ((H, W, C), (num_scales, num_res_blocks, num_filters))
ARCHITECTURES = {
    "digits": ((8, 8, 1), (2, 1, 32)),
    "mnist": ((28, 28, 1), (3, 4, 32)),
    "fashion_mnist": ((28, 28, 1), (3, 4, 32)),
    "cifar10": ((32, 32, 3), (2, 8, 64)),
    "downsampled_imagenet/32x32": ((32, 32, 3), (4, 4, 32)),
    "downsampled_imagenet/64x64": ((64, 64, 3), (5, 4, 32)),
    "celeb_a": ((64, 64, 3), (5, 4, 32)),
}
# Any other source or size: scales until the last is at least MIN_SIDE x MIN_SIDE, and
# (num_res_blocks, num_filters) of the paper's 32x32 and 64x64 models.
MIN_SIDE = 4
DEFAULT_NETWORK = (4, 32)
# Epochs when --epochs is not given.
DEFAULT_EPOCHS = {"digits": 10}
DEFAULT_EPOCHS_OTHER = 100


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "a non-negative integer")


def _int_at_least(text, minimum, what):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    return _float_above(text, 0.0, inclusive=False, what="a positive number")


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    return _float_above(text, 0.0, inclusive=True, what="a non-negative number")


def probability(text):
    """argparse type: a number in [0, 1]."""
    value = _float_above(text, 0.0, inclusive=True, what="a number in [0, 1]")
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1]; got {text}")
    return value


def _float_above(text, minimum, inclusive, what):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
    if not (math.isfinite(value) and (value >= minimum if inclusive else value > minimum)):
        raise argparse.ArgumentTypeError(f"must be {what}; got {text}")
    return value


def image_size(text):
    """argparse type: "H" (square) or "HxW", positive integers -> (H, W)."""
    sides = text.lower().split("x")
    try:
        height, width = (int(sides[0]),) * 2 if len(sides) == 1 else map(int, sides)
    except ValueError:
        height = width = 0
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(
            f"must be H or HxW with positive integers, such as 32 or 64x48; got {text!r}"
        )
    return height, width


def num_bits(text):
    """argparse type: an integer from 1 to 8."""
    value = _int_at_least(text, 1, "an integer from 1 to 8")
    if value > 8:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to 8; got {value}")
    return value


def add_data_arguments(parser, default_dataset=None):
    """--dataset SOURCE and the flags that say where and how to read it."""
    parser.add_argument(
        "--dataset",
        default=default_dataset,
        metavar="SOURCE",
        help="a dataset name (digits, mnist, fashion_mnist, cifar10, celeb_a, ...), tfds:NAME "
        "for any tensorflow-datasets image dataset, a folder of PNG/JPEG images (one sub-folder "
        "per class), an .npy/.npz file, MNIST idx files or CIFAR-10 .bin records"
        + (f" (default: {default_dataset}, embedded)" if default_dataset else ""),
    )
    parser.add_argument("--data-dir", help="tensorflow-datasets data folder")
    parser.add_argument("--manual-dir", help="folder with the dataset's official files")
    parser.add_argument(
        "--image-size",
        type=image_size,
        metavar="H[xW]",
        help="centre-crop to the aspect H:W, then resize to HxW (needed for mixed sizes)",
    )
    parser.add_argument(
        "--num-bits", type=num_bits, metavar="N", help="N-bit data: 2^N levels (Glow: 5)"
    )


def architecture(dataset, image_shape, num_scales=None, num_res_blocks=None, num_filters=None):
    """(num_scales, num_res_blocks, num_filters): the given values, else defaults.

    Defaults: the paper's for its datasets at their own size; for any other source or size,
    scales until the last is at least 4x4 (as the paper does for 32x32 and 64x64 images), with
    4 residual blocks of 32 feature maps. Raises UsageError for images under 4x4.
    """
    height, width = image_shape[0], image_shape[1]
    native_shape, named = ARCHITECTURES.get(dataset, (None, None))
    if tuple(image_shape) != native_shape:
        named = None
    if named is None and num_scales is None:
        if min(height, width) < MIN_SIDE:
            raise UsageError(
                f"argument --image-size: images of {height}x{width} are too small; the last "
                f"scale is at least {MIN_SIDE}x{MIN_SIDE} (pass --image-size {MIN_SIDE} or more)"
            )
        num_scales = 1
        while _last_side(height, num_scales + 1) and _last_side(width, num_scales + 1):
            num_scales += 1
    defaults = named or (num_scales, *DEFAULT_NETWORK)
    given = (num_scales, num_res_blocks, num_filters)
    return tuple(d if g is None else g for g, d in zip(given, defaults, strict=True))


def _last_side(side, num_scales):
    """The side of the last scale of `num_scales` scales if whole and >= MIN_SIDE, else 0."""
    factor = 2 ** (num_scales - 1)
    return side // factor if side % factor == 0 and side // factor >= MIN_SIDE else 0


def default_epochs(dataset):
    return DEFAULT_EPOCHS.get(dataset, DEFAULT_EPOCHS_OTHER)
