"""`tfp-realnvp score`: out-of-distribution scores of each image of a data source, and how well
each method tells it from in-distribution data (the run's held-out split, or --against).

    tfp-realnvp score --logdir runs/cifar10 --dataset svhn_test.npz --out scores.csv
    tfp-realnvp score --logdir runs/cifar10 --background-logdir runs/cifar10_noise --dataset ...

Scores (`tfp_realnvp.anomaly`; bits/dim, higher = more anomalous): bits_per_dim,
input_complexity, likelihood_ratio (with a --background-logdir run trained with --perturb) and
typicality (a test of batches of --typicality-batch images; the CSV gives each image its
batch's statistic). Prints `AUROC <method>: 0.xxx` per method, out-of-distribution data being
the positive class.

Images are read as `evaluate` reads them: held-out recipe, fixed dequantisation noise. A source
other than the run's own takes the run's --image-size and --num-bits unless given.
"""

import argparse
import csv
import os

import numpy as np

from tfp_realnvp.cli import loading
from tfp_realnvp.cli.errors import UsageError

TYPICALITY = "typicality"
# In-distribution images for the typicality test: the first half estimates the entropy, the
# second half gives the bootstrap batches (Nalisnick et al.'s two held-out sets).
TYPICALITY_TRAINING_IMAGES = 2000


def run(args):
    """Scores --dataset, writes the CSV and prints each method's AUROC; returns 0."""
    from tfp_realnvp import anomaly

    if args.dataset is None:
        raise UsageError("argument --dataset: required (the data to score)")
    path, config = loading.model_source(args)
    methods = _methods(args)
    model = _model(path, "--logdir" if args.logdir else "--model")
    background = None
    if "likelihood_ratio" in methods:
        background_path, _ = loading.run_model_source(
            args.background_logdir, flag="--background-logdir"
        )
        background = _model(background_path, "--background-logdir")
        _check_same_kind(model, background)
    if config is None and args.against is None:
        raise UsageError(
            f"argument --against: required, since {path!r} has no config.json beside it "
            "(the run's own held-out data are the default in-distribution set)"
        )
    if config is None and TYPICALITY in methods:
        raise UsageError(
            f"argument --method: typicality needs the run's training data, but {path!r} has "
            "no config.json beside it; choose the other methods"
        )

    scored = _data_options(args, config, args.dataset)
    if args.against is None:
        reference = _run_data_options(config)
    else:
        reference = _data_options(args, config, args.against)
    for options in (scored, reference):
        loading.check_images_fit(model, loading.dataset_info(options), options["source"])

    per_image = ["bits_per_dim", *(m for m in methods if m in anomaly.METHODS[1:])]

    def scores_of(options, split=None):
        batches = loading.held_out_batches(options, args.batch_size, split=split)
        return anomaly.score_batches(model, batches, per_image, background, args.max_images)

    scores = scores_of(scored, split=args.split)
    reference_scores = scores_of(reference)
    # What each method's summary compares: per image, or per batch for the typicality test.
    compared = {method: (reference_scores[method], scores[method]) for method in per_image}
    if TYPICALITY in methods:
        test = _typicality_test(model, config, args)
        compared[TYPICALITY] = (
            test.statistic(reference_scores["bits_per_dim"]),
            test.statistic(scores["bits_per_dim"]),
        )
        scores[TYPICALITY] = _per_image(test, scores["bits_per_dim"])

    out = args.out or os.path.join(os.path.dirname(path), "scores.csv")
    _write_csv(out, scores)
    print(
        f"Scored {len(scores['bits_per_dim'])} images of {scored['source']!r} against "
        f"{len(reference_scores['bits_per_dim'])} of {reference['source']!r} (in "
        f"distribution); wrote {out}."
    )
    for method in methods:
        _print_summary(method, *compared[method])
    if TYPICALITY in methods:
        _print_rejections(test, *compared[TYPICALITY])
    return 0


