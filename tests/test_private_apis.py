"""The private TFP and Keras APIs listed in COMPATIBILITY.md are still there, as used."""

import inspect

import keras
import pytest
import tensorflow as tf


def _missing(name):
    return f"private API {name} changed or is gone: see COMPATIBILITY.md and replace it"


def test_tfp_bijector_cache_with_greedy_attributes():
    try:
        from tensorflow_probability.python.internal import cache_util

        parameters = inspect.signature(cache_util.BijectorCacheWithGreedyAttrs).parameters
    except (ImportError, AttributeError):
        pytest.fail(_missing("tensorflow_probability...cache_util.BijectorCacheWithGreedyAttrs"))
    assert {"forward_name", "inverse_name"} <= set(parameters), _missing(
        "BijectorCacheWithGreedyAttrs(forward_name=, inverse_name=)"
    )


def test_tf_module_flatten_with_a_predicate():
    module = tf.Module()
    module.layer = keras.layers.Dense(1)
    flatten = getattr(module, "_flatten", None)
    assert flatten is not None, _missing("tf.Module._flatten")
    found = list(flatten(predicate=lambda value: isinstance(value, keras.layers.Layer)))
    assert found == [module.layer], _missing("tf.Module._flatten(predicate=...)")


def test_keras_tensorboard_counts_batches_in_global_train_batch():
    source = inspect.getsource(keras.callbacks.TensorBoard)
    assert "self._global_train_batch += 1" in source, _missing(
        "keras.callbacks.TensorBoard._global_train_batch"
    )


def test_keras_optimizer_apply_hooks():
    """`FusedAdam` replaces the clipping and the update that `Optimizer.apply` delegates, and
    finds Adam's slots as Keras keeps them."""
    for name, arguments in (
        ("_backend_apply_gradients", ["grads", "trainable_variables"]),
        ("_clip_gradients", ["grads"]),
        ("_backend_update_step", ["grads", "trainable_variables", "learning_rate"]),
        ("_get_variable_index", ["variable"]),
        ("_all_reduce_sum_gradients", ["grads_and_vars"]),
    ):
        method = getattr(keras.optimizers.Adam, name, None)
        assert method is not None, _missing(f"keras Optimizer.{name}")
        parameters = list(inspect.signature(method).parameters)[1:]
        assert parameters == arguments, _missing(f"keras Optimizer.{name}({', '.join(arguments)})")
    source = inspect.getsource(keras.optimizers.Adam.apply)
    update = source.find("self._backend_apply_gradients(grads, trainable_variables)")
    count = source.find("self._iterations.assign_add(1)")
    assert 0 <= update < count, _missing(
        "keras Optimizer.apply: _backend_apply_gradients, then _iterations.assign_add(1)"
    )
    source = inspect.getsource(keras.optimizers.Adam._backend_apply_gradients)
    clip, step = source.find("self._clip_gradients(grads)"), source.find("_backend_update_step(")
    assert 0 <= clip < step, _missing(
        "keras Optimizer._backend_apply_gradients: _clip_gradients, then _backend_update_step"
    )
    adam = keras.optimizers.Adam()
    adam.build([keras.Variable(tf.zeros([2]))])
    assert len(adam._momentums) == len(adam._velocities) == 1, _missing(
        "keras Adam._momentums and Adam._velocities"
    )


def test_tf_distribute_merge_call_helpers():
    """`FusedAdam` and `SkipNonFiniteSteps` take merge_call where a strategy needs it, as Keras."""
    for module, name in (
        ("interim", "maybe_merge_call"),
        (None, "strategy_supports_no_merge_call"),
    ):
        found = tf.__internal__.distribute
        found = getattr(found, module) if module else found
        path = ".".join(filter(None, ("tf.__internal__.distribute", module, name)))
        assert callable(getattr(found, name, None)), _missing(path)


def test_tf_per_thread_function_call_options():
    """`graph_optimization.py` replaces the options a thread's function calls pass, and TF
    runs each call with them: here a placement that only these options refuse."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    @tf.function
    def square_on_a_missing_device(x):
        with tf.device("/device:CPU:99"):  # no machine has it: soft placement ignores it
            return x * x

    eager_context = context.context()
    saved = getattr(eager_context, "function_call_options", None)
    assert isinstance(saved, getattr(context, "FunctionCallOptions", ())), _missing(
        "tensorflow.python.eager.context.context().function_call_options"
    )
    config = config_pb2.ConfigProto.FromString(saved.config_proto_serialized)
    config.allow_soft_placement = False
    eager_context.function_call_options = context.FunctionCallOptions(
        executor_type=saved.executor_type, config_proto=config
    )
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match="CPU:99"):
            square_on_a_missing_device(tf.constant(2.0))
    finally:
        eager_context.function_call_options = saved
    assert float(square_on_a_missing_device(tf.constant(3.0))) == 9.0
