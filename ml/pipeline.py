"""Train, evaluate and score: the ML runs over the curated lake (docs/ml.md).

* :func:`evaluate` — back-test at a cutoff inside the data: train with everything before the cutoff (rolling
  origins, :mod:`ml.train`), fit the baselines on the same pre-cutoff data (:mod:`ml.baselines`), score the
  window after the cutoff, and write the report (:mod:`ml.report`).
* :func:`train_and_score` — production: cutoff = the day after the last event; train, promote a new model
  version only if it beats the current one on the latest validation window (:mod:`ml.artifacts`), score every
  customer with the current models and serve the scores (warehouse zone Parquet and DynamoDB,
  :mod:`ml.serving`; the warehouse load picks the Parquet up).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd

from lakehouse.core.config import Settings
from lakehouse.core.job_state import new_run_id
from lakehouse.core.lake.storage import LakeStorage
from ml import artifacts, baselines, report, serving
from ml.dataset import Windows, build_features, build_labels
from ml.source import data_bounds, open_curated
from ml.train import LABEL, TASKS, Categories, Example, Model, TrainConfig, fit, origins, reasons, validation_score

#: risk bands by rank of churn probability in a scoring run: the top 20 % 'high', the next 30 % 'medium' (docs/ml.md)
RISK_HIGH_SHARE, RISK_MEDIUM_SHARE = 0.2, 0.3
POPULATION = {"churn": "customers with an order before the cutoff (active), not closed",
              "propensity": "registered customers at the cutoff, not closed",
              "clv": "registered customers at the cutoff, not closed"}
Progress = Callable[[str], None]


class MLError(RuntimeError):
    """An ML run cannot proceed; the message says why and what to change (cutoff, windows, data)."""


@dataclass(frozen=True)
class MLOptions:
    """What a run uses: label ``windows`` and the training ``config``."""

    windows: Windows = field(default_factory=Windows)
    config: TrainConfig = field(default_factory=TrainConfig)


def options_of(settings: Settings, horizon_days: int | None = None, churn_days: int | None = None) -> MLOptions:
    """The run options of ``settings.ml`` (and ``batch.rfm_window_days``), windows overridden when given."""
    ml = settings.ml
    return MLOptions(Windows(horizon_days or ml.horizon_days, churn_days or ml.churn_days,
                             settings.batch.rfm_window_days),
                     TrainConfig(seed=ml.seed, threads=ml.threads, origins=ml.origins))


def _features(con, day: date, options: MLOptions, settings: Settings) -> pd.DataFrame:
    """The feature frame of ``day`` (:func:`ml.dataset.build_features`) plus the BG/NBD model's own view of each
    customer as two features (:func:`with_bgnbd_features`)."""
    frame = build_features(con, day, options.windows, reporting_currency=settings.money.reporting_currency,
                           max_rate_age_days=settings.money.max_rate_age_days)
    return with_bgnbd_features(frame, options.windows.horizon_days)


def features_of(settings: Settings, day: date, options: MLOptions = MLOptions()) -> pd.DataFrame:
    """The feature frame the models score for ``day`` (curated zone of ``settings``)."""
    return _features(open_curated(settings), day, options, settings)


def with_bgnbd_features(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """``frame`` with ``bg_p_purchase`` (BG/NBD P(a purchase in the horizon)), ``bg_expected_purchases``
    (expected purchase days in it) and ``bg_p_alive`` (P(still alive) at the cutoff): BG/NBD fitted on the
    frame's own history before its cutoff, unsupervised, as the BG/NBD baseline is (stacking: the model can use
    what the baseline knows, and must still beat it out of sample). NaN when BG/NBD cannot be fitted (too few
    buyers)."""
    out = frame.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", baselines.BaselineFallbackWarning)
            out["bg_p_purchase"] = baselines.bgnbd_propensity(frame, horizon_days)
            out["bg_expected_purchases"] = baselines.bgnbd_expected_purchases(frame, horizon_days)
            model = baselines.fit_bgnbd(frame)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["bg_p_alive"] = np.asarray(model.conditional_probability_alive(
                    *baselines.bgnbd_inputs(frame)), dtype="float64")
    except (baselines.BaselineFitError, ValueError):
        for column in ("bg_p_purchase", "bg_expected_purchases", "bg_p_alive"):
            out[column] = np.nan
    return out


def _labels(con, frame: pd.DataFrame, day: date, options: MLOptions, settings: Settings) -> pd.DataFrame:
    return build_labels(con, frame.index, day, options.windows, reporting_currency=settings.money.reporting_currency,
                        max_rate_age_days=settings.money.max_rate_age_days)


def task_rows(task: str, frame: pd.DataFrame) -> pd.Series:
    """The rows of a feature frame in ``task``'s population: churn needs an order before the cutoff."""
    if task == "churn":
        return frame["orders_total"] > 0
    return pd.Series(True, index=frame.index)


