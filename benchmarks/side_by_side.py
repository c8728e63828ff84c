"""How fast is this package against the same model in PyTorch, and how much memory does each
process take? Contestants timed call by call in turn, so that their ratios survive a loaded
machine.

    python benchmarks/side_by_side.py --size paper --contestants tf,torch,matmul --rounds 3
    python benchmarks/side_by_side.py --size small --contestants tf,torch --rounds 1  # a minute

Contestants (the same architecture and parameter count unless said otherwise):
  tf            this package's Real NVP, `tf.function` (the default options)
  tf_unfolded   the same, inference batch norms not folded into the convolutions before them
  tf_xla        the same, inference graphs compiled with XLA (`jit_compile=True`)
  tf_memory_saving / tf_memory_saving_blocks   the same, trained with
                `memory_saving_gradients=True` / `"blocks"`
  tf_inter_op_default   the same, with TF's inter-op pool at its default size instead of 1
  torch         the PyTorch Real NVP of the same architecture (`realnvp_torch.py`), eager
  tf_bf16 / torch_bf16   the same two with bfloat16 networks (mixed_bfloat16 / torch.autocast)
  glow_tfp / normflows   other architectures at the same parameter count: TFP's `tfb.Glow`
                and normflows' multi-scale Glow (PyTorch), 10 couplings in 2 blocks each
  matmul / matmul_bf16   a 2048 x 2048 TF matmul in float32 / bfloat16: the peak under the
                same load, against which each round's GFLOP/s is a share

Each contestant runs in a process of its own, so that one library's threads never compete with
another's, and this process asks them for one call at a time, in turn. On a shared machine
absolute times move with the load, but in one round every contestant runs the same phase back
to back, so each round's ratio of speeds is measured under (nearly) the same load.

Phases, each after a warm-up call: a training step (Adam 1e-3 on -mean log p of one fixed
batch of random uint8 images, fresh dequantisation noise every call), `log_prob` in inference
mode, and sampling. Reported per contestant and phase: the median images/s (and GFLOP/s,
convolutions and matmuls, training counted as 3x the forward) over the rounds; per round the
speed ratio to the first contestant and the share of the matmul peak, median and range; and
each contestant process's peak RSS over all the phases it ran. Writes
`results/side_by_side_<size>.json` (or `--out`) and prints the tables as Markdown.
"""

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import (  # noqa: E402
    SIZES,
    TRAINING_FLOPS_FACTOR,
    configure_threads,
    configure_torch_threads,
    load_snapshot,
    machine,
    peak_rss_bytes,
)

PHASES = ("train", "log_prob", "sample")


def tf_calls(dist, train_kwargs, batch_size, jit=False):
    """{phase: call, "flops_per_image": ...} for a TF distribution over 32x32x3 images."""
    from benchmarks import flows_tf

    pixels = flows_tf.fixed_pixels(batch_size)
    train_step = flows_tf.training_step(dist, train_kwargs)
    log_prob, sample = flows_tf.inference_functions(dist, batch_size, jit_compile=jit)
    # One evaluation of every network: TFP's Glow evaluates its networks twice in log_prob,
    # and that extra work is not counted as useful, so the smaller of the two graphs counts.
    flops = min(
        flows_tf.conv_flops(log_prob.get_concrete_function(pixels), batch_size),
        flows_tf.conv_flops(sample.get_concrete_function(), batch_size),
    )
    return dict(
        train=lambda: train_step(pixels).numpy(),
        log_prob=lambda: log_prob(pixels).numpy(),
        sample=lambda: sample().numpy(),
        flops_per_image=flops,
    )


def realnvp_contestant(size, *, fold=True, jit=False, policy=None, memory_saving=False):
    """This package's Real NVP."""
    from benchmarks import flows_tf
    from tfp_realnvp.networks import ResNetConditioner

    dist, train_kwargs = flows_tf.realnvp(size, memory_saving, network_dtype_policy=policy)
    for layer in dist.bijector.keras_layers:
        if isinstance(layer, ResNetConditioner):
            layer.fold_batch_norms = fold
    return tf_calls(dist, train_kwargs, size["batch_size"], jit=jit)


def glow_tfp_contestant(size):
    """TFP's `tfb.Glow`, its width chosen for Real NVP's parameter count."""
    from benchmarks import flows_tf

    target = flows_tf.num_parameters(flows_tf.realnvp(size)[0])
    dist, train_kwargs = flows_tf.glow(flows_tf.glow_matching(target))
    return tf_calls(dist, train_kwargs, size["batch_size"])


