"""Evaluation metrics for the churn, propensity and CLV models and their baselines: pure numpy/scipy/scikit-learn.

Every function takes aligned 1-d arrays (one value per customer of the held-out window) and returns plain Python
values: ``float``/``int`` or ``None`` where a metric is undefined (one class only, no customers, a zero total),
never ``NaN`` — the results go straight into JSON and Markdown.

**Top k %.** The top k % of n customers are the ``ceil(k/100 * n)`` highest scores (integer arithmetic, so
10 % of 30 is 3, not 4). Scores tied across the boundary are handled by *averaging over ties*: the reported count
(or value) captured is its exact expectation when tied customers are ordered uniformly at random. A tie group
straddling the boundary therefore contributes ``slots left * (its positives / its size)``; no ordering of the input
— in particular none correlated with the label — can change the result, and a constant score yields precision@k =
base rate, lift = 1. The same rule drives :func:`gain_curve` and the CLV top-decile capture. (This is the
tie treatment of ROC-AUC itself, where a tied positive/negative pair counts ½: Hanley & McNeil 1982.)

Definitions (y = 1 for a positive):
- ROC-AUC: ``sklearn.metrics.roc_auc_score`` (= Mann-Whitney U / (n₊ n₋)); None with one class only.
- PR-AUC: average precision, ``sklearn.metrics.average_precision_score``
  (https://scikit-learn.org/stable/modules/model_evaluation.html#precision-recall-and-f-measures); None without
  positives.
- Brier: mean squared error of a probability, ``sklearn.metrics.brier_score_loss`` (Brier 1950); only for scores
  that are probabilities.
- precision@k = positives in the top k % / size of the top k %; recall@k = positives in the top k % / all positives;
  lift@k = precision@k / base rate (e.g. Provost & Fawcett, *Data Science for Business*, 2013, ch. 8).
- Spearman: ``scipy.stats.spearmanr`` (average ranks for ties); None when either side is constant or n < 2.
- top-decile capture: holdout value of the 10 % of customers with the highest prediction / total holdout value;
  None when the total is <= 0 (a share of a non-positive total means nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np

#: the k of "top k %" reported for binary tasks
TOP_PERCENTS = (5, 10)
#: default number of points of a gain curve (share targeted 0, 1 %, …, 100 %)
GAIN_POINTS = 100
#: binning of :func:`calibration_curve`
CALIBRATION_STRATEGY = "quantile"


# --- helpers --------------------------------------------------------------------------------------------------


def _float_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _aligned(y: np.ndarray, score: np.ndarray, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    """``y`` and ``score`` as 1-d float arrays of equal length; raises ``ValueError`` on NaN or a length mismatch."""
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    s_arr = np.asarray(score, dtype=np.float64).ravel()
    if y_arr.shape != s_arr.shape:
        raise ValueError(f"y has {y_arr.size} values but {name} has {s_arr.size}: they must be aligned per customer")
    if not np.isfinite(s_arr).all():
        raise ValueError(f"{name} contains NaN or infinite values: impute or drop those customers first")
    if not np.isfinite(y_arr).all():
        raise ValueError("y contains NaN or infinite values")
    return y_arr, s_arr


def _binary(y: np.ndarray) -> None:
    """Raise ``ValueError`` unless every label is 0 or 1."""
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"binary labels must be 0 or 1; found {y[bad][:5].tolist()}")


def top_k_size(n: int, percent: int) -> int:
    """``ceil(percent/100 * n)``, computed in integers (no float rounding: 10 % of 30 is 3).

    Parameters
    ----------
    n : number of customers (>= 0)
    percent : k of "top k %", an integer in [0, 100]
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be within [0, 100], got {percent}")
    return -(-n * percent // 100)


def top_k_sums(values: np.ndarray, score: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the ``k`` highest ``score`` s, for every k in ``ks``, averaged over ties.

    Customers are sorted by descending score; within a group of equal scores the captured sum is interpolated
    linearly, which is the exact expectation under a uniformly random order of the tied customers.

    Parameters
    ----------
    values, score : aligned 1-d arrays of length n
    ks : integers in [0, n]

    Returns
    -------
    float array shaped like ``ks``.
    """
    values = np.asarray(values, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    ks = np.asarray(ks, dtype=np.int64)
    n = score.size
    if ((ks < 0) | (ks > n)).any():
        raise ValueError(f"k must be within [0, {n}]")
    if n == 0:
        return np.zeros(ks.shape)
    order = np.argsort(-score, kind="stable")
    s_sorted, v_sorted = score[order], values[order]
    cum = np.concatenate(([0.0], np.cumsum(v_sorted)))
    new_group = np.concatenate(([True], s_sorted[1:] != s_sorted[:-1]))
    starts = np.flatnonzero(new_group)  # first position of each tie group
    ends = np.append(starts[1:], n)  # one past its last position
    # the tie group holding the k-th customer (position k-1); k = 0 maps to group 0 with weight 0
    group = np.clip(np.searchsorted(starts, ks - 1, side="right") - 1, 0, None)
    start, end = starts[group], ends[group]
    inside = np.clip(ks - start, 0, None)
    return cum[start] + inside * (cum[end] - cum[start]) / (end - start)


# --- binary tasks ---------------------------------------------------------------------------------------------


def classification_metrics(y: np.ndarray, score: np.ndarray, *, is_probability: bool) -> dict[str, float | None]:
    """ROC-AUC, PR-AUC, Brier, and lift/precision/recall at the top 5 % and 10 % of one model on one window.

    Parameters
    ----------
    y : 0/1 labels, one per customer (1 = positive: churned / purchased)
    score : the model's score for the same customers, higher = more likely positive
    is_probability : whether ``score`` is a probability in [0, 1] (else Brier is None)

    Returns
    -------
    dict with keys ``n``, ``positives`` (ints), ``base_rate``, ``roc_auc``, ``pr_auc``, ``brier``, ``lift_5``,
    ``precision_5``, ``recall_5``, ``lift_10``, ``precision_10``, ``recall_10`` (float or None when undefined:
    n = 0, one class only for ROC-AUC, no positives for PR-AUC/recall/lift). Definitions in the module docstring.

    Raises
    ------
    ValueError
        for labels other than 0/1, NaN scores, misaligned arrays, or a "probability" outside [0, 1].
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y_arr, s_arr = _aligned(y, score)
    _binary(y_arr)
    if is_probability and ((s_arr < 0) | (s_arr > 1)).any():
        raise ValueError("a probability score must lie within [0, 1]; pass is_probability=False for other scores")
    n = int(y_arr.size)
    positives = int(y_arr.sum())
    out: dict[str, float | None] = {"n": n, "positives": positives}
    out["base_rate"] = positives / n if n else None
    both_classes = 0 < positives < n
    out["roc_auc"] = _float_or_none(roc_auc_score(y_arr, s_arr)) if both_classes else None
    out["pr_auc"] = _float_or_none(average_precision_score(y_arr, s_arr)) if positives else None
    out["brier"] = _float_or_none(brier_score_loss(y_arr, s_arr)) if is_probability and n else None
    ks = np.array([top_k_size(n, p) for p in TOP_PERCENTS])
    captured = top_k_sums(y_arr, s_arr, ks)
    for pct, k, hit in zip(TOP_PERCENTS, ks, captured, strict=True):
        precision = float(hit / k) if k else None
        out[f"precision_{pct}"] = precision
        out[f"recall_{pct}"] = float(hit / positives) if positives else None
        out[f"lift_{pct}"] = precision / out["base_rate"] if precision is not None and positives else None
    return out


# --- regression (CLV) ---------------------------------------------------------------------------------------


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Spearman rank correlation, MAE and top-decile capture of a CLV prediction on one window.

    Parameters
    ----------
    y : actual value per customer in the horizon (net revenue, reporting currency; may be negative after refunds)
    pred : predicted value for the same customers (same unit)

    Returns
    -------
    dict with ``n`` (int), ``total`` (sum of y), ``spearman``, ``mae`` (currency units), ``top_decile_capture``
    (share of ``total`` held by the ``ceil(n/10)`` customers with the highest ``pred``, ties averaged; None when
    total <= 0). Undefined values are None.

    Raises
    ------
    ValueError
        for NaN values or misaligned arrays.
    """
    from scipy.stats import spearmanr

    y_arr, p_arr = _aligned(y, pred, "pred")
    n = int(y_arr.size)
    total = float(y_arr.sum())
    out: dict[str, float | None] = {"n": n, "total": total}
    constant = n < 2 or np.ptp(y_arr) == 0 or np.ptp(p_arr) == 0
    out["spearman"] = None if constant else _float_or_none(spearmanr(y_arr, p_arr).statistic)
    out["mae"] = float(np.mean(np.abs(y_arr - p_arr))) if n else None
    if n and total > 0:
        k = top_k_size(n, 10)
        out["top_decile_capture"] = float(top_k_sums(y_arr, p_arr, np.array([k]))[0] / total)
    else:
        out["top_decile_capture"] = None
    return out


# --- curves for the report ------------------------------------------------------------------------------------


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability diagram points of a probability model (``sklearn.calibration.calibration_curve``).

    Bins are *quantiles* of ``p`` (equally populated): churn and propensity probabilities are skewed, and uniform
    bins would leave the upper bins nearly empty and their points noise. Tied probabilities can merge bins, so
    fewer than ``bins`` points may come back; empty bins are dropped by scikit-learn.

    Returns
    -------
    ``{"strategy": "quantile", "bins": bins, "mean_predicted": [...], "fraction_positive": [...]}``, lists
    ordered by predicted probability; both empty when there are no customers.
    """
    from sklearn.calibration import calibration_curve as sk_calibration_curve

    y_arr, p_arr = _aligned(y, p, "p")
    _binary(y_arr)
    if y_arr.size == 0:
        return {"strategy": CALIBRATION_STRATEGY, "bins": bins, "mean_predicted": [], "fraction_positive": []}
    frac_pos, mean_pred = sk_calibration_curve(y_arr, p_arr, n_bins=bins, strategy=CALIBRATION_STRATEGY)
    return {
        "strategy": CALIBRATION_STRATEGY,
        "bins": bins,
        "mean_predicted": [float(v) for v in mean_pred],
        "fraction_positive": [float(v) for v in frac_pos],
    }


def gain_curve(y: np.ndarray, score: np.ndarray, points: int = GAIN_POINTS) -> dict[str, Any]:
    """Cumulative gain: the share of all positives (binary ``y``) or of the total value (CLV ``y``) captured by
    targeting the highest-scored customers, at ``points + 1`` shares of customers targeted (ties averaged).

    Returns
    -------
    ``{"share_targeted": [...], "share_captured": [...] | None}``; ``share_targeted`` holds the actual shares
    ``ceil(i/points * n) / n`` (distinct values, 0 to 1); ``share_captured`` is None when the total of ``y`` is
    <= 0 (no positives, or no net value). A random ordering gives the diagonal.
    """
    y_arr, s_arr = _aligned(y, score)
    n = y_arr.size
    if n == 0:
        return {"share_targeted": [], "share_captured": None}
    ks = np.unique((np.arange(points + 1) * n + points - 1) // points)
    total = float(y_arr.sum())
    captured = None
    if total > 0:
        captured = [float(v) for v in top_k_sums(y_arr, s_arr, ks) / total]
    return {"share_targeted": [float(v) for v in ks / n], "share_captured": captured}


# --- JSON ---------------------------------------------------------------------------------------------------


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, dates, enums, paths and tuples turned into JSON types; NaN/inf -> None.

    Mapping keys become strings. Raises ``TypeError`` for anything else that JSON cannot hold.
    """
    if obj is None or isinstance(obj, str | bool):
        return obj
    if isinstance(obj, Enum):
        return json_safe(obj.value)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _float_or_none(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(json_safe(k)) if not isinstance(k, str) else k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj
        return [json_safe(v) for v in items]
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable: {obj!r:.80}")