def label_days(task: str, windows: Windows) -> int:
    """The label window of ``task`` in days."""
    return windows.churn_days if task == "churn" else windows.horizon_days


@dataclass
class Examples:
    """Training examples of every task at the rolling origins before a cutoff (most recent first)."""

    by_task: dict[str, list[Example]] = field(default_factory=dict)
    origins: list[date] = field(default_factory=list)
    rows: int = 0


def training_examples(con, settings: Settings, cutoff: date, first_day: date, options: MLOptions,
                      progress: Progress = lambda _: None) -> Examples:
    """Features and labels at each origin before ``cutoff`` (:func:`ml.train.origins`); labels end on or before
    the cutoff. Raises :class:`MLError` when fewer than two origins fit."""
    label = options.windows.label_days
    days = origins(cutoff, label, first_day, options.config)
    if not days or not any(day + timedelta(days=label) <= days[0] for day in days[1:]):
        earliest = first_day + timedelta(days=2 * label + options.config.min_history_days)
        raise MLError(f"the cutoff {cutoff} leaves too little history to train without looking past it: a "
                      f"validation window of {label} days needs training labels that end before it, after "
                      f"{options.config.min_history_days} days of history — the earliest cutoff for this data "
                      f"(from {first_day}) and these windows is {earliest}; choose a later cutoff or shorter "
                      "--horizon-days/--churn-days")
    out = Examples(by_task={task: [] for task in TASKS}, origins=days)
    for day in days:
        frame = _features(con, day, options, settings)
        labels = _labels(con, frame, day, options, settings)
        for task in TASKS:
            rows = task_rows(task, frame)
            out.by_task[task].append(Example(day, frame[rows], labels.loc[rows, LABEL[task]].to_numpy("float64")))
        out.rows += len(frame)
        progress(f"features and labels as of {day}: {len(frame):,} customers")
    return out


def train_models(examples: Examples, options: MLOptions, progress: Progress = lambda _: None) -> dict[str, Model]:
    """One LightGBM model per task (:func:`ml.train.fit`)."""
    models = {}
    for task in TASKS:
        started = time.perf_counter()
        try:
            models[task] = fit(task, examples.by_task[task], label_days(task, options.windows), options.config)
        except ValueError as exc:  # no validation fold: too little history, or one class in every window
            raise MLError(str(exc)) from None
        progress(f"trained {task} in {time.perf_counter() - started:.1f} s "
                 f"({models[task].rounds} rounds, validation {models[task].validation['value']:.3f})")
    return models


def predict(task: str, models: dict[str, Model], frame: pd.DataFrame) -> np.ndarray:
    """``task``'s prediction for each row of ``frame``: a probability (churn, propensity) or the predicted CLV =
    P(purchase) x expected spend of a buyer (the two-part model of :mod:`ml.train`), reporting currency."""
    if task == "clv":
        return models["propensity"].predict(frame) * np.maximum(models["clv"].predict(frame), 0.0)
    return models[task].predict(frame)


