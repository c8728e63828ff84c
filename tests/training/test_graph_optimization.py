"""The model's step functions are optimised by Grappler in one round, without its memory pass."""

import numpy as np
import pytest
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

import tfp_realnvp
from tfp_realnvp.training import graph_optimization
from tfp_realnvp.training.graph_optimization import (
    one_round_graph_optimization,
    one_round_rewrite_options,
)

Rewriter = rewriter_config_pb2.RewriterConfig


def calling_rewrite_options():
    """The Grappler options this thread's function calls pass now."""
    serialized = context.context().function_call_options.config_proto_serialized
    return config_pb2.ConfigProto.FromString(serialized).graph_options.rewrite_options


def test_the_context_sets_one_round_and_no_memory_pass_then_restores():
    outside = calling_rewrite_options()
    with one_round_graph_optimization():
        inside = calling_rewrite_options()
    assert inside.meta_optimizer_iterations == Rewriter.ONE
    assert inside.memory_optimization == Rewriter.NO_MEM_OPT
    assert calling_rewrite_options() == outside
    inside.meta_optimizer_iterations = outside.meta_optimizer_iterations
    inside.memory_optimization = outside.memory_optimization
    assert inside == outside  # nothing else changed


def test_settings_given_explicitly_are_kept():
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.meta_optimizer_iterations = Rewriter.TWO
    config.graph_options.rewrite_options.memory_optimization = Rewriter.MANUAL
    rewrite = one_round_rewrite_options(config).graph_options.rewrite_options
    assert rewrite.meta_optimizer_iterations == Rewriter.TWO
    assert rewrite.memory_optimization == Rewriter.MANUAL


@pytest.mark.parametrize("cpu_only", [True, False], ids=["cpu_only", "with_an_accelerator"])
def test_fit_evaluate_and_predict_call_their_steps_within_the_context_on_cpus(
    monkeypatch, cpu_only
):
    """Applied only where it was measured: a machine whose TensorFlow sees no GPU or TPU."""
    calls = []
    monkeypatch.setattr(graph_optimization, "cpu_only", lambda: cpu_only)

    def recording(config):
        calls.append(config)
        return one_round_rewrite_options(config)

    monkeypatch.setattr(graph_optimization, "one_round_rewrite_options", recording)
    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 2], num_scales=1, num_res_blocks=0, num_filters=4)
    model = tfp_realnvp.RealNVPModel(flow)
    model.compile()
    images = np.random.default_rng(0).uniform(size=[8, 4, 4, 2]).astype("float32")
    for run in (
        lambda: model.fit(images, batch_size=8, epochs=1, verbose=0),
        lambda: model.evaluate(images, batch_size=8, verbose=0),
        lambda: model.predict(images, batch_size=8, verbose=0),
    ):
        before = len(calls)
        run()
        assert (len(calls) > before) == cpu_only
