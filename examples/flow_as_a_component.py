"""Real NVP as one piece of a larger TFP model: an anomaly detector for handwritten digits.

A `RealNVPMultiScale` flow is a `tfp.bijectors.Bijector` like any other, so it composes with the
rest of TensorFlow Probability. This example builds

    p(x) = (1 - eps) * p_flow(x) + eps * Uniform([0, 1]^64)        (x: a flat 64-vector)

where p_flow is a Real NVP density over 8x8 digits, and flags x as an anomaly by the posterior
probability of the uniform "outlier" component, P(outlier | x) = eps U(x) / p(x). It shows:

1. `tfb.Chain([tfb.Reshape([64], [8, 8, 1]), flow])`: the data come as flat vectors (scikit-learn
   stores the digits that way); a reshape adapts them to the flow's image events [8, 8, 1].
   `tfb.Chain` passes keyword arguments to the bijectors **by name**, so the training-mode
   switch becomes `bijector_kwargs={flow.name: {"training": True}}`.
2. `tfd.Mixture` of that `tfd.TransformedDistribution` with a `tfd.Independent(tfd.Uniform)`.
3. Training the flow component alone by maximum likelihood, on all digits but one class, then
   scoring test digits, the held-out class, inverted digits and uniform noise.

Likelihood is not the whole story of "typical": flows are known to give some out-of-distribution
inputs high likelihood (Nalisnick et al. 2019, https://arxiv.org/abs/1810.09136). The printed
AUROCs (`tfp_realnvp.anomaly`) show how well it works here, group by group, for bits/dim and for
its input-complexity correction, bits/dim less the PNG length of the image (Serra et al. 2020,
https://arxiv.org/abs/1909.11480; the "Anomaly detection" docs page has the other scores).

Run:
    python examples/flow_as_a_component.py            # a few minutes on a CPU
    python examples/flow_as_a_component.py --quick    # a few steps: checks that it runs

Writes `<outdir>/flow_as_a_component.png` (bits/dim histograms per group, the most and least
anomalous test inputs) and `metrics.json`.
"""

import argparse
import json
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from _pictures import plt, save_figure, show_images
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
from sklearn.datasets import load_digits

import tfp_realnvp
from tfp_realnvp.anomaly import auroc, input_complexity
from tfp_realnvp.data import dequantize
from tfp_realnvp.training import default_optimizer

tfd = tfp.distributions
tfb = tfp.bijectors

NUM_BINS = 17  # the digits have 17 grey levels, 0..16
IMAGE_SHAPE = [8, 8, 1]
NUM_DIMS = 64


# --- 1. Data: flat digit vectors with labels; the first 1500 train, the last 297 test -----------


def digit_vectors(held_out_class, seed):
    """Training pixels (integers, without `held_out_class`) and test groups in [0, 1)^64.

    Training data stay integers: they are dequantised afresh at every step (with fixed noise a
    flow learns the noise, a spike at each point). Test data are dequantised once, with a fixed
    seed, so the scores are reproducible.
    """
    digits = load_digits()
    pixels, labels = digits.data.astype(np.float32), digits.target  # [1797, 64], 0..16
    train_pixels = pixels[:1500][labels[:1500] != held_out_class]
    test_pixels, test_labels = pixels[1500:], labels[1500:]
    test = dequantize(tf.constant(test_pixels), NUM_BINS, seed=tf.constant([seed, 0])).numpy()
    rng = np.random.default_rng(seed)
    seen = test[test_labels != held_out_class]
    groups = {
        "test digits": seen,
        f"unseen class {held_out_class}": test[test_labels == held_out_class],
        "inverted digits": 1.0 - seen[:60],
        "uniform noise": rng.uniform(0.0, 1.0, (60, NUM_DIMS)).astype(np.float32),
    }
    return train_pixels, groups


# --- 2. The model: a flow over flat vectors, mixed with a uniform outlier component ---------------


def make_model(args):
    flow = tfp_realnvp.RealNVPMultiScale(
        IMAGE_SHAPE,
        num_scales=args.num_scales,
        num_res_blocks=args.num_res_blocks,
        num_filters=args.num_filters,
    )
    to_vectors = tfb.Reshape(event_shape_out=[NUM_DIMS], event_shape_in=IMAGE_SHAPE)
    # tfb.Chain lists bijectors in forward (sampling) order, applied right to left:
    # z -> flow.forward -> image -> reshape -> vector.
    flow_density = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0.0, 1.0), IMAGE_SHAPE), tfb.Chain([to_vectors, flow])
    )
    outlier = tfd.Independent(tfd.Uniform(tf.zeros(NUM_DIMS), tf.ones(NUM_DIMS)), 1)
    eps = args.outlier_fraction
    mixture = tfd.Mixture(
        cat=tfd.Categorical(probs=[1.0 - eps, eps]), components=[flow_density, outlier]
    )
    return flow, flow_density, outlier, mixture


# --- 3. Training the flow component ------------------------------------------------------------


