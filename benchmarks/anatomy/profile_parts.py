"""Where a training step's time goes: each part of the flow timed alone.

Forward + backward (the gradient of a random projection of the output, with respect to the
input and the part's variables) of: the coupling networks at each of their three input shapes,
with and without their batch norms (the difference is the networks' batch-norm cost), the
coupling arithmetic, the coupling-output batch norm, squeeze, logit; and the whole training
step without the optimizer's update, on the benchmarks' flow (`--size`). Times are process
CPU time, robust to other load (both cores busy = 2 ms of CPU per ms), median over the calls.
"""

import json
import time
from pathlib import Path

from benchmarks.common import SIZES, configure_threads, load_snapshot, machine, timed_calls

RESULTS = Path(__file__).resolve().parents[1] / "results"


def add_arguments(parser):
    parser.add_argument("--size", default="paper", choices=sorted(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "profile_parts.json"))


def cpu_ms(step, inputs, repeats):
    """Median CPU milliseconds of `step(inputs)`, its outputs fetched."""
    timing = timed_calls(lambda: [g.numpy() for g in step(inputs)], repeats=repeats)
    return 1000 * timing["median_cpu_s"]


def gradient_ms(fn, inputs, variables, repeats):
    """CPU ms of the forward and backward pass of `fn` at `inputs`."""
    import tensorflow as tf

    @tf.function
    def step(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = fn(inputs)
            loss = tf.reduce_sum(out * tf.random.normal(tf.shape(out)))
        return tape.gradient(loss, [inputs, *variables])

    return cpu_ms(step, inputs, repeats)


def coupling_rows(size, repeats):
    """Rows for the networks, their batch norms, the coupling arithmetic and the batch norm
    after each coupling, at the three shapes the flow's couplings see."""
    import tensorflow as tf

    import tfp_realnvp
    from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask

    batch, blocks, filters = size["batch_size"], size["num_res_blocks"], size["num_filters"]
    shapes = (
        ("scale 1 checkerboard", [32, 32, 3], filters, True, 3),
        ("scale 1 channel-wise", [16, 16, 12], 2 * filters, False, 3),
        ("scale 2 checkerboard", [16, 16, 6], 2 * filters, True, 4),
    )
    rows = []
    for label, shape, width, checkerboard, count in shapes:
        x = tf.random.normal([batch, *shape])
        mask = checkerboard_mask(shape) if checkerboard else channel_mask(shape)
        ms = {}
        for use_batch_norm in (False, True):
            net = tfp_realnvp.ResNetConditioner(
                width,
                blocks,
                mask_channel=mask[..., 0] if checkerboard else None,
                use_batch_norm=use_batch_norm,
            )
            net.build((None, *shape))
            call = lambda h, net=net: net(h, training=True)  # noqa: E731
            ms[use_batch_norm] = gradient_ms(call, x, net.trainable_weights, repeats)
        coupling = tfp_realnvp.MaskedAffineCoupling(mask, net)
        whole = gradient_ms(
            lambda h, coupling=coupling: coupling.inverse(h, training=True),
            x,
            [w.value for w in net.trainable_weights],
            repeats,
        )
        norm = tfp_realnvp.MovingAverageBatchNorm(shape, keep_mask=mask)
        norm_ms = gradient_ms(lambda h, norm=norm: norm.inverse(h, training=True), x, [], repeats)
        parts = {
            "network convolutions etc.": ms[False],
            "network batch norms": max(0.0, ms[True] - ms[False]),
            "coupling arithmetic": max(0.0, whole - ms[True]),
            "coupling-output batch norm": norm_ms,
        }
        rows += [dict(name=f"{part}, {label}", count=count, ms=v) for part, v in parts.items()]
    return rows


def main(args, runner=None):
    """Times each part and the whole step; writes `args.out`."""
    configure_threads()
    import tensorflow as tf

    import tfp_realnvp
    from benchmarks import flows_tf

    size = SIZES[args.size]
    batch = size["batch_size"]
    rows = coupling_rows(size, args.repeats)
    x = tf.random.normal([batch, 32, 32, 3])
    squeeze, logit = tfp_realnvp.Squeeze(), tfp_realnvp.LogitPreprocess(0.05)
    rows += [
        dict(name="squeeze", count=2, ms=gradient_ms(squeeze.inverse, x, [], args.repeats)),
        dict(
            name="logit preprocessing",
            count=1,
            ms=gradient_ms(lambda h: logit.inverse(tf.sigmoid(h)), x, [], args.repeats),
        ),
    ]
    dist, train_kwargs = flows_tf.realnvp(size)
    variables = dist.trainable_variables

    @tf.function
    def step(pixels):
        with tf.GradientTape() as tape:
            x = flows_tf.dequantise(pixels)
            loss = -tf.reduce_mean(dist.log_prob(x, bijector_kwargs=train_kwargs))
        return tape.gradient(loss, variables)

    result = dict(
        size=args.size,
        batch_size=batch,
        parts=rows,
        step_ms=cpu_ms(step, flows_tf.fixed_pixels(batch), args.repeats),
        load=load_snapshot(),
        machine=machine(),
        date=time.strftime("%Y-%m-%d"),
    )
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return result


def markdown(result):
    """Each part's CPU time per call and per training step, and its share of the parts' sum."""
    total = sum(part["count"] * part["ms"] for part in result["parts"]) or 1.0  # all under 1 ms
    lines = [
        "| part | count in the flow | CPU-ms per call | CPU-ms per training step | share |",
        "|---|---:|---:|---:|---:|",
    ]
    for part in result["parts"]:
        per_step = part["count"] * part["ms"]
        lines.append(
            f"| {part['name']} | {part['count']} | {part['ms']:,.1f} | {per_step:,.0f} "
            f"| {100 * per_step / total:.0f}% |"
        )
    lines.append(f"| whole training step (measured) | 1 | {result['step_ms']:,.0f} | - | - |")
    return "\n".join(lines) + "\n"
