"""TensorFlow's start-up, without the lines its C++ runtime writes to the terminal.

Importing TensorFlow and initialising its devices print notices (oneDNN, CUDA drivers, a
failed `cuInit` on machines without a GPU) that `TF_CPP_MIN_LOG_LEVEL` no longer silences:
they are written before TensorFlow reads it. The command line starts TensorFlow with
standard error held back in a temporary file, and shows what was held only if the start-up
fails. A user who set `TF_CPP_MIN_LOG_LEVEL`, or runs `train --verbose 2`, sees everything.
"""

import contextlib
import os
import sys
import tempfile

# Strategies that must configure TensorFlow before its devices are initialised.
_STRATEGIES_THAT_START_TENSORFLOW = ("multi_worker", "tpu")


def wants_start_up_lines(args):
    """Whether the user asked to see TensorFlow's start-up lines."""
    return "TF_CPP_MIN_LOG_LEVEL" in os.environ or getattr(args, "verbose", 1) == 2


@contextlib.contextmanager
def held_back_stderr():
    """Within it, whatever the process writes to standard error (C++ included) is held in a
    temporary file; it is written out after all if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow(args):
    """Imports TensorFlow, TFP and Keras, and initialises the devices where the command's
    strategy allows it, quietly unless `wants_start_up_lines(args)`."""
    if wants_start_up_lines(args):
        return
    # Later C++ notices (not warnings or errors) stay quiet too.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
    with held_back_stderr():
        import keras  # noqa: F401
        import tensorflow as tf
        import tensorflow_probability  # noqa: F401

        if getattr(args, "strategy", None) not in _STRATEGIES_THAT_START_TENSORFLOW:
            tf.config.list_logical_devices()
