"""LightGBM models for churn, purchase propensity and CLV, tuned by rolling-origin validation (docs/ml.md).

**Rolling origins.** For a cutoff ``c`` and a label window of ``L`` days the training origins are
``c - L - k·step`` (k = 0, 1, …) that leave ``min_history_days`` of data before them: features of an origin are
computed as of that day, labels from the ``L`` days after it, so every label ends on or before ``c`` and nothing
of the evaluation window after ``c`` is ever read. Hyperparameters and the number of boosting rounds (early
stopping) are chosen on validation folds inside that data: fold *j* validates on origin ``o_j`` and trains on
the origins whose label windows end on or before ``o_j`` (``o + L ≤ o_j``), so a fold never trains on anything
that happened after its validation origin. The final model is trained on every origin with the chosen
parameters and the median best round count.

**Imbalance.** The grid tries the positive class weighted by negatives/positives (``scale_pos_weight``) against
no weight; a weighted model's probabilities are corrected back to the true class prior, p = w·q / (w·q + 1 - q)
with q the weighted output and w = 1/scale_pos_weight (the prior correction of Elkan, "The Foundations of
Cost-Sensitive Learning", IJCAI 2001, Theorem 2), so Brier scores and calibration stay honest.

**CLV** is a two-part model (the hurdle model of econometrics; Cragg 1971): predicted CLV = P(purchase in the
horizon), from the propensity model, x the expected net revenue of a customer who buys, from a LightGBM
regression (L2, so its prediction estimates the conditional mean) trained on the customers who bought in each
origin's window. The ``clv`` model is that second part; :func:`ml.pipeline.predict` multiplies.

**Determinism.** Fixed seeds, ``deterministic = true``, ``force_row_wise = true`` and a fixed thread count:
the same data, seed and thread count give the same model and the same scores. One thread by default: on the
small per-origin data sets a second thread gained nothing, and next to a busy JVM (the demo's Spark) OpenMP's
busy-waiting made two threads 5x slower (30 s vs 6 s for one propensity fit on the demo's data, measured).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from ml.dataset import CATEGORICAL, NOT_FEATURES

TASKS = ("churn", "propensity", "clv")
LABEL = {"churn": "churn", "propensity": "purchase", "clv": "clv"}
#: baseline / bookkeeping columns that never enter a model (BG/NBD's own inputs do: they are plain history)
EXCLUDED = frozenset(NOT_FEATURES)


@dataclass(frozen=True)
class TrainConfig:
    """How models are trained: ``seed``, LightGBM ``threads``, the rolling ``origins`` (at most) ``step_days``
    apart (default: a third of the label window, at least 7), the ``min_history_days`` an origin needs before it,
    ``validation_folds`` (the most recent origins that have training origins before them), the round budget."""

    seed: int = 7
    threads: int = 1
    origins: int = 6
    step_days: int | None = None
    min_history_days: int = 30
    validation_folds: int = 2
    max_rounds: int = 1_000
    early_stopping_rounds: int = 40


#: the hyperparameter grid (shared by all tasks; ``scale_pos_weight`` / ``tweedie_variance_power`` per task)
GRID: tuple[dict[str, Any], ...] = (
    {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.08, "feature_fraction": 0.8, "lambda_l2": 1.0},
    {"num_leaves": 31, "min_data_in_leaf": 60, "learning_rate": 0.08, "feature_fraction": 0.7, "lambda_l2": 5.0},
)


#: the CLV spend model's grid: few buyers per origin, a noisy target, so shallower and more regularised trees
SPEND_GRID: tuple[dict[str, Any], ...] = (
    {"num_leaves": 3, "min_data_in_leaf": 50, "learning_rate": 0.05, "feature_fraction": 0.8, "lambda_l2": 5.0},
    {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.05, "feature_fraction": 0.8, "lambda_l2": 5.0},
)


def origins(cutoff: date, label_days: int, first_day: date, config: TrainConfig) -> list[date]:
    """Training origins for ``cutoff``, most recent first (module docstring); may be empty."""
    step = config.step_days or max(7, label_days // 3)
    out = []
    for k in range(config.origins):
        origin = cutoff - timedelta(days=label_days + k * step)
        if origin < first_day + timedelta(days=config.min_history_days):
            break
        out.append(origin)
    return out


@dataclass
class Categories:
    """The category levels of each categorical feature, fixed at training (unseen levels become missing)."""

    levels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, frames: Sequence[pd.DataFrame]) -> Categories:
        """Levels = the sorted union of the values in ``frames``."""
        return cls({c: sorted({v for f in frames for v in f[c].dropna().astype(str).unique()}) for c in CATEGORICAL})

    def apply(self, frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
        """``frame``'s ``features`` with the categorical ones as ``category`` of the fixed levels."""
        out = frame.reindex(columns=list(features)).copy()
        for column, levels in self.levels.items():
            if column in out:
                out[column] = pd.Categorical(out[column].astype("object"), categories=levels)
        return out


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model features of a feature frame: every column but :data:`EXCLUDED`, in frame order."""
    return [c for c in frame.columns if c not in EXCLUDED]


def _params(task: str, base: dict[str, Any], config: TrainConfig) -> dict[str, Any]:
    common = {"seed": config.seed, "deterministic": True, "force_row_wise": True, "num_threads": config.threads,
              "verbosity": -1, "bagging_fraction": 1.0, "bagging_freq": 0, "max_cat_to_onehot": 8}
    objective = ({"objective": "regression", "metric": "l2"} if task == "clv"
                 else {"objective": "binary", "metric": "binary_logloss"})
    return {**common, **objective, **base}


def grid(task: str, y: np.ndarray) -> list[dict[str, Any]]:
    """Candidate parameter sets for ``task``: :data:`GRID` x (no weight, negatives/positives weight) for the
    binary tasks, :data:`SPEND_GRID` for the CLV spend model."""
    if task == "clv":
        return [dict(base) for base in SPEND_GRID]
    positives = float(np.sum(y == 1))
    weight = (len(y) - positives) / positives if positives else 1.0
    out = []
    for base in GRID:
        out.append({**base, "scale_pos_weight": 1.0})
        if weight > 1.5:
            out.append({**base, "scale_pos_weight": round(weight, 4)})
    return out


def corrected(q: np.ndarray, scale_pos_weight: float) -> np.ndarray:
    """Probabilities of a model trained with the positives weighted by ``scale_pos_weight``, corrected back to
    the unweighted class prior (module docstring)."""
    if scale_pos_weight == 1.0:
        return q
    w = 1.0 / scale_pos_weight
    return w * q / (w * q + 1.0 - q)


def _score(task: str, y: np.ndarray, prediction: np.ndarray) -> float:
    """Validation score, higher is better: ROC-AUC (binary; average precision, tried instead on the generated
    acceptance data, lowered propensity lift@5 % from 2.71 to 2.65), Spearman rank correlation (the CLV spend
    model, on the buyers; 0 for a constant prediction); NaN when undefined (one class, one value)."""
    if task == "clv":
        if len(y) < 2 or np.all(y == y[0]):
            return float("nan")
        if np.all(prediction == prediction[0]):  # a constant prediction ranks nobody: no rank correlation
            return 0.0
        return float(spearmanr(y, prediction).statistic)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, prediction))


@dataclass
class Example:
    """One origin's training examples: features ``frame`` (model columns) and target ``y``."""

    origin: date
    frame: pd.DataFrame
    y: np.ndarray


