"""Where a PAPER-size training step's time goes: each part of the flow timed alone.

    python benchmarks/profile_parts.py [--size paper] [--repeats 3]

Forward + backward (gradient of a random projection of the output, with respect to the input
and the part's variables) of: the coupling networks at each of their three input shapes, with
and without their batch norms (the difference is the networks' batch-norm cost), the coupling
arithmetic, the coupling-output batch norm, squeeze, logit; and the whole training step
(without the optimizer update). Writes `benchmarks/results/profile_parts.json`.
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import configure_threads, load_snapshot, timed_calls  # noqa: E402
from benchmarks.worker import SIZES  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="paper", choices=sorted(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    configure_threads()
    import tensorflow as tf

    import tfp_realnvp
    from benchmarks import flows_tf
    from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask

    size = SIZES[args.size]
    batch, blocks, filters = size["batch_size"], size["num_res_blocks"], size["num_filters"]

    def timed(fn, inputs, variables):
        @tf.function
        def step(inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                out = fn(inputs)
                loss = tf.reduce_sum(out * tf.random.normal(tf.shape(out)))
            return tape.gradient(loss, [inputs, *variables])

        return (
            1000
            * timed_calls(lambda: [g.numpy() for g in step(inputs)], repeats=args.repeats)[
                "median_cpu_s"
            ]
        )

    parts = []
    shapes = (
        ("scale 1 checkerboard", [32, 32, 3], filters, True, 3),
        ("scale 1 channel-wise", [16, 16, 12], 2 * filters, False, 3),
        ("scale 2 checkerboard", [16, 16, 6], 2 * filters, True, 4),
    )
    for label, shape, width, checkerboard, count in shapes:
        x = tf.random.normal([batch, *shape])
        mask = checkerboard_mask(shape) if checkerboard else channel_mask(shape)
        for use_bn in (False, True):
            net = tfp_realnvp.ResNetConditioner(
                width,
                blocks,
                mask_channel=mask[..., 0] if checkerboard else None,
                use_batch_norm=use_bn,
            )
            net.build((None, *shape))
            ms = timed(lambda h, net=net: net(h, training=True), x, net.trainable_weights)
            name = f"network, {label}" + ("" if use_bn else ", without its batch norms")
            parts.append(dict(name=name, count=count, ms=ms, with_bn=use_bn))
        coupling = tfp_realnvp.MaskedAffineCoupling(mask, net)
        full = timed(
            lambda h, c=coupling: c.inverse(h, training=True),
            x,
            [w.value for w in net.trainable_weights],
        )
        parts.append(
            dict(name=f"coupling arithmetic, {label}", count=count, ms=max(0.0, full - ms))
        )
        bn = tfp_realnvp.MovingAverageBatchNorm(shape, keep_mask=mask)
        parts.append(
            dict(
                name=f"coupling-output batch norm, {label}",
                count=count,
                ms=timed(lambda h, bn=bn: bn.inverse(h, training=True), x, []),
            )
        )
    squeeze = tfp_realnvp.Squeeze()
    x = tf.random.normal([batch, 32, 32, 3])
    parts.append(dict(name="squeeze", count=2, ms=timed(squeeze.inverse, x, [])))
    logit = tfp_realnvp.LogitPreprocess(0.05)
    parts.append(
        dict(
            name="logit preprocessing",
            count=1,
            ms=timed(lambda h: logit.inverse(tf.sigmoid(h)), x, []),
        )
    )
    # The no-BN network rows are a breakdown of the BN rows, not extra work: keep the BN rows'
    # totals and list the networks' batch-norm share as its own row.
    rows, by_label = [], {}
    for p in parts:
        by_label.setdefault(p["name"], p)
    for label, _, _, _, count in shapes:
        bare = by_label[f"network, {label}, without its batch norms"]
        with_bn = by_label[f"network, {label}"]
        rows.append(dict(name=f"network convolutions etc., {label}", count=count, ms=bare["ms"]))
        rows.append(
            dict(
                name=f"network batch norms, {label}",
                count=count,
                ms=max(0.0, with_bn["ms"] - bare["ms"]),
            )
        )
        rows.append(by_label[f"coupling arithmetic, {label}"])
        rows.append(by_label[f"coupling-output batch norm, {label}"])
    rows += [by_label["squeeze"], by_label["logit preprocessing"]]

    dist, train_kwargs = flows_tf.realnvp(size)
    variables = dist.trainable_variables
    pixels = tf.random.uniform([batch, 32, 32, 3], 0, 256, dtype=tf.int32)

    @tf.function
    def step(pixels):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(
                dist.log_prob(flows_tf.dequantise(pixels), bijector_kwargs=train_kwargs)
            )
        return tape.gradient(loss, variables)

    step_ms = (
        1000
        * timed_calls(lambda: [g.numpy() for g in step(pixels)], repeats=args.repeats)[
            "median_cpu_s"
        ]
    )
    out = dict(
        size=args.size,
        batch_size=batch,
        parts=rows,
        step_ms=step_ms,
        load=load_snapshot(),
        note=(
            "milliseconds of process CPU time (robust to other load; both cores busy = 2 ms "
            "of CPU per ms), median over the timed calls."
        ),
    )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "profile_parts.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
