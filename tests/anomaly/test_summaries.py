"""AUROC, AUPR and FPR at 95% TPR: hand-built sets and brute-force counts."""

import numpy as np
import pytest

from tfp_realnvp.anomaly import aupr, auroc, fpr_at_tpr, roc_curve, summarize

RNG = np.random.default_rng(0)


def test_identical_sets_are_chance():
    scores = RNG.normal(size=200)
    assert auroc(scores, scores) == pytest.approx(0.5)


def test_separable_sets_are_perfect_and_reversed_sets_are_zero():
    low, high = RNG.uniform(0, 1, 50), RNG.uniform(2, 3, 80)
    assert summarize(low, high) == {"auroc": 1.0, "aupr": 1.0, "fpr_at_95_tpr": 0.0}
    assert auroc(high, low) == 0.0
    assert fpr_at_tpr(high, low) == 1.0


def test_auroc_is_the_probability_that_an_anomaly_scores_higher():
    in_scores, out_scores = RNG.integers(0, 5, 60), RNG.integers(1, 7, 40)  # with ties
    pairs = out_scores[:, None] - in_scores[None, :]
    expected = np.mean(pairs > 0) + 0.5 * np.mean(pairs == 0)
    assert auroc(in_scores, out_scores) == pytest.approx(expected)


def test_fpr_at_tpr_is_the_in_distribution_fraction_above_the_strictest_threshold():
    in_scores, out_scores = RNG.normal(0, 1, 300), RNG.normal(1.5, 1, 200)
    for tpr in (0.5, 0.9, 0.95):
        # The highest threshold t that flags (score >= t) at least tpr of the anomalies.
        threshold = max(t for t in out_scores if np.mean(out_scores >= t) >= tpr)
        expected = np.mean(in_scores >= threshold)
        assert fpr_at_tpr(in_scores, out_scores, tpr) == pytest.approx(expected)


def test_aupr_is_the_average_precision_over_the_anomalies():
    in_scores, out_scores = np.array([0.1, 0.4, 0.35]), np.array([0.8, 0.3])
    # Ranked: 0.8 (anomaly: precision 1/1), 0.4, 0.35, 0.3 (anomaly: precision 2/4).
    assert aupr(in_scores, out_scores) == pytest.approx((1 + 0.5) / 2)


def test_roc_curve_runs_from_origin_to_one_one():
    fpr, tpr = roc_curve(RNG.normal(size=30), RNG.normal(size=20))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


@pytest.mark.parametrize(
    "in_scores, out_scores, message",
    [
        ([], [1.0], r"`in_scores` must be a non-empty 1-D array; got shape \(0,\)"),
        ([1.0], [[1.0]], r"`out_scores` must be a non-empty 1-D array; got shape \(1, 1\)"),
        ([1.0, np.nan], [1.0], r"`in_scores` must be finite"),
    ],
)
def test_bad_scores_are_named(in_scores, out_scores, message):
    with pytest.raises(ValueError, match=message):
        auroc(in_scores, out_scores)


@pytest.mark.parametrize("tpr", [0.0, 1.5, True])
def test_bad_tpr_is_named(tpr):
    with pytest.raises(ValueError, match=r"`tpr` must be a number in \(0, 1\]; got"):
        fpr_at_tpr([0.0], [1.0], tpr)
