"""Real NVP on 2-D toy densities: inference, generation and the learned density.

The paper's Figure 1 in spirit: a Real NVP flow f maps data x to a latent z = f(x) that is
standard normal, and its inverse g = f^-1 turns normal noise into data. With few dimensions we
can look at all of it at once.

This package's bijectors act on image events [H, W, C], so a 2-D point is an event of shape
[1, 1, 2]: one "pixel" with two channels. A `channel_mask` keeps one coordinate and the
coupling transforms the other, alternating from one coupling to the next:

    f:  z_kept = x_kept,   z_other = x_other * exp(s(x_kept)) + t(x_kept)

with a small dense Keras network computing (t, raw s) from the kept coordinate. Training is a
plain TFP loop: maximise `dist.log_prob` of the data with a `tf.GradientTape`.

Run:
    python examples/two_moons.py                      # moons, about a minute on a CPU
    python examples/two_moons.py --dataset rings      # or: checkerboard
    python examples/two_moons.py --quick              # a few steps: checks that it runs

Writes `<outdir>/two_moons.png` (data, latent, prior, samples, density) and `metrics.json`.
"""

import argparse
import json
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from _pictures import plt, save_figure

import tfp_realnvp

tfd = tfp.distributions

EVENT_SHAPE = [1, 1, 2]  # one "pixel", two channels: a 2-D point as an image event
EXTENT = (-3.0, 3.0)  # the square every panel shows


# --- 1. Data: three 2-D densities, standardised to roughly unit scale ---------------------------


def sample_data(name, num, rng):
    """`num` points [num, 2] (float32) of the toy density `name`."""
    if name == "moons":
        t = rng.uniform(0.0, np.pi, num)
        upper = rng.random(num) < 0.5
        x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        points = np.stack([x - 0.5, y - 0.25], axis=1) * 1.6 + rng.normal(0.0, 0.1, (num, 2))
    elif name == "rings":
        radius = np.where(rng.random(num) < 0.5, 1.0, 2.2) + rng.normal(0.0, 0.1, num)
        angle = rng.uniform(0.0, 2 * np.pi, num)
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    elif name == "checkerboard":
        x = rng.uniform(-2.0, 2.0, num)
        y = rng.uniform(0.0, 1.0, num) + rng.integers(-2, 2, num).astype(np.float64)
        y = y + (np.floor(x) % 2)  # shift every other column by one square
        y = np.where(y >= 2.0, y - 4.0, y)
        points = np.stack([x, y], axis=1)
    else:
        raise ValueError(f"unknown dataset {name!r}; use moons, rings or checkerboard.")
    return points.astype(np.float32)


# --- 2. The flow: alternating channel-mask couplings with dense conditioners ---------------------


def dense_conditioner(hidden_units, name):
    """[B, 1, 1, 2] -> [B, 1, 1, 4] = (shift, raw log-scale) for both channels.

    Dense layers act on the last axis, so no reshaping is needed. The coupling only uses the
    outputs of the channel it transforms. The last layer starts at zero: every coupling starts as
    the identity, and the flow as the standard normal.
    """
    return keras.Sequential(
        [
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dense(4, kernel_initializer="zeros", bias_initializer="zeros"),
        ],
        name=name,
    )


def make_flow(num_couplings, hidden_units):
    """Couplings in data -> latent order; coupling i keeps channel i % 2, transforms the other."""
    couplings = [
        tfp_realnvp.MaskedAffineCoupling(
            tfp_realnvp.channel_mask(EVENT_SHAPE, keep_first_half=i % 2 == 0),
            dense_conditioner(hidden_units, name=f"conditioner_{i}"),
            name=f"coupling_{i}",
        )
        for i in range(num_couplings)
    ]
    return tfp_realnvp.FlowSequence(couplings, name="toy_real_nvp")


# --- 3. Training: maximum likelihood with a GradientTape ----------------------------------------


