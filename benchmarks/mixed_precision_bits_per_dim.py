"""MNIST held-out bits/dim after the same training steps and seed, float32 or mixed_bfloat16.

    python benchmarks/mixed_precision_bits_per_dim.py float32 --steps 150
    python benchmarks/mixed_precision_bits_per_dim.py mixed_bfloat16 --steps 150 --seed 1

Run both (one process each, so each starts from the same seed) and compare the `bits_per_dim`
they print. A small flow (2 scales, 1 residual block, 8 feature maps, batch 32, Adam 1e-3);
held-out: the first 2000 MNIST test images with fixed dequantisation noise, after the
batch-norm statistics are re-estimated for the final weights (50 training batches, as the
command line does), and also before (`bits_per_dim_stale_statistics`).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import configure_threads  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("policy", choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data folder")
    parser.add_argument("--manual-dir", default=None, help="folder with MNIST's official files")
    args = parser.parse_args(argv)
    configure_threads(args.threads)
    import keras

    import tfp_realnvp
    from tfp_realnvp import data
    from tfp_realnvp.training.real_nvp_model import default_optimizer

    keras.utils.set_random_seed(args.seed)
    flow = tfp_realnvp.RealNVPMultiScale(
        [28, 28, 1],
        num_scales=2,
        num_res_blocks=1,
        num_filters=8,
        network_dtype_policy=None if args.policy == "float32" else args.policy,
    )
    model = tfp_realnvp.RealNVPModel(flow, num_bins=256)
    model.compile(optimizer=default_optimizer(1e-3))
    where = dict(data_dir=args.data_dir, manual_dir=args.manual_dir)
    train = data.load("mnist", split="train", batch_size=32, **where)
    test = data.load("mnist", split="test", batch_size=100, training=False, noise_seed=0, **where)
    start = time.time()
    model.fit(train.take(args.steps), epochs=1, verbose=0)
    stale = model.evaluate(test.take(20), verbose=0, return_dict=True)["bits_per_dim"]
    model.refresh_batch_norm_statistics(train, steps=50)
    result = model.evaluate(test.take(20), verbose=0, return_dict=True)
    record = dict(policy=args.policy, steps=args.steps, seed=args.seed, **result)
    record.update(bits_per_dim_stale_statistics=stale, seconds=time.time() - start)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
