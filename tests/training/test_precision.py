"""choose_precision: mixed_bfloat16 for `auto` exactly where the hardware has fast bfloat16."""

import pytest

from tfp_realnvp.training.precision import choose_precision, cpuinfo_flags

NO_ACCELERATOR = {"gpu_capabilities": [], "tpus": 0}


@pytest.mark.parametrize(
    "hardware, policy, reason",
    [
        ({"cpu_flags": {"sse2", "avx512_bf16"}, **NO_ACCELERATOR}, "mixed_bfloat16", "AVX512-BF16"),
        ({"cpu_flags": {"amx_bf16", "amx_tile"}, **NO_ACCELERATOR}, "mixed_bfloat16", "AMX"),
        ({"cpu_flags": {"avx2", "avx512f"}, **NO_ACCELERATOR}, "float32", "neither AMX nor"),
        ({"cpu_flags": set(), "gpu_capabilities": [(8, 0)], "tpus": 0}, "mixed_bfloat16", "8.0"),
        ({"cpu_flags": {"avx512_bf16"}, "gpu_capabilities": [(7, 5)], "tpus": 0}, "float32", "7.5"),
        ({"cpu_flags": set(), "gpu_capabilities": [(9, 0), (7, 0)], "tpus": 0}, "float32", "7.0"),
        ({"cpu_flags": set(), "gpu_capabilities": [], "tpus": 8}, "mixed_bfloat16", "8 TPU"),
    ],
    ids=["avx512_bf16", "amx", "plain_cpu", "ampere", "turing", "mixed_gpus", "tpu"],
)
def test_auto_chooses_from_the_hardware(hardware, policy, reason):
    chosen, why = choose_precision("auto", **hardware)
    assert chosen == policy
    assert why.startswith("auto: ") and reason in why


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_forced_precision_ignores_the_hardware(precision):
    fast = {"cpu_flags": {"amx_bf16"}, "gpu_capabilities": [(9, 0)], "tpus": 1}
    assert choose_precision(precision, **fast) == (precision, "asked for")


def test_the_default_is_float32():
    assert choose_precision() == ("float32", "asked for")


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match=r"`precision` must be one of .*; got precision='fp16'"):
        choose_precision("fp16")


def test_cpuinfo_flags_are_read_from_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx512_bf16 amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert cpuinfo_flags(str(cpuinfo)) == {"fpu", "sse2", "avx512_bf16", "amx_bf16"}
    assert cpuinfo_flags(str(tmp_path / "missing")) == set()
    chosen, why = choose_precision("auto", cpu_flags=cpuinfo_flags(str(cpuinfo)), **NO_ACCELERATOR)
    assert chosen == "mixed_bfloat16" and "AMX, AVX512-BF16" in why
