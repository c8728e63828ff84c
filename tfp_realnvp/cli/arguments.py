"""Argument types and per-dataset defaults of the `tfp-realnvp` command line."""

import argparse
import math

# The paper's architectures (section 4.1 and the authors' README), and a small one for the
# embedded digits so that the default command trains in minutes on two CPU cores.
#   dataset -> (num_scales, num_res_blocks, num_filters)
ARCHITECTURES = {
    "digits": (2, 1, 32),
    "mnist": (3, 4, 32),
    "fashion_mnist": (3, 4, 32),
    "cifar10": (2, 8, 64),
    "downsampled_imagenet/32x32": (4, 4, 32),
    "downsampled_imagenet/64x64": (5, 4, 32),
    "celeb_a": (5, 4, 32),
}
# Any other dataset (LSUN, ...): 64x64 images, as in the paper.
DEFAULT_ARCHITECTURE = (5, 4, 32)
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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text}")
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative number; got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a non-negative number; got {text}")
    return value


def architecture(dataset, num_scales=None, num_res_blocks=None, num_filters=None):
    """(num_scales, num_res_blocks, num_filters): the given values, else the dataset's defaults."""
    defaults = ARCHITECTURES.get(dataset, DEFAULT_ARCHITECTURE)
    given = (num_scales, num_res_blocks, num_filters)
    return tuple(d if g is None else g for g, d in zip(given, defaults, strict=True))


def default_epochs(dataset):
    return DEFAULT_EPOCHS.get(dataset, DEFAULT_EPOCHS_OTHER)


def squeeze_error(image_shape, num_scales):
    """Why `num_scales` cannot squeeze images of `image_shape`, or None if it can."""
    height, width = image_shape[0], image_shape[1]
    factor = 2 ** (num_scales - 1)
    if height % factor or width % factor:
        return (
            f"{num_scales} scales squeeze {num_scales - 1} time(s), so height and width must be "
            f"divisible by {factor}; the images are {height}x{width}"
        )
    return None