def train(flow, flow_density, train_pixels, args):
    optimizer = default_optimizer()  # Adam 1e-3, gradients clipped to global norm 100
    variables = flow_density.trainable_variables
    # Chain routes keyword arguments by bijector name:
    training_mode = {flow.name: {"training": True}}

    @tf.function
    def train_step(pixels):
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)  # fresh noise each step
        x = dequantize(pixels, NUM_BINS, seed=seed)
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(flow_density.log_prob(x, bijector_kwargs=training_mode))
            loss = nll + flow.regularization_loss()
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return nll

    batches = (
        tf.data.Dataset.from_tensor_slices(train_pixels)
        .shuffle(len(train_pixels), seed=args.seed)
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
        .take(args.steps)
    )
    for step, x in enumerate(batches):
        nll = float(train_step(x))
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            bpd = float(tfp_realnvp.bits_per_dim(-nll, [NUM_DIMS], NUM_BINS))
            print(f"step {step:5d}   train {bpd:.3f} bits/dim")


# --- 4. Scoring --------------------------------------------------------------------------------


def draw_histograms(ax, bits, num_bins=40):
    """One histogram of bits/dim per group, as fractions of the group, on a log axis: the groups
    lie orders of magnitude apart."""
    values = np.concatenate(list(bits.values()))
    edges = np.geomspace(values.min(), values.max(), num_bins + 1)
    for name, b in bits.items():
        weights = np.full(len(b), 1.0 / len(b))
        ax.hist(b, bins=edges, weights=weights, histtype="step", linewidth=2, label=name)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))  # 1, 2, 5, 10, 20, 50, ...
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="bits/dim (log scale)", ylabel="fraction of inputs")
    ax.set_title("bits/dim under the flow, per group")
    ax.legend()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--held-out-class", type=int, default=7)
    parser.add_argument("--outlier-fraction", type=float, default=0.01)
    parser.add_argument("--num-scales", type=int, default=2)
    parser.add_argument("--num-res-blocks", type=int, default=2)
    parser.add_argument("--num-filters", type=int, default=32)
    parser.add_argument("--outdir", default="runs/examples/flow_as_a_component")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps of a tiny flow")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.num_scales, args.num_res_blocks, args.num_filters = 5, 1, 1, 8
    keras.utils.set_random_seed(args.seed)
    start = time.time()

    train_pixels, groups = digit_vectors(args.held_out_class, args.seed)
    flow, flow_density, outlier, mixture = make_model(args)
    train(flow, flow_density, train_pixels, args)

    # Inference mode from here on (the default): the flow is a fixed map.
    metrics = {"groups": {}, "seconds": None}
    bits, complexity, outlier_probability = {}, {}, {}
    for name, x in groups.items():
        log_p = mixture.log_prob(x)
        posterior = tf.exp(np.log(args.outlier_fraction) + outlier.log_prob(x) - log_p)
        bits[name] = tfp_realnvp.bits_per_dim(flow_density.log_prob(x), [NUM_DIMS], NUM_BINS)
        bits[name] = bits[name].numpy()
        # Bits/dim less the PNG length of the same 17-level image: high = anomalous.
        images = np.reshape(x, [-1, *IMAGE_SHAPE])
        complexity[name] = input_complexity(bits[name], images, NUM_BINS)
        outlier_probability[name] = posterior.numpy()
    normal = "test digits"
    for name in groups:
        group = {
            "count": len(groups[name]),
            "mean_bits_per_dim": float(np.mean(bits[name])),
            "mean_outlier_probability": float(np.mean(outlier_probability[name])),
        }
        if name != normal:
            group["auroc"] = auroc(bits[normal], bits[name])
            group["auroc_input_complexity"] = auroc(complexity[normal], complexity[name])
        metrics["groups"][name] = group
        extra = ""
        if "auroc" in group:
            extra = (
                f"   AUROC {group['auroc']:.3f} (input complexity "
                f"{group['auroc_input_complexity']:.3f})"
            )
        print(
            f"{name:18s} {group['mean_bits_per_dim']:7.3f} bits/dim   "
            f"P(outlier) {group['mean_outlier_probability']:.3f}{extra}"
        )

    # --- Picture: histograms, and the most typical / most anomalous inputs --------------------
    everything = np.concatenate(list(groups.values()))
    scores = np.concatenate(list(bits.values()))
    order = np.argsort(scores)
    images = everything.reshape(-1, *IMAGE_SHAPE)
    figure = plt.figure(figsize=(13, 4.8))
    panels = figure.add_gridspec(2, 2, width_ratios=[1.3, 1])
    draw_histograms(figure.add_subplot(panels[:, 0]), bits)
    typical, anomalous = figure.add_subplot(panels[0, 1]), figure.add_subplot(panels[1, 1])
    show_images(typical, images[order[:16]], NUM_BINS, columns=8, title="most typical inputs")
    show_images(
        anomalous, images[order[-16:][::-1]], NUM_BINS, columns=8, title="most anomalous inputs"
    )
    outdir = pathlib.Path(args.outdir)
    path = save_figure(figure, outdir / "flow_as_a_component.png")
    metrics["seconds"] = time.time() - start
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"wrote {path} and {outdir / 'metrics.json'}")
    return metrics


if __name__ == "__main__":
    main()
