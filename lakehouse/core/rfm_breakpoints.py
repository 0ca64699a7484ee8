"""RFM quintile breakpoints published by the batch star build, for the streaming job and anyone scoring
customers the same way (docs/rfm.md; the measures and segments: :mod:`lakehouse.core.rfm`).

The batch job writes ``state/rfm_breakpoints.json`` in the lake::

    {"recency_days": [4 cuts], "frequency": [4 cuts], "monetary": [4 cuts], "window_days": 365,
     "population": n, "quantiles": [0.2, 0.4, 0.6, 0.8], "as_of": "YYYY-MM-DD", "computed_at": ISO time}

and the breakpoints of every snapshot day it built in ``state/rfm_breakpoints_history.json`` (snapshot days x 12
numbers; the latest document stays small for the stream, which re-reads it)::

    {"window_days": 365, "quantiles": [...], "computed_at": ISO time, "as_of": "YYYY-MM-DD" (the latest day),
     "days": {"YYYY-MM-DD": {"recency_days": [4], "frequency": [4], "monetary": [4], "population": n}, ...}}

The snapshot days are those of ``fact_customer_metrics`` (a monthly snapshot): every calendar month end, and the
as-of day. A snapshot day without purchasers has no entry. A day that is not a snapshot day is scored with the
breakpoints of the last snapshot day on or before it (:func:`breakpoints_of_day`): the batch never computed that
day's population, and the rule, like the metrics layer's "last snapshot on or before the period's end", never
reads a later day.

Definitions (:func:`lakehouse.core.rfm.measures`): recency_days = days from the last completed order's day to
the as-of day; frequency = completed orders in the ``window_days`` days ending on the as-of day (inclusive);
monetary = their values in the reporting currency. Cuts are exact percentiles (linear interpolation) over the
registered customers with frequency >= 1 on the ``as_of`` day. F and M score ``1 + #(cuts < value)``; R scores
``5 - #(cuts < recency_days)``, so 5 is always best (most recent, most orders, most money).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.rfm import NO_PURCHASE, label

__all__ = ["BREAKPOINTS_KEY", "HISTORY_KEY", "NO_PURCHASE", "Breakpoints", "breakpoints_of_day", "load_breakpoints"]

BREAKPOINTS_KEY = "state/rfm_breakpoints.json"
HISTORY_KEY = "state/rfm_breakpoints_history.json"


@dataclass(frozen=True)
class Breakpoints:
    """The published RFM cut points (four per measure) and what they were computed from.

    ``recency_days`` in days, ``frequency`` in orders, ``monetary`` in the reporting currency's units;
    ``window_days`` is the frequency/monetary window; ``as_of`` the day (ISO) they describe.
    """

    recency_days: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    window_days: int
    population: int
    as_of: str
    computed_at: str

    @classmethod
    def from_dict(cls, data: dict) -> Breakpoints:
        """From the published JSON document; ``KeyError``, ``TypeError`` or ``ValueError`` for a malformed one."""
        return cls(tuple(map(float, data["recency_days"])), tuple(map(float, data["frequency"])),
                   tuple(map(float, data["monetary"])), int(data["window_days"]), int(data.get("population", 0)),
                   str(data["as_of"]), str(data["computed_at"]))

    def scores(self, recency_days: float | None, frequency: int, monetary: float) -> tuple[int, int, int] | None:
        """(R, F, M) scores 1..5, or None for a customer without orders in the window."""
        if frequency < 1 or recency_days is None:
            return None
        r = 5 - sum(cut < recency_days for cut in self.recency_days)
        f = 1 + sum(cut < frequency for cut in self.frequency)
        m = 1 + sum(cut < monetary for cut in self.monetary)
        return r, f, m

    def segment(self, recency_days: float | None, frequency: int, monetary: float) -> str:
        """The segment label of these measures (:func:`lakehouse.core.rfm.label`: a segment's name, or
        'No recent purchase' without scores), as the batch's ``fact_customer_metrics.rfm_segment``."""
        return label(self.scores(recency_days, frequency, monetary))


def load_breakpoints(settings: Settings) -> Breakpoints | None:
    """The breakpoints of the latest star build, or None before the first build (or with no purchasers)."""
    storage = LakeStorage(settings.lake, region=settings.region)
    if not storage.exists(BREAKPOINTS_KEY):
        return None
    data = json.loads(storage.get_bytes(BREAKPOINTS_KEY))
    if len(data.get("recency_days", [])) != 4:
        return None
    return Breakpoints.from_dict(data)


def breakpoints_of_day(settings: Settings, day: date) -> Breakpoints | None:
    """The breakpoints the batch scores ``day`` with, from the history document: those of ``day`` when it is a
    snapshot day of ``fact_customer_metrics`` (a month end or the last build's as-of day), else those of the last
    snapshot day before it (the previous month end: the batch never scored the days between two snapshots, and
    this rule never reads a later day). ``as_of`` of the result is the snapshot day the cuts belong to.

    None when the last build scored no snapshot day on or before ``day`` with purchasers (before the data), when
    ``day`` is after its as-of day, or before any build: the caller then uses :func:`load_breakpoints`
    (docs/rfm.md).
    """
    storage = LakeStorage(settings.lake, region=settings.region)
    if not storage.exists(HISTORY_KEY):
        return None
    history = json.loads(storage.get_bytes(HISTORY_KEY))
    if history.get("as_of") and day.isoformat() > history["as_of"]:
        return None
    days = {d: cuts for d, cuts in history.get("days", {}).items()
            if d <= day.isoformat() and len(cuts.get("recency_days", [])) == 4}
    if not days:
        return None
    snapshot = max(days)
    return Breakpoints.from_dict({**days[snapshot], "window_days": history["window_days"], "as_of": snapshot,
                                  "computed_at": history["computed_at"]})
