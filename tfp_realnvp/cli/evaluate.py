"""`tfp-realnvp evaluate`: the held-out bits/dim of a trained model."""

from tfp_realnvp.cli import loading
from tfp_realnvp.cli.errors import UsageError


def run(args):
    """Prints the bits/dim of the model of --logdir / --model; returns the exit status (0)."""
    path, config = loading.model_source(args)
    dataset = args.dataset or (config or {}).get("dataset")
    if dataset is None:
        raise UsageError(
            f"argument --dataset: required, since {path!r} has no config.json beside it"
        )
    info = loading.dataset_info(dataset)
    model = loading.load_model(path)
    if tuple(model.event_shape) != tuple(info.image_shape):
        raise UsageError(
            f"argument --dataset: {dataset!r} has images {list(info.image_shape)} but the "
            f"model was trained on {list(model.event_shape)}"
        )
    batches = loading.held_out_batches(
        dataset, args.batch_size, args.data_dir, args.manual_dir, split=args.split
    )
    model.compile()
    result = model.evaluate(batches, verbose=0, return_dict=True)
    split = args.split or info.eval_split
    print(f"bits/dim ({dataset} {split}): {result['bits_per_dim']:.4f}")
    return 0
