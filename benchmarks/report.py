"""Writes benchmarks/RESULTS.md from the JSON results of run.py (and the other scripts')."""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIB = 2**30
NAMES = {
    "realnvp": "Real NVP (tfp_realnvp)",
    "glow_tfp": "tfb.Glow (TFP)",
    "normflows": "normflows Glow (PyTorch)",
}
VARIANTS = {
    "function": "tf.function",
    "xla": "tf.function + XLA",
    "memory_saving": "tf.function, memory-saving gradients",
    "memory_saving_xla": "XLA, memory-saving gradients",
    "eager": "eager",
    "mixed_bfloat16": "tf.function, networks in bfloat16 (mixed_bfloat16)",
    "autocast_bfloat16": "eager, torch.autocast bfloat16",
}


def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _phase(result, phase, key):
    timing = result.get(phase)
    return None if timing is None else timing.get(key)


FACTORS = {"train": 3, "log_prob": 1, "sample": 1}


def _cpu_gflops(result, phase):
    """GFLOP per second of this process's CPU time: robust to other load on the machine."""
    timing = result.get(phase)
    if not timing or not timing.get("median_cpu_s"):
        return None
    flops = result["flops_per_image"] * result["config"]["batch_size"] * FACTORS[phase]
    return flops / timing["median_cpu_s"] / 1e9


def sgemm_cpu_peak(sgemm):
    """The best sgemm GFLOP per CPU-second (2 threads)."""
    values = [
        2 * v["n"] ** 3 / v["median_cpu_s"] / 1e9
        for v in sgemm.values()
        if isinstance(v, dict) and v.get("median_cpu_s")
    ]
    return max(values, default=float("nan"))


