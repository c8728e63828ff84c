"""`tfp-realnvp evaluate`: the held-out bits/dim of a trained model (and of a class-conditional
one, its accuracy as a classifier)."""

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
    loading.check_images_fit(model, info, data["source"])
    class_conditional = model.num_classes is not None
    if model.is_conditional and not class_conditional:
        raise UsageError(f"{path!r} is conditioned on a context the command line cannot supply")
    if class_conditional:
        classes = loading.num_classes(info, data["source"], flag="--dataset")
        if classes != model.num_classes:
            raise UsageError(
                f"argument --dataset: the model is class-conditional with {model.num_classes} "
                f"classes but {data['source']!r} has {classes} classes"
            )
    batches = loading.held_out_batches(
        data, args.batch_size, split=args.split, with_labels=class_conditional
    )
    model.compile()
    result = model.evaluate(batches, verbose=0, return_dict=True)
    where = f"{args.dataset or info.name} {args.split or info.eval_split}"
    of = " of p(x | label)" if class_conditional else ""
    bound = "" if model.dequantizer is None else ", the variational bound"
    print(f"bits/dim{of} ({where}{bound}): {result['bits_per_dim']:.4f}")
    if args.importance_samples is not None:
        samples = args.importance_samples
        bits = model.evaluate_bound(batches, importance_samples=samples)
        print(f"bits/dim{of} ({where}, the bound with {samples} importance samples): {bits:.4f}")
    if class_conditional:
        from tfp_realnvp.training import classification_accuracy

        accuracy, count = classification_accuracy(model, batches)
        print(
            f"accuracy of argmax_y p(y | x) ({where}, {count} images, Bayes' rule with a "
            f"uniform prior): {accuracy:.4f}"
        )
    return 0
