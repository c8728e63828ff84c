"""What `RealNVPModel`'s always-on input check costs next to the model's own evaluation.

    python benchmarks/input_check.py

The check (finite values in the flow's domain: two comparisons, a reduction, and for its
message a minimum, a maximum and a NaN test) against `log_prob` in inference mode, each in a
`tf.function`, on the CLI's smallest model (the embedded digits: 2 scales, 1 residual block,
32 feature maps, [8, 8, 1], batch 64), where the network is cheapest, so the ratio is an upper
bound for the larger models. Prints one JSON line: median milliseconds of each and the ratio.
"""

import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import tfp_realnvp  # noqa: E402

REPEATS = 50


def median_ms(function, x):
    function(x)  # trace and warm up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), function(x))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=32)
    model = tfp_realnvp.RealNVPModel(flow, num_bins=17)
    x = tf.random.uniform([64, 8, 8, 1])
    check = median_ms(tf.function(model._checked_images), x)  # noqa: SLF001 (timed alone)
    log_prob = median_ms(tf.function(model.log_prob), x)
    print(
        json.dumps(
            {
                "check_ms": round(check, 3),
                "log_prob_ms": round(log_prob, 3),
                "ratio": round(check / log_prob, 4),
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
