"""The typicality test: is a batch of inputs in the model's typical set?"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from tfp_realnvp.data.loader import check_positive_int

DEFAULT_QUANTILE = 0.99
DEFAULT_NUM_BOOTSTRAP = 1000


@dataclasses.dataclass(frozen=True)
class TypicalityTest:
    """Nalisnick et al.'s goodness-of-fit test of a batch of M inputs against the typical set.

        epsilon(x_1..M) = | 1/M sum_m bits(x_m) - H |

    bits(x) = -log2 p(x) / D (bits/dim), H the model's entropy estimated as the mean bits/dim of
    held-out training data. The batch is rejected (out of distribution) when epsilon exceeds
    ``threshold``, the ``quantile`` (0.99) of epsilon over bootstrap batches: M inputs drawn with
    replacement from in-distribution data. Both tails count: a batch *more* likely than typical
    (the simple inputs that fool bits/dim alone) is rejected as well as a less likely one.
    In bits/dim rather than nats: the same test, divided by D ln 2.

    Works on batches, not single inputs (M = 1 is a two-sided likelihood test, rarely enough).

    Reference: Nalisnick et al., "Detecting Out-of-Distribution Inputs to Deep Generative Models
    Using Typicality", 2019, https://arxiv.org/abs/1906.02994 (Algorithm 1).

    Attributes:
      entropy: H in bits/dim.
      threshold: epsilon_alpha^M in bits/dim.
      batch_size: M.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> test = TypicalityTest.fit(rng.normal(3, 0.2, 500), rng.normal(3, 0.2, 500), 10)
      >>> bool(test.rejects(np.full(10, 2.0))[0]), bool(test.rejects(np.full(10, 3.0))[0])
      (True, False)
    """

    entropy: float
    threshold: float
    batch_size: int

    @classmethod
    def fit(
        cls,
        entropy_bits_per_dim: np.ndarray,
        bootstrap_bits_per_dim: np.ndarray,
        batch_size: int,
        *,
        quantile: float = DEFAULT_QUANTILE,
        num_bootstrap: int = DEFAULT_NUM_BOOTSTRAP,
        seed: int | np.random.Generator | None = 0,
    ) -> TypicalityTest:
        """The test from in-distribution bits/dim (Algorithm 1's two held-out sets).

        Args:
          entropy_bits_per_dim: [N] bits/dim of training data: H is their mean.
          bootstrap_bits_per_dim: [N'] bits/dim of other in-distribution data (validation):
            ``num_bootstrap`` batches of ``batch_size`` are drawn from them with replacement.
            The same array as ``entropy_bits_per_dim`` is allowed, if fewer data are at hand.
          batch_size: M, a positive integer.
          quantile: 1 - alpha, in (0, 1): the in-distribution batches' rejection rate is alpha.
          num_bootstrap: K, the bootstrap batches, a positive integer.
          seed: of the bootstrap draws (``np.random.default_rng``).
        """
        entropy_bits = _checked_bits("entropy_bits_per_dim", entropy_bits_per_dim)
        bootstrap_bits = _checked_bits("bootstrap_bits_per_dim", bootstrap_bits_per_dim)
        batch_size = check_positive_int("batch_size", batch_size)
        num_bootstrap = check_positive_int("num_bootstrap", num_bootstrap)
        if isinstance(quantile, bool) or not isinstance(quantile, numbers.Real):
            raise ValueError(f"`quantile` must be a number in (0, 1); got {quantile!r}.")
        if not 0 < quantile < 1:
            raise ValueError(f"`quantile` must be a number in (0, 1); got {quantile!r}.")
        entropy = float(np.mean(entropy_bits))
        rng = np.random.default_rng(seed)
        draws = rng.choice(bootstrap_bits, size=(num_bootstrap, batch_size), replace=True)
        epsilons = np.abs(draws.mean(axis=1) - entropy)
        return cls(entropy, float(np.quantile(epsilons, quantile)), batch_size)

    def statistic(self, bits_per_dim: np.ndarray) -> np.ndarray:
        """epsilon of each batch of M consecutive inputs: bits/dim [N] -> [N // M].

        An incomplete last batch is left out: the threshold holds for batches of M.
        """
        bits = _checked_bits("bits_per_dim", bits_per_dim, allow_empty=True)
        batches = bits[: len(bits) // self.batch_size * self.batch_size]
        means = batches.reshape(-1, self.batch_size).mean(axis=1)
        return np.abs(means - self.entropy)

    def rejects(self, bits_per_dim: np.ndarray) -> np.ndarray:
        """Whether each batch of M consecutive inputs is out of distribution: [N] -> [N // M]."""
        return self.statistic(bits_per_dim) > self.threshold


def _checked_bits(name: str, values: np.ndarray, allow_empty: bool = False) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or not (allow_empty or values.size):
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of bits/dim; got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"`{name}` must be finite; got {np.sum(~np.isfinite(values))} values "
            "that are NaN or infinite."
        )
    return values
