"""ml.metrics against hand calculations, brute force over tie orders, and other libraries (scipy's Mann-Whitney U)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, rankdata

from ml.metrics import (
    calibration_curve,
    classification_metrics,
    gain_curve,
    json_safe,
    regression_metrics,
    top_k_size,
)

# 20 customers listed from the highest score to the lowest; positives at ranks 1, 3, 4, 7 and 12.
HAND_Y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
HAND_SCORE = np.linspace(0.95, 0.0, 20)


def _shuffled(*arrays: np.ndarray, seed: int = 7) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(len(arrays[0]))
    return [a[perm] for a in arrays]


def test_hand_worked_twenty_customers() -> None:
    """5 positives of 20 (base rate 1/4). Top 5 % = 1 customer (a positive); top 10 % = 2 (one positive)."""
    y, score = _shuffled(HAND_Y, HAND_SCORE)  # input order must not matter
    m = classification_metrics(y, score, is_probability=True)
    assert m["n"] == 20 and m["positives"] == 5 and m["base_rate"] == pytest.approx(0.25)
    assert m["precision_5"] == pytest.approx(1.0)
    assert m["recall_5"] == pytest.approx(1 / 5)
    assert m["lift_5"] == pytest.approx(1.0 / 0.25)
    assert m["precision_10"] == pytest.approx(1 / 2)
    assert m["recall_10"] == pytest.approx(1 / 5)
    assert m["lift_10"] == pytest.approx(0.5 / 0.25)
    # average precision by hand: mean over positives of the precision at their rank
    assert m["pr_auc"] == pytest.approx(np.mean([1 / 1, 2 / 3, 3 / 4, 4 / 7, 5 / 12]))
    # ROC-AUC by hand: for each positive, the share of negatives ranked below it
    negatives_below = [15, 14, 14, 12, 8]  # positives at ranks 1, 3, 4, 7, 12 of 20 with 15 negatives
    assert m["roc_auc"] == pytest.approx(sum(negatives_below) / (5 * 15))
    assert m["brier"] == pytest.approx(float(np.mean((HAND_SCORE - HAND_Y) ** 2)))


def test_roc_auc_equals_mann_whitney_u_on_random_data_with_ties() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.normal(size=500) + 0.6 * y, 1)  # rounding creates many ties
    u = mannwhitneyu(score[y == 1], score[y == 0], alternative="two-sided").statistic
    m = classification_metrics(y, score, is_probability=False)
    assert m["roc_auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    assert m["brier"] is None  # not a probability


def test_top_k_uses_integer_ceiling() -> None:
    assert top_k_size(30, 10) == 3  # 0.1 * 30 = 3.0000000000000004 in floats: ceil would give 4
    assert top_k_size(20, 5) == 1
    assert top_k_size(21, 5) == 2
    assert top_k_size(0, 10) == 0


def _brute_force_precision(y: np.ndarray, score: np.ndarray, k: int) -> float:
    """Mean precision@k over every order of the tied customers (then take the first k by score)."""
    groups = [np.flatnonzero(score == s) for s in sorted(set(score), reverse=True)]
    hits = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranked = [i for order in orders for i in order]
        hits.append(y[ranked[:k]].sum() / k)
    return float(np.mean(hits))


def test_ties_at_the_boundary_average_over_tie_orders() -> None:
    """One positive alone at the top, then four tied customers (two positives) across the top-10 % boundary.

    Top 10 % of 20 = 2: the first slot holds the positive, the second one of the four tied customers, a positive
    with probability 2/4 — expected precision (1 + 1/2) / 2 = 0.75. Checked against brute force over all 24
    orders of the tie group.
    """
    score = np.array([0.9] + [0.5] * 4 + [0.1] * 15)
    y = np.array([1] + [1, 1, 0, 0] + [0] * 15)
    expected = _brute_force_precision(y[:5], score[:5], 2)  # the tail cannot enter the top 2
    assert expected == pytest.approx(0.75)
    m = classification_metrics(y, score, is_probability=True)
    assert m["precision_10"] == pytest.approx(expected)
    assert m["recall_10"] == pytest.approx(1.5 / 3)


@pytest.mark.parametrize("positives_first", [True, False], ids=["tied positives listed first", "listed last"])
def test_tie_handling_does_not_favour_positives(positives_first: bool) -> None:
    """A constant score carries no information: precision@k must equal the base rate and lift 1, whatever the
    input order. Seen to fail with a plain stable sort and first-k cut: with the positives listed first a
    constant score got precision@5 % = 1.0 and lift 4.
    """
    y = np.array([1] * 5 + [0] * 15)
    if not positives_first:
        y = y[::-1].copy()
    m = classification_metrics(y, np.zeros(20), is_probability=False)
    assert m["precision_5"] == pytest.approx(0.25)
    assert m["precision_10"] == pytest.approx(0.25)
    assert m["lift_5"] == pytest.approx(1.0)
    assert m["lift_10"] == pytest.approx(1.0)
    assert m["roc_auc"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("y", "defined", "undefined"),
    [
        pytest.param([], {"n": 0, "positives": 0}, "all", id="no customers"),
        pytest.param([0] * 10, {"precision_5": 0.0, "precision_10": 0.0},
                     ("roc_auc", "pr_auc", "recall_5", "recall_10", "lift_5", "lift_10"), id="negatives only"),
        pytest.param([1] * 10, {"precision_10": 1.0, "recall_10": 0.1, "lift_10": 1.0, "pr_auc": 1.0},
                     ("roc_auc",), id="positives only"),
    ],
)
def test_degenerate_input_gives_none_never_nan(y: list[int], defined: dict, undefined: object) -> None:
    y_arr = np.array(y, dtype=float)
    score = np.linspace(0, 1, y_arr.size)
    m = classification_metrics(y_arr, score, is_probability=True)
    json.dumps(m, allow_nan=False)  # raises on NaN/inf
    for key, value in defined.items():
        assert m[key] == pytest.approx(value), key
    names = [k for k in m if k not in ("n", "positives")] if undefined == "all" else undefined
    for key in names:
        assert m[key] is None, key


@pytest.mark.parametrize(
    ("y", "score", "is_probability", "message"),
    [
        ([0, 2], [0.1, 0.2], True, "0 or 1"),
        ([0, 1], [0.1], True, "aligned"),
        ([0, 1], [0.1, float("nan")], True, "NaN"),
        ([0, 1], [0.1, 1.5], True, r"\[0, 1\]"),
    ],
    ids=["label not binary", "misaligned", "NaN score", "probability above 1"],
)
def test_bad_input_is_rejected(y: list, score: list, is_probability: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(np.array(y), np.array(score), is_probability=is_probability)


def test_regression_hand_worked() -> None:
    """Ten customers; the top decile (1 customer) by prediction holds 100 of the 200 holdout value."""
    y = np.array([100.0, 0, 50, 0, 0, 10, 0, 0, 0, 40])
    pred = np.array([90.0, 5, 30, 1, 2, 20, 3, 4, 0.5, 10])
    y, pred = _shuffled(y, pred)
    m = regression_metrics(y, pred)
    assert m["n"] == 10 and m["total"] == pytest.approx(200)
    assert m["top_decile_capture"] == pytest.approx(100 / 200)
    assert m["mae"] == pytest.approx(np.abs(y - pred).sum() / 10)
    # Spearman = Pearson correlation of average ranks
    assert m["spearman"] == pytest.approx(np.corrcoef(rankdata(y), rankdata(pred))[0, 1])


def test_regression_top_decile_ties_are_averaged() -> None:
    """All ten predictions equal: the one "top" customer is any of them, expected capture 1/10 of the total."""
    y = np.array([200.0] + [0.0] * 9)
    m = regression_metrics(y, np.full(10, 5.0))
    assert m["top_decile_capture"] == pytest.approx(0.1)
    assert m["spearman"] is None  # constant prediction


@pytest.mark.parametrize("y", [[0.0, 0.0, 0.0], [10.0, -30.0, 5.0], []], ids=["zero total", "negative", "empty"])
def test_regression_capture_undefined_without_positive_total(y: list[float]) -> None:
    m = regression_metrics(np.array(y), np.arange(len(y), dtype=float))
    assert m["top_decile_capture"] is None
    json.dumps(m, allow_nan=False)


def test_gain_curve_matches_sorting_by_hand() -> None:
    y, score = _shuffled(HAND_Y, HAND_SCORE)
    curve = gain_curve(y, score, points=20)  # every customer is a point when n = points
    assert curve["share_targeted"] == pytest.approx([i / 20 for i in range(21)])
    ranked_y = [int(v) for _, v in sorted(zip(score, y, strict=True), reverse=True)]
    by_hand = [sum(ranked_y[:i]) / 5 for i in range(21)]
    assert curve["share_captured"] == pytest.approx(by_hand)


def test_gain_curve_of_a_constant_score_is_the_random_diagonal() -> None:
    y = np.array([1] * 7 + [0] * 93)
    curve = gain_curve(y, np.ones(100))
    assert curve["share_captured"] == pytest.approx(curve["share_targeted"])
    assert gain_curve(np.zeros(5), np.arange(5.0))["share_captured"] is None


def test_calibration_curve_quantile_bins_by_hand() -> None:
    p = np.array([0.1] * 5 + [0.9] * 5)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    curve = calibration_curve(y, p, bins=2)
    assert curve["strategy"] == "quantile"
    assert curve["mean_predicted"] == pytest.approx([0.1, 0.9])
    assert curve["fraction_positive"] == pytest.approx([0.2, 0.8])
    assert calibration_curve(np.array([]), np.array([]))["mean_predicted"] == []


def test_json_safe_turns_nan_and_numpy_into_json() -> None:
    out = json_safe({"a": np.float64("nan"), "b": np.int64(3), "c": (np.float32(0.5), math.inf), 4: np.array([1])})
    assert out == {"a": None, "b": 3, "c": [0.5, None], "4": [1]}
    json.dumps(out, allow_nan=False)
