"""RFM scores (1 to 5) and the named segment of a customer (pure).

Scores use the quintile breakpoints the batch star build publishes (``state/rfm_breakpoints.json``, see
:mod:`lakehouse.core.rfm_breakpoints`) with the batch's definitions, so a live score and a batch score of the
same customer on the same day agree:

* recency_days = days from the last completed order's day to the as-of day;
* frequency = completed orders in the ``window_days`` days ending on the as-of day (inclusive);
* monetary = the sum of those orders' totals (refunds are not subtracted, as in the batch);
* F, M = 1 + #(cuts < value); R = 5 - #(cuts < recency_days). No order in the window: no scores.

Until a build has published breakpoints, :data:`DEFAULT_BREAKPOINTS` apply.

Segments (first matching rule wins; every (R, F, M) combination has exactly one):

=====================  ==========================================
Champions              R >= 4, F >= 4, M >= 4
Loyal                  R >= 3, F >= 4
Potential Loyalist     R >= 3, F <= 3
Can't Lose Them        R <= 2, F >= 4, M >= 4
At Risk                R <= 2, F >= 3
Hibernating            R = 2, F <= 2
Lost                   R = 1, F <= 2
=====================  ==========================================

A customer without scores (no completed order in the window) is ``No recent purchase``, as in the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.core.rfm_breakpoints import NO_PURCHASE, Breakpoints
from stream.reference import Refreshed

SEGMENTS = ("Champions", "Loyal", "Potential Loyalist", "Can't Lose Them", "At Risk", "Hibernating", "Lost")

DEFAULT_BREAKPOINTS = Breakpoints(
    recency_days=(14.0, 30.0, 60.0, 120.0),
    frequency=(1.0, 2.0, 3.0, 5.0),
    monetary=(50.0, 120.0, 250.0, 500.0),
    window_days=365,
    population=0,
    as_of="default",
    computed_at="default",
)


@dataclass(frozen=True)
class RfmScores:
    """R, F and M scores, each 1 to 5 (5 best: most recent, most orders, most money)."""

    r: int
    f: int
    m: int


def scores(breakpoints: Breakpoints, recency_days: int | None, frequency: int, monetary: float) -> RfmScores | None:
    """The scores against ``breakpoints`` (:meth:`Breakpoints.scores`), None without an order in the window."""
    scored = breakpoints.scores(recency_days, frequency, monetary)
    return RfmScores(*scored) if scored else None


def segment(rfm: RfmScores | None) -> str:
    """The streaming segment of ``rfm`` (the table in the module docstring; 'No recent purchase' for None).

    Not the batch's vocabulary: ``fact_customer_metrics.rfm_segment`` and :meth:`Breakpoints.segment` use
    Champions / Loyal / Recent / At Risk / Hibernating / Needs Attention.
    """
    if rfm is None:
        return NO_PURCHASE
    r, f, m = rfm.r, rfm.f, rfm.m
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if r >= 3 and f >= 4:
        return "Loyal"
    if r >= 3:
        return "Potential Loyalist"
    if f >= 4 and m >= 4:
        return "Can't Lose Them"
    if f >= 3:
        return "At Risk"
    if r == 2:
        return "Hibernating"
    return "Lost"


class BreakpointsProvider(Refreshed[Breakpoints]):
    """The breakpoints in force: loaded at start, re-read every ``refresh_seconds`` (thread-safe).

    A load that returns None gives :data:`DEFAULT_BREAKPOINTS`; one that raises is logged and the breakpoints
    in force are kept (:meth:`current` never raises).
    """

    def __init__(self, load: Callable[[], Breakpoints | None], refresh_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(load, DEFAULT_BREAKPOINTS, refresh_seconds, clock, what="RFM breakpoints")

    @classmethod
    def fixed(cls, breakpoints: Breakpoints) -> BreakpointsProvider:
        """A provider that always returns ``breakpoints`` (never re-loads)."""
        return cls(lambda: breakpoints, refresh_seconds=float("inf"))
