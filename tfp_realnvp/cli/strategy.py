"""`train --strategy`: the tf.distribute strategy, who writes the run's files, each worker's data.

    default       one device: the first GPU, else the CPU
    mirrored      every GPU of this machine (MirroredStrategy)
    multi_worker  every GPU of several machines (MultiWorkerMirroredStrategy): each machine runs
                  the same command with its own TF_CONFIG; the log dir must be shared
    tpu           a Cloud TPU (TPUStrategy through TPUClusterResolver): set TPU_NAME

Under multi_worker the chief (the "chief" task, else worker 0) writes the log dir; the other
workers write into a temporary folder that is deleted when they end, as TensorFlow's multi-worker
Keras tutorial does (every worker still saves, since reading a variable may take all workers).
"""

import atexit
import json
import os
import shutil
import tempfile

from tfp_realnvp.cli.errors import TrainingFailed

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
HELP = (
    "tf.distribute strategy: default = one device; mirrored = every GPU of this machine; "
    "multi_worker = several machines, each running this command with the same flags, a shared "
    "--logdir and its own TF_CONFIG environment variable (--seed defaults to 0 there); "
    "tpu = a Cloud TPU named by the TPU_NAME environment variable ('local' on a TPU VM)"
)
# Under multi_worker every worker must shuffle alike (see `tfp_realnvp.data.load`).
MULTI_WORKER_SEED = 0


def make_strategy(name):
    """The `tf.distribute.Strategy` that `--strategy name` asks for; TrainingFailed if unusable.

    Call it before TensorFlow runs anything: MultiWorkerMirroredStrategy configures the
    collective ops at start-up.
    """
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy()
    return tf.distribute.get_strategy()


def _check_tf_config():
    text = os.environ.get("TF_CONFIG")
    example = (
        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
        '"task": {"type": "worker", "index": 0}}'
    )
    if not text:
        raise TrainingFailed(
            f"--strategy multi_worker needs the TF_CONFIG environment variable, e.g. {example}"
        )
    try:
        config = json.loads(text)
        task = config["task"]
        config["cluster"][task["type"]][task["index"]]
    except (ValueError, KeyError, IndexError, TypeError):
        raise TrainingFailed(
            f"TF_CONFIG must name the cluster and this task, e.g. {example}; got {text!r}"
        ) from None


def _tpu_strategy():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        reason = " ".join(str(error).split())
        raise TrainingFailed(
            f"--strategy tpu: no TPU found ({reason}); run on a Cloud TPU and set TPU_NAME "
            "to its name ('local' on a TPU VM)"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def seed(strategy_name, seed):
    """The seed of weights and data order: --seed, or a fixed one where workers must agree."""
    if seed is None and strategy_name == "multi_worker":
        return MULTI_WORKER_SEED
    return seed


def static_batches(strategy):
    """Whether every step must see full batches of the same shape: on TPUs (XLA compiles one
    shape) and with several workers (each takes part in every step: none may run out early)."""
    import tensorflow as tf

    return isinstance(
        strategy, (tf.distribute.TPUStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    )


def count_batches(batches):
    """The number of batches of a finite `tf.data.Dataset` (counted if TF does not know it)."""
    count = int(batches.cardinality())
    if count >= 0:
        return count
    return int(batches.reduce(0, lambda count, _: count + 1))


def write_dir(logdir, strategy):
    """Where this process writes the run's files: `logdir` on the chief, else a temporary dir."""
    if strategy.extended.should_checkpoint:
        return logdir
    directory = tempfile.mkdtemp(prefix="tfp_realnvp_worker_")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def distributed_batches(strategy, make_batches, repeat):
    """The batches of `make_batches(input_context)`, each worker reading its own part.

    Under MultiWorkerMirroredStrategy `make_batches` runs on every worker with a
    `tf.distribute.InputContext` and returns that worker's part in per-replica batches (see
    `tfp_realnvp.data.load(input_context=...)`); otherwise it gets None and returns global
    batches, which Keras splits across the replicas. `repeat`: loop over the data without end
    (epochs of a fixed number of steps).
    """
    import tensorflow as tf

    def batches(input_context):
        dataset = make_batches(input_context)
        return dataset.repeat() if repeat else dataset

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return strategy.distribute_datasets_from_function(batches)
    return batches(None)
