"""Ground truth per customer (``truth/customers.csv.gz``): for tests and docs only, never for the pipeline."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.population import Population
from lakehouse.local.generator.simulation import CHURNED, NEVER, State
from lakehouse.local.generator.spec import SpecMix
from lakehouse.local.generator.writer import open_gzip

TRUTH_FILE = Path("truth") / "customers.csv.gz"
COLUMNS = (
    "customer_id", "signup_date", "geography", "geography_end", "age", "age_band", "gender", "streaming", "whale",
    "engagement", "spend_scale", "plan_end", "churned", "churn_date", "churn_kind", "decline_start", "orders",
    "revenue", "tickets", "severe_tickets", "moves", "user_id", "group_id",
)
BLOCK = 100_000


def _dates(start: date, days: np.ndarray, valid: np.ndarray) -> list[str]:
    text = np.datetime_as_string(np.datetime64(start, "D") + np.where(valid, days, 0), unit="D")
    return np.where(valid, text, "").tolist()


def write_truth(out_dir: Path, pop: Population, state: State, start: date, days: int, spec: SpecMix) -> Path:
    """Write one row per customer; returns the file's path.

    ``customer_id`` is the index form (``c0000123``); ``user_id`` is the id the pipeline sees once identities
    are stitched (the number's text for numeric-id customers); ``group_id`` the B2B company, if any.
    ``orders`` and ``revenue`` (USD at the catalog's prices) leave cancelled orders out and include the
    express shipping an Order Updated added; refunds are not subtracted.
    """
    path = out_dir / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    raw, gz = open_gzip(path, 6)
    with raw, gz, io.TextIOWrapper(gz, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        for lo in range(0, len(pop), BLOCK):
            sl = slice(lo, min(lo + BLOCK, len(pop)))
            churned = (state.status[sl] == CHURNED) & (state.churn_day[sl] < days)
            kind = np.where(churned, np.where(state.closes[sl], "closed", "lapsed"), "none")
            declined = state.decline_start[sl] < NEVER
            rows = zip(
                [f"c{i:07d}" for i in range(sl.start, sl.stop)],
                _dates(start, pop.signup_day[sl], np.ones(sl.stop - sl.start, bool)),
                np.array(C.GEO_NAMES)[pop.geography[sl]].tolist(),
                np.array(C.GEO_NAMES)[state.geography[sl]].tolist(),
                pop.age[sl].tolist(),
                np.array([b[0] for b in C.AGE_BANDS])[pop.age_band[sl]].tolist(),
                np.array(C.GENDERS)[pop.gender[sl]].tolist(),
                pop.streaming[sl].astype(int).tolist(),
                pop.whale[sl].astype(int).tolist(),
                np.round(pop.engagement[sl], 4).tolist(),
                np.round(pop.spend[sl], 4).tolist(),
                np.array(C.PLANS)[state.plan[sl]].tolist(),
                churned.astype(int).tolist(),
                _dates(start, state.churn_day[sl], churned),
                kind.tolist(),
                _dates(start, state.decline_start[sl], declined),
                state.orders[sl].tolist(),
                (state.revenue_cents[sl] / 100).tolist(),
                state.tickets[sl].tolist(),
                state.severe_tickets[sl].tolist(),
                state.moves[sl].tolist(),
                [str(spec.numeric[i]) if i in spec.numeric else f"c{i:07d}" for i in range(sl.start, sl.stop)],
                [f"g{c:05d}" if c >= 0 else "" for c in spec.company[sl].tolist()],
                strict=True,
            )
            writer.writerows(rows)
    return path