def cpu_table(results, size, cpu_peak):
    rows = [
        "| model | compiled as | train GFLOP/CPU-s | % of sgemm's | log_prob GFLOP/CPU-s "
        "| sample GFLOP/CPU-s | cores used (train, median) |",
        "|" + "---|" * 7,
    ]
    for r in results:
        if r.get("size") != size or r.get("model") == "sgemm" or "error" in r:
            continue
        if r.get("phases") == "memory":
            continue
        train = _cpu_gflops(r, "train")
        rows.append(
            "| "
            + " | ".join(
                [
                    NAMES[r["model"]],
                    VARIANTS.get(r["variant"], r["variant"]),
                    _fmt(train),
                    _fmt(100 * train / cpu_peak if train else None, 0),
                    _fmt(_cpu_gflops(r, "log_prob")),
                    _fmt(_cpu_gflops(r, "sample")),
                    _fmt(_phase(r, "train", "median_cores_used"), 2),
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def _find(results, model, size, variant=None):
    for r in results:
        if r.get("phases") == "memory":
            continue
        if r.get("model") == model and r.get("size") == size and "error" not in r:
            if variant is None or r.get("variant") == variant:
                return r
    return None


def _best_realnvp(results, size):
    """The faster of tf.function and XLA (the default compile setting the results recommend)."""
    candidates = [_find(results, "realnvp", size, v) for v in ("function", "xla")]
    candidates = [c for c in candidates if c and c.get("train")]
    return max(candidates, key=lambda c: c["train"]["gflops"], default=None)


def table(results, size, peak):
    rows = [
        "| model | compiled as | parameters | GFLOP/image (fwd) | train img/s | train GFLOP/s "
        "| % of sgemm peak | log_prob img/s | log_prob GFLOP/s | sample img/s | sample GFLOP/s "
        "| peak RSS, training (GiB) | trace + first call (s) | clean timed calls "
        "(train, log_prob, sample) |",
        "|" + "---|" * 14,
    ]
    for r in results:
        if r.get("size") != size or r.get("model") == "sgemm" or r.get("phases") == "memory":
            continue
        if "error" in r:
            rows.append(f"| {NAMES.get(r['model'])} | {r.get('variant')} | failed: {r['error']} |")
            continue
        train_gflops = _phase(r, "train", "gflops")
        first = (r.get("train_trace_s") or 0) + (_phase(r, "train", "first_call_s") or 0)
        clean = ", ".join(
            f"{_phase(r, p, 'clean_calls')}/{_phase(r, p, 'calls')}" if r.get(p) else "-"
            for p in ("train", "log_prob", "sample")
        )
        rows.append(
            "| "
            + " | ".join(
                [
                    NAMES[r["model"]],
                    VARIANTS.get(r["variant"], r["variant"]),
                    _fmt(r["parameters"]),
                    _fmt(r["flops_per_image"] / 1e9, 2),
                    _fmt(_phase(r, "train", "images_per_s")),
                    _fmt(train_gflops),
                    _fmt(100 * train_gflops / peak if train_gflops else None, 0),
                    _fmt(_phase(r, "log_prob", "images_per_s")),
                    _fmt(_phase(r, "log_prob", "gflops")),
                    _fmt(_phase(r, "sample", "images_per_s")),
                    _fmt(_phase(r, "sample", "gflops")),
                    _fmt(r.get("train_peak_rss_bytes", 0) / GIB, 2),
                    _fmt(first, 0),
                    clean,
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def targets(results, peak, cpu_peak=float("nan")):
    size = "paper"
    plain = _find(results, "realnvp", size, "function")
    saving = _find(results, "realnvp", size, "memory_saving")
    xla = _find(results, "realnvp", size, "xla")
    torch = _find(results, "normflows", size)
    glow = _find(results, "glow_tfp", size, "function")
    rows = [
        "| target | required | measured (wall clock) | met | measured (per CPU-second) | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(name, required, measured, ok, cpu_measured="-", cpu_ok=None):
        cpu_met = "-" if cpu_ok is None else ("yes" if cpu_ok else "NO")
        rows.append(
            f"| {name} | {required} | {measured} | {'yes' if ok else 'NO'} | {cpu_measured} "
            f"| {cpu_met} |"
        )

    def ratio(phase, other, cpu=False):
        """Real NVP's best compile setting for `phase` (tf.function or XLA) against `other`."""
        ours = [r for r in (plain, xla) if r and r.get(phase)]
        if not (ours and other and other.get(phase)):
            return None
        if cpu:
            values = [_cpu_gflops(r, phase) for r in ours]
            theirs = _cpu_gflops(other, phase)
            if theirs is None or None in values:
                return None
            return max(values) / theirs
        return max(r[phase]["gflops"] for r in ours) / other[phase]["gflops"]

    for phase, other, name, need in (
        ("train", torch, "normflows", 1.3),
        ("train", glow, "tfb.Glow (tf.function)", 2.0),
        ("log_prob", torch, "normflows", 1.5),
        ("sample", torch, "normflows", 1.5),
    ):
        value, cpu_value = ratio(phase, other), ratio(phase, other, cpu=True)
        row(
            f"{phase} GFLOP/s vs {name}",
            f">= {need}x",
            "-" if value is None else f"{value:.2f}x",
            value is not None and value >= need,
            "-" if cpu_value is None else f"{cpu_value:.2f}x",
            None if cpu_value is None else cpu_value >= need,
        )
    ours = _best_realnvp(results, size)
    if ours and ours.get("train"):
        share = ours["train"]["gflops"] / peak
        cpu_share = (_cpu_gflops(ours, "train") or float("nan")) / cpu_peak
        row(
            "train GFLOP/s vs sgemm peak",
            ">= 70%",
            f"{100 * share:.0f}%",
            share >= 0.7,
            f"{100 * cpu_share:.0f}%",
            cpu_share >= 0.7,
        )
    memory = {
        r["variant"]: r["train_peak_tensor_bytes"]
        for r in results
        if r.get("size") == size and r.get("model") == "realnvp" and "train_peak_tensor_bytes" in r
    }
    if "function" in memory and "memory_saving" in memory:
        share = memory["memory_saving"] / memory["function"]
        row(
            "memory-saving training: peak memory held by tensors vs normal (TF's allocator)",
            "<= 50%",
            f"{100 * share:.0f}% ({memory['memory_saving'] / GIB:.2f} vs "
            f"{memory['function'] / GIB:.2f} GiB)",
            share <= 0.5,
        )
    if plain and saving and plain.get("train") and saving.get("train"):
        share = saving["train_peak_rss_bytes"] / plain["train_peak_rss_bytes"]
        grown = (saving["train_peak_rss_bytes"] - saving["rss_before_bytes"]) / max(
            1, plain["train_peak_rss_bytes"] - plain["rss_before_bytes"]
        )
        row(
            "memory-saving training: peak RSS of the process vs normal",
            "<= 50%",
            f"{100 * share:.0f}% ({saving['train_peak_rss_bytes'] / GIB:.2f} vs "
            f"{plain['train_peak_rss_bytes'] / GIB:.2f} GiB; growth during training "
            f"{100 * grown:.0f}%)",
            share <= 0.5,
        )
        slow = saving["train"]["median_s"] / plain["train"]["median_s"]
        cpu_slow = saving["train"]["median_cpu_s"] / plain["train"]["median_cpu_s"]
        rows.append(
            f"| memory-saving step time vs normal | (its cost) | {slow:.2f}x | "
            f"| {cpu_slow:.2f}x | |"
        )
    mixed = _find(results, "realnvp", size, "mixed_bfloat16")
    torch_mixed = _find(results, "normflows", size, "autocast_bfloat16")
    for phase in ("train", "log_prob", "sample"):
        if plain and mixed and plain.get(phase) and mixed.get(phase):
            gain = plain[phase]["median_s"] / mixed[phase]["median_s"]
            versus = (
                f"; {mixed[phase]['gflops'] / torch_mixed[phase]['gflops']:.2f}x normflows "
                "with torch.autocast bfloat16"
                if torch_mixed and torch_mixed.get(phase)
                else ""
            )
            rows.append(
                f"| mixed precision (bfloat16 networks): {phase} speed-up over float32 | (report) "
                f"| {gain:.2f}x{versus} | | | |"
            )
    if plain and xla and plain.get("train") and xla.get("train"):
        gain = plain["train"]["median_s"] / xla["train"]["median_s"]
        cpu_gain = plain["train"]["median_cpu_s"] / xla["train"]["median_cpu_s"]
        rows.append(
            f"| XLA training speed-up over tf.function | (report) | {gain:.2f}x | "
            f"| {cpu_gain:.2f}x | |"
        )
    return "\n".join(rows)


def write_report(meta, results, path):
    sgemm = next((r for r in results if r.get("model") == "sgemm" and "error" not in r), None)
    peak = sgemm["peak_gflops"] if sgemm else float("nan")
    cpu_peak = sgemm_cpu_peak(sgemm) if sgemm else float("nan")
    threads = next(
        (r["threads"] for r in results if "threads" in r and r.get("model") != "sgemm"), {}
    )
    parts = [
        "# Benchmark results",
        "",
        "Generated by `python benchmarks/run.py` (see `benchmarks/README.md`); raw numbers in "
        "`benchmarks/results/benchmark.json`. Do not edit the tables by hand.",
        "",
        "## Machine and settings",
        "",
        f"- CPU: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gib']} GiB; Python {meta['machine']['python']}.",
        f"- GPU: {meta['gpu']}.",
        f"- Threads: TF intra-op {threads.get('tf_intra_op')}, "
        f"inter-op {threads.get('tf_inter_op')}; "
        "torch `set_num_threads(2)`, `set_num_interop_threads(1)`.",
        f"- Run: {meta['started']} to {meta.get('finished')}; median of at least "
        f"{meta['repeats']} timed calls after a warm-up call."
        + (
            " Resumed (`--resume`): rows already measured by an interrupted run of the same "
            "command earlier that day were kept."
            if meta.get("resumed_from")
            else ""
        ),
        "- Load: each timed call records this process's CPU time and the machine's busy CPU time "
        "(psutil); a call during which other processes used more than 0.15 cores on average is "
        "discarded, and timing continues (up to 1 more call). Where fewer clean calls than "
        "required remain, the median is over all calls and the row's 'clean timed calls' shows "
        "it. Load average and CPU use before and after each size: "
        + ", ".join(f"{s['loadavg_1min']:.1f} / {s['cpu_percent']:.0f}%" for s in meta["load"])
        + f". Waiting for a quiet machine before the run: {meta.get('wait_for_quiet')}.",
        "",
        "## sgemm peak (the physical limit)",
        "",
    ]
    if sgemm:
        parts.append(
            "float32 n x n matmul, 2 threads: "
            + ", ".join(
                f"{k.replace('_', ' n=')} {v['gflops']:.0f} GFLOP/s "
                f"({v['clean_calls']}/{v['calls']} clean)"
                for k, v in sgemm.items()
                if isinstance(v, dict) and "gflops" in v
            )
            + f". Peak used below: **{peak:.0f} GFLOP/s** ({sgemm['peak_of']})."
        )
    parts += [
        "",
        "FLOPs per image count every convolution (2*H*W*k*k*Cin*Cout, forward) and matmul in the "
        "traced `log_prob` graph (TF) or by forward hooks (PyTorch); training counts 3x the "
        "forward. The architectures differ (Real NVP's ResNet couplings vs Glow's 3x3-1x1-3x3 "
        "networks at matched parameter count), so GFLOP/s is the comparable rate; images/s "
        "is also given.",
        "",
    ]
    quick = HERE / "results" / "benchmark_quick.json"
    if quick.exists() and not any(
        r.get("size") == "small" and r.get("model") != "sgemm" for r in results
    ):
        # SMALL from `run.py --quick` (2 timed calls) when the full run did not get to it.
        extra = [
            r
            for r in json.loads(quick.read_text())["results"]
            if r.get("size") == "small" and r.get("model") != "sgemm"
        ]
        results = results + extra
        parts += [
            "SMALL rows below come from `python benchmarks/run.py --quick` (2 timed calls, no "
            "XLA or memory-saving rows): the full run did not get to SMALL in this session.",
            "",
        ]
    for size, label in (
        ("paper", "PAPER: 2 scales, 8 residual blocks, 64 feature maps, batch 64"),
        ("small", "SMALL: 2 scales, 2 residual blocks, 32 feature maps, batch 32"),
    ):
        if any(r.get("size") == size and r.get("model") != "sgemm" for r in results):
            parts += [
                f"## {label}",
                "",
                table(results, size, peak),
                "",
                "The same runs per second of this process's CPU time (both cores busy = 2 "
                "CPU-seconds per second): on a shared machine, wall-clock rates fall with the "
                "other load, these much less.",
                "",
                cpu_table(results, size, cpu_peak),
                "",
            ]
    parts += [
        "## Targets (PAPER size, measured side by side in one run)",
        "",
        targets(results, peak, cpu_peak),
        "",
    ]
    profile = HERE / "results" / "profile_parts.json"
    if profile.exists():
        parts += ["## Where the training step's time goes", "", _profile_table(profile), ""]
    parts += _memory_stages_section()
    parts += _pipeline_section(results)
    parts += _quality_section()
    notes = HERE / "results" / "notes.md"
    if notes.exists():
        parts += [notes.read_text().strip(), ""]
    Path(path).write_text("\n".join(parts))


def _profile_table(path):
    data = json.loads(path.read_text())
    rows = [
        f"PAPER size, batch {data['batch_size']}, forward + backward of each part alone "
        f"(tf.function), times the number of such parts in the flow; {data['note']}",
        "",
        "| part | count in the flow | CPU-ms per call | CPU-ms per training step | share |",
        "|---|---|---|---|---|",
    ]
    total = sum(p["count"] * p["ms"] for p in data["parts"])
    for p in data["parts"]:
        rows.append(
            f"| {p['name']} | {p['count']} | {p['ms']:.1f} | {p['count'] * p['ms']:.0f} | "
            f"{100 * p['count'] * p['ms'] / total:.0f}% |"
        )
    rows.append(
        f"| whole training step (measured) | 1 | {data['step_ms']:.0f} | {data['step_ms']:.0f} | |"
    )
    return "\n".join(rows)


def _memory_stages_section():
    """One table row per variant and allocator setting (results/memory_stages*.json)."""
    files = sorted((HERE / "results").glob("memory_stages*.json"))
    if not files:
        return []
    stages = ("imported", "built", "traced", "first_step", "steady_steps")
    rows = [
        "## Where a training process's memory goes",
        "",
        "`python benchmarks/memory_stages.py`: PAPER size, one process per variant; resident "
        "memory (RSS) after each stage and its high-water mark so far, in GiB. The last stage "
        "resets the high-water mark after the first step and runs a few more steps: the peak of "
        "training itself, without the one-off cost of building and optimising the graph. "
        "'allocator' names the environment variables set for the run (none: TensorFlow's "
        "default, which keeps freed memory for reuse).",
        "",
        "| variant | allocator | " + " | ".join(f"{s}: RSS / peak" for s in stages) + " |",
        "|" + "---|" * (len(stages) + 2),
    ]
    summaries = []
    for path in files:
        runs = {run["variant"]: run for run in json.loads(path.read_text())}
        for variant, run in runs.items():
            environment = run.get("allocator_environment") or {}
            allocator = ", ".join(f"{k}={v}" for k, v in environment.items()) or "default"
            memory = [run["stages"][s] for s in stages]
            cells = [
                f"{m['rss_bytes'] / GIB:.2f} / {m['peak_rss_bytes'] / GIB:.2f}" for m in memory
            ]
            rows.append(f"| {variant} | {allocator} | " + " | ".join(cells) + " |")
        if {"normal", "memory_saving"} <= runs.keys():
            normal, saving = runs["normal"]["stages"], runs["memory_saving"]["stages"]
            whole = (
                saving["steady_steps"]["peak_rss_bytes"] / normal["steady_steps"]["peak_rss_bytes"]
            )
            added = [
                stages_["steady_steps"]["peak_rss_bytes"] - stages_["traced"]["rss_bytes"]
                for stages_ in (saving, normal)
            ]
            step = [
                stages_["steady_steps"]["peak_rss_bytes"] - stages_["first_step"]["rss_bytes"]
                for stages_ in (saving, normal)
            ]
            # Only an allocator that gives freed memory back shows a step's own rise.
            own = (
                f"; a step's own rise above the RSS between steps {100 * step[0] / step[1]:.0f}% "
                f"({step[0] / GIB:.2f} vs {step[1] / GIB:.2f} GiB)"
                if min(step) > 0.05 * GIB
                else ""
            )
            summaries.append(
                f"- allocator {allocator}: whole-process peak {100 * whole:.0f}%; what training "
                f"adds to the RSS of the traced model {100 * added[0] / added[1]:.0f}% "
                f"({added[0] / GIB:.2f} vs {added[1] / GIB:.2f} GiB){own}."
            )
    if summaries:
        rows += ["", "Memory-saving gradients against normal training:", "", *summaries]
    return rows + [""]


def _pipeline_section(results):
    path = HERE / "results" / "pipeline_throughput.jsonl"
    if not path.exists():
        return []
    latest = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        latest[record["dataset"]] = record
    plain = _find(results, "realnvp", "paper", "function")
    paper_train = _phase(plain, "train", "images_per_s") if plain else None
    rows = [
        "## Input pipeline against the training step",
        "",
        "`python benchmarks/pipeline_throughput.py --out "
        "benchmarks/results/pipeline_throughput.jsonl`: images/s of `tfp_realnvp.data.load` "
        "alone (training split, batch 64, shuffle, flips, fresh dequantisation noise, after a "
        "first pass that fills the cache), against a training step's images/s. Both share the "
        "same two cores (tf.data prefetches in the background); at a ratio of N the pipeline "
        "needs about 1/N of the machine to keep up, so it is not the bottleneck.",
        "",
        "| dataset | pipeline img/s | training img/s | model | pipeline / training |",
        "|---|---|---|---|---|",
    ]
    quality = HERE / "results" / "quality_over_time.json"
    mnist_train = None
    if quality.exists():
        q = json.loads(quality.read_text())["summary"]
        mnist_train = q["steps"] * q["batch_size"] / q["wall_seconds"]
    for name, record in latest.items():
        train, model = {
            "mnist": (mnist_train, "the CLI's MNIST model (quality run, first call included)"),
            "cifar10": (paper_train, "PAPER Real NVP, tf.function (table above)"),
        }.get(name, (None, "-"))
        ratio = f"{record['images_per_s'] / train:,.0f}x" if train else "-"
        rows.append(
            f"| {name} | {record['images_per_s']:,.0f} | {_fmt(train)} | {model} | {ratio} |"
        )
    return rows + [""]


def _quality_section():
    path = HERE / "results" / "quality_over_time.json"
    head = ["## Quality over time: MNIST bits/dim against training wall-clock", ""]
    if not path.exists():
        return head + [
            "Not yet run: `python benchmarks/quality_over_time.py` (20 minutes of training) "
            "writes `benchmarks/results/quality_over_time.{csv,png,json}`.",
            "",
        ]
    data = json.loads(path.read_text())
    s = data["summary"]
    a = s["architecture"]
    loads = s.get("load", [])
    mean_load = sum(x["loadavg_1min"] for x in loads) / max(1, len(loads))
    return head + [
        f"`python benchmarks/quality_over_time.py`: the CLI's MNIST settings "
        f"({a['num_scales']} scales, {a['num_res_blocks']} residual blocks, "
        f"{a['num_filters']} feature maps, batch {s['batch_size']}, Adam 1e-3, clipnorm 100, "
        "L2 5e-5). "
        + (
            "Clock: wall-clock time. "
            if s.get("clock", "wall") == "wall"
            else "Clock: this process's CPU time / 2, i.e. the time on two idle cores: the "
            f"machine was shared (training took {s['wall_seconds'] / 60:.1f} minutes of wall "
            "time). "
        )
        + f"After {s['train_seconds'] / 60:.1f} minutes of training ({s['steps']} steps, the "
        "first call's tracing included): "
        f"**{s['final_test_bits_per_dim']:.3f} bits/dim on the {s['final_eval_images']} MNIST "
        "test images**"
        + (
            f", after the batch-norm refresh the CLI runs before it saves ({s['refresh_steps']} "
            f"forward passes, {s['refresh_wall_seconds']:.0f} s; "
            f"{s['final_test_bits_per_dim_before_refresh']:.3f} before it)"
            if "refresh_steps" in s
            else ""
        )
        + f". The curve ({s['eval_images']} test images, fixed dequantisation noise, moving "
        "statistics as they were, evaluation time not counted) is in "
        "`benchmarks/results/quality_over_time.csv` and `.png`. Mean 1-minute load average "
        f"during training: {mean_load:.1f} on 2 cores"
        + (
            " (other work shared the machine, so this is a pessimistic clock)."
            if mean_load > 2.5
            else " (the benchmark alone)."
        ),
        "",
        "![bits/dim over time](results/quality_over_time.png)",
        "",
    ]


if __name__ == "__main__":
    results = json.loads((HERE / "results" / "benchmark.json").read_text())
    write_report(results["meta"], results["results"], HERE / "RESULTS.md")
