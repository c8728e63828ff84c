"""How well a score separates out-of-distribution inputs: AUROC, AUPR, FPR at 95% TPR.

Out-of-distribution inputs are the positive class and a higher score means "more anomalous",
the convention of every score in ``tfp_realnvp.anomaly``. The metrics are scikit-learn's.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics

DEFAULT_TPR = 0.95


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the ROC curve: P(score(x_out) > score(x_in)), ties counting one half.

    0.5 is chance, 1.0 a perfect separation, below 0.5 a score that ranks the wrong way (raw
    bits/dim on simple out-of-distribution inputs).
    """
    return float(metrics.roc_auc_score(*_labelled(in_scores, out_scores)))


def aupr(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the precision-recall curve with out-of-distribution inputs as positives
    (scikit-learn's average precision; chance is the fraction of out-of-distribution inputs)."""
    return float(metrics.average_precision_score(*_labelled(in_scores, out_scores)))


def fpr_at_tpr(in_scores: np.ndarray, out_scores: np.ndarray, tpr: float = DEFAULT_TPR) -> float:
    """The fraction of in-distribution inputs flagged when the threshold flags a fraction
    ``tpr`` of the out-of-distribution ones: the false-positive rate at ``tpr`` (0.95) recall.
    Lower is better; 0 is a perfect separation."""
    if isinstance(tpr, bool) or not isinstance(tpr, (int, float)) or not 0 < tpr <= 1:
        raise ValueError(f"`tpr` must be a number in (0, 1]; got {tpr!r}.")
    false_positive, true_positive, _ = metrics.roc_curve(
        *_labelled(in_scores, out_scores), drop_intermediate=False
    )
    # The lowest threshold's point comes last; the first point reaching `tpr` is the strictest.
    return float(false_positive[np.argmax(true_positive >= tpr)])


def roc_curve(in_scores: np.ndarray, out_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) of every threshold, for a plot."""
    false_positive, true_positive, _ = metrics.roc_curve(*_labelled(in_scores, out_scores))
    return false_positive, true_positive


def summarize(in_scores: np.ndarray, out_scores: np.ndarray) -> dict[str, float]:
    """{"auroc", "aupr", "fpr_at_95_tpr"} of one score on one pair of sets."""
    return {
        "auroc": auroc(in_scores, out_scores),
        "aupr": aupr(in_scores, out_scores),
        "fpr_at_95_tpr": fpr_at_tpr(in_scores, out_scores),
    }


def _labelled(in_scores: np.ndarray, out_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) for scikit-learn: 0 for in-distribution, 1 for out-of-distribution."""
    checked = []
    for name, scores in (("in_scores", in_scores), ("out_scores", out_scores)):
        scores = np.asarray(scores, np.float64)
        if scores.ndim != 1 or scores.size == 0:
            raise ValueError(f"`{name}` must be a non-empty 1-D array; got shape {scores.shape}.")
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"`{name}` must be finite; got NaN or infinite values.")
        checked.append(scores)
    labels = np.concatenate([np.zeros(len(checked[0])), np.ones(len(checked[1]))])
    return labels, np.concatenate(checked)
