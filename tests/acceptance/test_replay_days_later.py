"""Issue 12, item 2, end to end: a request replayed days later with its original ``sentAt`` counts once, in the
curated zone, the star schema, the marts and the live features.

The pipeline is the real one (the ingestion service with its real sinks, the local HTTP gateway, the raw archive,
the batch chain on Spark and DuckDB, the streaming job on moto's Kinesis and DynamoDB). The first delivery of the
request is made through the ingestion service with an arrival time three days ago (``IngestRequest.received_at``: the
clock of the machine cannot be moved); the replay goes through the gateway now, the same body byte for byte —
``sentAt`` three days old, so the API sees a clock-skew correction of three days. Between the two the batch and
the stream run; after the replay a fresh customer's request arrives too, so the star build and the marts are
rebuilt (an unchanged curated zone would skip them and prove nothing), and everything runs again.

Two settings: the default bound of the correction (one day: the replay keeps its client times) and no
practical bound (366 days: the replay's events are moved three days later, and only the event id index keeps
them out of the curated zone).

Hand computation for customer ``acc-replay`` (all USD): order 42.00, refund 2.00 -> net 40.00; one session of
page, view, cart, order; live: orders 1, revenue 40.00, views_7d 1, carts_7d 1.

Seen failing before the fix (HEAD's code, default settings): the second batch run failed in its warehouse step —
DuckDB's MERGE refused it ("MERGE INTO command cannot affect the same target row more than once"): the replay's
events had been curated a second time, three days later, so one event_id reached the star's facts twice; every
later run would have failed the same way. (The same lake at the curated level: tests/glue_jobs/curated/
test_exactly_once_across_runs.py.)
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import requests

from lakehouse.core.config import EventTimeSettings, Settings
from lakehouse.core.contract import EventTimeRule, iso
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.lake.tables import read_arrow
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.batch import BatchReport, run_batch
from lakehouse.local.gateway import LocalGateway
from lambdas.ingest.app import default_key_lookup
from lambdas.ingest.kinesis_sink import KinesisSink
from lambdas.ingest.normalise import Normaliser
from lambdas.ingest.pii import PiiRules
from lambdas.ingest.raw_sink import LakeRawSink
from lambdas.ingest.service import IngestRequest, IngestService
from stream.archive import run_archive
from stream.job import StreamReport, run_stream
from tests.acceptance.journeys import call, track
from tests.lambdas.ingest.conftest import raw_records
from tests.stream.conftest import stored_items

D = Decimal
REPLAYED = "acc-replay"
FRESH = "acc-fresh"
DAYS_LATER = 3


def mart_queries(last_day: str) -> dict[str, str]:
    """The warehouse rows compared before and after the replay (days up to ``last_day``, the replayed events';
    later days appear with the fresh order)."""
    return {
        "fact_order": "SELECT order_id, order_value_rc, refunded_amount_rc, net_revenue_rc, duplicate_events "
                      f"FROM fact_order WHERE customer_id = '{REPLAYED}' ORDER BY 1",
        "fact_order_line": "SELECT order_id, event_id, quantity FROM fact_order_line "
                           "WHERE order_id = 'acc-o-replay'",
        "fact_refund": "SELECT order_id, refund_amount FROM fact_refund WHERE order_id = 'acc-o-replay'",
        "fact_session": "SELECT session_start, page_views, product_views, cart_adds, orders FROM fact_session "
                        f"WHERE customer_id = '{REPLAYED}' ORDER BY 1",
        "fact_customer_activity": f"SELECT count(*) FROM fact_customer_activity WHERE customer_id = '{REPLAYED}'",
        "mart_daily_kpis": "SELECT full_date, dau, sessions, orders, revenue, refunds FROM mart_daily_kpis "
                           f"WHERE full_date <= DATE '{last_day}' ORDER BY 1",
        "mart_funnel_daily": "SELECT full_date, viewers, cart_adders, purchasers FROM mart_funnel_daily "
                             f"WHERE full_date <= DATE '{last_day}' ORDER BY 1",
    }


def requests_of(first_sent: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The replayed request (sent at ``first_sent``, its events minutes before) and the fresh one (sent now)."""
    when = [iso(first_sent - timedelta(minutes=20 - k)) for k in range(6)]
    replayed = {"sentAt": iso(first_sent), "batch": [
        call("identify", "rp-1", when[0], user=REPLAYED, traits={"name": "Rhea Play"}),
        call("page", "rp-2", when[1], user=REPLAYED, name="Home", properties={"path": "/"}),
        track("rp-3", when[2], "Product Viewed", {"product_id": "p-rp", "price": 42.00}, user=REPLAYED),
        track("rp-4", when[3], "Product Added", {"product_id": "p-rp", "price": 42.00, "quantity": 1},
              user=REPLAYED),
        track("rp-5", when[4], "Order Completed", {
            "order_id": "acc-o-replay", "total": 42.00, "currency": "USD",
            "products": [{"product_id": "p-rp", "price": 42.00, "quantity": 1}]}, user=REPLAYED),
        track("rp-6", when[5], "Order Refunded", {"order_id": "acc-o-replay", "total": 2.00, "currency": "USD"},
              user=REPLAYED),
    ]}
    now = datetime.now(UTC)
    fresh = {"sentAt": iso(now), "batch": [
        track("fr-1", iso(now - timedelta(minutes=5)), "Order Completed", {
            "order_id": "acc-o-fresh", "total": 10.00, "currency": "USD"}, user=FRESH)]}
    return replayed, fresh


