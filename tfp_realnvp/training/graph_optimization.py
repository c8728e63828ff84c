"""How Grappler optimises a step function on a CPU: its default passes, once, without the
memory optimizer. Measured on CPUs only, so applied only where TensorFlow sees no GPU or TPU."""

import contextlib

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

# Private: TF's per-thread function call options (see COMPATIBILITY.md; tests/test_private_apis.py).
from tensorflow.python.eager import context

_Rewriter = rewriter_config_pb2.RewriterConfig


def one_round_rewrite_options(config):
    """Sets `config`'s (a `tf.compat.v1.ConfigProto`) Grappler options to the training step's.

    Grappler's default passes (the remapper's fusions of convolution, bias and activation,
    constant folding, arithmetic and dependency optimisation, ...) run in one round instead of
    two, and the memory optimizer is off: its swapping and scheduling heuristics are for GPU
    memory, and on the paper's CIFAR-10 step it took 2.2 s of the first call. Each pass costs
    time in proportion to the graph's size, and the second round found little to change: the
    steady step is the same (benchmarks/RESULTS.md, the training step). Options the user set
    explicitly keep the user's setting.
    """
    rewrite = config.graph_options.rewrite_options
    if rewrite.memory_optimization == _Rewriter.DEFAULT_MEM_OPT:
        rewrite.memory_optimization = _Rewriter.NO_MEM_OPT
    if rewrite.meta_optimizer_iterations == _Rewriter.DEFAULT_NUM_ITERS:
        rewrite.meta_optimizer_iterations = _Rewriter.ONE
    return config


@contextlib.contextmanager
def one_round_graph_optimization():
    """Within it, this thread's `tf.function` calls use `one_round_rewrite_options`.

    TF passes its context's `ConfigProto` with every function call and optimises a function
    once per distinct config, so a function always called within this context is optimised
    once, this way; other functions and other threads are not affected.
    """
    eager_context = context.context()
    saved = eager_context.function_call_options
    config = config_pb2.ConfigProto.FromString(saved.config_proto_serialized)
    eager_context.function_call_options = context.FunctionCallOptions(
        executor_type=saved.executor_type, config_proto=one_round_rewrite_options(config)
    )
    try:
        yield
    finally:
        eager_context.function_call_options = saved


def cpu_only():
    """Whether TensorFlow sees no accelerator (GPU or TPU): where the tuning was measured."""
    return not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def with_one_round_graph_optimization(function):
    """`function`, called within `one_round_graph_optimization()` on a machine that is
    `cpu_only()`; `function` itself elsewhere (TF's default passes, memory optimizer on)."""
    if not cpu_only():
        return function

    def optimised_once(*args, **kwargs):
        with one_round_graph_optimization():
            return function(*args, **kwargs)

    return optimised_once
