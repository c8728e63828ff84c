"""`tfp-realnvp sample`: a PNG grid of samples of a trained model."""

import os

from tfp_realnvp.cli import loading, run_config
from tfp_realnvp.cli.errors import UsageError


def run(args):
    """Writes --num samples at --temperature to --out; returns the exit status (0)."""
    path, _ = loading.model_source(args)
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

    import tensorflow as tf

    from tfp_realnvp.training.image_grid import image_grid, save_png

    model = loading.load_model(path)
    if args.seed is not None:
        tf.random.set_seed(args.seed)
    images = model.sample(args.num, temperature=args.temperature)
    save_png(out, image_grid(images.numpy(), num_bins=model.num_bins))
    print(f"Wrote {args.num} samples (temperature {args.temperature:g}) to {out}.")
    return 0
