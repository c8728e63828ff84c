"""`tfp_realnvp.cli.strategy` and the data's per-worker parts, in this process (no cluster)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.cli import strategy
from tfp_realnvp.cli.errors import TrainingFailed
from tfp_realnvp.data import load


def batches(input_context=None, count=3):
    tf.random.set_seed(5)  # every worker shuffles alike
    dataset = load("digits", split="train", batch_size=8, input_context=input_context)
    return [batch.numpy() for batch in dataset.take(count)]


def test_each_worker_reads_its_part_of_every_global_batch():
    one_process = batches()
    parts = [
        batches(tf.distribute.InputContext(2, index, num_replicas_in_sync=2)) for index in (0, 1)
    ]
    for step, global_batch in enumerate(one_process):
        assert global_batch.shape == (8, 8, 8, 1)
        # Worker i holds the global batch's examples i, i + 2, ... (shuffle, then shard).
        np.testing.assert_array_equal(parts[0][step], global_batch[0::2])
        np.testing.assert_array_equal(parts[1][step], global_batch[1::2])


def test_the_global_batch_must_divide_among_the_replicas():
    with pytest.raises(ValueError, match="not divisible"):
        load(
            "digits",
            split="train",
            batch_size=9,
            input_context=tf.distribute.InputContext(2, 0, num_replicas_in_sync=2),
        )


def test_one_device_writes_the_log_dir_and_keeps_its_seed():
    default = tf.distribute.get_strategy()
    assert strategy.write_dir("runs/x", default) == "runs/x"
    assert not strategy.static_batches(default)
    assert strategy.seed("default", None) is None
    assert strategy.seed("multi_worker", None) == strategy.MULTI_WORKER_SEED
    assert strategy.seed("multi_worker", 7) == 7


def test_count_batches_counts_when_tensorflow_does_not_know():
    dataset = tf.data.Dataset.range(10).filter(lambda x: x % 3 > 0).batch(2)  # 6 items
    assert int(dataset.cardinality()) < 0
    assert strategy.count_batches(dataset) == 3
    assert strategy.count_batches(tf.data.Dataset.range(10).batch(4, drop_remainder=True)) == 2


@pytest.mark.parametrize(
    "tf_config",
    [
        "not json",
        json.dumps({"cluster": {"worker": ["a:1"]}}),  # no task
        json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}),
    ],
    ids=["not-json", "no-task", "index-outside-cluster"],
)
def test_a_bad_tf_config_is_named(tf_config, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(TrainingFailed, match=r"^TF_CONFIG must name the cluster and this task"):
        strategy.make_strategy("multi_worker")
