"""RFM breakpoints as the streaming job reads them: loading and scoring."""

from __future__ import annotations

import json
from datetime import date

from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.rfm_breakpoints import (
    BREAKPOINTS_KEY,
    HISTORY_KEY,
    Breakpoints,
    breakpoints_of_day,
    load_breakpoints,
)

DOCUMENT = {"recency_days": [5, 12, 30, 60], "frequency": [1, 1, 2, 4], "monetary": [20, 50, 100, 250],
            "window_days": 365, "population": 120, "as_of": "2025-06-30", "computed_at": "2025-07-01T02:00:00Z"}


def test_no_breakpoints_before_the_first_build(settings) -> None:
    assert load_breakpoints(settings) is None


def test_breakpoints_load_from_the_lake(settings) -> None:
    LakeStorage(settings.lake).put_bytes(BREAKPOINTS_KEY, json.dumps(DOCUMENT).encode())
    loaded = load_breakpoints(settings)
    assert loaded == Breakpoints((5, 12, 30, 60), (1, 1, 2, 4), (20, 50, 100, 250), 365, 120, "2025-06-30",
                                 "2025-07-01T02:00:00Z")


def test_scores_count_the_cut_points_passed() -> None:
    bp = Breakpoints.from_dict(DOCUMENT)
    assert bp.scores(3, 6, 400.0) == (5, 5, 5)  # most recent, most orders, most money
    assert bp.scores(90, 1, 10.0) == (1, 1, 1)
    assert bp.scores(12, 2, 50.0) == (4, 3, 2)  # a value on a cut point does not pass it
    assert bp.scores(None, 0, 0.0) is None
    assert bp.segment(3, 6, 400.0) == "Champions" and bp.segment(None, 0, 0) == "No recent purchase"


def test_breakpoints_name_segments_from_the_one_rule_table() -> None:
    """Seen failing before issue 12's item 5: ``Breakpoints.segment`` named the batch's own six (Recent for R 5,
    F 1), the live features the seven of docs/rfm.md."""
    bp = Breakpoints.from_dict(DOCUMENT)
    assert bp.segment(3, 1, 10.0) == "Potential Loyalist"  # R 5, F 1, M 1
    assert bp.segment(90, 6, 400.0) == "Can't Lose Them"  # R 1, F 5, M 5
    assert bp.segment(13, 2, 60.0) == "Potential Loyalist"  # R 3, F 3, M 3
    assert bp.segment(40, 1, 10.0) == "Hibernating" and bp.segment(61, 1, 10.0) == "Lost"


HISTORY = {"window_days": 365, "quantiles": [0.2, 0.4, 0.6, 0.8], "as_of": "2025-07-14",
           "computed_at": "2025-07-15T02:00:00Z",
           "days": {"2025-05-31": {"recency_days": [6, 13, 31, 61], "frequency": [1, 1, 2, 4],
                                   "monetary": [20, 50, 100, 250], "population": 118},
                    "2025-06-30": {**{k: DOCUMENT[k] for k in ("recency_days", "frequency", "monetary")},
                                   "population": 120},
                    "2025-07-14": {"recency_days": [5, 12, 30, 60], "frequency": [1, 2, 2, 4],
                                   "monetary": [20, 50, 100, 250], "population": 125}}}


def test_a_snapshot_day_has_its_own_breakpoints_other_days_the_last_snapshot_before_them(settings) -> None:
    """The history holds the snapshot days of the monthly ``fact_customer_metrics`` (month ends and the as-of day).
    A past snapshot day scores with its own cuts (issue 12: before, only the latest day's were published, so
    ``lakehouse customer --as-of`` scored past days with the latest); a day between two snapshots with the last
    snapshot day's before it (issue 15: seen failing with the exact-day lookup, which answered None for
    2025-06-15 and so scored it with the latest cuts, a later day's)."""
    assert breakpoints_of_day(settings, date(2025, 5, 31)) is None  # no build yet
    LakeStorage(settings.lake).put_bytes(HISTORY_KEY, json.dumps(HISTORY).encode())
    past = breakpoints_of_day(settings, date(2025, 5, 31))
    assert past == Breakpoints((6, 13, 31, 61), (1, 1, 2, 4), (20, 50, 100, 250), 365, 118, "2025-05-31",
                               "2025-07-15T02:00:00Z")
    assert past.scores(61, 1, 10.0) == (2, 1, 1) and Breakpoints.from_dict(DOCUMENT).scores(61, 1, 10.0) == (1, 1, 1)
    assert breakpoints_of_day(settings, date(2025, 6, 15)) == past  # between two month ends: the one before
    assert breakpoints_of_day(settings, date(2025, 6, 30)).population == 120
    assert breakpoints_of_day(settings, date(2025, 7, 1)).as_of == "2025-06-30"
    assert breakpoints_of_day(settings, date(2025, 7, 14)).population == 125  # the as-of day, no month end
    assert breakpoints_of_day(settings, date(2025, 5, 30)) is None  # before the first snapshot: the caller's
    assert breakpoints_of_day(settings, date(2025, 7, 15)) is None  # after the last build: the caller takes the latest
