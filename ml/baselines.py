"""The honest baselines every model is compared with, each a function of the feature frame and nothing else.

A baseline scores the rows of a feature frame (``ml.dataset.build_features``: one row per customer, index
``customer_id``, the RFM columns of docs/rfm.md and the BG/NBD inputs ``bg_*`` in days) and returns a numpy float
array aligned with the frame's rows; higher = more likely positive (churn: more likely to churn; propensity:
more likely to buy; CLV: more value). Which baseline applies to which task is :data:`BASELINES`;
:func:`baseline_scores` runs them all for one task.

* **RFM rule** (:func:`rfm_rule`): R + F + M scores of the shared rule table (1..5, 0 without an order in the
  window), ties broken by recency. A ranking, not a probability.
* **Logistic (RFM)** (:func:`logistic_rfm`): scikit-learn logistic regression on recency, frequency and monetary
  only; unweighted, so its probabilities are calibrated (Brier, calibration curve).
* **Linear (RFM)** (:func:`linear_rfm`): ridge regression of CLV on the same features.
* **BG/NBD** (:func:`bgnbd_propensity`, :func:`bgnbd_churn`): the beta-geometric/NBD model (Fader, Hardie & Lee
  2005) fitted with ``lifetimes`` on each customer's own pre-cutoff history (x, t_x, T); unsupervised, so it is
  fitted on the frame it scores and never sees a label. P(at least one purchase in (T, T + horizon]) and its
  complement for churn.
* **BG/NBD + Gamma-Gamma** (:func:`bgnbd_gamma_gamma_clv`): expected purchases in the horizon times the
  Gamma-Gamma expected spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves").

Units: every ``*_days`` column and ``horizon_days`` are days; money is the reporting currency of the frame.
``lifetimes`` 0.11.3 works unchanged on numpy 2.4 / pandas 2.3 / scipy 1.17 (checked by
``tests/ml/test_baselines.py`` with warnings as errors). Two of its habits are contained here: it prints the
optimiser's result when a fit fails (kept off stdout; the failure becomes a retry, :class:`BaselineFitError` or
a documented fallback), and it installs a process-wide ``ignore FutureWarning`` filter at import and in every
likelihood evaluation (imported and fitted inside ``warnings.catch_warnings``, so the caller's filters stay).
Both models are fitted unpenalised (maximum likelihood): lifetimes' penalty is added to the *mean*
log-likelihood and biases the parameters at any sample size (see :data:`BGNBD_PENALIZER`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from enum import StrEnum

import numpy as np
import pandas as pd

from lakehouse.core.rfm import SCORES

TASKS = ("churn", "propensity", "clv")  #: the tasks of ml/ (binary, binary, regression)

RFM_RULE = "RFM rule"
LOGISTIC_RFM = "Logistic (RFM)"
LINEAR_RFM = "Linear (RFM)"
BGNBD = "BG/NBD"
BGNBD_GAMMA_GAMMA = "BG/NBD + Gamma-Gamma"

#: L2 penalty of the BG/NBD fit: none. ``lifetimes`` adds ``penalizer_coef * (r² + alpha² + a² + b²)`` to the
#: *mean* negative log-likelihood per customer, so a penalty does not fade with more data: on 20,000 simulated
#: customers (r, alpha, a, b) = (0.8, 30, 0.8, 3.0), penalizer 0.001 gave a = 0.60, b = 1.98 (0.0: 0.80, 3.00,
#: within one standard error). An honest baseline is the maximum-likelihood fit; penalties are only retried.
BGNBD_PENALIZER = 0.0
#: penalties tried in turn when the BG/NBD fit does not converge (a warning says which one was used)
BGNBD_RETRY_PENALIZERS = (0.001, 0.01, 0.1)
#: L2 penalty of the Gamma-Gamma fit: none, for the same reason (penalizer 0.001 moved p from 6.4 to 4.0 on the
#: same simulation); the spend is divided by its mean before the fit, which keeps the optimiser's start (all
#: log-parameters 0.1) near the answer in any currency
GAMMA_GAMMA_PENALIZER = 0.0
#: fewer repeat customers with positive spend than this: no Gamma-Gamma fit, the fallback of
#: :func:`gamma_gamma_spend` instead
MIN_GAMMA_GAMMA_REPEATERS = 10
#: inverse L2 strength of :func:`logistic_rfm` (scikit-learn's default) and its seed
LOGISTIC_C = 1.0
RANDOM_STATE = 0
#: L2 strength of :func:`linear_rfm` (scikit-learn's ``Ridge`` default)
RIDGE_ALPHA = 1.0

RFM_SCORE_COLUMNS = ("r_score", "f_score", "m_score")
RFM_FEATURE_COLUMNS = ("recency_days", "frequency", "monetary")
BGNBD_COLUMNS = ("bg_frequency", "bg_recency_days", "bg_T_days")
_MAX_RFM_SUM = 3 * max(SCORES)  # 15: R, F and M at their best (lakehouse.core.rfm)


class BaselineKind(StrEnum):
    """What a baseline needs: the frame only, training labels, or a probability model fitted on the frame."""

    RULE = "rule"  #: a fixed rule of the frame's columns
    SUPERVISED = "supervised"  #: fitted on (train frame, training labels), applied to the test frame
    PROBABILISTIC = "probabilistic model"  #: fitted unsupervised on the scored frame's own pre-cutoff history


#: The baselines of each task, in report order: (model name as reports print it, kind).
BASELINES: dict[str, list[tuple[str, BaselineKind]]] = {
    "churn": [(RFM_RULE, BaselineKind.RULE), (LOGISTIC_RFM, BaselineKind.SUPERVISED),
              (BGNBD, BaselineKind.PROBABILISTIC)],
    "propensity": [(RFM_RULE, BaselineKind.RULE), (LOGISTIC_RFM, BaselineKind.SUPERVISED),
                   (BGNBD, BaselineKind.PROBABILISTIC)],
    "clv": [(RFM_RULE, BaselineKind.RULE), (LINEAR_RFM, BaselineKind.SUPERVISED),
            (BGNBD_GAMMA_GAMMA, BaselineKind.PROBABILISTIC)],
}


class BaselineFitError(RuntimeError):
    """A baseline model could not be fitted (the message names the model and what to try)."""


class BaselineFallbackWarning(UserWarning):
    """A baseline used its documented fallback instead of the model (the message says which and why)."""


# --- input checks ------------------------------------------------------------------------------------------
def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs the feature frame columns {', '.join(missing)} (ml.dataset.build_features)")


def _check_horizon(horizon_days: float) -> float:
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days!r}")
    return float(horizon_days)


# --- RFM rule ----------------------------------------------------------------------------------------------
def rfm_rule(frame: pd.DataFrame, task: str) -> np.ndarray:
    """The RFM-score rule: R + F + M of the shared scores, ties broken by recency (not a probability).

    Parameters
    ----------
    frame
        Feature frame, one row per customer: ``r_score``, ``f_score``, ``m_score`` (1..5 by the published
        quintile breakpoints, 5 best; 0 = no order in the RFM window; NaN is read as 0) and ``recency_days``
        (days since the last order; NaN = no order).
    task
        ``"churn"``, ``"propensity"`` or ``"clv"``.

    Returns
    -------
    numpy.ndarray
        float64, one score per row, in the frame's order. For propensity and CLV the value is
        ``R + F + M + 1 / (2 + recency_days)`` (the tie-break term is in (0, 0.5], larger for a more recent
        order, 0 without an order), so a higher sum always ranks higher and equal sums rank by recency; for
        churn it is ``16 - that`` (the reverse order: low scores churn). The rule's segments
        (``lakehouse.core.rfm.RULES``) are a coarser partition of the same scores, led by R then F; the sum
        keeps every step of each score. The composite R + F + M (3..15) is the database-marketing RFM score
        (e.g. thankQ CRM help, "RFM scores": www.thankq.net.au/thankQHelpSystem/thankQHelp/toc445364827.html,
        which also notes the many ties at 7-8 that the recency tie-break separates; its weighted 3R + 2F + M
        variant is not used, so that the rule stays the shared scores' plain sum).

    Raises
    ------
    ValueError
        Unknown task, missing column, or a score outside 0..5.
    """
    _check_task(task)
    _require(frame, (*RFM_SCORE_COLUMNS, "recency_days"), "the RFM rule")
    scores = frame[list(RFM_SCORE_COLUMNS)].to_numpy(dtype=np.float64)
    scores = np.nan_to_num(scores, nan=0.0)
    if ((scores < 0) | (scores > max(SCORES))).any():
        raise ValueError("r_score, f_score and m_score must lie in 0..5 (docs/rfm.md)")
    recency = frame["recency_days"].to_numpy(dtype=np.float64)
    tie_break = np.where(np.isnan(recency), 0.0, 1.0 / (2.0 + np.clip(np.nan_to_num(recency), 0.0, None)))
    value = scores.sum(axis=1) + tie_break
    return (_MAX_RFM_SUM + 1.0 - value) if task == "churn" else value


# --- supervised RFM baselines --------------------------------------------------------------------------------
def rfm_design(frame: pd.DataFrame) -> np.ndarray:
    """The RFM design matrix of the supervised baselines, before imputation and scaling.

    Columns: ``log1p(recency_days)`` (NaN kept: no order, imputed by the pipeline, which adds a "missing"
    indicator), ``log1p(frequency)``, ``log1p(monetary)`` (negative values clipped to 0, NaN kept). The logs
    tame the long right tails of all three (counts and money are close to log-normal), so one coefficient per
    feature fits the whole range. Shape (rows of ``frame``, 3), float64.
    """
    _require(frame, RFM_FEATURE_COLUMNS, "the RFM baselines")
    values = frame[list(RFM_FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    return np.log1p(np.clip(values, 0.0, None))


def _rfm_pipeline(estimator: object) -> object:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # median imputation + an indicator column for every feature with a NaN in training ("no order" for
    # recency); keep_empty_features: a column that is NaN for every training row becomes 0 instead of vanishing
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return make_pipeline(imputer, StandardScaler(), estimator)


def _aligned_target(train_frame: pd.DataFrame, y_train: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(y_train, pd.Series):
        missing = train_frame.index.difference(y_train.index)
        if len(missing):
            raise ValueError(f"y_train has no label for {len(missing)} training customers, e.g. {missing[0]!r}")
        y_train = y_train.reindex(train_frame.index)
    y = np.asarray(y_train, dtype=np.float64)
    if y.shape != (len(train_frame),):
        raise ValueError(f"y_train must have one value per training row ({len(train_frame)}), got shape {y.shape}")
    if np.isnan(y).any():
        raise ValueError("y_train contains NaN")
    return y


def logistic_rfm(train_frame: pd.DataFrame, y_train: pd.Series | np.ndarray, test_frame: pd.DataFrame) -> np.ndarray:
    """Logistic regression on the RFM features only: P(positive) for each test row.

    Model: :func:`rfm_design` -> median imputation with a missing-value indicator (a customer without an order
    gets the indicator, not a made-up recency) -> standardisation -> ``sklearn.linear_model.LogisticRegression``
    (L2, C = :data:`LOGISTIC_C`, lbfgs, ``random_state`` = :data:`RANDOM_STATE`). **Unweighted**
    (``class_weight=None``): balanced weights would shift every probability towards 0.5 and ruin Brier score
    and calibration, and ranking metrics (ROC-AUC, PR-AUC, lift) do not need them.

    Parameters
    ----------
    train_frame, test_frame
        Feature frames (``recency_days``, ``frequency``, ``monetary``), one row per customer.
    y_train
        0/1 labels of ``train_frame``'s rows: a Series indexed by ``customer_id`` (aligned to the frame) or an
        array in the frame's row order.

    Returns
    -------
    numpy.ndarray
        float64 in [0, 1], one probability per ``test_frame`` row. When the training labels have one class
        only, the constant training rate (0 or 1): the limit of the logistic maximum-likelihood fit.

    Raises
    ------
    ValueError
        Missing columns, labels not 0/1, misaligned or NaN labels, empty training frame.
    """
    from sklearn.linear_model import LogisticRegression

    y = _aligned_target(train_frame, y_train)
    if len(y) == 0:
        raise ValueError("logistic_rfm needs at least one training row")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("logistic_rfm needs 0/1 labels")
    x_test = rfm_design(test_frame)
    if len(np.unique(y)) == 1:
        return np.full(len(x_test), y[0], dtype=np.float64)
    model = _rfm_pipeline(LogisticRegression(C=LOGISTIC_C, max_iter=1000, random_state=RANDOM_STATE))
    model.fit(rfm_design(train_frame), y.astype(int))
    return model.predict_proba(x_test)[:, 1].astype(np.float64)


def linear_rfm(train_frame: pd.DataFrame, y_train: pd.Series | np.ndarray, test_frame: pd.DataFrame) -> np.ndarray:
    """Ridge regression of CLV on the RFM features only: predicted value for each test row.

    Same features and preprocessing as :func:`logistic_rfm`, then ``sklearn.linear_model.Ridge``
    (alpha = :data:`RIDGE_ALPHA`) on the untransformed target (reporting currency), so the predictions are on
    the CLV scale (MAE is meaningful). Predictions are clipped at 0: the horizon's net revenue of a customer
    is not expected to be negative, and a linear model extrapolates below 0 for long-lapsed customers.

    Returns
    -------
    numpy.ndarray
        float64 >= 0, one prediction per ``test_frame`` row (reporting currency).

    Raises
    ------
    ValueError
        Missing columns, misaligned or NaN targets, empty training frame.
    """
    from sklearn.linear_model import Ridge

    y = _aligned_target(train_frame, y_train)
    if len(y) == 0:
        raise ValueError("linear_rfm needs at least one training row")
    model = _rfm_pipeline(Ridge(alpha=RIDGE_ALPHA))
    model.fit(rfm_design(train_frame), y)
    return np.clip(model.predict(rfm_design(test_frame)), 0.0, None).astype(np.float64)


# --- BG/NBD --------------------------------------------------------------------------------------------------
def bgnbd_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of every row in days: ``bg_frequency``, ``bg_recency_days``, ``bg_T_days`` as float64.

    ``ValueError`` when a column is missing, a value is NaN or negative, x is not an integer, t_x > T, or
    t_x != 0 where x == 0 (the BG/NBD input rules; Fader, Hardie & Lee 2005, section 2).
    """
    _require(frame, BGNBD_COLUMNS, "BG/NBD")
    x, t_x, big_t = (frame[c].to_numpy(dtype=np.float64) for c in BGNBD_COLUMNS)
    if np.isnan(x).any() or np.isnan(t_x).any() or np.isnan(big_t).any():
        raise ValueError("BG/NBD inputs bg_frequency, bg_recency_days, bg_T_days must not be NaN")
    if (x < 0).any() or (t_x < 0).any() or (big_t < 0).any():
        raise ValueError("BG/NBD inputs must be >= 0")
    if (x != np.round(x)).any():
        raise ValueError("bg_frequency must be a whole number of repeat purchase days")
    if (t_x > big_t).any():
        raise ValueError("bg_recency_days must not exceed bg_T_days")
    if (t_x[x == 0] != 0).any():
        raise ValueError("bg_recency_days must be 0 where bg_frequency is 0")
    return x, t_x, big_t


def _purchasers(frame: pd.DataFrame) -> np.ndarray:
    """Rows of customers with at least one order before the cutoff (the BG/NBD population)."""
    if "orders_total" in frame.columns:
        return frame["orders_total"].fillna(0).to_numpy(dtype=np.float64) > 0
    if "recency_days" in frame.columns:
        return frame["recency_days"].notna().to_numpy()
    return np.ones(len(frame), dtype=bool)


def fit_bgnbd(frame: pd.DataFrame) -> object:
    """Fit ``lifetimes.BetaGeoFitter`` on the frame's customers with at least one order; the fitted model.

    The BG/NBD population is the customers who have made their first purchase (x counts *repeat* purchases
    after it): rows with ``orders_total`` > 0 (or, without that column, a non-NaN ``recency_days``). A customer
    who never ordered is no BG/NBD customer; :func:`bgnbd_propensity` still scores them as if their first-seen
    day were a first purchase (x = 0, t_x = 0, T = days since first seen) -- the closest the model can say.

    Identical (x, t_x, T) rows are fitted once with a weight (``lifetimes``' ``weights``: the same likelihood,
    much faster on day-grained data). Penalty :data:`BGNBD_PENALIZER`; when the optimiser does not converge the
    fit is retried with each of :data:`BGNBD_RETRY_PENALIZERS` (a :class:`BaselineFallbackWarning` names the
    penalty used). Parameters ``params_`` = (r, alpha [days], a, b).

    Raises
    ------
    BaselineFitError
        No customer with an order, or no penalty made the fit converge.
    ValueError
        Invalid inputs (:func:`bgnbd_inputs`).
    """
    beta_geo_fitter, _ = _lifetimes_fitters()
    x, t_x, big_t = bgnbd_inputs(frame)
    keep = _purchasers(frame)
    if not keep.any() or big_t[keep].max() <= 0:
        raise BaselineFitError("BG/NBD cannot be fitted: no customer with an order and a history before the cutoff")
    patterns = (pd.DataFrame({"x": x[keep], "t_x": t_x[keep], "T": big_t[keep]})
                .groupby(["x", "t_x", "T"], sort=True).size().reset_index(name="weight"))
    errors = []
    for attempt, penalizer in enumerate((BGNBD_PENALIZER, *BGNBD_RETRY_PENALIZERS)):
        try:
            model = _quiet_fit(beta_geo_fitter(penalizer_coef=penalizer), patterns["x"].to_numpy(),
                               patterns["t_x"].to_numpy(), patterns["T"].to_numpy(),
                               weights=patterns["weight"].to_numpy())
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:  # lifetimes' ConvergenceError
            errors.append(f"penalizer_coef={penalizer}: {type(error).__name__}")
            continue
        if attempt:
            warnings.warn(f"BG/NBD converged only with penalizer_coef={penalizer} (failed: {'; '.join(errors)}); "
                          "its parameters are shrunk towards 0", BaselineFallbackWarning, stacklevel=2)
        return model
    raise BaselineFitError(f"BG/NBD (lifetimes BetaGeoFitter) did not converge on {int(keep.sum())} customers "
                           f"({'; '.join(errors)}); with so few or such uniform histories use the RFM baselines")


def _lifetimes_fitters() -> tuple[type, type]:
    """``lifetimes``' (BetaGeoFitter, GammaGammaFitter), imported without its process-wide warning filter.

    lifetimes 0.11.3 calls ``warnings.simplefilter("ignore", FutureWarning)`` when ``lifetimes.generate_data``
    is imported (and in every likelihood evaluation), which would silence every library's FutureWarning in
    the whole process; importing (and fitting, :func:`_quiet_fit`) inside ``catch_warnings`` keeps the
    caller's filters.
    """
    with warnings.catch_warnings():
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    return BetaGeoFitter, GammaGammaFitter


def _quiet_fit(model: object, *args: np.ndarray, **kwargs: np.ndarray) -> object:
    """``model.fit(*args, **kwargs)`` without lifetimes' print of a failed optimisation or numpy's warnings."""
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(*args, **kwargs)


def bgnbd_probability_of_purchase(params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray,
                                  big_t: np.ndarray, horizon: float) -> np.ndarray:
    """P(X(T, T + horizon] > 0 | x, t_x, T) under BG/NBD with parameters (r, alpha, a, b); pure.

    In BG/NBD a customer can drop out only right after a purchase, so a customer alive at T who makes no
    purchase in (T, T + t] is still alive, and one who is dead makes none. Given alive at T, the posterior of
    the purchase rate lambda is Gamma(r + x, alpha + T) (the likelihood of the history is
    lambda^x e^(-lambda T) (1 - p)^x), hence P(no purchase in (T, T + t] | alive) =
    E[e^(-lambda t)] = ((alpha + T) / (alpha + T + t))^(r + x) and

        P(X(T, T + t) > 0 | x, t_x, T) = P(alive | x, t_x, T) * (1 - ((alpha + T) / (alpha + T + t))^(r + x)),

    with P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).

    Sources: the model and P(alive) are Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An
    Alternative to the Pareto/NBD Model", Marketing Science 24(2) 275-284, and Fader, Hardie & Lee (2008),
    "Computing P(alive) using the BG/NBD model", brucehardie.com/notes/021 (BTYD's ``bgnbd.PAlive``,
    lifetimes' ``conditional_probability_alive``). The complement, P(X(T, T + t) = 0 | x, t_x, T), is eq. (34)
    of Fader & Hardie (2019), "A Step-by-Step Derivation of the BG/NBD Model", brucehardie.com/notes/039
    (implemented as PyMC-Marketing's ``BetaGeoModel.expected_probability_no_purchase``); the product above is
    that expression divided through by its denominator. Verified against a Monte-Carlo simulation of the
    BG/NBD process and against eq. (34) in ``tests/ml/test_baselines.py``.

    Parameters: ``x`` repeat purchases, ``t_x`` and ``big_t`` (T) and ``horizon`` (t) in one time unit (the
    unit of alpha). Returns float64 in [0, 1], shape of the broadcast inputs.
    """
    r, alpha, a, b = (float(v) for v in params)
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # log of a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x); only used where x > 0
        log_odds_dead = np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + (r + x) * (
            np.log(alpha + big_t) - np.log(alpha + t_x))
        p_alive = np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds_dead)), 1.0)
        # 1 - ((alpha+T)/(alpha+T+t))^(r+x) = -expm1((r+x) * log1p(-t/(alpha+T+t))), exact for small t
        p_buy_if_alive = -np.expm1((r + x) * np.log1p(-horizon / (alpha + big_t + horizon)))
    return np.clip(p_alive * p_buy_if_alive, 0.0, 1.0)


