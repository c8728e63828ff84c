"""One benchmark configuration in its own process (so its peak RSS is its own); prints JSON.

python benchmarks/worker.py --model realnvp|glow_tfp|normflows|realnvp_torch|sgemm
    --size small|paper
    [--variant function|xla|memory_saving|memory_saving_xla|mixed_bfloat16|eager
     |autocast_bfloat16] [--width N]
    [--repeats 5] [--phases train,log_prob,sample]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    configure_threads,
    configure_torch_threads,
    peak_rss_bytes,
    rss_bytes,
    timed_calls,
)

SIZES = {
    "small": dict(num_res_blocks=2, num_filters=32, batch_size=32),
    "paper": dict(num_res_blocks=8, num_filters=64, batch_size=64),
}
TRAINING_FLOPS_FACTOR = 3  # forward + backward ~ 3x the forward's FLOPs


def _timed(fn, repeats, warmup=1):
    """First call (trace / compile + run) timed on its own, then `timed_calls`.

    At most `repeats + 1` timed calls: on a busy machine extra calls rarely come out clean,
    and the row then says how many were.
    """
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    result = timed_calls(
        fn, warmup=warmup - 1 if warmup else 0, repeats=repeats, max_calls=repeats + 1
    )
    result["first_call_s"] = first
    return result


def run_tf(args, size):
    if "memory" in args.phases.split(","):
        # TF's BFC allocator on the CPU keeps statistics of the memory held by tensors
        # (`get_memory_info`): unlike RSS, not inflated by allocator caches or oneDNN's.
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    threads = configure_threads(args.threads)
    import numpy as np
    import tensorflow as tf

    from benchmarks import flows_tf

    batch = size["batch_size"]
    if args.model == "realnvp":
        memory_saving = args.variant.startswith("memory_saving")
        policy = "mixed_bfloat16" if args.variant == "mixed_bfloat16" else None
        dist, train_kwargs = flows_tf.realnvp(
            size, memory_saving=memory_saving, network_dtype_policy=policy
        )
        config = dict(size)
    else:
        dist, train_kwargs = flows_tf.glow(args.width)
        config = dict(num_hidden=args.width, batch_size=batch, blocks=2, steps_per_block=5)
    jit = args.variant.endswith("xla")
    pixels = flows_tf.fixed_pixels(batch)
    train_step = flows_tf.training_step(dist, train_kwargs, jit_compile=jit)

    log_prob, sample = flows_tf.inference_functions(dist, batch, jit_compile=jit)

    result = dict(
        model=args.model,
        variant=args.variant,
        framework=f"TF {tf.__version__}",
        config=config,
        threads=threads,
        parameters=flows_tf.num_parameters(dist),
    )
    start = time.perf_counter()
    log_prob_graph = log_prob.get_concrete_function(pixels)
    result["log_prob_trace_s"] = time.perf_counter() - start
    # The model's FLOPs: one evaluation of every network. TFP's Glow evaluates its networks
    # twice in log_prob (inverse and log-det separately); that extra work is not counted as
    # useful, so the sampling graph (once) sets the number where the two differ.
    result["log_prob_graph_flops_per_image"] = flows_tf.conv_flops(log_prob_graph, batch)
    sample_graph = sample.get_concrete_function()
    result["sample_flops_per_image"] = flows_tf.conv_flops(sample_graph, batch)
    result["flops_per_image"] = min(
        result["log_prob_graph_flops_per_image"], result["sample_flops_per_image"]
    )
    phases = args.phases.split(",")
    result["rss_before_bytes"] = rss_bytes()
    if "train" in phases:
        start = time.perf_counter()
        train_step.get_concrete_function(pixels)
        result["train_trace_s"] = time.perf_counter() - start
        result["train"] = _timed(lambda: train_step(pixels).numpy(), args.repeats)
        result["train_peak_rss_bytes"] = peak_rss_bytes()
        loss = float(train_step(pixels).numpy())
        result["train_loss_finite"] = bool(np.isfinite(loss))
    if "memory" in phases:
        train_step(pixels).numpy()  # trace, compile, create the optimizer's slots
        tf.config.experimental.reset_memory_stats("CPU:0")
        train_step(pixels).numpy()
        info = tf.config.experimental.get_memory_info("CPU:0")
        result["train_peak_tensor_bytes"] = info["peak"]
        result["train_peak_rss_bytes"] = peak_rss_bytes()
    if "log_prob" in phases:
        result["log_prob"] = _timed(lambda: log_prob(pixels).numpy(), args.repeats)
    if "sample" in phases:
        result["sample"] = _timed(lambda: sample().numpy(), args.repeats)
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def torch_model(args, size):
    """(model, log_prob(model, x), sample(model, n), config) of a PyTorch peer."""
    from benchmarks import flows_torch, realnvp_torch

    if args.model == "realnvp_torch":
        model = realnvp_torch.RealNVP(
            num_filters=size["num_filters"], num_res_blocks=size["num_res_blocks"]
        )
        config = {k: size[k] for k in ("num_res_blocks", "num_filters", "batch_size")}
        return model, type(model).log_prob, type(model).sample, config
    model = flows_torch.glow(args.width)
    config = dict(hidden_channels=args.width, batch_size=size["batch_size"], levels=2)
    return model, flows_torch.log_prob, flows_torch.sample, dict(config, steps_per_level=5)


def run_torch(args, size):
    threads = configure_torch_threads(args.threads)
    import torch

    from benchmarks import flows_torch

    torch.manual_seed(0)
    batch = size["batch_size"]
    model, model_log_prob, model_sample, config = torch_model(args, size)
    pixels = torch.randint(0, 256, (batch, *flows_torch.IMAGE_SHAPE), dtype=torch.uint8)
    # autocast_bfloat16: PyTorch's mixed precision on the CPU (bfloat16 where it is safe).
    autocast = args.variant == "autocast_bfloat16"
    result = dict(
        model=args.model,
        variant=args.variant if autocast else "eager",
        framework=f"PyTorch {torch.__version__}",
        config=config,
        threads=threads,
        parameters=flows_torch.num_parameters(model),
        flops_per_image=flows_torch.conv_flops(
            model, lambda: model_log_prob(model, flows_torch.dequantise(pixels)), batch
        ),
    )
    result["sample_flops_per_image"] = result["flops_per_image"]
    phases = args.phases.split(",")
    result["rss_before_bytes"] = rss_bytes()

    calls = flows_torch.phase_calls(model, model_log_prob, model_sample, pixels, autocast)
    if "train" in phases:
        result["train"] = _timed(calls["train"], args.repeats)
        result["train_peak_rss_bytes"] = peak_rss_bytes()
    for phase in ("log_prob", "sample"):
        if phase in phases:
            result[phase] = _timed(calls[phase], args.repeats)
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def run_sgemm(args):
    """Matmul on 2 threads: float32 numpy (OpenBLAS) and torch at 2048, TF at 1024-4096; and
    bfloat16 (TF at 2048 and 4096, torch at 2048). Peaks: `peak_gflops` (float32) and
    `peak_bfloat16_gflops`."""
    threads = configure_threads()
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    result = dict(model="sgemm", threads=threads)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    result["numpy_2048"] = timed_calls(lambda: a @ a, warmup=3, repeats=10)
    result["numpy_2048"]["n"] = 2048
    matmul = tf.function(tf.matmul)
    for n in (1024, 2048, 4096):
        ta = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
        result[f"tensorflow_{n}"] = timed_calls(
            lambda ta=ta: matmul(ta, ta).numpy(), warmup=3, repeats=10
        )
        result[f"tensorflow_{n}"]["n"] = n
    # bfloat16 matmul (AMX / AVX512-BF16 where the CPU has them): the peak that mixed-precision
    # rows are measured against.
    for n in (2048, 4096):
        tb = tf.cast(tf.constant(rng.standard_normal((n, n), dtype=np.float32)), tf.bfloat16)
        result[f"tensorflow_bfloat16_{n}"] = timed_calls(
            lambda tb=tb: matmul(tb, tb).numpy(), warmup=3, repeats=10
        )
        result[f"tensorflow_bfloat16_{n}"]["n"] = n
    configure_torch_threads()
    import torch

    pa = torch.from_numpy(a)
    result["torch_2048"] = timed_calls(lambda: pa @ pa, warmup=3, repeats=10)
    result["torch_2048"]["n"] = 2048
    pb = pa.to(torch.bfloat16)
    result["torch_bfloat16_2048"] = timed_calls(lambda: pb @ pb, warmup=3, repeats=10)
    result["torch_bfloat16_2048"]["n"] = 2048
    keys = [k for k in result if k.split("_")[0] in ("numpy", "tensorflow", "torch")]
    for key in keys:
        n = result[key]["n"]
        result[key]["gflops"] = 2 * n**3 / result[key]["median_s"] / 1e9
        result[key].pop("all_calls")
    for dtype, prefix in (("float32", ""), ("bfloat16", "bfloat16_")):
        of_dtype = [k for k in keys if ("bfloat16" in k) == (dtype == "bfloat16")]
        best = max(of_dtype, key=lambda k: result[k]["gflops"])
        result[f"peak_{prefix}gflops"], result[f"peak_{prefix}of"] = result[best]["gflops"], best
    return result


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--model",
        required=True,
        choices=["realnvp", "glow_tfp", "normflows", "realnvp_torch", "sgemm"],
    )
    parser.add_argument("--size", default="small", choices=sorted(SIZES))
    parser.add_argument("--variant", default="function")
    parser.add_argument("--width", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--phases", default="train,log_prob,sample")
    parser.add_argument("--threads", type=int, default=2, help="per op (TF intra-op, torch)")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    if args.model == "sgemm":
        result = run_sgemm(args)
    elif args.model in ("normflows", "realnvp_torch"):
        result = run_torch(args, size)
    else:
        result = run_tf(args, size)
    result["size"] = args.size
    result["phases"] = "sgemm" if args.model == "sgemm" else args.phases
    for phase, factor in (("train", TRAINING_FLOPS_FACTOR), ("log_prob", 1), ("sample", 1)):
        if phase in result:
            timing = result[phase]
            flops = (
                result["sample_flops_per_image"] if phase == "sample" else result["flops_per_image"]
            )
            timing["images_per_s"] = size["batch_size"] / timing["median_s"]
            timing["gflops"] = factor * flops * timing["images_per_s"] / 1e9
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