@dataclass
class Model:
    """A trained model of ``task``: the booster, its features and category levels, and how it was chosen."""

    task: str
    booster: lgb.Booster
    features: list[str]
    categories: Categories
    params: dict[str, Any]
    rounds: int
    validation: dict[str, Any]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn/purchase probability, or (CLV) the expected net revenue if the customer buys (reporting currency),
        for each row of a feature frame."""
        raw = self.booster.predict(self.categories.apply(frame, self.features), num_threads=self.params["num_threads"])
        if self.task == "clv":
            return np.asarray(raw, dtype="float64")
        return corrected(np.asarray(raw, dtype="float64"), float(self.params.get("scale_pos_weight", 1.0)))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions in raw score units (LightGBM ``pred_contrib``; SHAP values of the
        tree ensemble), one column per feature plus ``bias``."""
        values = self.booster.predict(self.categories.apply(frame, self.features), pred_contrib=True,
                                      num_threads=self.params["num_threads"])
        return pd.DataFrame(values, index=frame.index, columns=[*self.features, "bias"])

    def importances(self, top: int = 15) -> list[tuple[str, float]]:
        """The ``top`` features by total gain, as (feature, share of the total gain)."""
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        ranked = sorted(zip(self.features, gain.tolist(), strict=True), key=lambda x: (-x[1], x[0]))
        return [(name, value / total) for name, value in ranked[:top]]


def _dataset(examples: Sequence[Example], features: list[str], categories: Categories) -> lgb.Dataset:
    frame = pd.concat([categories.apply(e.frame, features) for e in examples])
    y = np.concatenate([e.y for e in examples])
    return lgb.Dataset(frame, label=y, categorical_feature=[c for c in CATEGORICAL if c in features],
                       free_raw_data=False)


