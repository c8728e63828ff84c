"""The benchmarks' flows: FLOP counts, and the PyTorch peer is the same function as the flow."""

import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import flows_tf


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

    import tfp_realnvp
    from benchmarks import flows_torch, realnvp_torch

    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 3], num_scales=2, num_res_blocks=1, num_filters=4)
    dist = flows_tf.tfd.TransformedDistribution(
        flows_tf.tfd.Sample(flows_tf.tfd.Normal(0.0, 1.0), [8, 8, 3]), flow
    )
    x = np.random.default_rng(1).uniform(0.01, 0.99, size=[6, 8, 8, 3]).astype(np.float32)
    rng = np.random.default_rng(0)  # weights away from their (partly zero) initial values
    for variable in flow.trainable_variables:
        variable.assign_add(0.1 * rng.standard_normal(variable.shape).astype("float32"))
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
