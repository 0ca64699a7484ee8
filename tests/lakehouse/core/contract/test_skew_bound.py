"""The clock-skew correction is bounded (issue 12, item 2): in the contract, and as the ingestion Lambda applies
and counts it.

Oracle: the expected times are written by hand from the rule in docs/ingestion.md ("The correction is
bounded"): a correction ``received_at - sentAt`` larger than the bound (default one day) is not applied unless
the client's own time is unbelievable (more than a day after arrival, or before 1990).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.core.config import PiiSettings
from lakehouse.core.contract import EventTimeRule, iso, parse_event, to_record
from lakehouse.core.contract.record import skew_correction_skipped
from lambdas.ingest.normalise import BatchContext, Normaliser
from lambdas.ingest.pii import PiiRules

RECEIVED = datetime(2025, 6, 12, 9, 31, tzinfo=UTC)
DAY = timedelta(days=1)

# name -> (client timestamp, sentAt, expected timestamp, correction skipped for its size)
CASES: dict[str, tuple[datetime, datetime, datetime, bool]] = {
    "replay 3 days later with its original sentAt": (
        RECEIVED - 3 * DAY - timedelta(minutes=10), RECEIVED - 3 * DAY, RECEIVED - 3 * DAY - timedelta(minutes=10),
        True),
    "clock 14 h behind (a time-zone mistake)": (
        RECEIVED - timedelta(hours=14, minutes=1), RECEIVED - timedelta(hours=14), RECEIVED - timedelta(minutes=1),
        False),
    "correction of exactly the bound": (RECEIVED - DAY - timedelta(minutes=1), RECEIVED - DAY,
                                        RECEIVED - timedelta(minutes=1), False),
    "correction one second over the bound": (
        RECEIVED - DAY - timedelta(seconds=61), RECEIVED - DAY - timedelta(seconds=1),
        RECEIVED - DAY - timedelta(seconds=61), True),
    "a phone reset to last year (believable: kept)": (
        RECEIVED - 365 * DAY, RECEIVED - 365 * DAY + timedelta(minutes=1), RECEIVED - 365 * DAY, True),
    "clock 2 days ahead (its own time is in the future: corrected)": (
        RECEIVED + 2 * DAY - timedelta(minutes=5), RECEIVED + 2 * DAY, RECEIVED - timedelta(minutes=5), False),
    "device clock in 2099 (corrected)": (
        datetime(2099, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, 0, 0, 30, tzinfo=UTC),
        RECEIVED - timedelta(seconds=30), False),
    "device clock in 1971 (corrected)": (
        datetime(1971, 1, 1, tzinfo=UTC), datetime(1971, 1, 1, 0, 1, tzinfo=UTC), RECEIVED - timedelta(minutes=1),
        False),
}


def call(timestamp: datetime, sent_at: datetime) -> dict:
    return {"type": "page", "userId": "u-skew", "name": "Home", "timestamp": iso(timestamp), "sentAt": iso(sent_at)}


@pytest.mark.parametrize("name", list(CASES))
def test_the_correction_is_applied_within_the_bound_or_when_the_clock_is_provably_wrong(name: str) -> None:
    """Seen failing before the bound (every correction applied): the replay was dated 3 days later, the
    one-second-over case a day later, last year's phone at the arrival time."""
    timestamp, sent_at, expected, skipped = CASES[name]
    payload = call(timestamp, sent_at)
    record = to_record(parse_event(payload), payload, source="web", received_at=RECEIVED, time_rule=EventTimeRule())
    assert (record["timestamp"], skew_correction_skipped(record)) == (iso(expected), skipped)
    assert record["original_timestamp"] == iso(timestamp)


def test_the_bound_is_a_setting() -> None:
    """With a 7-day bound the 3-day replay is corrected again (Segment's unbounded behaviour, up to a week)."""
    timestamp, sent_at, _, _ = CASES["replay 3 days later with its original sentAt"]
    payload = call(timestamp, sent_at)
    rule = EventTimeRule(max_skew_correction_seconds=7 * 86_400)
    record = to_record(parse_event(payload), payload, source="web", received_at=RECEIVED, time_rule=rule)
    assert record["timestamp"] == iso(timestamp + 3 * DAY) and not skew_correction_skipped(record, rule)


def test_the_lambda_counts_the_corrections_it_did_not_apply() -> None:
    calls = [call(t, s) for t, s, _, _ in CASES.values()]
    out = Normaliser(PiiRules(PiiSettings()), EventTimeRule()).run(
        calls, BatchContext(source="web", received_at=RECEIVED))
    assert out.rejections == [] and len(out.records) == len(CASES)
    assert out.skew_not_corrected == sum(skipped for *_, skipped in CASES.values()) == 3
