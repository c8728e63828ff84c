"""`tfp-realnvp sample`: a PNG grid of samples of a trained model."""

import os

from tfp_realnvp.cli import loading, run_config
from tfp_realnvp.cli.errors import UsageError


def run(args):
    """Writes --num samples at --temperature to --out; returns the exit status (0).

    A class-conditional model samples class --label, or without it one row per class.
    """
    path, _ = loading.model_source(args, with_config=False)
    if args.out is None:
        if args.logdir is None:
            raise UsageError("argument --out: required with --model")
        out = os.path.join(args.logdir, run_config.SAMPLES_FILE)
    else:
        out = args.out
    if not out.lower().endswith(".png"):
        raise UsageError(f"argument --out: must be a .png file; got {out!r}")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise UsageError(f"argument --out: no such directory {directory!r}")

    import numpy as np
    import tensorflow as tf

    from tfp_realnvp.training.image_grid import image_grid, save_png

    model = loading.load_model(path)
    labels, columns, what = _labels(model, args.label, args.num)
    if args.seed is not None:
        tf.random.set_seed(args.seed)
    count = args.num if labels is None else len(labels)
    images = model.sample(
        count, temperature=args.temperature, labels=None if labels is None else np.asarray(labels)
    )
    save_png(out, image_grid(images.numpy(), num_bins=model.num_bins, columns=columns))
    print(f"Wrote {count} samples{what} (temperature {args.temperature:g}) to {out}.")
    return 0


def _labels(model, label, num):
    """(labels per sample or None, grid columns or None, words for the message)."""
    from tfp_realnvp.training.image_grid import class_rows

    if model.num_classes is None:
        if label is not None:
            raise UsageError(
                f"argument --label: the model is not class-conditional; got --label {label}"
            )
        if model.is_conditional:
            raise UsageError("the model is conditioned on a context the command line cannot supply")
        return None, None, ""
    if label is None:
        labels, columns = class_rows(model.num_classes, num)
        return labels, columns, f", one row per class of {model.num_classes}"
    if label >= model.num_classes:
        raise UsageError(
            f"argument --label: must be a class from 0 to {model.num_classes - 1}; got {label}"
        )
    return [label] * num, None, f" of class {label}"
