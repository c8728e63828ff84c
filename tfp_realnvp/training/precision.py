"""Which precision the coupling networks train in: float32, or bfloat16 where it is fast.

    float32         everything in float32 (the paper; the default)
    mixed_bfloat16  the coupling networks in bfloat16 (Keras's 'mixed_bfloat16' policy), the
                    flow, log-determinants and batch-norm statistics in float32
    auto            mixed_bfloat16 where the hardware has fast bfloat16, float32 elsewhere

Fast bfloat16: a TPU; a GPU of compute capability 8.0 or more (Ampere and later); a CPU with
AMX (`amx_bf16`) or AVX512-BF16 (`avx512_bf16`) in /proc/cpuinfo's flags, where oneDNN runs
bfloat16 matrix products natively.
"""

import os

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
CPU_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}
MIN_GPU_CAPABILITY = (8, 0)


def choose_precision(precision="float32", *, cpu_flags=None, gpu_capabilities=None, tpus=None):
    """`(policy, reason)`: the precision to train in and a phrase saying why.

    `policy` is "float32" or "mixed_bfloat16". The hardware is read only for "auto"; pass
    `cpu_flags` (a set of /proc/cpuinfo flags), `gpu_capabilities` (a list of (major, minor))
    or `tpus` (a count) to decide for other hardware (the tests do).

    Raises:
      ValueError: `precision` is not one of PRECISIONS.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {list(PRECISIONS)}; got precision={precision!r}."
        )
    if precision != "auto":
        return precision, "asked for"
    fast, where = fast_bfloat16_hardware(cpu_flags, gpu_capabilities, tpus)
    if fast:
        return "mixed_bfloat16", f"auto: {where} has fast bfloat16"
    return "float32", f"auto: {where}"


def fast_bfloat16_hardware(cpu_flags=None, gpu_capabilities=None, tpus=None):
    """`(fast, where)`: whether the accelerator or CPU that trains has fast bfloat16, and what
    it is. Accelerators decide first (training runs there), then the CPU."""
    tpus = _tpu_count() if tpus is None else tpus
    if tpus:
        return True, f"{tpus} TPU core(s)"
    gpu_capabilities = _gpu_capabilities() if gpu_capabilities is None else gpu_capabilities
    if gpu_capabilities:
        slowest = min(tuple(c) for c in gpu_capabilities)
        version = f"{slowest[0]}.{slowest[1]}"
        if slowest >= MIN_GPU_CAPABILITY:
            return True, f"the GPU (compute capability {version})"
        return False, f"the GPU (compute capability {version}) has no fast bfloat16"
    cpu_flags = cpuinfo_flags() if cpu_flags is None else set(cpu_flags)
    found = [name for flag, name in CPU_FLAGS.items() if flag in cpu_flags]
    if found:
        return True, f"this CPU ({', '.join(found)})"
    return False, "this CPU has neither AMX nor AVX512-BF16"


def cpuinfo_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (a set of names) from /proc/cpuinfo; empty where unreadable."""
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.split())
    return set()


def _gpu_capabilities():
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability:
            capabilities.append(tuple(capability))
    return capabilities


def _tpu_count():
    import tensorflow as tf

    return len(tf.config.list_logical_devices("TPU"))
