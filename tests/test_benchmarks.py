"""The benchmark's measuring tools: FLOP counts, load-aware timing, the report. No timings."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import common, flows_tf, report  # noqa: E402


def test_conv_flops_counts_every_convolution_and_matmul():
    kernel_3x3 = tf.zeros([3, 3, 4, 8])
    kernel_1x1 = tf.zeros([1, 1, 8, 2])
    weights = tf.zeros([5, 7])

    @tf.function
    def f(x, v):
        h = tf.nn.conv2d(x, kernel_3x3, 1, "SAME")
        h = tf.nn.conv2d(h, kernel_1x1, 1, "SAME")
        return h, tf.matmul(v, weights)

    graph = f.get_concrete_function(tf.zeros([2, 6, 6, 4]), tf.zeros([2, 5]))
    expected = (2 * 6 * 6 * 8 * 3 * 3 * 4 + 2 * 6 * 6 * 2 * 8) + 2 * 7 * 5  # per image
    assert flows_tf.conv_flops(graph, batch_size=2) == expected


def test_realnvp_flops_match_the_formula():
    size = dict(num_res_blocks=1, num_filters=4, batch_size=2)
    dist, _ = flows_tf.realnvp(size)
    graph = tf.function(dist.log_prob).get_concrete_function(tf.zeros([2, 32, 32, 3]))

    def network(h, w, c, filters, extra):
        conv = lambda k, cin, cout: 2 * h * w * k * k * cin * cout  # noqa: E731
        blocks = size["num_res_blocks"] * (
            2 * conv(3, filters, filters) + conv(1, filters, filters)
        )
        return (
            conv(3, 2 * c + extra, filters)
            + conv(1, filters, filters)
            + blocks
            + conv(1, filters, 2 * c)
        )

    f = size["num_filters"]
    expected = (
        3 * network(32, 32, 3, f, 1)  # scale 1, checkerboard
        + 3 * network(16, 16, 12, 2 * f, 0)  # scale 1, channel-wise
        + 4 * network(16, 16, 6, 2 * f, 1)  # scale 2, checkerboard
    )
    assert flows_tf.conv_flops(graph, batch_size=2) == expected


def test_timed_calls_discards_disturbed_calls(monkeypatch):
    # A fake clock: the machine is busy (other processes) during the first two calls only.
    state = dict(call=0, wall=0.0, own=0.0, busy=0.0)

    class Times:
        def __init__(self, user):
            self.user, self.system, self.nice, self.irq, self.softirq, self.steal = (
                user,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
            )

    class Process:
        def cpu_times(self):
            return Times(state["own"])

    def fn():
        state["call"] += 1
        state["wall"] += 1.0 + state["call"]  # call k takes 1 + k seconds
        state["own"] += 1.0
        state["busy"] += 1.0 + (2.0 if state["call"] <= 3 else 0.0)  # warm-up + 2 disturbed

    monkeypatch.setattr(common.psutil, "Process", Process)
    monkeypatch.setattr(common.psutil, "cpu_times", lambda: Times(state["busy"]))
    monkeypatch.setattr(common.time, "perf_counter", lambda: state["wall"])
    result = common.timed_calls(fn, warmup=1, repeats=3, max_calls=6)
    assert result["calls"] == 5 and result["clean_calls"] == 3 and not result["disturbed"]
    assert result["median_s"] == 6.0  # clean calls 4, 5, 6 took 5, 6, 7 s
    assert [c["other_cores"] > 0.15 for c in result["all_calls"]] == [True] * 2 + [False] * 3


def _fake_result(model, variant, gflops, size="paper"):
    timing = dict(images_per_s=64.0, gflops=gflops, clean_calls=5, calls=5, first_call_s=1.0)
    return dict(
        model=model,
        variant=variant,
        size=size,
        parameters=100,
        flops_per_image=gflops / 64 * 1e9,
        train=dict(timing),
        log_prob=dict(timing),
        train_peak_rss_bytes=1.5 * 2**30,
    )


def test_report_rewrites_the_tables_and_keeps_the_hand_written_part(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)  # no side-by-side or other result files
    sgemm = dict(
        model="sgemm",
        peak_gflops=100.0,
        peak_bfloat16_gflops=400.0,
        tensorflow_2048=dict(gflops=100.0, clean_calls=10, calls=10, n=2048),
    )
    results = [
        sgemm,
        _fake_result("realnvp", "function", 80.0),
        _fake_result("realnvp", "mixed_bfloat16", 200.0),
        _fake_result("realnvp_torch", "eager", 50.0),
    ]
    meta = dict(started="t0", finished="t1", load=[dict(loadavg_1min=0.5)])
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Results\n\nHand-written reading.\n\n{report.MARKER}\n\nold table\n")
    report.write_report(meta, results, path)
    text = path.read_text()
    assert text.startswith("# Results\n\nHand-written reading.\n\n" + report.MARKER)
    assert "old table" not in text
    assert "| tensorflow | float32 | 2,048 | 100.0 | 10/10 |" in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if "| 80.0 |" in line}
    rows.update({line.split(" | ")[1]: line for line in text.splitlines() if "| 200.0 |" in line})
    # Each row's rate against the matmul peak of its own dtype: 80 of 100, 200 of 400.
    assert "| 80.0 | 80% |" in rows["tf.function"]
    assert "| 200.0 | 50% |" in rows["tf.function, mixed_bfloat16 networks"]
    assert "| Real NVP (PyTorch, same architecture) | eager | 100 | 0.78 | 64.0 | 64.0 |" in text
    assert "| finished | t1 |" in text


def test_side_by_side_summary_gives_ratios_per_round_and_shares_of_the_peak():
    from benchmarks import side_by_side

    times = {"log_prob": {"tf": [1.0, 2.0, 1.0], "torch": [2.0, 3.0, 4.0], "matmul": [1, 1, 2]}}
    contestants = dict(
        tf=dict(flops_per_image=1e9),
        torch=dict(flops_per_image=None),
        matmul=dict(flops_per_call=64e9),
    )
    row = side_by_side.summary(times, contestants, batch_size=32)["log_prob"]
    assert row["tf"]["images_per_s"] == 32.0 and row["tf"]["gflops"] == 32.0
    assert row["torch"]["speed_vs_first"] == dict(median=0.5, min=0.25, max=2 / 3)
    # tf ran at 32, 16, 32 GFLOP/s while the matmul ran at 64, 64, 32.
    assert row["tf"]["share_of_matmul"] == dict(median=0.5, min=0.25, max=1.0)
    assert "images_per_s" not in row["matmul"] and "speed_vs_first" not in row["matmul"]
    assert "share_of_matmul" not in row["torch"]


@pytest.mark.skipif(
    importlib.util.find_spec("normflows") is None, reason="normflows is a benchmark-only extra"
)
def test_torch_flops_count_the_glow_networks():
    import torch

    from benchmarks import flows_torch

    model = flows_torch.glow(8)
    pixels = torch.zeros((2, 3, 32, 32), dtype=torch.uint8)
    flops = flows_torch.conv_flops(
        model, lambda: flows_torch.log_prob(model, flows_torch.dequantise(pixels)), 2
    )
    # Each GlowBlock's network: 3x3 (C/2 -> 8), 1x1 (8 -> 8), 3x3 (8 -> C) at its resolution.
    level = lambda hw, c: 2 * hw * (9 * c // 2 * 8 + 8 * 8 + 9 * 8 * c)  # noqa: E731
    assert flops == 5 * level(16 * 16, 12) + 5 * level(8 * 8, 24)
    assert np.isfinite(flows_torch.log_prob(model, flows_torch.dequantise(pixels)).sum().item())


def test_results_file_is_valid_json_when_present():
    path = ROOT / "benchmarks" / "results" / "benchmark.json"
    if not path.exists():
        pytest.skip("no full benchmark run committed yet")
    data = json.loads(path.read_text())
    assert data["results"] and "meta" in data


def _copy_tf_weights(flow, model):
    """Copies a `RealNVPMultiScale`'s variables into the PyTorch peer, by the TF layer names."""
    import torch

    values = {v.name.split("/", 1)[1].split(":")[0]: v.numpy() for v in flow.variables}

    def assign(parameter, value):
        with torch.no_grad():
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)).reshape(parameter.shape))

    def conv(module, prefix):
        weights = module.parametrizations.weight
        assign(weights.original1, values[f"{prefix}/direction"].transpose(3, 2, 0, 1))
        assign(weights.original0, values[f"{prefix}/magnitude"])
        assign(module.bias, values[f"{prefix}/bias"])

    def norm(module, prefix):
        if module.affine:
            assign(module.weight, values[f"{prefix}/gamma"])
            assign(module.bias, values[f"{prefix}/beta"])
        assign(module.running_mean, values[f"{prefix}/moving_mean"])
        assign(module.running_var, values[f"{prefix}/moving_variance"])

    scale, index = model.flow, 0
    while scale is not None:
        kinds = [("checkerboard", scale.checkerboard), ("channel", scale.channel)]
        for kind, couplings in kinds:
            for i, coupling in enumerate(couplings):
                name = f"scale_{index}_{kind}_{i}"
                net, prefix = coupling.net, f"{name}/{name}_network"
                norm(net.input_norm, f"{prefix}/input_norm")
                norm(net.output_norm, f"{prefix}/output_norm")
                for layer in ("input_conv", "input_skip", "output_conv"):
                    conv(getattr(net, layer), f"{prefix}/{layer}")
                for k, (block, skip) in enumerate(zip(net.blocks, net.block_skips, strict=True)):
                    conv(skip, f"{prefix}/block_skip_{k}")
                    for part in ("conv_1", "conv_2"):
                        conv(getattr(block, part), f"{prefix}/block_{k}/{part}")
                    for part in ("norm_1", "norm_2"):
                        norm(getattr(block, part), f"{prefix}/block_{k}/{part}")
                assign(coupling.scale, values[f"{name}/log_scale/scale"])
                moments = f"{name}_batch_norm/moments"
                assign(coupling.moving_mean, values[f"{moments}/moving_mean"])
                assign(coupling.moving_variance, values[f"{moments}/moving_variance"])
        scale, index = scale.next, index + 1


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch: benchmark extra")
def test_torch_realnvp_is_the_same_function_as_the_package_flow():
    """With the TF flow's weights, the PyTorch peer gives the same log p(x): same architecture."""
    import torch
    from flow_cases import perturb

    import tfp_realnvp
    from benchmarks import flows_torch, realnvp_torch

    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 3], num_scales=2, num_res_blocks=1, num_filters=4)
    dist = flows_tf.tfd.TransformedDistribution(
        flows_tf.tfd.Sample(flows_tf.tfd.Normal(0.0, 1.0), [8, 8, 3]), flow
    )
    x = np.random.default_rng(1).uniform(0.01, 0.99, size=[6, 8, 8, 3]).astype(np.float32)
    perturb(flow)
    dist.log_prob(x, bijector_kwargs={"training": True})  # moves the moving statistics
    model = realnvp_torch.RealNVP((3, 8, 8), num_scales=2, num_filters=4, num_res_blocks=1)
    assert flows_torch.num_parameters(model) == flows_tf.num_parameters(dist)
    _copy_tf_weights(flow, model)
    x_torch = torch.from_numpy(x.transpose(0, 3, 1, 2))
    with torch.no_grad():
        for training in (False, True):
            model.train(training)
            expected = dist.log_prob(x, bijector_kwargs={"training": training}).numpy()
            # float32 sums over 192 dimensions: rounding of about 1e-5 in absolute terms
            np.testing.assert_allclose(
                model.log_prob(x_torch).numpy(), expected, rtol=1e-4, atol=1e-4
            )
        model.eval()  # and its sampling direction inverts it
        y = torch.logit(x_torch)
        np.testing.assert_allclose(model.flow.g(model.flow.f(y)[0]).numpy(), y.numpy(), atol=1e-4)


@pytest.mark.slow
def test_memory_stages_measures_the_model_as_fit_runs_it():
    import subprocess

    command = [sys.executable, str(ROOT / "benchmarks" / "memory_stages.py"), "--variant"]
    command += ["normal", "--size", "small", "--steps", "1", "--trainer", "model"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["trainer"] == "model" and len(result["step_seconds"]) == 1
    stages = result["stages"]
    assert stages["first_step"]["peak_rss_bytes"] > stages["built"]["rss_bytes"] > 0
