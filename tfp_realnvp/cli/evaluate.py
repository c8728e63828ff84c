"""`tfp-realnvp evaluate`: the held-out bits/dim of a trained model."""

from tfp_realnvp.cli import loading
from tfp_realnvp.cli.errors import UsageError


def run(args):
    """Prints the bits/dim of the model of --logdir / --model; returns the exit status (0)."""
    path, config = loading.model_source(args)
    data = loading.data_options(args, config)
    if data["source"] is None:
        raise UsageError(
            f"argument --dataset: required, since {path!r} has no config.json beside it"
        )
    info = loading.dataset_info(data)
    model = loading.load_model(path)
    if tuple(model.event_shape) != tuple(info.image_shape):
        raise UsageError(
            f"argument --dataset: {data['source']!r} has images {list(info.image_shape)} but the "
            f"model was trained on {list(model.event_shape)} (--image-size resizes them)"
        )
    if model.num_bins != info.num_bins:
        raise UsageError(
            f"argument --num-bits: {data['source']!r} has {info.num_bins} levels but the model "
            f"was trained on {model.num_bins}"
        )
    batches = loading.held_out_batches(data, args.batch_size, split=args.split)
    model.compile()
    result = model.evaluate(batches, verbose=0, return_dict=True)
    split = args.split or info.eval_split
    print(f"bits/dim ({args.dataset or info.name} {split}): {result['bits_per_dim']:.4f}")
    return 0
