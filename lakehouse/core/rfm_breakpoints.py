"""RFM quintile breakpoints published by the batch star build, for the streaming job and anyone scoring
customers the same way (docs/rfm.md; the measures and segments: :mod:`lakehouse.core.rfm`).

The batch job writes ``state/rfm_breakpoints.json`` in the lake::

    {"recency_days": [4 cuts], "frequency": [4 cuts], "monetary": [4 cuts], "window_days": 365,
     "population": n, "quantiles": [0.2, 0.4, 0.6, 0.8], "as_of": "YYYY-MM-DD", "computed_at": ISO time}

and the breakpoints of every snapshot day it built in ``state/rfm_breakpoints_history.json`` (days x 12
numbers; the latest document stays small for the stream, which re-reads it)::

    {"window_days": 365, "quantiles": [...], "computed_at": ISO time, "as_of": "YYYY-MM-DD" (the latest day),
     "days": {"YYYY-MM-DD": {"recency_days": [4], "frequency": [4], "monetary": [4], "population": n}, ...}}

A day without purchasers has no entry.

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
    """The breakpoints the batch scored ``day`` with (``fact_customer_metrics`` of that snapshot day), from the
    history document; None when the last build did not score that day (after its as-of day, before the data,
    a day without purchasers, or no build yet): the caller then uses :func:`load_breakpoints` (docs/rfm.md)."""
    storage = LakeStorage(settings.lake, region=settings.region)
    if not storage.exists(HISTORY_KEY):
        return None
    history = json.loads(storage.get_bytes(HISTORY_KEY))
    cuts = history.get("days", {}).get(day.isoformat())
    if not cuts or len(cuts.get("recency_days", [])) != 4:
        return None
    return Breakpoints.from_dict({**cuts, "window_days": history["window_days"], "as_of": day.isoformat(),
                                  "computed_at": history["computed_at"]})
