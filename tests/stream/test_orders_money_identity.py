"""Issue 11 in the live features, through the streaming job on moto (Kinesis -> keyed state -> DynamoDB): orders by
order_id, refunds netted and capped, cancellations, money in the reporting currency, identity stitching exactly once,
believable times only.

Each ``job.process(rows)`` puts the rows on the stream and runs the job over them (``run_stream(once=True)``: one
micro-batch for the rows, then any micro-batches the identity merges forward to).

Every expectation is computed by hand in the test (the comments show the arithmetic). The raw records are written
here from Segment's tracking API and e-commerce spec v2 (schema_version 2), not produced by the API's code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lakehouse.core.config import Settings
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from stream.job import StreamJobError, StreamReport, run_stream

from .conftest import put_payloads, record_bytes, stored_items

T0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
RATES = "rate_date,currency,rate\n2025-06-01,EUR,1.10\n2025-06-02,EUR,1.20\n"


def at(days: float = 0, minutes: int = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def call(event_id: str, kind: str, when: datetime, *, user: str | None = None, anonymous: str | None = None,
         event: str | None = None, properties: dict[str, Any] | None = None, previous: str | None = None,
         received: datetime | None = None) -> dict[str, Any]:
    """A raw record (schema 2) as the API lands it: received a minute after the event unless said otherwise."""
    return {"event_id": event_id, "message_id": event_id, "type": kind, "event": event, "name": None,
            "category": None, "user_id": user, "anonymous_id": anonymous, "customer_id": user or anonymous,
            "previous_id": previous, "group_id": None, "timestamp": iso(when), "original_timestamp": iso(when),
            "sent_at": None, "received_at": iso(received or when + timedelta(minutes=1)), "source": "test",
            "properties": properties or {}, "traits": {}, "context": {}, "integrations": {}, "schema_version": 2}


def order(event_id: str, when: datetime, user: str, name: str = "Order Completed", **properties: Any) -> dict:
    return call(event_id, "track", when, user=user, event=name, properties=properties)


class Job:
    """The streaming job over what the test puts on the stream."""

    def __init__(self, settings: Settings, spark) -> None:
        self.settings, self.spark = settings, spark

    def process(self, rows: list[dict], fault=None) -> StreamReport:
        """Put ``rows`` on the stream (in order, one shard) and run the job until nothing is in flight."""
        put_payloads(self.settings.names.stream, [record_bytes(r) for r in rows])
        return run_stream(self.settings, self.spark, once=True, fault=fault)


@pytest.fixture
def job(aws_settings: Settings, spark) -> Job:
    LakeStorage(aws_settings.lake).put_bytes(aws_settings.money.rates_key, RATES.encode(), content_type="text/csv")
    return Job(aws_settings, spark)


def features(settings: Settings, customer: str) -> dict[str, Any]:
    return stored_items(settings)[customer]["features"]


def customers(settings: Settings) -> set[str]:
    return {cid for cid, item in stored_items(settings).items() if "merged_into" not in item}


# --- orders by order_id -------------------------------------------------------------------------------------
def test_orders_count_once_refunds_net_and_cap_cancellations_reverse(job: Job,
                                                                     aws_settings: Settings) -> None:
    """The refunds, the cancellation, the update and the re-post arrive one micro-batch BEFORE their orders.

    Seen failing before issue 11: the re-posted o-1 counted twice (orders 7), the full refund of o-2 was refused
    (no total), refunds were subtracted whole (o-5's 15 > its 10), the cancelled o-4 still counted.
    """
    u = "u1"
    late = [
        order("o1-repost", at(0, 5), u, order_id="o-1", total=Decimal("100.00")),  # a client retry: new messageId
        order("r2", at(1, 60), u, "Order Refunded", order_id="o-2"),  # only order_id: the full refund
        order("r3", at(2, 60), u, "Order Refunded", order_id="o-3", products=[{"price": 20, "quantity": 1}]),
        order("x4", at(2, 90), u, "Order Cancelled", order_id="o-4"),
        order("r5", at(2, 120), u, "Order Refunded", order_id="o-5", total=15),  # more than the order's 10
        order("u6", at(2, 150), u, "Order Updated", order_id="o-6", total=45),
    ]
    first = job.process(late)
    assert first.rejected == 0
    waiting = features(aws_settings, u)
    assert waiting["orders"] == 1  # the re-post is o-1 until its first post arrives
    assert waiting["unmatched_refunds"] == 3 and waiting["revenue"] == Decimal("100.00")  # r2, r3, r5 wait
    orders = [
        order("o1", at(0), u, order_id="o-1", total=Decimal("100.00")),
        order("o2", at(1), u, order_id="o-2", revenue=40, subtotal=35),  # revenue-only order: 40
        order("o3", at(2), u, order_id="o-3", total=50),
        order("o4", at(2, 1), u, order_id="o-4", total=30),
        order("o5", at(2, 2), u, order_id="o-5", total=10),
        order("o6", at(2, 3), u, order_id="o-6", total=60),
    ]
    job.process(orders)
    got = features(aws_settings, u)
    # counting orders: o-1 (100), o-2 (40), o-3 (50), o-5 (10), o-6 (45 after the update) = 5 orders, 245.00
    # refunds: o-2 full 40 + o-3 20 + o-5 capped at 10 = 70.00; revenue 175.00; average 175 / 5 = 35.00
    assert (got["orders"], got["order_total"], got["refunds"], got["revenue"]) == (
        5, Decimal("245.00"), Decimal("70.00"), Decimal("175.00"))
    assert got["avg_order_value"] == Decimal("35.00") and got["monetary"] == Decimal("245.00")
    assert (got["cancelled_orders"], got["duplicate_orders"], got["capped_refunds"], got["unmatched_refunds"]) == (
        1, 1, 1, 0)
    # windows end on 2025-06-03 (the latest order event, u6 at 2025-06-03 12:30): everything is inside 90 days
    assert got["orders_90d"] == 5 and got["revenue_90d"] == Decimal("175.00") and got["frequency"] == 5
    assert got["first_order_at"] == "2025-06-01T10:00:00.000Z"  # o-1's first post, not the re-post
    assert got["reporting_currency"] == "USD" and got["unconverted_orders"] == 0


def test_a_duplicate_order_counts_once_whichever_post_arrives_first(job: Job,
                                                                     aws_settings: Settings) -> None:
    """The earliest post wins (event time, then received_at, then event_id), in one batch or two."""
    job.process([order("b", at(0, 5), "u2", order_id="o-9", total=12)])
    job.process([order("a", at(0), "u2", order_id="o-9", total=12)])
    got = features(aws_settings, "u2")
    assert (got["orders"], got["revenue"], got["duplicate_orders"]) == (1, Decimal("12.00"), 1)
    assert got["last_order_at"] == "2025-06-01T10:00:00.000Z"  # post "a" is the order


# --- money in the reporting currency ------------------------------------------------------------------------
def test_eur_and_usd_are_summed_in_usd_and_a_missing_rate_is_reported_not_summed(
        job: Job, aws_settings: Settings) -> None:
    """Rates (USD per unit): EUR 1.10 on 2025-06-01, 1.20 on 2025-06-02; none for GBP; max rate age 7 days.

    Seen failing before issue 11: EUR and USD amounts were added as one number (revenue 245.555 - 50).
    """
    u = "u3"
    rows = [
        order("e1", at(0), u, order_id="e-1", total=100, currency="EUR"),  # 100 x 1.10 = 110.00
        order("e1r", at(0, 30), u, "Order Refunded", order_id="e-1", total=50, currency="EUR"),  # 50 x 1.10 = 55.00
        order("e2", at(3), u, order_id="e-2", total=Decimal("10.555"), currency="EUR"),  # x 1.20 = 12.666 -> 12.67
        order("d1", at(3, 1), u, order_id="d-1", total=20, currency="USD"),  # 20.00
        order("g1", at(3, 2), u, order_id="g-1", total=50, currency="GBP"),  # no GBP rate: unconverted
        order("e3", at(19), u, order_id="e-3", total=30, currency="EUR"),  # 06-20: latest rate 18 days old
    ]
    job.process(rows)
    got = features(aws_settings, u)
    # order_total 110.00 + 12.67 + 20.00 = 142.67; refunds 55.00; revenue 87.67 over 3 converted orders = 29.22
    assert (got["order_total"], got["refunds"], got["revenue"]) == (Decimal("142.67"), Decimal("55.00"),
                                                                   Decimal("87.67"))
    assert got["avg_order_value"] == Decimal("29.22") and got["monetary"] == Decimal("142.67")
    assert got["orders"] == 5 and got["unconverted_orders"] == 2
    assert got["unconverted_amounts"] == {"EUR": Decimal("30"), "GBP": Decimal("50")}
    # the 90-day window ends 2025-06-20: e-1 nets 55.00, e-2 12.67, d-1 20.00 -> 87.67 (unconverted left out)
    assert got["revenue_90d"] == Decimal("87.67") and got["orders_90d"] == 5


def test_rates_are_re_read_from_the_lake(aws_settings: Settings) -> None:
    """A rate published later converts an order that was unconverted (the feature is recomputed with it)."""
    from stream.reference import RatesProvider

    clock = {"now": 0.0}
    storage = LakeStorage(aws_settings.lake)
    provider = RatesProvider.of_settings(aws_settings)
    provider._clock = lambda: clock["now"]  # type: ignore[attr-defined]
    storage.put_bytes(aws_settings.money.rates_key, b"rate_date,currency,rate\n2025-06-01,GBP,1.25\n")
    assert provider.current().rate("EUR", T0.date()) is None  # this file has no EUR rate
    storage.put_bytes(aws_settings.money.rates_key, RATES.encode())
    assert provider.current().rate("EUR", T0.date()) is None  # not re-read before the refresh interval
    clock["now"] = aws_settings.stream.breakpoints_refresh_seconds
    assert provider.current().rate("EUR", T0.date()) == Decimal("1.10")
    storage.put_bytes(aws_settings.money.rates_key, b"rate_date,currency,rate\nnot-a-date,EUR,1\n")
    clock["now"] *= 2
    assert provider.current().rate("EUR", T0.date()) == Decimal("1.10")  # a broken file keeps the rates in force


# --- identity stitching -------------------------------------------------------------------------------------
def journey(anonymous: str = "anon-1", user: str = "u7") -> tuple[list[dict], dict, dict]:
    """Anonymous views + cart + page, then the identify (both ids), then the order."""
    browsing = [
        call(f"{user}-v1", "track", at(0), anonymous=anonymous, event="Product Viewed",
             properties={"product_id": "p1"}),
        call(f"{user}-v2", "track", at(0, 2), anonymous=anonymous, event="Product Viewed",
             properties={"product_id": "p2"}),
        call(f"{user}-c1", "track", at(0, 3), anonymous=anonymous, event="Product Added",
             properties={"product_id": "p2"}),
        call(f"{user}-p1", "page", at(0, 4), anonymous=anonymous),
    ]
    identify = call(f"{user}-i1", "identify", at(0, 5), user=user, anonymous=anonymous)
    purchase = order(f"{user}-o1", at(0, 9), user, order_id=f"o-{user}", total=80)
    return browsing, identify, purchase


def assert_stitched(settings: Settings, anonymous: str = "anon-1", user: str = "u7", views: int = 2) -> None:
    items = stored_items(settings)
    assert customers(settings) == {user}  # the anonymous id is no customer of its own
    got = items[user]["features"]
    assert (got["views_7d"], got["carts_7d"], got["orders"], got["revenue"]) == (views, 1, 1, Decimal("80.00"))
    assert got["last_seen_at"] == "2025-06-01T10:09:00.000Z" and got["merged_ids"] == 1
    assert items[user]["state"]["merged_from"] == [anonymous]
    if anonymous in items:  # the anonymous id had an item before the identify: marked merged, emptied
        assert items[anonymous]["merged_into"] == user
        assert "features" not in items[anonymous] and "state" not in items[anonymous]


def test_identify_a_micro_batch_later_merges_the_anonymous_item_once(job: Job,
                                                                     aws_settings: Settings) -> None:
    """Seen failing before issue 11: u7 had only the order (views 0) and anon-1 stayed a customer of its own."""
    browsing, identify, purchase = journey()
    job.process(browsing)
    assert customers(aws_settings) == {"anon-1"}
    result = job.process([identify, purchase])
    assert (result.links, result.merged) == (1, 1)  # the link in one micro-batch, the merge in the next
    assert_stitched(aws_settings)
    later = call("v3", "track", at(0, 20), anonymous="anon-1", event="Product Viewed", properties={"product_id": "p3"})
    job.process([later])  # the anonymous id's later events go to the customer
    assert customers(aws_settings) == {"u7"} and features(aws_settings, "u7")["views_7d"] == 3
    assert stored_items(aws_settings)["anon-1"]["merged_into"] == "u7"


def test_identify_in_the_same_micro_batch_and_before_the_anonymous_events(job: Job,
                                                                          aws_settings: Settings) -> None:
    browsing, identify, purchase = journey()
    job.process([*browsing, identify, purchase])
    assert_stitched(aws_settings)
    marker = stored_items(aws_settings)["anon-1"]  # no features of its own: a marker saying where they went
    assert (marker["merged_into"], "features" in marker, "state" in marker) == ("u7", False, False)
    browsing2, identify2, purchase2 = journey("anon-2", "u8")
    job.process([identify2])  # identify days before the anonymous events
    job.process([*browsing2, purchase2])
    got = features(aws_settings, "u8")
    assert (got["views_7d"], got["carts_7d"], got["orders"]) == (2, 1, 1)
    marker = stored_items(aws_settings)["anon-2"]
    assert (marker["merged_into"], "features" in marker, "state" in marker) == ("u8", False, False)


@pytest.mark.parametrize("step", ["after-writes", "after-forwards"])
def test_a_merging_batch_failing_at_a_step_and_replayed_merges_once(job: Job, aws_settings: Settings,
                                                                    step: str) -> None:
    """The micro-batch that takes the identify fails after its item writes (u7 written, anon-1 marked, the merge
    record not yet sent) or after its forward object; Spark replays it from the state of the batch before.

    Seen failing with the forward object named per attempt instead of per micro-batch and the ``merged_from``
    guard removed: the replay's second merge record was applied too (``merged`` 2, anon-1 counted twice)."""
    failures = {step}

    def fault(at_step: str, batch_id: int) -> None:
        if at_step in failures and batch_id == 1:
            failures.discard(at_step)
            raise RuntimeError(f"injected {at_step}")

    browsing, identify, purchase = journey()
    job.process(browsing)
    with pytest.raises(StreamJobError, match="injected"):
        job.process([identify, purchase], fault=fault)
    report = run_stream(aws_settings, job.spark, once=True)  # the restart replays batch 1, then the merge
    assert report.merged == 1
    assert_stitched(aws_settings)


def test_links_survive_a_restart_and_conflicts_keep_the_first(job: Job, aws_settings: Settings) -> None:
    """A restarted job (a new run of the same checkpoint) keeps the links in its state; a second user for the same
    anonymous id is a conflict: counted, ignored (the stream keeps the link that arrived first)."""
    browsing, identify, purchase = journey()
    job.process([identify])
    other = call("i2", "identify", at(0, 6), user="someone-else", anonymous="anon-1")
    result = job.process([*browsing, other, purchase])
    assert result.summary()["identity_conflicts"] == 1 and result.links == 0
    assert customers(aws_settings) == {"u7", "someone-else"}
    assert features(aws_settings, "u7")["views_7d"] == 2


def test_an_alias_merges_two_known_customers(job: Job, aws_settings: Settings) -> None:
    """alias previous_id -> user_id: the old id's orders move to the new id (transitively with its anonymous id).
    An alias and a group call are no activity: last_seen_at stays the latest real event."""
    job.process([order("a1", at(0), "old-id", order_id="o-a", total=30),
                 call("i", "identify", at(0, 1), user="old-id", anonymous="anon-5"),
                 call("v", "track", at(0, 2), anonymous="anon-5", event="Product Viewed")])
    job.process([order("b1", at(1), "new-id", order_id="o-b", total=20)])
    alias = call("al", "alias", at(5), user="new-id", previous="old-id")
    group = call("gr", "group", at(6), user="new-id")
    result = job.process([alias, group])
    assert result.merged == 1
    assert customers(aws_settings) == {"new-id"}
    got = features(aws_settings, "new-id")
    assert (got["orders"], got["revenue"], got["views_7d"]) == (2, Decimal("50.00"), 1)
    assert got["last_seen_at"] == "2025-06-02T10:00:00.000Z"  # b1's time: neither the alias nor the group
    assert stored_items(aws_settings)["new-id"]["state"]["merged_from"] == ["anon-5", "old-id"]
    assert got["merged_ids"] == 2
    job.process([call("v9", "track", at(7), anonymous="anon-5", event="Product Viewed")])  # anon-5 -> old-id -> new-id
    assert features(aws_settings, "new-id")["views_7d"] == 1  # as of 06-08: 06-01 left the window


# --- believable times --------------------------------------------------------------------------------------
def test_events_dated_2099_or_1971_are_quarantined_and_move_no_recency(job: Job,
                                                                      aws_settings: Settings) -> None:
    """Seen failing before issue 11: the 2099 page became u9's as-of day (recency 27,000+ days, the real order out of
    every window) and the 1971 order counted."""
    rows = [order("real", at(0), "u9", order_id="o-r", total=25),
            call("future", "page", datetime(2099, 1, 1, tzinfo=UTC), user="u9", received=at(1)),
            order("past", datetime(1971, 1, 1, tzinfo=UTC), "u9", order_id="o-p", total=99, )]
    rows[2]["received_at"] = iso(at(1))
    result = job.process(rows)
    assert result.rejected == 2
    got = features(aws_settings, "u9")
    assert got["last_seen_at"] == "2025-06-01T10:00:00.000Z" and got["as_of"] == "2025-06-01"
    assert (got["recency_days"], got["orders"], got["revenue"], got["orders_90d"]) == (0, 1, Decimal("25.00"), 1)
    (key,) = [b.quarantine_key for b in result.batches if b.quarantine_key]
    lines = [json.loads(line) for line in decode_lines(LakeStorage(aws_settings.lake).get_bytes(key))]
    assert [(line["payload"]["event_id"], line["errors"][0]["field"]) for line in lines] == [
        ("future", "timestamp"), ("past", "timestamp")]