@dataclass
class Snapshot:
    """Every count the test compares, taken after a batch and a stream run."""

    curated: dict[str, list[str]] = field(default_factory=dict)  # table -> event ids of acc-replay
    warehouse: dict[str, list[tuple]] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)


@dataclass
class Replay:
    settings: Settings
    before: Snapshot
    after: Snapshot
    replay_answer: dict[str, Any]
    batches: list[BatchReport]
    streams: list[StreamReport]
    raw: list[dict[str, Any]]


def snapshot(settings: Settings, last_day: str) -> Snapshot:
    shot = Snapshot()
    for table in ("events", "orders", "refunds", "product_events", "order_lines"):
        rows = read_arrow(LakeStorage(settings.lake), settings.lake.curated_table(table)).to_pylist()
        if rows:
            shot.curated[table] = sorted(r["event_id"] for r in rows if r.get("customer_id") == REPLAYED)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        shot.warehouse = {name: con.execute(query).fetchall() for name, query in mart_queries(last_day).items()}
    shot.features = dict(stored_items(settings).get(REPLAYED, {}).get("features", {}))
    return shot


# "no bound" moves the replay's times three days, so only the event id index keeps it out; "default bound" (the same
# index, the replay at its client times). Both run from make bench (~75-105 s each on 2 cores: make test's budget);
# make test keeps the mechanism's own test, tests/glue_jobs/curated/test_exactly_once_across_runs.py (a copy with
# another timestamp days later is not curated again)
@pytest.fixture(scope="module", params=[pytest.param("default bound", marks=pytest.mark.slow),
                                        pytest.param("no bound", marks=pytest.mark.slow)])
def replay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str,
           spark) -> Replay:
    event_time = EventTimeSettings() if request.param == "default bound" else EventTimeSettings(
        max_skew_correction_seconds=366 * 86_400)
    settings = Settings(stage="trpl" + uuid.uuid4().hex[:6], home=tmp_path_factory.mktemp("replay") / "home",
                        event_time=event_time)
    provision(settings)
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("web").key
    first_sent = datetime.now(UTC) - timedelta(days=DAYS_LATER)
    replayed, fresh = requests_of(first_sent)
    body = json.dumps(replayed)

    service = IngestService(  # the Lambda's service as create_handler builds it, with the real sinks (Kinesis,
        # and the lake for rejects only: the raw archive lands accepted events)
        lookup_key=default_key_lookup(settings),
        normaliser=Normaliser(PiiRules(settings.pii), EventTimeRule(
            max_skew_correction_seconds=settings.event_time.max_skew_correction_seconds)),
        raw_sink=LakeRawSink(LakeStorage(settings.lake, region=settings.region)),
        stream_sink=KinesisSink(settings.names.stream, settings.region))
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    first = service.ingest(IngestRequest("/v1/batch", body, False, {"authorization": auth,
                                                                    "content-type": "application/json"},
                                         "first-delivery", received_at=first_sent + timedelta(seconds=1)))
    assert (first.status, first.body["accepted"]) == (200, 6), first.body
    run_archive(settings, spark, once=True)  # the stream into the raw zone (by the first delivery's arrival time)
    batches = [run_batch(settings, spark)]
    streams = [run_stream(settings, spark, once=True)]
    last_day = first_sent.date().isoformat()
    before = snapshot(settings, last_day)

    session = requests.Session()
    session.trust_env = False
    with LocalGateway(settings) as gateway:
        answer = session.post(gateway.url + "/v1/batch", data=body, auth=(key, ""), timeout=60,
                              headers={"Content-Type": "application/json"}).json()
        fresh_answer = session.post(gateway.url + "/v1/batch", data=json.dumps(fresh), auth=(key, ""), timeout=60,
                                    headers={"Content-Type": "application/json"}).json()
    assert fresh_answer["accepted"] == 1, fresh_answer
    run_archive(settings, spark, once=True)
    batches.append(run_batch(settings, spark))
    streams.append(run_stream(settings, spark, once=True))
    raw = [record for _, record in raw_records(settings) if record["customer_id"] == REPLAYED]
    return Replay(settings, before, snapshot(settings, last_day), answer, batches, streams, raw)