def matmul_contestant(dtype, n=2048):
    """The machine's matmul rate under the same load: an n x n TF matmul in every phase."""
    import numpy as np
    import tensorflow as tf

    a = tf.cast(np.random.default_rng(0).standard_normal((n, n)), dtype)
    matmul = tf.function(tf.matmul)
    call = lambda: matmul(a, a).numpy()  # noqa: E731
    return dict(train=call, log_prob=call, sample=call, flops_per_call=2 * n**3)


def torch_contestant(size, *, bfloat16=False, glow=False):
    """The PyTorch Real NVP of the same architecture, or normflows' Glow of its size."""
    import torch

    from benchmarks import flows_torch, realnvp_torch

    torch.manual_seed(0)
    model = realnvp_torch.RealNVP(
        num_filters=size["num_filters"], num_res_blocks=size["num_res_blocks"]
    )
    log_prob, sample = type(model).log_prob, type(model).sample
    if glow:
        width = flows_torch.glow_matching(flows_torch.num_parameters(model))
        model, log_prob, sample = flows_torch.glow(width), flows_torch.log_prob, flows_torch.sample
    batch = size["batch_size"]
    pixels = torch.randint(0, 256, (batch, *flows_torch.IMAGE_SHAPE), dtype=torch.uint8)
    flops = flows_torch.conv_flops(
        model, lambda: log_prob(model, flows_torch.dequantise(pixels)), batch
    )
    calls = flows_torch.phase_calls(model, log_prob, sample, pixels, bfloat16)
    return dict(calls, flops_per_image=flops)


CONTESTANTS = {
    "tf": lambda size: realnvp_contestant(size),
    "tf_unfolded": lambda size: realnvp_contestant(size, fold=False),
    "tf_xla": lambda size: realnvp_contestant(size, jit=True),
    "tf_bf16": lambda size: realnvp_contestant(size, policy="mixed_bfloat16"),
    "tf_memory_saving": lambda size: realnvp_contestant(size, memory_saving=True),
    "tf_memory_saving_blocks": lambda size: realnvp_contestant(size, memory_saving="blocks"),
    "tf_inter_op_default": lambda size: realnvp_contestant(size),
    "torch": lambda size: torch_contestant(size),
    "torch_bf16": lambda size: torch_contestant(size, bfloat16=True),
    "glow_tfp": glow_tfp_contestant,
    "normflows": lambda size: torch_contestant(size, glow=True),
    "matmul": lambda size: matmul_contestant("float32"),
    "matmul_bf16": lambda size: matmul_contestant("bfloat16"),
}
TORCH_CONTESTANTS = ("torch", "torch_bf16", "normflows")


class Contestant:
    """One contestant in a process of its own (its library's threads alone there, asleep while
    the others run); `time(phase)` runs one call of that phase there and returns its seconds."""

    def __init__(self, name, size, threads):
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(name, size, threads, child), daemon=True
        )
        self._process.start()
        self.flops = self._pipe.recv()  # once the model is built

    def time(self, phase):
        self._pipe.send(phase)
        return self._pipe.recv()

    def close(self, timeout_s=60):
        """Ends the process; returns its peak RSS in bytes."""
        self._pipe.send(None)
        peak = self._pipe.recv()
        self._process.join(timeout_s)
        if self._process.is_alive():  # a library's slow teardown: its results are in already
            self._process.terminate()
        return peak


def _serve(name, size, threads, pipe):
    if name in TORCH_CONTESTANTS:
        configure_torch_threads(threads)
    else:
        configure_threads(threads, inter_op=None if name == "tf_inter_op_default" else 1)
    calls = CONTESTANTS[name](size)
    pipe.send({k: calls.get(k) for k in ("flops_per_image", "flops_per_call")})
    while (phase := pipe.recv()) is not None:
        start = time.perf_counter()
        calls[phase]()
        pipe.send(time.perf_counter() - start)
    pipe.send(peak_rss_bytes())


