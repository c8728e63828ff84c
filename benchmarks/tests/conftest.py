"""The benchmarks' tests: quiet TensorFlow logs, reproducible randomness, `benchmarks` importable.

They test the measuring tools (FLOP counts, timing, tables, the runners at their smallest
settings), not speeds. Run them with `python -m pytest benchmarks/tests` (`-m "slow or not
slow"` for the runners' smoke runs too); they are not part of the package's default suite.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    tf.random.set_seed(0)
    np.random.seed(0)
