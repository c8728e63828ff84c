"""Shared by the benchmark scripts: thread settings, load-aware timing, memory, FLOP units."""

import os
import resource
import statistics
import time

import psutil

# Two cores: one op at a time, each op on both cores (TF intra-op 2 / inter-op 1, torch 2).
THREADS = 2


def configure_threads(threads=THREADS, inter_op=1):
    """Sets TF's (and, if imported later, torch's) thread pools; returns what was set.

    `inter_op=None` leaves TF's inter-op pool at its default (as many threads as cores).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    if inter_op is not None:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    return dict(tf_intra_op=threads, tf_inter_op=inter_op or "default", torch_num_threads=threads)


def configure_torch_threads(threads=THREADS):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return dict(torch_num_threads=threads, torch_interop=1)


def load_snapshot():
    """System load now: 1-minute load average and CPU use over the last 0.5 s (percent)."""
    return dict(loadavg_1min=os.getloadavg()[0], cpu_percent=psutil.cpu_percent(interval=0.5))


def peak_rss_bytes():
    """This process's peak resident set size so far (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes():
    return psutil.Process().memory_info().rss


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


def wait_for_quiet(max_wait_s=600, threshold_percent=10.0, poll_s=15, log=print):
    """Sleeps until the machine's CPU use stays below `threshold_percent` for one poll."""
    start = time.time()
    while True:
        busy = psutil.cpu_percent(interval=poll_s)
        if busy <= threshold_percent:
            return dict(waited_s=time.time() - start, cpu_percent=busy, quiet=True)
        if time.time() - start > max_wait_s:
            return dict(waited_s=time.time() - start, cpu_percent=busy, quiet=False)
        log(f"machine busy ({busy:.0f}% CPU); waiting for a quiet machine ...")
