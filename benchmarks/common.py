"""Shared by the runners: sizes, thread settings, load-aware timing, memory, the machine, and
running one measurement in a process of its own."""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import psutil

# Two cores: one op at a time, each op on both cores (TF intra-op 2 / inter-op 1, torch 2).
THREADS = 2
# The benchmark flows: 2 scales on 32x32x3 images. PAPER is the paper's CIFAR-10 model; TINY
# only shows that a runner works (seconds).
SIZES = {
    "tiny": dict(num_res_blocks=0, num_filters=4, batch_size=4),
    "small": dict(num_res_blocks=2, num_filters=32, batch_size=32),
    "paper": dict(num_res_blocks=8, num_filters=64, batch_size=64),
}
TRAINING_FLOPS_FACTOR = 3  # forward + backward ~ 3x the forward's FLOPs


def matching_width(parameters_of_width, target, multiple=8):
    """The network width (a multiple of `multiple`) whose model has about `target` parameters.

    `parameters_of_width(width)` counts a model's parameters; the count is quadratic in the
    width, so three widths fit it exactly. A target below the count at width `multiple` gets
    `multiple`.
    """
    import numpy as np

    widths = [128, 256, 512]
    a, b, c = np.polyfit(widths, [parameters_of_width(w) for w in widths], 2)
    discriminant = b * b - 4 * a * (c - target)
    root = (-b + np.sqrt(max(discriminant, 0.0))) / (2 * a)
    return max(multiple, int(round(root / multiple) * multiple))


def configure_threads(threads=THREADS, inter_op=1):
    """Sets TF's thread pools; returns what was set.

    `inter_op=None` leaves TF's inter-op pool at its default (as many threads as cores).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    if inter_op is not None:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    return dict(tf_intra_op=threads, tf_inter_op=inter_op or "default")


def configure_torch_threads(threads=THREADS):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return dict(torch_num_threads=threads, torch_interop=1)


def machine():
    """The CPU model, cores and memory of this machine, for the record of a result."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1] for line in cpuinfo if line.startswith("model name")]
        cpu = names[0].strip() if names else cpu
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return dict(cpu=cpu, cores=os.cpu_count(), memory_gib=round(memory / 2**30))


def load_snapshot():
    """System load now: 1-minute load average and CPU use over the last 0.5 s (percent)."""
    return dict(loadavg_1min=os.getloadavg()[0], cpu_percent=psutil.cpu_percent(interval=0.5))


def peak_rss_bytes():
    """This process's peak resident set size so far (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_status():
    """This process's resident memory now and its high-water mark (Linux), in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return dict(rss_bytes=fields["VmRSS"], peak_rss_bytes=fields["VmHWM"])


def reset_peak_rss():
    """Sets the high-water mark to the current RSS (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _busy_seconds(times):
    return times.user + times.nice + times.system + times.irq + times.softirq + times.steal


def timed_calls(fn, *, warmup=1, repeats=5, max_calls=None, other_cpu_limit=0.15):
    """Times `fn()` after `warmup` calls; discards calls during which other processes used CPU.

    For each call: wall time, this process's CPU time (all its threads), and the whole
    machine's busy CPU time (psutil). `other` = machine busy - process CPU, in cores; a call is
    kept when other <= `other_cpu_limit` cores on average. Calls continue until `repeats` clean
    ones or `max_calls` (default 2 * repeats) in all; the median is over the clean calls, or
    over all calls (flagged `disturbed`) when fewer than `repeats` were clean.
    """
    process = psutil.Process()
    for _ in range(warmup):
        fn()
    max_calls = max_calls or 2 * repeats
    calls = []
    while len(calls) < max_calls:
        cpu0, sys0, wall0 = process.cpu_times(), psutil.cpu_times(), time.perf_counter()
        fn()
        wall = time.perf_counter() - wall0
        cpu1, sys1 = process.cpu_times(), psutil.cpu_times()
        own = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        busy = _busy_seconds(sys1) - _busy_seconds(sys0)
        other = max(0.0, busy - own) / wall
        calls.append(dict(wall=wall, cpu=own, cores_used=own / wall, other_cores=other))
        clean = [c for c in calls if c["other_cores"] <= other_cpu_limit]
        if len(clean) >= repeats:
            break
    clean = [c for c in calls if c["other_cores"] <= other_cpu_limit]
    used = clean if len(clean) >= repeats else calls
    return dict(
        median_s=statistics.median(c["wall"] for c in used),
        median_cpu_s=statistics.median(c["cpu"] for c in used),
        min_s=min(c["wall"] for c in used),
        calls=len(calls),
        clean_calls=len(clean),
        disturbed=len(clean) < repeats,
        median_cores_used=statistics.median(c["cores_used"] for c in used),
        max_other_cores=max(c["other_cores"] for c in calls),
        all_calls=calls,
    )


def print_result(result):
    """How a measurement in its own process hands its result back: one `RESULT {json}` line."""
    print("RESULT " + json.dumps(result), flush=True)


def run_in_process(arguments, options, *, timeout_s=3600, environment=None, log=print):
    """Runs `python *arguments --key value ...` in a fresh process (`--key` alone for True);
    the `RESULT` line it printed, parsed.

    A fresh process per measurement: TensorFlow caches traced graphs and settings, and peak
    memory is then the measurement's own. A failure or a timeout is returned as
    `dict(options, error=...)`, so that one failed run does not stop a comparison.
    """
    command = [sys.executable, *map(str, arguments)]
    for key, value in options.items():
        flag = f"--{key.replace('_', '-')}"
        command += [flag] if value is True else [flag, str(value)]
    log(" ".join(command[1:]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(environment or {})}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return dict(options, error=f"timed out after {timeout_s} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        log(f"  failed (exit {done.returncode}): {' | '.join(tail)}")
        return dict(options, error=" | ".join(tail))
    result = json.loads(lines[-1][len("RESULT ") :])
    log(f"  done in {time.perf_counter() - start:.0f} s")
    return result
