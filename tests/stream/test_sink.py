"""The DynamoDB sink on a real (moto) server: replays change nothing, duplicates are dropped, conflicts re-read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from stream.features import customer_deltas
from stream.records import StreamEvent
from stream.rfm import DEFAULT_BREAKPOINTS
from stream.sink import FeatureSink

from .conftest import stored_items

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def order(eid: str, customer: str, days: int = 0, total: str = "10.00") -> StreamEvent:
    return StreamEvent(eid, customer, "track", "Order Completed", T0 + timedelta(days=days), T0, Decimal(total))


def sink_for(settings: Settings, threads: int = 4) -> FeatureSink:
    return FeatureSink(settings.names.features_table, settings.names.stream_dedup_table, threads=threads)


def write(sink: FeatureSink, token: str, events: list[StreamEvent]) -> tuple[int, int, int]:
    claim = sink.claim(token, events)
    applied = sink.apply(token, customer_deltas(claim.fresh), DEFAULT_BREAKPOINTS)
    return claim.duplicates, applied.written, applied.skipped


def test_a_replayed_batch_changes_nothing(aws_settings: Settings) -> None:
    sink = sink_for(aws_settings)
    events = [order(f"e{i}", f"c{i % 7}", days=i) for i in range(40)]
    assert write(sink, "run/0", events) == (0, 7, 0)
    before = stored_items(aws_settings)
    assert write(sink, "run/0", events) == (0, 0, 7)  # the same batch again: claims are ours, items skipped
    assert stored_items(aws_settings) == before
    assert sum(int(i["features"]["orders"]) for i in before.values()) == 40


def test_a_replay_after_a_partial_write_completes_it(aws_settings: Settings) -> None:
    sink = sink_for(aws_settings)
    events = [order(f"p{i}", f"c{i % 5}") for i in range(20)]
    claim = sink.claim("run/3", events)
    deltas = customer_deltas(claim.fresh)
    sink.apply("run/3", {c: deltas[c] for c in ["c0", "c1"]}, DEFAULT_BREAKPOINTS)  # crash after two customers
    assert write(sink, "run/3", events) == (0, 3, 2)
    assert {c: int(i["features"]["orders"]) for c, i in stored_items(aws_settings).items()} == {
        f"c{i}": 4 for i in range(5)}


def test_events_applied_by_an_earlier_batch_are_duplicates(aws_settings: Settings) -> None:
    sink = sink_for(aws_settings)
    assert write(sink, "run/0", [order("e1", "c1"), order("e2", "c1")]) == (0, 1, 0)
    assert write(sink, "run/1", [order("e2", "c1"), order("e3", "c1", days=2)]) == (1, 1, 0)
    assert write(sink, "other-run/0", [order("e1", "c1"), order("e3", "c1")]) == (2, 0, 0)
    item = stored_items(aws_settings)["c1"]
    assert item["features"]["orders"] == 3 and item["last_batch"] == "run/1" and item["version"] == 2
    claims = aws_client("dynamodb").get_item(TableName=aws_settings.names.stream_dedup_table,
                                             Key={"dedup_key": {"S": "event#e2"}})["Item"]
    assert claims["batch_token"]["S"] == "run/0" and int(claims["expires_at"]["N"]) > T0.timestamp()


def test_a_concurrent_change_is_re_read_not_overwritten(aws_settings: Settings) -> None:
    sink = sink_for(aws_settings, threads=1)
    write(sink, "run/0", [order("e1", "c1")])
    stale = sink._get_many(aws_settings.names.features_table, "customer_id", ["c1"])
    write(sink, "run/1", [order("e2", "c1")])  # another writer moves the item on
    claim = sink.claim("run/2", [order("e3", "c1")])
    status, conflicts, _ = sink._apply_one("run/2", customer_deltas(claim.fresh)["c1"], stale["c1"],
                                           DEFAULT_BREAKPOINTS)
    assert (status, conflicts) == ("written", 1)
    assert stored_items(aws_settings)["c1"]["features"]["orders"] == 3
