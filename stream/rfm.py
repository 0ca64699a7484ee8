"""RFM scores (1 to 5) and the named segment of a customer (pure), by the one definition in
:mod:`lakehouse.core.rfm` (docs/rfm.md).

Scores use the quintile breakpoints the batch star build publishes (``state/rfm_breakpoints.json``, see
:mod:`lakehouse.core.rfm_breakpoints`) and the measures of :func:`lakehouse.core.rfm.measures`, so a live score and
a batch score of the same customer as of the same day agree:

* recency_days = days from the last completed order's day to the as-of day;
* frequency = completed orders in the ``window_days`` days ending on the as-of day (inclusive);
* monetary = the sum of those orders' values in the reporting currency (refunds not subtracted, as in the batch);
* F, M = 1 + #(cuts < value); R = 5 - #(cuts < recency_days). No order in the window: no scores.

Until a build has published breakpoints, :data:`DEFAULT_BREAKPOINTS` apply. Segments: the rule table
:data:`lakehouse.core.rfm.RULES` (seven segments, first matching rule wins, total); a customer without scores is
``No recent purchase``, as in the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.core.rfm import Segment, label
from lakehouse.core.rfm_breakpoints import Breakpoints
from stream.reference import Refreshed

SEGMENTS = tuple(s.value for s in Segment)  #: the segment names (lakehouse.core.rfm.Segment)

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
    """The segment label of ``rfm`` (:func:`lakehouse.core.rfm.label`; 'No recent purchase' for None)."""
    return label((rfm.r, rfm.f, rfm.m) if rfm is not None else None)


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