def _methods(args):
    """--method, or every method the flags allow; likelihood_ratio needs --background-logdir."""
    from tfp_realnvp.anomaly import METHODS

    if args.method is None:
        with_background = args.background_logdir is not None
        return [m for m in (*METHODS, TYPICALITY) if with_background or m != "likelihood_ratio"]
    if "likelihood_ratio" in args.method and args.background_logdir is None:
        raise UsageError(
            "argument --method: likelihood_ratio needs --background-logdir RUN, a run trained "
            "with --perturb (tfp-realnvp train --perturb 0.2 ...)"
        )
    return list(dict.fromkeys(args.method))


def _model(path, flag):
    model = loading.load_model(path)
    if model.is_conditional:
        raise UsageError(f"argument {flag}: {path!r} is a conditional flow; scores need p(x)")
    return model


def _check_same_kind(model, background):
    if (tuple(background.event_shape), background.num_bins) != (
        tuple(model.event_shape),
        model.num_bins,
    ):
        raise UsageError(
            f"argument --background-logdir: its model has images {list(background.event_shape)}"
            f" with {background.num_bins} levels but the model has {list(model.event_shape)} "
            f"with {model.num_bins}"
        )


def _data_options(args, config, source):
    """`load`'s options for `source`: the data flags, else the run's record; another source
    than the run's takes only the record's image size and bits (the model's input format)."""
    record = config or {}
    run_source = record.get("dataset")
    if run_source not in (source, os.path.abspath(os.path.expanduser(source))):
        saved = record.get("data", {})
        record = {"data": {key: saved.get(key) for key in ("image_size", "num_bits")}}
    return loading.data_options(argparse.Namespace(**{**vars(args), "dataset": source}), record)


def _run_data_options(config):
    """`load`'s options for the run's own dataset, as config.json records them."""
    return loading.data_options(argparse.Namespace(dataset=None), config)


def _typicality_test(model, config, args):
    """The test of batches of --typicality-batch images, fitted on the run's training images
    (inference mode, fixed noise)."""
    from tfp_realnvp.anomaly import TypicalityTest, score_batches

    options = _run_data_options(config)
    info = loading.dataset_info(options)
    batch_size = args.typicality_batch
    batches = loading.held_out_batches(options, args.batch_size, split=info.train_split)
    bits = score_batches(model, batches, ["bits_per_dim"], max_images=TYPICALITY_TRAINING_IMAGES)
    half = len(bits["bits_per_dim"]) // 2
    if half < batch_size:
        raise UsageError(
            f"argument --typicality-batch: {batch_size} is more than half the "
            f"{len(bits['bits_per_dim'])} training images of {options['source']!r}"
        )
    return TypicalityTest.fit(bits["bits_per_dim"][:half], bits["bits_per_dim"][half:], batch_size)


def _per_image(test, bits):
    """Each image's batch statistic; NaN for the images of an incomplete last batch."""
    statistic = np.full(len(bits), np.nan)
    batches = test.statistic(bits)
    statistic[: len(batches) * test.batch_size] = np.repeat(batches, test.batch_size)
    return statistic


def _write_csv(path, scores):
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", *scores])
        for index, row in enumerate(zip(*scores.values(), strict=True)):
            writer.writerow([index, *("" if np.isnan(v) else f"{v:.6f}" for v in row)])


def _print_summary(method, in_scores, out_scores):
    from tfp_realnvp.anomaly import summarize

    if not (len(in_scores) and len(out_scores)):
        print(f"AUROC {method}: n/a (a set with no images, or fewer than one batch)")
        return
    summary = summarize(in_scores, out_scores)
    print(
        f"AUROC {method}: {summary['auroc']:.3f}  (AUPR {summary['aupr']:.3f}, "
        f"FPR@95TPR {summary['fpr_at_95_tpr']:.3f})"
    )


def _print_rejections(test, in_statistic, out_statistic):
    from tfp_realnvp.anomaly.typicality import DEFAULT_QUANTILE

    rejected = [int(np.sum(s > test.threshold)) for s in (out_statistic, in_statistic)]
    print(
        f"typicality: batches of {test.batch_size} are rejected when their mean bits/dim is "
        f"more than {test.threshold:.4f} from H = {test.entropy:.4f} (the bootstrap's "
        f"{DEFAULT_QUANTILE:.0%} quantile): {rejected[0]} of {len(out_statistic)} batches "
        f"of --dataset, {rejected[1]} of {len(in_statistic)} in-distribution batches"
    )
