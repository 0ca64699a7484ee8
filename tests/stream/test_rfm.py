"""RFM scores from published (or default) breakpoints, and the seven named segments."""

from __future__ import annotations

import itertools

from lakehouse.core.rfm_breakpoints import NO_PURCHASE, Breakpoints
from stream.rfm import DEFAULT_BREAKPOINTS, SEGMENTS, BreakpointsProvider, RfmScores, scores, segment


def test_every_score_combination_has_exactly_one_of_the_seven_segments() -> None:
    seen = {segment(RfmScores(r, f, m)) for r, f, m in itertools.product(range(1, 6), repeat=3)}
    assert seen == set(SEGMENTS)


def test_segment_rules() -> None:
    assert segment(RfmScores(5, 5, 5)) == "Champions"
    assert segment(RfmScores(4, 5, 3)) == "Loyal"
    assert segment(RfmScores(3, 4, 1)) == "Loyal"
    assert segment(RfmScores(5, 1, 1)) == "Potential Loyalist"
    assert segment(RfmScores(3, 3, 5)) == "Potential Loyalist"
    assert segment(RfmScores(1, 5, 5)) == "Can't Lose Them"
    assert segment(RfmScores(2, 4, 2)) == "At Risk"
    assert segment(RfmScores(1, 3, 1)) == "At Risk"
    assert segment(RfmScores(2, 2, 5)) == "Hibernating"
    assert segment(RfmScores(1, 1, 1)) == "Lost"
    assert segment(None) == NO_PURCHASE


def test_scores_follow_the_batch_definitions() -> None:
    cuts = Breakpoints((10.0, 20.0, 40.0, 80.0), (1.0, 2.0, 4.0, 8.0), (100.0, 200.0, 400.0, 800.0), 365, 50,
                       "2025-06-01", "2025-06-01T03:00:00Z")
    assert scores(cuts, 0, 20, 1000.0) == RfmScores(5, 5, 5)
    assert scores(cuts, 10, 1, 100.0) == RfmScores(5, 1, 1)  # cut < value: equal to a cut stays below it
    assert scores(cuts, 11, 2, 100.01) == RfmScores(4, 2, 2)
    assert scores(cuts, 500, 3, 50.0) == RfmScores(1, 3, 1)
    assert scores(cuts, 3, 0, 0.0) is None  # no order in the window: unscored


def test_breakpoints_provider_uses_defaults_until_published_and_refreshes() -> None:
    published: list[Breakpoints | None] = [None]
    now = [0.0]
    provider = BreakpointsProvider(lambda: published[0], refresh_seconds=60, clock=lambda: now[0])
    assert provider.current() is DEFAULT_BREAKPOINTS
    fresh = Breakpoints((1.0, 2.0, 3.0, 4.0), (1.0, 1.0, 2.0, 3.0), (5.0, 6.0, 7.0, 8.0), 180, 9, "d", "c")
    published[0] = fresh
    assert provider.current() is DEFAULT_BREAKPOINTS  # not yet due
    now[0] = 61
    assert provider.current() is fresh


def test_breakpoints_provider_keeps_the_last_good_ones_when_loading_fails() -> None:
    calls = []

    def load():
        calls.append(1)
        if len(calls) > 1:
            raise OSError("lake unreachable")
        return DEFAULT_BREAKPOINTS

    now = [0.0]
    provider = BreakpointsProvider(load, refresh_seconds=1, clock=lambda: now[0])
    assert provider.current() is DEFAULT_BREAKPOINTS
    now[0] = 5
    assert provider.current() is DEFAULT_BREAKPOINTS and len(calls) == 2