def cutoff_range(first: date, last: date, options: MLOptions) -> tuple[date, date]:
    """The first and last cutoff a back-test can use on data from ``first`` to ``last``: history for two label
    windows after ``min_history_days`` before it, a whole label window after it (may be empty: first > last)."""
    label = options.windows.label_days
    return (first + timedelta(days=2 * label + options.config.min_history_days),
            last + timedelta(days=1) - timedelta(days=label))


def _no_cutoff(first: date, last: date, options: MLOptions) -> str:
    days = (last - first).days + 1
    widest = max(0, (days - options.config.min_history_days) // 3)
    return (f"no cutoff works with {options.windows.label_days}-day label windows on {days} days of data "
            f"({first} to {last}): windows of at most {widest} days do (--horizon-days/--churn-days)")


def _check_cutoff(cutoff: date, first: date | None, last: date | None, options: MLOptions) -> None:
    """Raise :class:`MLError` naming the usable range unless ``cutoff`` can be back-tested."""
    if first is None or last is None:
        raise MLError("the curated zone holds no events: run the batch chain first (lakehouse batch)")
    earliest, latest = cutoff_range(first, last, options)
    if earliest > latest:
        raise MLError(_no_cutoff(first, last, options))
    if not earliest <= cutoff <= latest:
        raise MLError(f"the cutoff {cutoff} cannot be back-tested with {options.windows.label_days}-day label "
                      f"windows on this data ({first} to {last}): choose a cutoff from {earliest} to {latest}")


def _check_scoring_cutoff(cutoff: date, first: date, last: date, options: MLOptions) -> None:
    """Train and score as of a day inside the data (up to the day after the last event): a later cutoff would
    score customers on a present that has not happened and keep the live scores from ever being replaced."""
    today = last + timedelta(days=1)
    earliest = first + timedelta(days=2 * options.windows.label_days + options.config.min_history_days)
    if earliest > today:
        raise MLError(_no_cutoff(first, last, options))
    if not earliest <= cutoff <= today:
        raise MLError(f"the cutoff {cutoff} is outside what this data can train and score: choose a cutoff from "
                      f"{earliest} to {today} (the day after the last event, the default)")


def fingerprint(con: duckdb.DuckDBPyConnection, cutoff: date) -> dict[str, Any]:
    """What the data before ``cutoff`` looked like: row counts and time ranges per curated table, and a hash of
    them (:func:`ml.artifacts.data_fingerprint`)."""
    parts = {}
    for table, ts in (("events", "event_ts"), ("orders", "order_ts"), ("refunds", "refund_ts"),
                      ("identity_links", "event_ts"), ("account_closures", "event_ts")):
        rows, low, high = con.execute(f"SELECT COUNT(*), MIN({ts}), MAX({ts}) FROM {table} "
                                      f"WHERE {ts} < TIMESTAMP '{cutoff} 00:00:00'").fetchone()
        parts[table] = {"rows": int(rows), "first": str(low) if low else None, "last": str(high) if high else None}
    return {"tables": parts, "sha256": artifacts.data_fingerprint(parts)}


def evaluate(settings: Settings, cutoff: date, options: MLOptions = MLOptions(), *, dataset: str = "lake",
             out_dir: Path | None = None, progress: Progress = lambda _: None) -> dict[str, Any]:
    """Back-test at ``cutoff`` (module docstring); returns the report (:func:`ml.report.build_report`) with
    ``paths`` of the written files when ``out_dir`` is given. Raises :class:`MLError` for a cutoff without
    enough history before it or a full label window after it."""
    started = time.perf_counter()
    con = open_curated(settings)
    first, last = data_bounds(con)
    _check_cutoff(cutoff, first, last, options)
    examples = training_examples(con, settings, cutoff, first, options, progress)
    models = train_models(examples, options, progress)
    test = _features(con, cutoff, options, settings)
    labels = _labels(con, test, cutoff, options, settings)
    tasks, reasons_example, timings, notes = [], {}, {}, []
    for task in TASKS:
        rows = task_rows(task, test)
        frame, y = test[rows], labels.loc[rows, LABEL[task]].to_numpy("float64")
        train = pd.concat([e.frame for e in examples.by_task[task]])
        y_train = np.concatenate([e.y for e in examples.by_task[task]])
        tick = time.perf_counter()
        # binary tasks: a probability; CLV: in money units (both True)
        scores = {report.MODEL: (predict(task, models, frame), True)}
        timings[f"{task}_model_scoring_s"] = round(time.perf_counter() - tick, 3)
        tick = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:  # fallbacks go into the report, not onto the console
            warnings.simplefilter("always", baselines.BaselineFallbackWarning)
            found = baselines.baseline_scores(task, train, y_train, frame, label_days(task, options.windows))
        notes += [f"{task}: {w.message}" for w in caught if issubclass(w.category, baselines.BaselineFallbackWarning)]
        if task == "clv":  # for CLV the flag says "in money units": only the RFM rule is a rank score
            found = {name: (values, name != baselines.RFM_RULE) for name, (values, _) in found.items()}
        scores.update(found)
        timings[f"{task}_baselines_s"] = round(time.perf_counter() - tick, 3)
        tasks.append(report.TaskEvaluation(task, "regression" if task == "clv" else "binary", y, scores,
                                           POPULATION[task]))
        reasons_example[task] = _reasons_of_the_highest(models[task], frame, scores[report.MODEL][0])
    evaluation = report.Evaluation(
        dataset=dataset, cutoff=cutoff, horizon_days=options.windows.horizon_days,
        churn_days=options.windows.churn_days, tasks=tasks,
        importances={t: m.importances() for t, m in models.items()}, reasons_example=reasons_example,
        training={"origins": [d.isoformat() for d in examples.origins], "training_rows": examples.rows,
                  "models": {t: {"rounds": m.rounds, "params": _public_params(m.params),
                                 "validation": m.validation} for t, m in models.items()},
                  "seconds": round(time.perf_counter() - started, 1), "baseline_notes": notes, **timings},
        fingerprint=fingerprint(con, cutoff))
    out = report.build_report(evaluation)
    if out_dir is not None:
        out["paths"] = {k: str(v) for k, v in report.write_report(evaluation, Path(out_dir)).items()}
    return out


def _reasons_of_the_highest(model: Model, frame: pd.DataFrame, scores: np.ndarray, count: int = 5,
                            ) -> list[dict[str, Any]]:
    """The reasons of the ``count`` highest-scored rows (ties by row order), labelled by rank: no customer id,
    as a report names nobody (:class:`ml.report.Evaluation`)."""
    top = np.argsort(-scores, kind="stable")[:count]
    rows = frame.iloc[top]
    return [{"rank": rank, "score": round(float(score), 4), **{f"reason_{k + 1}": r for k, r in enumerate(texts)}}
            for rank, score, texts in zip(range(1, len(top) + 1), scores[top], reasons(model, rows), strict=True)]


def _public_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(params.items()) if k not in ("verbosity",)}