def _params(model: object, *names: str) -> tuple[float, ...]:
    return tuple(float(model.params_[name]) for name in names)


def bgnbd_propensity(frame: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """BG/NBD P(at least one purchase in the ``horizon_days`` after the cutoff) for every row; a probability.

    Fits BG/NBD on the frame's own pre-cutoff histories (:func:`fit_bgnbd`; unsupervised, no label is read)
    and applies :func:`bgnbd_probability_of_purchase` to every row (a customer with ``bg_frequency`` 0 is a
    valid input: x = 0, t_x = 0). Purchases are purchase *days* (``bg_frequency`` counts repeat purchase days),
    which does not change P(at least one).

    Returns float64 in [0, 1], one per row in the frame's order. Raises :class:`BaselineFitError` when the
    model cannot be fitted and ``ValueError`` for invalid inputs or ``horizon_days`` <= 0.
    """
    horizon = _check_horizon(horizon_days)
    x, t_x, big_t = bgnbd_inputs(frame)
    model = fit_bgnbd(frame)
    probability = bgnbd_probability_of_purchase(_params(model, "r", "alpha", "a", "b"), x, t_x, big_t, horizon)
    if not np.isfinite(probability).all():  # a degenerate fit (alpha -> 0) with T = 0 rows
        raise BaselineFitError(f"BG/NBD gave no probability for {int((~np.isfinite(probability)).sum())} customers "
                               f"(parameters {model.params_.round(6).to_dict()})")
    return probability


def bgnbd_churn(frame: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """BG/NBD churn probability: 1 - :func:`bgnbd_propensity` over the churn window ``horizon_days``.

    "No purchase in the next N days" is the label's main way to churn (an explicit account closure is the
    other, which BG/NBD does not model). Returns float64 in [0, 1], one per row.
    """
    return 1.0 - bgnbd_propensity(frame, horizon_days)


# --- Gamma-Gamma and CLV --------------------------------------------------------------------------------------
def gamma_gamma_spend(frame: pd.DataFrame) -> np.ndarray:
    """Expected spend per future purchase day for every row (reporting currency), by the Gamma-Gamma model.

    Fits ``lifetimes.GammaGammaFitter`` (penalty :data:`GAMMA_GAMMA_PENALIZER`) on the customers the model is
    defined for: ``bg_frequency`` > 0 and ``bg_monetary`` > 0 (x repeat purchase days of mean spend m; zero or
    negative means are dropped from the fit). The spend is divided by its mean before the fit (the model is
    scale-equivariant: v scales with the money, p and q do not), so the fit is the same in any currency.
    Every customer then gets ``conditional_expected_average_profit`` (Fader & Hardie 2013, "The Gamma-Gamma
    Model of Monetary Value", brucehardie.com/notes/025, eq. 5): repeaters a weighted mean of their own m and
    the population mean p v / (q - 1); customers without a repeat purchase (or without positive spend) the
    population mean.

    **Fallback** (with a :class:`BaselineFallbackWarning`): fewer than :data:`MIN_GAMMA_GAMMA_REPEATERS` such
    customers, a fit that does not converge, or q <= 1 (no finite population mean): a repeater's own
    ``bg_monetary``, everyone else the mean ``bg_monetary`` of the repeaters with positive spend (no repeater:
    revenue per order over all customers, ``revenue_total`` / ``orders_total``, when the frame has them;
    otherwise 0). Never raises for a small population.

    The Gamma-Gamma model assumes spend independent of purchase frequency (notes/025, section 1).
    Raises ``ValueError`` when ``bg_frequency`` or ``bg_monetary`` is missing.
    """
    _, gamma_gamma_fitter = _lifetimes_fitters()
    _require(frame, ("bg_frequency", "bg_monetary"), "Gamma-Gamma")
    x = frame["bg_frequency"].fillna(0).to_numpy(dtype=np.float64)
    m = frame["bg_monetary"].fillna(0).to_numpy(dtype=np.float64)
    fit_rows = (x > 0) & (m > 0)
    reason = None
    if fit_rows.sum() < MIN_GAMMA_GAMMA_REPEATERS:
        reason = f"only {int(fit_rows.sum())} repeat customers with positive spend (< {MIN_GAMMA_GAMMA_REPEATERS})"
    else:
        scale = float(m[fit_rows].mean())
        try:
            model = _quiet_fit(gamma_gamma_fitter(penalizer_coef=GAMMA_GAMMA_PENALIZER), x[fit_rows],
                               m[fit_rows] / scale)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:
            reason = f"the fit did not converge ({str(error).strip() or type(error).__name__})"
        else:
            p, q, v = _params(model, "p", "q", "v")
            if not q > 1:
                reason = f"q = {q:.3g} <= 1 (no finite population mean)"
            else:
                population_mean = p * v / (q - 1.0)
                weight = np.where(fit_rows, p * x / (p * x + q - 1.0), 0.0)
                own = np.where(fit_rows, m / scale, 0.0)
                return scale * ((1.0 - weight) * population_mean + weight * own)
    warnings.warn(f"Gamma-Gamma not used: {reason}; spend = own mean for repeaters, the repeaters' mean "
                  "for everyone else", BaselineFallbackWarning, stacklevel=2)
    if fit_rows.any():
        population = float(m[fit_rows].mean())
    elif {"revenue_total", "orders_total"} <= set(frame.columns) and frame["orders_total"].fillna(0).sum() > 0:
        population = max(float(frame["revenue_total"].fillna(0).sum() / frame["orders_total"].fillna(0).sum()), 0.0)
    else:
        population = 0.0
    return np.where(fit_rows, m, population).astype(np.float64)


def bgnbd_expected_purchases(frame: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """BG/NBD expected number of purchase days in (T, T + ``horizon_days``] for every row (eq. 10 of Fader,
    Hardie & Lee 2005; lifetimes' ``conditional_expected_number_of_purchases_up_to_time``), fitted by
    :func:`fit_bgnbd`. float64 >= 0; raises like :func:`bgnbd_propensity`.
    """
    horizon = _check_horizon(horizon_days)
    x, t_x, big_t = bgnbd_inputs(frame)
    model = fit_bgnbd(frame)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, big_t),
                              dtype=np.float64)
    if not np.isfinite(expected).all():
        bad = int((~np.isfinite(expected)).sum())
        raise BaselineFitError(f"BG/NBD expected purchases are not finite for {bad} customers (hypergeometric "
                               "overflow; Fader & Hardie 2013, brucehardie.com/notes/027)")
    return np.clip(expected, 0.0, None)


def bgnbd_gamma_gamma_clv(frame: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """BG/NBD + Gamma-Gamma CLV: expected revenue in the ``horizon_days`` after the cutoff, for every row.

    :func:`bgnbd_expected_purchases` x :func:`gamma_gamma_spend` (expected purchase days times expected spend
    per purchase day; the product of expectations is the expectation because Gamma-Gamma assumes spend
    independent of the purchase process: Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for
    Customer Base Analysis", JMR 42(4) 415-430). **Undiscounted**: the horizon is a few months, where
    discounting changes the value by about a percent and no customer's rank.

    Returns float64 >= 0 in the reporting currency, one per row. Raises :class:`BaselineFitError` when BG/NBD
    cannot be fitted (Gamma-Gamma falls back instead, see :func:`gamma_gamma_spend`).
    """
    return bgnbd_expected_purchases(frame, horizon_days) * gamma_gamma_spend(frame)


# --- all baselines of a task -----------------------------------------------------------------------------------
def baseline_scores(task: str, train_frame: pd.DataFrame, y_train: pd.Series | np.ndarray,
                    test_frame: pd.DataFrame, horizon_days: float) -> dict[str, tuple[np.ndarray, bool]]:
    """Every baseline of ``task`` (:data:`BASELINES`) on ``test_frame``: ``{name: (scores, is_probability)}``.

    The supervised baselines are fitted on (``train_frame``, ``y_train``: the task's label, 0/1 or CLV); the
    probability models (BG/NBD, BG/NBD + Gamma-Gamma) on ``test_frame``'s own pre-cutoff history, never on a
    label. ``horizon_days``: the label window (churn: the churn window; propensity, CLV: the horizon). Scores
    are float64 arrays aligned with ``test_frame``'s rows, in :data:`BASELINES` order. Raises like the single
    baselines (``ValueError``, :class:`BaselineFitError`).
    """
    _check_task(task)
    out: dict[str, tuple[np.ndarray, bool]] = {}
    for name, _kind in BASELINES[task]:
        if name == RFM_RULE:
            out[name] = (rfm_rule(test_frame, task), False)
        elif name == LOGISTIC_RFM:
            out[name] = (logistic_rfm(train_frame, y_train, test_frame), True)
        elif name == LINEAR_RFM:
            out[name] = (linear_rfm(train_frame, y_train, test_frame), False)
        elif name == BGNBD:
            fn = bgnbd_churn if task == "churn" else bgnbd_propensity
            out[name] = (fn(test_frame, horizon_days), True)
        elif name == BGNBD_GAMMA_GAMMA:
            out[name] = (bgnbd_gamma_gamma_clv(test_frame, horizon_days), False)
        else:  # pragma: no cover - BASELINES and this dispatch are edited together
            raise AssertionError(f"no implementation for baseline {name!r}")
    return out
