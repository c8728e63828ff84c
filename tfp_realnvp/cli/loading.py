"""Shared by the commands: datasets with clear errors, and trained models from a log dir."""

import os

from tfp_realnvp.cli import run_config
from tfp_realnvp.cli.errors import UsageError


def dataset_info(name):
    """The data module's facts about `name`; UsageError listing the known names otherwise."""
    from tfp_realnvp import data

    if name not in data.dataset_names():
        raise UsageError(
            f"argument --dataset: unknown dataset {name!r}; choose from "
            f"{', '.join(data.dataset_names())}"
        )
    return data.dataset_info(name)


def load_batches(name, split, batch_size, data_dir, manual_dir, **kwargs):
    """`tfp_realnvp.data.load(...)`, turning missing data or a bad split into a UsageError."""
    from tfp_realnvp import data

    try:
        return data.load(
            name,
            split=split,
            batch_size=batch_size,
            data_dir=data_dir,
            manual_dir=manual_dir,
            **kwargs,
        )
    except data.DatasetNotAvailableError as error:
        raise UsageError(f"dataset {name!r} is not available: {_one_line(error)}") from None
    except ValueError as error:
        raise UsageError(_one_line(error)) from None


def held_out_batches(name, batch_size, data_dir, manual_dir, split=None, **kwargs):
    """The held-out split of `name` with fixed dequantisation noise: reproducible bits/dim."""
    info = dataset_info(name)
    return load_batches(
        name,
        split or info.eval_split,
        batch_size,
        data_dir,
        manual_dir,
        training=False,
        noise_seed=0,
        **kwargs,
    )


def model_source(args):
    """(path of the .keras model, the run's config or None) from --logdir or --model."""
    if args.logdir is not None:
        if not os.path.isdir(args.logdir):
            raise UsageError(f"argument --logdir: {args.logdir!r} is not a directory")
        config = run_config.read_config(args.logdir)
        path = os.path.join(args.logdir, run_config.MODEL_FILE)
        if not os.path.exists(path):
            raise UsageError(
                f"argument --logdir: {args.logdir!r} holds no {run_config.MODEL_FILE}; "
                "train first (tfp-realnvp train --logdir ...)"
            )
        return path, config
    if not os.path.isfile(args.model):
        raise UsageError(f"argument --model: no such file {args.model!r}")
    if not args.model.endswith(".keras"):
        raise UsageError(f"argument --model: expected a .keras file; got {args.model!r}")
    return args.model, run_config.read_config(os.path.dirname(os.path.abspath(args.model)))


def load_model(path):
    """A `RealNVPModel` saved with `model.save`; UsageError if the file is not one."""
    import keras

    from tfp_realnvp.training import RealNVPModel

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # any unreadable file is a bad argument here
        raise UsageError(f"cannot load {path!r}: {_one_line(error)}") from None
    if not isinstance(model, RealNVPModel):
        raise UsageError(f"{path!r} holds a {type(model).__name__}, not a RealNVPModel")
    return model


def _one_line(error):
    return " ".join(str(error).split())
