"""RFM quintile breakpoints published by the batch star build, for the streaming job and anyone scoring
customers the same way (see docs/batch.md, "RFM").

The batch job writes ``state/rfm_breakpoints.json`` in the lake::

    {"recency_days": [4 cuts], "frequency": [4 cuts], "monetary": [4 cuts], "window_days": 365,
     "population": n, "quantiles": [0.2, 0.4, 0.6, 0.8], "as_of": "YYYY-MM-DD", "computed_at": ISO time}

Definitions: recency_days = days since the last completed order; frequency = completed orders in the
``window_days`` days up to today; monetary = their order totals. Cuts are exact percentiles (linear
interpolation) over customers with frequency >= 1. F and M score ``1 + #(cuts < value)``; R scores
``5 - #(cuts < recency_days)``, so 5 is always best (most recent, most orders, most money).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage

BREAKPOINTS_KEY = "state/rfm_breakpoints.json"
NO_PURCHASE = "No recent purchase"


@dataclass(frozen=True)
class Breakpoints:
    """The published RFM cut points (four per measure) and what they were computed from.

    ``recency_days`` in days, ``frequency`` in orders, ``monetary`` in order-total units (currencies not
    converted); ``window_days`` is the frequency/monetary window; ``as_of`` the day (ISO) they describe.
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
        """The named RFM segment, with the same rules as the batch ``fact_customer_metrics``."""
        scored = self.scores(recency_days, frequency, monetary)
        return segment_of(*scored) if scored else NO_PURCHASE


def segment_of(r: int, f: int, m: int) -> str:
    """The batch's named segment for scores (r, f, m), first matching rule wins (docs/batch.md, "RFM")."""
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if f >= 4:
        return "Loyal"
    if r >= 4:
        return "Recent"
    if r <= 2 and f >= 3:
        return "At Risk"
    if r <= 2:
        return "Hibernating"
    return "Needs Attention"


def load_breakpoints(settings: Settings) -> Breakpoints | None:
    """The breakpoints of the latest star build, or None before the first build (or with no purchasers)."""
    storage = LakeStorage(settings.lake, region=settings.region)
    if not storage.exists(BREAKPOINTS_KEY):
        return None
    data = json.loads(storage.get_bytes(BREAKPOINTS_KEY))
    if len(data.get("recency_days", [])) != 4:
        return None
    return Breakpoints.from_dict(data)
