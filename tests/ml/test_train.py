"""LightGBM training (ml.train): determinism, rolling origins that never see the future, the prior correction."""

from __future__ import annotations

from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.train import Example, TrainConfig, corrected, fit, folds, origins

CONFIG = TrainConfig(seed=7, threads=1, origins=4, max_rounds=60, early_stopping_rounds=10)


def examples(seed: int = 0, n: int = 300, step: int = 30, count: int = 4) -> list[Example]:
    """Simulated origins ``step`` days apart (most recent first): a churn-like target driven by recency."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        recency = rng.exponential(30, n)
        frame = pd.DataFrame({"recency_days": recency, "frequency": rng.poisson(3, n).astype("float64"),
                              "noise": rng.normal(size=n), "geography": rng.choice(["FR", "DE", None], n),
                              "gender": pd.Series([None] * n, dtype="string"), "product_type": None,
                              "rfm_segment": "x"})
        y = (rng.random(n) < 1 / (1 + np.exp(-(recency - 40) / 10))).astype("float64")
        out.append(Example(date(2025, 6, 1) - timedelta(days=step * k), frame, y))
    return out


def test_fit_twice_gives_the_same_model_and_predictions() -> None:
    data = examples()
    first, second = fit("churn", data, 30, CONFIG), fit("churn", data, 30, CONFIG)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    np.testing.assert_array_equal(first.predict(data[0].frame), second.predict(data[0].frame))
    assert "rfm_segment" not in first.features


@settings(max_examples=60, deadline=None)
@given(cutoff_offset=st.integers(0, 2000), label_days=st.integers(1, 200), history=st.integers(0, 400),
       count=st.integers(1, 8), step=st.one_of(st.none(), st.integers(1, 120)))
def test_no_training_label_window_ends_after_its_validation_origin_or_the_cutoff(
        cutoff_offset, label_days, history, count, step) -> None:
    first = date(2020, 1, 1)
    cutoff = first + timedelta(days=cutoff_offset)
    config = TrainConfig(origins=count, step_days=step, min_history_days=history, validation_folds=3)
    days = origins(cutoff, label_days, first, config)
    assert days == sorted(days, reverse=True) and len(set(days)) == len(days) <= count
    for day in days:
        assert day + timedelta(days=label_days) <= cutoff            # labels end on or before the cutoff
        assert day >= first + timedelta(days=history)
    fake = [Example(d, pd.DataFrame(), np.array([0.0, 1.0])) for d in days]
    for train, validation in folds(fake, label_days, config):
        assert train and all(t.origin + timedelta(days=label_days) <= validation.origin for t in train)


def test_corrected_matches_the_closed_form_of_a_weighted_logistic_model() -> None:
    """A logistic model fitted with the positives weighted by w has its log-odds shifted by log(w) (King & Zeng
    2001, prior correction); corrected() must undo exactly that."""
    p = np.linspace(0.01, 0.99, 99)
    w = 4.0
    q = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + np.log(w))))
    np.testing.assert_allclose(corrected(q, w), p, rtol=1e-12)
    np.testing.assert_array_equal(corrected(q, 1.0), q)


def test_corrected_lightgbm_probabilities_average_to_the_base_rate() -> None:
    """Monte Carlo: LightGBM trained with scale_pos_weight = negatives/positives on a 10 % positive problem;
    the corrected mean probability on fresh data is within 1.5 points of the true rate (uncorrected: ~ 35 %)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8000, 2))
    p = 1 / (1 + np.exp(-(x[:, 0] - 2.6)))
    y = (rng.random(8000) < p).astype(float)
    weight = (len(y) - y.sum()) / y.sum()
    params = {"objective": "binary", "scale_pos_weight": weight, "num_leaves": 7, "learning_rate": 0.1,
              "verbosity": -1, "seed": 1, "deterministic": True, "num_threads": 1, "min_data_in_leaf": 50}
    booster = lgb.train(params, lgb.Dataset(x[:4000], y[:4000]), num_boost_round=80)
    raw = booster.predict(x[4000:])
    assert raw.mean() > y[4000:].mean() + 0.1
    assert abs(corrected(raw, weight).mean() - y[4000:].mean()) < 0.015