# --- production: train, promote, score ----------------------------------------------------------------------


def model_bytes(model: Model) -> bytes:
    """The LightGBM text model of ``model``."""
    return model.booster.model_to_string().encode("utf-8")


def model_metadata(model: Model, cutoff: date, options: MLOptions, data: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to use and audit a saved model (docs/ml.md, "Artifacts")."""
    return {"task": model.task, "features": model.features, "categories": model.categories.levels,
            "params": _public_params(model.params), "rounds": model.rounds, "cutoff": cutoff.isoformat(),
            "windows": {"horizon_days": options.windows.horizon_days, "churn_days": options.windows.churn_days,
                        "rfm_window_days": options.windows.rfm_window_days},
            "validation": model.validation, "data": data, "code_version": artifacts.code_version()}


def load_saved(storage: LakeStorage, task: str, version: str) -> Model:
    """A saved model version as a :class:`ml.train.Model`."""
    text, meta = artifacts.load_model(storage, task, version)
    booster = lgb.Booster(model_str=text.decode("utf-8"))
    params = {**meta["params"], "num_threads": meta["params"].get("num_threads", 2)}
    return Model(task, booster, list(meta["features"]), Categories(meta["categories"]), params, int(meta["rounds"]),
                 meta["validation"])


@dataclass
class ScoringRun:
    """What a run did: its id and cutoff; per task the model version used and (after training) the promotion
    decision; the scores written (customers, files) and the live items updated."""

    run_id: str
    cutoff: date
    versions: dict[str, str | None] = field(default_factory=dict)
    promotions: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: int = 0
    files: list[str] = field(default_factory=list)
    live: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"run_id": self.run_id, "cutoff": self.cutoff.isoformat(), "versions": self.versions,
                "promotions": self.promotions, "customers": self.customers, "files": self.files,
                "live": self.live, "seconds": self.seconds}


def risk_bands(churn: np.ndarray) -> list[str | None]:
    """Risk band of each churn probability, by rank within the run: 'high' for the :data:`RISK_HIGH_SHARE` most
    likely to churn, 'medium' for the next :data:`RISK_MEDIUM_SHARE`, 'low' for the rest; None without a
    probability (a customer who never ordered). Ranks, not fixed thresholds: with a 30-day window most buyers
    "churn" (no order in 30 days), and a fixed 0.5 put nearly all of them in 'high' (reviewer, on the demo)."""
    known = ~np.isnan(churn)
    bands: list[str | None] = [None] * len(churn)
    if not known.any():
        return bands
    high = np.quantile(churn[known], 1 - RISK_HIGH_SHARE)
    medium = np.quantile(churn[known], 1 - RISK_HIGH_SHARE - RISK_MEDIUM_SHARE)
    for index in np.flatnonzero(known):
        p = churn[index]
        bands[index] = "high" if p >= high else "medium" if p >= medium else "low"
    return bands


def score_frame(models: dict[str, Model], frame: pd.DataFrame, cutoff: date, run_id: str,
                currency: str) -> pd.DataFrame:
    """The ``fact_customer_scores`` rows of every customer of ``frame`` (module docstring of :mod:`ml.serving`):
    churn probability and its reasons for customers with an order, purchase-propensity reasons for the rest."""
    active = task_rows("churn", frame).to_numpy()
    churn = np.full(len(frame), np.nan)
    texts: list[list[str]] = [[] for _ in range(len(frame))]
    if active.any():
        churn[active] = models["churn"].predict(frame[active])
        for index, row in zip(np.flatnonzero(active), reasons(models["churn"], frame[active]), strict=True):
            texts[index] = [f"churn: {r}" for r in row]
    idle = ~active
    if idle.any():
        for index, row in zip(np.flatnonzero(idle), reasons(models["propensity"], frame[idle]), strict=True):
            texts[index] = [f"purchase: {r}" for r in row]
    out = pd.DataFrame({
        "customer_id": frame.index.astype(str), "cutoff_date": cutoff, "run_id": run_id,
        "scored_at": pd.Timestamp(datetime.now(UTC)).tz_convert(None).floor("us"),
        "churn_probability": churn, "purchase_probability": models["propensity"].predict(frame),
        "predicted_clv": predict("clv", models, frame), "reporting_currency": currency,
        "risk_band": risk_bands(churn)})
    for k in range(3):
        out[f"reason_{k + 1}"] = [row[k] if len(row) > k else None for row in texts]
    for task in TASKS:
        out[f"{task}_model_version"] = models[task].validation.get("version")
    return out


def _open(settings: Settings, cutoff: date | None, options: MLOptions,
          training: bool = True) -> tuple[duckdb.DuckDBPyConnection, date, date]:
    con = open_curated(settings)
    first, last = data_bounds(con)
    if first is None or last is None:
        raise MLError("the curated zone holds no events: run the batch chain first (lakehouse batch)")
    cutoff = cutoff or last + timedelta(days=1)
    if training:
        _check_scoring_cutoff(cutoff, first, last, options)
    elif not first < cutoff <= last + timedelta(days=1):
        raise MLError(f"the cutoff {cutoff} is outside the data: score as of a day from "
                      f"{first + timedelta(days=1)} to {last + timedelta(days=1)} (the day after the last event, "
                      "the default)")
    return con, first, cutoff


def _run_id() -> str:
    return new_run_id()


def train(settings: Settings, cutoff: date | None = None, options: MLOptions = MLOptions(), *,
          run_id: str | None = None, progress: Progress = lambda _: None) -> ScoringRun:
    """Train a candidate per task at ``cutoff`` (default: the day after the last event), save it as version
    ``run_id`` and promote it only if it beats the current version on the candidate's latest validation window
    (the current model is re-scored on that window; module docstring). Raises :class:`MLError` without
    enough history."""
    started = time.perf_counter()
    con, first, cutoff = _open(settings, cutoff, options)
    data = fingerprint(con, cutoff)
    run = ScoringRun(run_id or _run_id(), cutoff)
    examples = training_examples(con, settings, cutoff, first, options, progress)
    candidates = train_models(examples, options, progress)
    storage = LakeStorage(settings.lake, region=settings.region)
    for task, model in candidates.items():
        window = date.fromisoformat(model.validation["folds"][0]["origin"])
        latest = next(e for e in examples.by_task[task] if e.origin == window)
        candidate_value = float(model.validation["folds"][0]["score"])
        artifacts.save_model(storage, task, run.run_id, model_bytes(model),
                             model_metadata(model, cutoff, options, data))
        decision = _promotion(storage, task, run.run_id, model, candidate_value, latest, options)
        run.promotions[task] = {"candidate": run.run_id, "candidate_value": candidate_value, **decision,
                                "window": window.isoformat()}
        run.versions[task] = run.run_id if decision["promoted"] else decision["current"]
        progress(f"{task}: {'promoted' if decision['promoted'] else 'kept'} {run.versions[task]} "
                 f"({decision['reason']})")
    run.seconds = round(time.perf_counter() - started, 1)
    return run


def _promotion(storage: LakeStorage, task: str, version: str, model: Model, value: float, latest: Example,
               options: MLOptions) -> dict[str, Any]:
    """Promote ``version`` of ``task`` only if it beats the current model like for like: both out of sample on
    the candidate's latest validation window ``latest`` — the candidate's fold model never trained on it, and
    the current model only if its own cutoff is on or before the window's start. Otherwise (same windows not
    yet comparable, other label windows) the current model stays and the reason says when a comparison becomes
    possible. Returns ``current``, ``current_value``, ``promoted``, ``reason``."""
    current = artifacts.current_version(storage, task)
    if current is None:
        decision = artifacts.promote(storage, task, version, model.validation["metric"], value)
        return {"current": None, "current_value": None, "promoted": decision.promoted, "reason": decision.reason}
    meta = artifacts.load_model(storage, task, current)[1]
    kept = {"current": current, "current_value": None, "promoted": False}
    if _windows_of(meta) != options.windows:
        return {**kept, "reason": f"the current model uses other label windows ({meta['windows']}); the two are "
                                  "not comparable — promote by training all three with the current windows"}
    current_cutoff = date.fromisoformat(meta["cutoff"])
    if latest.origin < current_cutoff:
        return {**kept, "reason": f"the current model trained on data up to {current_cutoff}, after this "
                                  f"validation window's start ({latest.origin}): no like-for-like comparison "
                                  f"before a cutoff of {current_cutoff + timedelta(days=options.windows.label_days)}"}
    current_value = validation_score(load_saved(storage, task, current), latest)
    decision = artifacts.promote(storage, task, version, model.validation["metric"], value,
                                 higher_is_better=True, current_value_on_same_window=current_value)
    return {"current": current, "current_value": current_value, "promoted": decision.promoted,
            "reason": decision.reason}


def _windows_of(meta: dict[str, Any]) -> Windows:
    w = meta["windows"]
    return Windows(int(w["horizon_days"]), int(w["churn_days"]), int(w["rfm_window_days"]))


def current_models(settings: Settings) -> tuple[dict[str, Model], Windows]:
    """The promoted version of every task's model and the label windows they were trained with (their features
    depend on them: the stacked BG/NBD features look ``horizon_days`` ahead). Raises :class:`MLError` when a task
    has no promoted version yet, or when the three were trained with different windows."""
    storage = LakeStorage(settings.lake, region=settings.region)
    models, windows = {}, {}
    for task in TASKS:
        version = artifacts.current_version(storage, task)
        if version is None:
            raise MLError(f"no promoted {task} model yet: train first (lakehouse ml train)")
        models[task] = load_saved(storage, task, version)
        models[task].validation["version"] = version
        windows[task] = _windows_of(artifacts.load_model(storage, task, version)[1])
    if len(set(windows.values())) > 1:
        raise MLError("the promoted models were trained with different label windows "
                      f"({', '.join(f'{t}: {w.horizon_days}/{w.churn_days} days' for t, w in windows.items())}): "
                      "train all three again with the same --horizon-days/--churn-days")
    return models, windows["churn"]


def score(settings: Settings, cutoff: date | None = None, options: MLOptions = MLOptions(), *,
          run_id: str | None = None, live: bool = True, progress: Progress = lambda _: None) -> ScoringRun:
    """Score every registered customer as of ``cutoff`` (default: the day after the last event) with the
    promoted models; write ``fact_customer_scores`` files to the warehouse zone and (``live``) the scores to
    the live scores table in DynamoDB (:mod:`ml.serving`). Re-running with the same ``run_id`` rewrites the same
    rows and items (idempotent). Raises :class:`MLError` when no model is promoted, and when the live scores could
    not all be written (DynamoDB unreachable or refusing: the message says how many were)."""
    started = time.perf_counter()
    models, windows = current_models(settings)
    options = MLOptions(windows, options.config)  # score with the windows the models learned from
    con, _, cutoff = _open(settings, cutoff, options, training=False)
    run = ScoringRun(run_id or _run_id(), cutoff,
                     versions={t: m.validation["version"] for t, m in models.items()})
    frame = _features(con, cutoff, options, settings)
    scores = score_frame(models, frame, cutoff, run.run_id, settings.money.reporting_currency)
    run.files = serving.write_scores(settings, scores, run.run_id, cutoff)
    run.customers = len(scores)
    progress(f"scored {len(scores):,} customers as of {cutoff}")
    if live:
        try:
            run.live = serving.write_live_scores(settings, scores, run.run_id, cutoff=cutoff).as_dict()
        except serving.LiveScoresError as exc:
            raise MLError(f"scoring run {run.run_id} is in the warehouse zone, but its live scores are not all "
                          f"written: {exc}") from None
    run.seconds = round(time.perf_counter() - started, 1)
    return run


def train_and_score(settings: Settings, cutoff: date | None = None, options: MLOptions = MLOptions(), *,
                    live: bool = True, progress: Progress = lambda _: None) -> ScoringRun:
    """:func:`train` then :func:`score` under one run id (the AWS job and the demo)."""
    trained = train(settings, cutoff, options, progress=progress)
    scored = score(settings, trained.cutoff, options, run_id=trained.run_id, live=live, progress=progress)
    scored.promotions = trained.promotions
    scored.seconds = round(trained.seconds + scored.seconds, 1)
    return scored


def run_scoring(settings: Settings, cutoff: date | None = None, horizon_days: int | None = None,
                churn_days: int | None = None) -> dict[str, Any]:
    """The AWS Glue job's work (``ml/job.py``): :func:`train_and_score` with the given windows; JSON-ready."""
    options = options_of(settings, horizon_days, churn_days)
    run = train_and_score(settings, cutoff, options, progress=lambda line: print(line, flush=True))
    return json.loads(json.dumps(run.as_dict(), default=str))