def train(dist, data_fn, num_steps, batch_size, learning_rate):
    """Minimises -mean log p(x) over fresh batches; returns the losses (nats) per step."""
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = dist.trainable_variables

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    losses = []
    for step in range(num_steps):
        losses.append(float(train_step(data_fn(batch_size).reshape(-1, *EVENT_SHAPE))))
        if step % max(1, num_steps // 10) == 0 or step == num_steps - 1:
            print(f"step {step:5d}   -log p(x) = {losses[-1]:.3f} nats")
    return losses


# --- 4. Pictures: inference (x -> z), generation (z -> x), and the density ----------------------


def picture(dist, flow, data, num_grid):
    """Five panels, each over EXTENT: data, f(data), prior samples, g(prior), p(x)."""
    latents = flow.inverse(data.reshape(-1, *EVENT_SHAPE)).numpy().reshape(-1, 2)
    prior = np.random.default_rng(1).normal(size=data.shape).astype(np.float32)
    samples = flow.forward(prior.reshape(-1, *EVENT_SHAPE)).numpy().reshape(-1, 2)
    axis = np.linspace(*EXTENT, num_grid, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(axis, axis)  # row 0 = lowest y
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).reshape(-1, *EVENT_SHAPE)
    log_density = dist.log_prob(grid).numpy().reshape(num_grid, num_grid)

    figure, axes = plt.subplots(1, 5, figsize=(17, 3.8))
    # Colour the data by position and the prior samples by angle (cyclic colours), so one sees
    # where f sends each region of the data and where g sends each direction of the prior.
    by_position = dict(c=data[:, 0], cmap="turbo", vmin=-2.5, vmax=2.5)
    angle = np.arctan2(prior[:, 1], prior[:, 0])
    by_angle = dict(c=angle, cmap="twilight", vmin=-np.pi, vmax=np.pi)
    panels = [
        (data, by_position, "data x ~ p_data"),
        (latents, by_position, "inference z = f(x)"),
        (prior, by_angle, "prior z ~ N(0, I)"),
        (samples, by_angle, "generation x = g(z)"),
    ]
    for ax, (points, colours, title) in zip(axes, panels, strict=False):
        ax.scatter(points[:, 0], points[:, 1], s=3, **colours)
        ax.set_title(title)
    # The density itself (exp), scaled to its maximum: the mass is where it is bright.
    axes[4].imshow(
        np.exp(log_density - log_density.max()), origin="lower", extent=EXTENT * 2, cmap="viridis"
    )
    axes[4].set_title("learned density p(x)")
    for ax in axes:
        ax.set(xlim=EXTENT, ylim=EXTENT, aspect="equal", xticks=[], yticks=[])
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="moons", choices=["moons", "rings", "checkerboard"])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--couplings", type=int, default=8)
    parser.add_argument("--hidden-units", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--outdir", default="runs/examples/two_moons")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps of a small flow")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.couplings, args.hidden_units = 40, 4, 16

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    flow = make_flow(args.couplings, args.hidden_units)
    base = tfd.Sample(tfd.Normal(0.0, 1.0), EVENT_SHAPE)
    dist = tfd.TransformedDistribution(base, flow)
    print(f"{args.couplings} couplings, {len(dist.trainable_variables)} variables")

    start = time.time()
    losses = train(
        dist,
        lambda n: sample_data(args.dataset, n, rng),
        args.steps,
        args.batch_size,
        args.learning_rate,
    )
    test = sample_data(args.dataset, 2000, np.random.default_rng(12345))
    test_nll = -float(tf.reduce_mean(dist.log_prob(test.reshape(-1, *EVENT_SHAPE))))
    # For scale: the best Gaussian's test NLL (nats) on the same points.
    covariance = np.cov(test.T).astype(np.float32)
    gaussian = tfd.MultivariateNormalTriL(test.mean(0), np.linalg.cholesky(covariance))
    gaussian_nll = -float(tf.reduce_mean(gaussian.log_prob(test)))
    print(f"test -log p(x): flow {test_nll:.3f} nats, best Gaussian {gaussian_nll:.3f} nats")

    outdir = pathlib.Path(args.outdir)
    path = save_figure(
        picture(dist, flow, test[:1000], 60 if args.quick else 150), outdir / "two_moons.png"
    )
    metrics = {
        "dataset": args.dataset,
        "steps": args.steps,
        "first_loss": losses[0],
        "final_loss": float(np.mean(losses[-20:])),
        "test_nll_nats": test_nll,
        "gaussian_test_nll_nats": gaussian_nll,
        "seconds": time.time() - start,
    }
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"wrote {path} and {outdir / 'metrics.json'}")
    return metrics


if __name__ == "__main__":
    main()