def folds(examples: Sequence[Example], label_days: int, config: TrainConfig) -> list[tuple[list[Example], Example]]:
    """(training examples, validation example) pairs, most recent validation origin first: a fold trains on the
    origins whose label windows end on or before its validation origin."""
    out = []
    for validation in examples:
        train = [e for e in examples if e.origin + timedelta(days=label_days) <= validation.origin]
        if train and np.unique(validation.y).size > 1:
            out.append((train, validation))
        if len(out) == config.validation_folds:
            break
    return out


def fit(task: str, examples: Sequence[Example], label_days: int, config: TrainConfig = TrainConfig(),
        on_step: Callable[[str], None] = lambda _: None) -> Model:
    """Choose parameters and rounds on the rolling-origin folds of ``examples`` (most recent origin first), then
    train on all of them. Raises ``ValueError`` when no fold can be formed (too little history before the
    cutoff: the message says how much is needed)."""
    if task == "clv":  # the spend part of the two-part model learns from the buyers (module docstring)
        examples = [Example(e.origin, e.frame[e.y > 0], e.y[e.y > 0]) for e in examples]
    examples = [e for e in examples if len(e.y)]
    chosen = folds(examples, label_days, config)
    if not chosen:
        raise ValueError(f"{task}: no validation fold — the cutoff needs at least two training origins "
                         f"{label_days} days apart after {config.min_history_days} days of history")
    features = feature_columns(examples[0].frame)
    categories = Categories.of([e.frame for e in examples])
    y_all = np.concatenate([e.y for e in examples])
    results = []
    for candidate in grid(task, y_all):
        params = _params(task, candidate, config)
        scores, rounds = [], []
        for train, validation in chosen:
            train_set = _dataset(train, features, categories)
            valid_set = _dataset([validation], features, categories)
            booster = lgb.train(params, train_set, num_boost_round=config.max_rounds, valid_sets=[valid_set],
                                callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)])
            raw = booster.predict(categories.apply(validation.frame, features), num_iteration=booster.best_iteration,
                                  num_threads=config.threads)
            scores.append(_score(task, validation.y, raw))
            rounds.append(max(1, booster.best_iteration))
        mean = float(np.nanmean(scores)) if not np.all(np.isnan(scores)) else float("-inf")
        results.append((mean, candidate, rounds, scores))
        on_step(f"{task}: {candidate} -> {mean:.4f}")
    best_score, best, best_rounds, fold_scores = max(results, key=lambda r: r[0])
    params = _params(task, best, config)
    rounds = int(statistics.median(best_rounds))
    booster = lgb.train(params, _dataset(examples, features, categories), num_boost_round=rounds)
    validation = {"metric": "spearman" if task == "clv" else "roc_auc", "value": best_score,
                  "folds": [{"origin": v.origin.isoformat(), "train_origins": [t.origin.isoformat() for t in tr],
                             "score": s} for (tr, v), s in zip(chosen, fold_scores, strict=True)],
                  "latest_origin": chosen[0][1].origin.isoformat(), "candidates": len(results)}
    return Model(task, booster, features, categories, params, rounds, validation)


def validation_score(model: Model, example: Example) -> float:
    """``model``'s score (:func:`_score`) on one origin's examples (the CLV spend model: on its buyers): how a
    current model is compared with a candidate on the candidate's latest validation window."""
    if model.task == "clv":
        example = Example(example.origin, example.frame[example.y > 0], example.y[example.y > 0])
    return _score(model.task, example.y, model.predict(example.frame))


def reasons(model: Model, frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """Per row, the ``top`` features that push the prediction up most (largest positive ``pred_contrib``), as
    ``"feature=value (+contribution)"``; fewer when fewer features push up."""
    contrib = model.contributions(frame).drop(columns="bias").to_numpy()
    values = frame.reindex(columns=model.features)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    rows = np.arange(len(frame))[:, None]
    amounts = contrib[rows, order]
    shown = values.to_numpy(dtype=object)[rows, order]
    names = np.asarray(model.features, dtype=object)[order]
    out = []
    for row in range(len(frame)):
        texts = []
        for name, value, amount in zip(names[row], shown[row], amounts[row], strict=True):
            if amount <= 0:
                break
            text = "missing" if pd.isna(value) else (f"{value:g}" if isinstance(value, float) else str(value))
            texts.append(f"{name}={text} ({amount:+.2f})")
        out.append(texts)
    return out