def race(contestants, phases, rounds, log=lambda message: print(message, flush=True)):
    """{phase: {name: [seconds per round]}}: one warm-up call each, then rounds in turn."""
    times = {phase: {name: [] for name in contestants} for phase in phases}
    for phase in phases:
        for contestant in contestants.values():
            contestant.time(phase)  # trace / compile, first-call allocations
        for index in range(rounds):
            for name, contestant in contestants.items():
                times[phase][name].append(contestant.time(phase))
            log(f"{phase} round {index + 1}: " + ", ".join(
                f"{n} {t[-1]:.3f} s" for n, t in times[phase].items()
            ))  # fmt: skip
    return times


def summary(times, flops, batch_size):
    """Per contestant and phase: median images/s (and GFLOP/s where the FLOPs are known);
    per round, the speed ratio to the first contestant and the share of the matmul peak."""
    out = {}
    for phase, per_name in times.items():
        names = list(per_name)
        first = per_name[names[0]]
        factor = TRAINING_FLOPS_FACTOR if phase == "train" else 1
        gflops = {}
        for name, seconds in per_name.items():
            work = flops[name].get("flops_per_call")
            if flops[name].get("flops_per_image"):
                work = factor * flops[name]["flops_per_image"] * batch_size
            if work:
                gflops[name] = [work / t / 1e9 for t in seconds]
        out[phase] = {}
        for name, seconds in per_name.items():
            row = dict(seconds=seconds)
            if not flops[name].get("flops_per_call"):
                row["images_per_s"] = batch_size / statistics.median(seconds)
            if name in gflops:
                row["gflops"] = statistics.median(gflops[name])
            if name != names[0] and not flops[name].get("flops_per_call"):
                ratios = [a / b for a, b in zip(first, seconds, strict=True)]
                row["speed_vs_first"] = _spread(ratios)
            peak = "matmul_bf16" if name.endswith("bf16") else "matmul"
            if name in gflops and peak in gflops and name != peak:
                shares = [a / b for a, b in zip(gflops[name], gflops[peak], strict=True)]
                row["share_of_" + peak] = _spread(shares)
            out[phase][name] = row
    return out


def _spread(values):
    """Median, min and max of a per-round ratio."""
    return dict(median=statistics.median(values), min=min(values), max=max(values))


def _cell(value, form="{:,.1f}"):
    if value is None:
        return "-"
    if isinstance(value, dict):  # a per-round ratio
        return f"{value['median']:.2f} [{value['min']:.2f}, {value['max']:.2f}]"
    return form.format(value)


def markdown(result):
    """The result as Markdown tables: one per phase, then each process's peak RSS."""
    first = next(iter(next(iter(result["phases"].values()))))
    lines = []
    for phase, per_name in result["phases"].items():
        lines += [
            f"{phase}:",
            "",
            f"| contestant | img/s | GFLOP/s | speed / {first}'s, per round | share of the "
            "matmul peak of its dtype |",
            "|---|---:|---:|---|---|",
        ]
        for name, row in per_name.items():
            share = row.get("share_of_matmul") or row.get("share_of_matmul_bf16")
            cells = (row.get("images_per_s"), row.get("gflops"), row.get("speed_vs_first"), share)
            lines.append(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    lines += ["| contestant | peak RSS (GiB) |", "|---|---:|"]
    lines += [f"| {n} | {b / 2**30:.2f} |" for n, b in result["peak_rss_bytes"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small", choices=sorted(SIZES))
    parser.add_argument("--contestants", default="tf,torch")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads per op (TF intra-op, torch); 1 is robust to a loaded machine, where "
        "the OpenMP barriers of a 2-thread torch op stall whenever one thread is descheduled",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    names = args.contestants.split(",")
    unknown = sorted(set(names) - set(CONTESTANTS))
    if unknown:
        parser.error(f"unknown contestant(s) {unknown}; choose from {sorted(CONTESTANTS)}")
    contestants = {name: Contestant(name, size, args.threads) for name in names}
    load_before = load_snapshot()
    times = race(contestants, args.phases.split(","), args.rounds)
    flops = {name: contestant.flops for name, contestant in contestants.items()}
    peak_rss = {name: contestant.close() for name, contestant in contestants.items()}
    result = dict(
        size=args.size,
        config=size,
        threads=dict(tf_intra_op=args.threads, tf_inter_op=1, torch_num_threads=args.threads),
        rounds=args.rounds,
        machine=machine(),
        load=[load_before, load_snapshot()],
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        phases=summary(times, flops, size["batch_size"]),
        peak_rss_bytes=peak_rss,
    )
    print(markdown(result))
    out = Path(args.out or HERE / "results" / f"side_by_side_{args.size}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
