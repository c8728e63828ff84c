"""The flow as an out-of-distribution detector: per-image scores, the typicality test for
batches, and the summaries that say how well a score separates two sets.

>>> scores = score_batches(model, held_out, methods=("bits_per_dim", "input_complexity"))
... # doctest: +SKIP
>>> summarize(scores_in["input_complexity"], scores_out["input_complexity"])  # doctest: +SKIP
{'auroc': 0.97, 'aupr': 0.96, 'fpr_at_95_tpr': 0.12}

Every score is in bits/dim and higher means more anomalous. Files: `scores` (bits/dim, input
complexity, likelihood ratio), `typicality` (Nalisnick et al.'s batch test), `summaries`
(AUROC, AUPR, FPR at 95% TPR). See the "Anomaly detection" docs page for which to use when.
"""

from tfp_realnvp.anomaly.scores import (
    METHODS,
    input_complexity,
    likelihood_ratio,
    png_bits_per_dim,
    score_batches,
    score_images,
)
from tfp_realnvp.anomaly.summaries import aupr, auroc, fpr_at_tpr, roc_curve, summarize
from tfp_realnvp.anomaly.typicality import TypicalityTest

__all__ = [
    "METHODS",
    "TypicalityTest",
    "aupr",
    "auroc",
    "fpr_at_tpr",
    "input_complexity",
    "likelihood_ratio",
    "png_bits_per_dim",
    "roc_curve",
    "score_batches",
    "score_images",
    "summarize",
]