def test_the_replay_is_accepted_and_lands_as_a_second_copy(replay: Replay) -> None:
    """The API does not know what it received days ago: it accepts, and the lake holds each event id twice."""
    assert (replay.replay_answer["accepted"], replay.replay_answer["rejected"]) == (6, 0)
    copies: dict[str, list[dict[str, Any]]] = {}
    for record in replay.raw:
        copies.setdefault(record["event_id"], []).append(record)
    assert sorted(copies) == [f"rp-{i}" for i in range(1, 7)] and {len(c) for c in copies.values()} == {2}
    bounded = replay.settings.event_time.max_skew_correction_seconds < DAYS_LATER * 86_400
    for first, again in (sorted(c, key=lambda r: r["received_at"]) for c in copies.values()):
        shift = datetime.fromisoformat(again["timestamp"]) - datetime.fromisoformat(first["timestamp"])
        assert shift < timedelta(days=1) if bounded else shift > timedelta(days=DAYS_LATER - 1), (first, again)


def test_the_curated_zone_holds_each_event_once(replay: Replay) -> None:
    """Before the fix the replay's events were curated again, three days later (the duplicate check looked one
    day either side of the new dates), and the run after it failed (module docstring)."""
    curated = replay.batches[1].curated
    assert curated is not None
    assert (curated.duplicates_of_earlier_runs, curated.new_events) == (6, 1)
    expected = 6 if replay.settings.event_time.max_skew_correction_seconds < DAYS_LATER * 86_400 else 0
    assert curated.skew_corrections_not_applied == expected
    assert replay.after.curated == replay.before.curated
    assert replay.after.curated["events"] == [f"rp-{i}" for i in range(1, 7)]
    assert (replay.after.curated["orders"], replay.after.curated["refunds"]) == (["rp-5"], ["rp-6"])


def test_star_and_marts_count_once(replay: Replay) -> None:
    """Every star and mart row of the customer and of the replayed days is unchanged by the replay. Before the
    fix no warehouse was built at all after the replay (module docstring)."""
    star = replay.batches[1].star
    assert star is not None and star.skipped is None  # rebuilt (the fresh customer's order changed curated)
    assert replay.after.warehouse == replay.before.warehouse
    [(order_id, value, refunded, net, duplicates)] = replay.after.warehouse["fact_order"]
    assert (order_id, value, refunded, net, duplicates) == ("acc-o-replay", D("42.00"), D("2.00"), D("40.00"), 0)
    assert len(replay.after.warehouse["fact_session"]) == 1


#: the live features that count or sum events (the rest — scores, segment — follow the batch's breakpoints,
#: which the fresh customer's order moves)
COUNTED_FEATURES = ("orders", "order_total", "revenue", "refunds", "orders_90d", "revenue_90d", "views_7d",
                    "carts_7d", "frequency", "monetary", "duplicate_orders", "first_order_at", "last_order_at")
#: the features that follow the latest activity (``last_seen_at``, a max over every activity event)
ACTIVITY_FEATURES = ("last_seen_at", "as_of", "recency_days")


def test_the_live_features_count_once(replay: Replay) -> None:
    """The stream's event claims (kept ``dedup_ttl_hours``, 8 days) drop the replay's counted events (the view,
    the cart add, the order and the refund); a replay later than that would find no claim (docs/batch.md,
    "Exactly once", names the bound). Identify and page calls are not claimed (they only move ``last_seen_at``, a
    max): with the default bound the replay keeps their times and changes nothing; with no practical bound their
    times moved three days later and so does the customer's last activity — the documented price of an
    unbounded correction, which the bound exists to avoid."""
    assert replay.streams[1].duplicates == 4
    before, after = replay.before.features, replay.after.features
    assert {k: after.get(k) for k in COUNTED_FEATURES} == {k: before.get(k) for k in COUNTED_FEATURES}
    assert (after["orders"], after["revenue"], after["refunds"], after["views_7d"], after["carts_7d"]) == (
        1, D("40.00"), D("2.00"), 1, 1)
    activity = ({k: after[k] for k in ACTIVITY_FEATURES}, {k: before[k] for k in ACTIVITY_FEATURES})
    bounded = replay.settings.event_time.max_skew_correction_seconds < DAYS_LATER * 86_400
    if bounded:
        assert activity[0] == activity[1]
    else:
        moved = datetime.fromisoformat(after["last_seen_at"]) - datetime.fromisoformat(before["last_seen_at"])
        assert timedelta(days=DAYS_LATER - 1) < moved < timedelta(days=DAYS_LATER + 1), activity
