"""Shared by the commands: datasets with clear errors, and trained models from a log dir."""

import os
import re

from tfp_realnvp.cli import run_config
from tfp_realnvp.cli.errors import UsageError

# How the data module's messages name `load`'s arguments, and the flags that say it here.
FLAGS = {
    "source": "--dataset",
    "split": "--split",
    "data_dir": "--data-dir",
    "manual_dir": "--manual-dir",
    "image_size": "--image-size",
    "num_bits": "--num-bits",
    "horizontal_flip": "--flip",
}
# The data flags a run records in config.json["data"]; evaluate's flags default to them.
DATA_OPTIONS = ("data_dir", "manual_dir", "image_size", "num_bits", "horizontal_flip")


def data_options(args, config=None):
    """`load`'s keyword arguments from the data flags, each defaulting to `config`'s record.

    Returns {"source", "data_dir", "manual_dir", "image_size", "num_bits", "horizontal_flip"}.
    """
    saved = (config or {}).get("data", {})
    options = {"source": args.dataset or (config or {}).get("dataset")}
    for key in DATA_OPTIONS:
        flag = "flip" if key == "horizontal_flip" else key
        value = getattr(args, flag, None)
        options[key] = saved.get(key) if value is None else value
    if options["image_size"] is not None:
        options["image_size"] = tuple(options["image_size"])
    return options


def data_config(options, info):
    """The run's data record for config.json: the source as `info` read it (a path made
    absolute, so that evaluate finds it from anywhere) and the other options."""
    folders = {
        key: None if options[key] is None else os.path.abspath(os.path.expanduser(options[key]))
        for key in ("data_dir", "manual_dir")
    }
    image_size = options["image_size"]
    return info.path or info.name, {
        **{key: options[key] for key in DATA_OPTIONS},
        **folders,
        "image_size": None if image_size is None else list(image_size),
    }


def default_logdir(info):
    """runs/<dataset name, or the file or folder's name>."""
    name = os.path.basename(info.path) if info.path else info.name
    return os.path.join("runs", name.replace("/", "_").replace(":", "_"))


def dataset_info(options):
    """`tfp_realnvp.data.dataset_info` of the options; any data problem is a UsageError."""
    from tfp_realnvp import data

    keep = ("source", "image_size", "num_bits", "horizontal_flip")
    return _in_cli_words(options["source"], data.dataset_info, **{k: options[k] for k in keep})


def num_classes(info, source, flag="--conditional"):
    """The class count of a dataset whose labels are class indices, or a UsageError naming
    `flag` (the argument that needs them)."""
    if info.label_shape is None:
        raise UsageError(
            f"argument {flag}: {source!r} has no labels (a folder of images gets them "
            "from one sub-folder per class)"
        )
    if info.label_shape != () or not info.num_classes or info.num_classes < 2:
        raise UsageError(
            f"argument {flag}: needs class labels; {source!r} has labels of shape "
            f"{list(info.label_shape)} with {info.num_classes} classes per entry"
        )
    return info.num_classes


def load_batches(options, split, batch_size, **kwargs):
    """`tfp_realnvp.data.load(...)`; missing data, bad files or a bad split are a UsageError."""
    from tfp_realnvp import data

    return _in_cli_words(
        options["source"], data.load, split=split, batch_size=batch_size, **options, **kwargs
    )


def held_out_batches(options, batch_size, split=None, **kwargs):
    """The held-out split with fixed dequantisation noise: reproducible bits/dim."""
    info = dataset_info(options)
    return load_batches(
        options, split or info.eval_split, batch_size, training=False, noise_seed=0, **kwargs
    )


def _in_cli_words(dataset, function, *args, **kwargs):
    """`function(*args, **kwargs)`, its data errors raised as one UsageError line that names
    the command's flags instead of Python arguments (`source` -> --dataset, ...)."""
    from tfp_realnvp import data
    from tfp_realnvp.data.errors import argument_names, one_line

    try:
        return function(*args, **kwargs)
    except (data.DatasetNotAvailableError, ValueError) as error:
        message = one_line(error)
        subject = re.match(r"`(\w+)`:? (.*)", message)
        if subject and subject.group(1) in FLAGS:  # "`image_size` must be ..."
            message = f"argument {FLAGS[subject.group(1)]}: {subject.group(2)}"
        elif isinstance(error, data.DatasetNotAvailableError):
            message = f"dataset {dataset!r} is not available: {message}"
        raise UsageError(argument_names(message, FLAGS)) from None


def model_source(args, with_config=True):
    """(path of the .keras model, the run's config or None) from --logdir or --model.

    `with_config=False`: the config is not read (None).
    """
    if args.logdir is not None:
        return run_model_source(args.logdir, with_config=with_config)
    if not os.path.isfile(args.model):
        raise UsageError(f"argument --model: no such file {args.model!r}")
    if not args.model.endswith(".keras"):
        raise UsageError(f"argument --model: expected a .keras file; got {args.model!r}")
    directory = os.path.dirname(os.path.abspath(args.model))
    return args.model, config_beside(directory) if with_config else None


def config_beside(directory):
    """The config.json of the run in `directory`, or None; UsageError if it is damaged."""
    from tfp_realnvp.checked_files import DamagedFileError

    try:
        return run_config.read_config(directory)
    except DamagedFileError as error:
        raise UsageError(
            f"{error}; it holds the run's data flags: move it away and give them yourself "
            "(--dataset, and --image-size or --num-bits where the run had them)"
        ) from None


def run_model_source(logdir, flag="--logdir", with_config=True):
    """(path of the run's .keras model, its config or None); UsageError naming `flag`."""
    if not os.path.isdir(logdir):
        raise UsageError(f"argument {flag}: {logdir!r} is not a directory")
    path = os.path.join(logdir, run_config.MODEL_FILE)
    if not os.path.exists(path):
        raise UsageError(
            f"argument {flag}: {logdir!r} holds no {run_config.MODEL_FILE}; "
            "train first (tfp-realnvp train --logdir ...)"
        )
    return path, config_beside(logdir) if with_config else None


def check_images_fit(model, info, source):
    """UsageError unless `source`'s images (`info`) have the model's shape and levels."""
    if tuple(model.event_shape) != tuple(info.image_shape):
        same_channels = model.event_shape[-1] == info.image_shape[-1]
        raise UsageError(
            f"argument --dataset: {source!r} has images {list(info.image_shape)} but the "
            f"model was trained on {list(model.event_shape)} "
            + ("(--image-size resizes them)" if same_channels else "(other channels)")
        )
    if model.num_bins != info.num_bins:
        raise UsageError(
            f"argument --num-bits: {source!r} has {info.num_bins} levels but the model "
            f"was trained on {model.num_bins}"
        )


def load_model(path):
    """A `RealNVPModel` saved with `model.save`; UsageError if the file is not one."""
    from tfp_realnvp.checked_files import DamagedFileError, check_keras_file

    try:
        check_keras_file(path)
    except DamagedFileError as error:
        raise UsageError(
            f"cannot load {path!r}: it is damaged: {error.problem}; the same `tfp-realnvp train` "
            "command run again rebuilds a log dir's model.keras from its backup"
        ) from None
    import keras

    from tfp_realnvp.training import RealNVPModel

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # any unreadable file is a bad argument here
        from tfp_realnvp.data.errors import one_line

        raise UsageError(f"cannot load {path!r}: {one_line(error)}") from None
    if not isinstance(model, RealNVPModel):
        raise UsageError(f"{path!r} holds a {type(model).__name__}, not a RealNVPModel")
    return model
