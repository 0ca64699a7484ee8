"""The issue's acceptance criteria end to end: Segment-spec calls through the real local gateway, the real batch
chain (curated, star, DuckDB warehouse) and the real streaming job (Kinesis -> DynamoDB), checked against the
hand computations of :mod:`tests.acceptance.journeys`.

One pipeline run for the module: phase-1 requests (and two real tracking clients) -> stream run 1 -> phase-2
requests (a late alias) -> batch -> stream run 2.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import requests

from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.lake.tables import read_arrow
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.batch import BatchReport, run_batch
from lakehouse.local.gateway import LocalGateway
from stream.archive import run_archive
from stream.job import StreamReport, run_stream
from tests.acceptance.journeys import (
    AS_OF,
    BROWSING,
    CHECKOUT_STEPS,
    FIRST_DAY,
    ORDER,
    ORDERS,
    RATES_CSV,
    SPEC_EVENTS,
    Scenario,
    anon,
    cid,
    customer_net,
    scenario,
    spec_message_ids,
)
from tests.lakehouse.local.test_real_clients import journey, rudder_client, segment_client, send
from tests.lambdas.ingest.conftest import raw_records
from tests.stream.conftest import stored_items

D = Decimal
CLIENT_USERS = {"segment": "acc-seg-user", "rudder": "acc-rud-user"}


@dataclass
class Answer:
    """One request made, and the API's answer."""

    route: str
    message_ids: list[str]
    status: int
    body: dict[str, Any]


@dataclass(repr=False)
class Pipeline:
    """What the module's single run produced (``seconds``: wall time per stage)."""

    settings: Settings
    scenario: Scenario
    answers: list[Answer]
    client_errors: list[Exception]
    client_message_ids: list[str]
    curated_report: BatchReport | None = None
    batch_report: BatchReport | None = None
    stream_reports: list[StreamReport] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> raw record
    raw_counts: Counter[str] = field(default_factory=Counter)  # event id -> lines in the raw zone
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # stage -> the error that stopped it
    seconds: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Pipeline(stage={self.settings.stage}, failures={self.failures}, seconds={self.seconds})"

    def need(self, stage: str) -> None:
        """Fail the calling test with the error that stopped ``stage`` (curated, warehouse, stream), if any."""
        if "curated" in self.failures and stage == "warehouse":
            stage = "curated"
        if stage in self.failures:
            pytest.fail(f"the {stage} run failed: {self.failures[stage]}")

    @property
    def batch(self) -> BatchReport:
        """The report of the star and warehouse steps (fails the test when they did not run)."""
        self.need("warehouse")
        assert self.batch_report is not None
        return self.batch_report

    @property
    def streams(self) -> list[StreamReport]:
        """The two stream runs' reports (fails the test when a run failed)."""
        self.need("stream")
        return self.stream_reports

    def sql(self, query: str, *args: Any) -> list[tuple]:
        """Rows of a query on the DuckDB warehouse."""
        self.need("warehouse")
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            return con.execute(query, list(args)).fetchall()

    def dicts(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of a query on the DuckDB warehouse, as dicts."""
        self.need("warehouse")
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            cursor = con.execute(query, list(args))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def curated(self, table: str) -> list[dict[str, Any]]:
        """Every row of a curated table."""
        self.need("curated")
        return read_arrow(LakeStorage(self.settings.lake), self.settings.lake.curated_table(table)).to_pylist()

    def features(self, customer: str) -> dict[str, Any]:
        """The live features of a customer (empty when the stream has no item for it)."""
        self.need("stream")
        return self.items.get(customer, {}).get("features", {})


def post(session: requests.Session, url: str, key: str, route: str, document: dict[str, Any]) -> tuple[int, dict]:
    response = session.post(url + route, data=json.dumps(document), auth=(key, ""), timeout=60,
                            headers={"Content-Type": "application/json"})
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, spark) -> Pipeline:
    settings = Settings(stage="tacc" + uuid.uuid4().hex[:6], home=tmp_path_factory.mktemp("acceptance") / "home")
    provision(settings)
    LakeStorage(settings.lake, region=settings.region).put_bytes(settings.money.rates_key, RATES_CSV.encode(),
                                                                 content_type="text/csv")
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("web").key
    plan = scenario()
    answers: list[Answer] = []
    errors: list[Exception] = []
    client_ids: list[str] = []
    session = requests.Session()
    session.trust_env = False
    logging.getLogger("segment").setLevel(logging.CRITICAL)
    logging.getLogger("rudderstack").setLevel(logging.CRITICAL)

    def post_phase(phase: int) -> None:
        with LocalGateway(settings) as gateway:
            for request in (p for p in plan.posts if p.phase == phase):
                document = dict(request.document)
                if request.sent_at_now:
                    document["sentAt"] = datetime.now(UTC).isoformat()
                status, body = post(session, gateway.url, key, request.route, document)
                answers.append(Answer(request.route, [c["messageId"] for c in request.calls], status, body))
            if phase == 1:  # the real clients, each one customer's journey (see test_real_clients)
                for library, make in (("segment", segment_client), ("rudder", rudder_client)):
                    client = make(key, gateway.url, lambda error, batch: errors.append(error))
                    prefix = f"acc-{library[:3]}"
                    client_ids.extend(m for m, _, _ in send(client, prefix, journey(prefix)))
                    client.flush()
                    client.shutdown()

    built = Pipeline(settings, plan, answers, errors, client_ids)

    def attempt(stage: str, step: Any, timer: str) -> None:  # a failed stage fails only the tests that need it
        if stage in built.failures:
            return
        started = time.monotonic()
        try:
            step()
        except Exception as exc:  # recorded; reported by every test that needs the stage
            built.failures[stage] = f"{type(exc).__name__}: {str(exc)[:2000]}"
        built.seconds[timer] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    post_phase(1)
    built.seconds["post 1"] = round(time.monotonic() - started, 1)
    attempt("stream", lambda: built.stream_reports.append(run_stream(settings, spark, once=True)), "stream 1")
    post_phase(2)
    attempt("curated", lambda: run_archive(settings, spark, once=True), "raw archive")  # the stream into raw
    attempt("curated", lambda: setattr(built, "curated_report", run_batch(settings, spark, steps=("curated",))),
            "batch curated")
    if "curated" not in built.failures:
        attempt("warehouse", lambda: setattr(built, "batch_report", run_batch(settings, spark,
                                                                              steps=("star", "warehouse"))),
                "batch star + warehouse")
    attempt("stream", lambda: built.stream_reports.append(run_stream(settings, spark, once=True)), "stream 2")
    attempt("stream", lambda: built.items.update(stored_items(settings)), "items")
    for _, record in raw_records(settings):
        built.raw_counts[record["event_id"]] += 1
        built.raw[record["event_id"]] = record
    built.quarantine = [record for _, record in raw_records(settings, "quarantine")]
    return built


# --- ingestion: every route and every spec event accepted ------------------------------------------------------

def test_every_route_and_every_spec_event_is_accepted(pipeline: Pipeline) -> None:
    """Without the issue's changes (as the issue reports them): 404 for /v1/screen|group|alias, 400 for a product
    without category, an order with only revenue, a refund with only order_id; screen/group/alias inside a batch
    answered 200 and quarantined. (test_real_clients saw the batch case: 5 of 7 calls quarantined.)"""
    out_of_range = set(pipeline.scenario.out_of_range)
    refused = [(a.route, a.message_ids, a.status, a.body.get("errors")) for a in pipeline.answers
               if not set(a.message_ids) & out_of_range
               and (a.status != 200 or a.body.get("accepted") != len(a.message_ids) or a.body.get("rejected"))]
    assert refused == []
    routes = {a.route for a in pipeline.answers}
    assert routes >= {f"/v1/{r}" for r in ("track", "identify", "page", "screen", "group", "alias", "batch")}
    expected = {m for a in pipeline.answers for m in a.message_ids} - out_of_range
    assert expected - set(pipeline.raw) == set(), "accepted but not in the raw zone"
    assert [m for m, n in pipeline.raw_counts.items() if n > 1] == [], "landed twice"
    assert {pipeline.raw[m]["event"] for m in spec_message_ids().values()} == set(SPEC_EVENTS)
    assert [q for q in pipeline.quarantine if q.get("payload", {}).get("messageId") not in out_of_range] == []


def test_spec_events_land_where_they_belong_in_the_curated_zone(pipeline: Pipeline) -> None:
    events = {r["event_id"]: r for r in pipeline.curated("events")}
    ids = spec_message_ids()
    for name in CHECKOUT_STEPS:
        assert events[ids[name]]["event_name"] == name, name
    product_events = {r["event_id"]: r for r in pipeline.curated("product_events")}
    for name in BROWSING:
        assert product_events[ids[name]]["event_name"] == name, name
    assert product_events[ids["Product Viewed"]]["category"] is None  # curated keeps what was sent
    extra = dict(events[ids["Product Viewed"]]["extra"] or [])  # untyped keys: the events table's one map
    assert "properties.color_scheme" in extra, f"extra property dropped: {sorted(extra)}"


def test_a_product_without_category_takes_its_known_category_or_unknown(pipeline: Pipeline) -> None:
    """p-tea was viewed with category 'tea' and ordered without one; p-book was never given a category."""
    lines = dict(pipeline.sql("SELECT order_id, category FROM fact_order_line WHERE order_id IN (?, ?)",
                              "acc-o-j1", "acc-o-rev"))
    assert lines == {"acc-o-j1": "tea", "acc-o-rev": "unknown"}
    [(games,)] = pipeline.sql("SELECT category FROM dim_product WHERE product_id = 'p-spec-1'")
    assert games == "Games"


def test_the_real_clients_arrive_and_count(pipeline: Pipeline) -> None:
    """segment-analytics-python and rudder-sdk-python, posting to the gateway, each count one order (EUR 25.50
    at 1.1200 = USD 28.56) and their anonymous screen/page/cart events belong to the identified user."""
    assert pipeline.client_errors == []
    assert set(pipeline.client_message_ids) <= set(pipeline.raw)
    for library, user in CLIENT_USERS.items():
        order = ORDER[f"acc-{library[:3]}-o1"]
        [row] = pipeline.dicts("SELECT * FROM fact_order WHERE order_id = ?", order.order_id)
        assert row["customer_id"] == user
        assert (row["order_value"], row["currency"], row["order_value_rc"]) == (
            order.value, "EUR", order.value_usd), library
        sent_by_anon = {m for m in pipeline.client_message_ids if m.startswith(f"acc-{library[:3]}-")
                        and pipeline.raw[m]["anonymous_id"] and not pipeline.raw[m]["user_id"]}
        owners = {r[0] for r in pipeline.sql(
            "SELECT DISTINCT customer_id FROM fact_customer_activity WHERE event_id IN "
            f"({', '.join('?' * len(sent_by_anon))})", *sorted(sent_by_anon))}
        assert owners == {user}, library
        live = pipeline.features(user)
        assert (live["orders"], live["revenue"], live["carts_7d"], live["merged_ids"]) == (
            1, order.value_usd, 1, 1), library


# --- orders: identity by order_id, refunds, cancellations ------------------------------------------------------

def fact_orders(pipeline: Pipeline) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for row in pipeline.dicts("SELECT * FROM fact_order WHERE order_id LIKE 'acc-%'"):
        found.setdefault(row["order_id"], []).append(row)
    return found


def test_an_order_with_only_revenue_has_that_value(pipeline: Pipeline) -> None:
    [curated] = [r for r in pipeline.curated("orders") if r["order_id"] == "acc-o-rev"]
    assert curated["order_value"] == D("42.10") and curated["value_source"] == "revenue"
    [row] = fact_orders(pipeline)["acc-o-rev"]
    assert (row["order_value"], row["value_source"], row["order_value_rc"]) == (D("42.10"), "revenue", D("42.10"))
    assert pipeline.features(cid("rev"))["revenue"] == D("42.10")


def test_a_full_refund_nets_its_order_to_zero(pipeline: Pipeline) -> None:
    [refund] = [r for r in pipeline.curated("refunds") if r["order_id"] == "acc-o-full"]
    assert refund["amount"] is None and refund["is_full_refund"] is True
    [row] = fact_orders(pipeline)["acc-o-full"]
    assert (row["order_value_rc"], row["refunded_amount_rc"], row["net_revenue_rc"]) == (D("80.00"), D("80.00"), 0)
    [fact] = pipeline.dicts("SELECT * FROM fact_refund WHERE order_id = 'acc-o-full'")
    assert (fact["is_full_refund"], fact["refund_amount"], fact["status"]) == (True, D("80.00"), "netted")
    live = pipeline.features(cid("full"))
    assert (live["revenue"], live["refunds"]) == (D("0"), D("80.00"))


def test_an_order_posted_twice_counts_once(pipeline: Pipeline) -> None:
    """Two messageIds, one order_id. Without order identity both copies count (the issue: twice in revenue, marts
    and live features), and a refund nets against both copies."""
    rows = fact_orders(pipeline)["acc-o-dup"]
    assert len(rows) == 1 and rows[0]["event_id"] == "dup-1" and rows[0]["duplicate_events"] == 1
    # its refund of 15.00 nets once (before: against both copies)
    assert (rows[0]["refunded_amount_rc"], rows[0]["net_revenue_rc"]) == (D("15.00"), D("45.00"))
    [(lines,)] = pipeline.sql("SELECT count(*) FROM fact_order_line WHERE order_id = 'acc-o-dup'")
    assert lines == 1
    live = pipeline.features(cid("dup"))
    assert (live["orders"], live["revenue"], live["refunds"], live["duplicate_orders"]) == (
        1, D("45.00"), D("15.00"), 1)


def test_a_refund_larger_than_its_order_is_capped_and_flagged(pipeline: Pipeline) -> None:
    [row] = fact_orders(pipeline)["acc-o-cap"]
    assert (row["refund_capped"], row["refunded_amount_rc"], row["net_revenue_rc"]) == (True, D("20.00"), 0)
    [refund] = pipeline.dicts("SELECT * FROM fact_refund WHERE order_id = 'acc-o-cap'")
    assert (refund["is_capped"], refund["requested_amount"], refund["refund_amount"]) == (True, D("25"), D("20"))
    live = pipeline.features(cid("cap"))
    assert (live["revenue"], live["refunds"], live["capped_refunds"]) == (0, D("20.00"), 1)


def test_a_partial_refund_of_one_line(pipeline: Pipeline) -> None:
    [refund] = [r for r in pipeline.curated("refunds") if r["order_id"] == "acc-o-part"]
    assert refund["amount"] == D("10.00") and refund["is_full_refund"] is False and refund["line_count"] == 1
    [row] = fact_orders(pipeline)["acc-o-part"]
    assert (row["refunded_amount_rc"], row["net_revenue_rc"]) == (D("10.00"), D("40.00"))
    live = pipeline.features(cid("part"))
    assert (live["revenue"], live["refunds"]) == (D("40.00"), D("10.00"))


def test_an_order_cancelled_reverses(pipeline: Pipeline) -> None:
    [change] = [r for r in pipeline.curated("order_changes") if r["order_id"] == "acc-o-cancel"]
    assert change["change"] == "cancelled"
    [row] = fact_orders(pipeline)["acc-o-cancel"]
    assert row["is_cancelled"] is True and row["net_revenue_rc"] == 0
    live = pipeline.features(cid("cancel"))
    assert (live["orders"], live["revenue"], live["cancelled_orders"]) == (0, 0, 1)


def test_net_revenue_per_customer_equals_the_hand_computation(pipeline: Pipeline) -> None:
    """Every scenario customer's net revenue (orders in USD minus refunds) in the warehouse and live."""
    customers = sorted({o.customer for o in ORDERS} - {cid("gbp")})
    warehouse = dict(pipeline.sql(
        "SELECT customer_id, revenue_to_date - refunds_to_date FROM fact_customer_metrics "
        "WHERE snapshot_date = (SELECT max(snapshot_date) FROM fact_customer_metrics)"))
    wrong = {c: (customer_net(c), warehouse.get(c), pipeline.features(c).get("revenue")) for c in customers
             if not (D(warehouse.get(c, -1)) == customer_net(c) == pipeline.features(c).get("revenue"))}
    assert wrong == {}, "customer: (hand, warehouse, live)"


def test_a_numeric_user_id_is_one_customer(pipeline: Pipeline) -> None:
    """userId 4243.0 and 4243 (JSON numbers). Without the coercion rule "4243.0" and "4243" are two customers
    (the issue's report)."""
    assert (pipeline.raw["num-1"]["customer_id"], pipeline.raw["num-2"]["customer_id"]) == ("4243", "4243")
    assert pipeline.sql("SELECT DISTINCT customer_id FROM dim_customer WHERE customer_id LIKE '4243%'") == [("4243",)]
    assert pipeline.features("4243")["views_7d"] == 1 and "4243.0" not in pipeline.items


def test_a_trait_set_to_null_is_cleared(pipeline: Pipeline) -> None:
    [row] = [r for r in pipeline.curated("customers") if r["event_id"] == "spec-clear"]
    assert list(row["traits_cleared"]) == ["plan"]


# --- money -----------------------------------------------------------------------------------------------------

def test_eur_and_usd_orders_are_converted_with_the_rate_table(pipeline: Pipeline) -> None:
    orders = fact_orders(pipeline)
    for order_id in ("acc-o-eur-1", "acc-o-eur-2", "acc-o-usd"):
        [row] = orders[order_id]
        assert (row["order_value"], row["order_value_rc"]) == (ORDER[order_id].value, ORDER[order_id].value_usd)
    assert pipeline.features(cid("eur"))["revenue"] == D("130.29")
    rates = pipeline.sql("SELECT currency, rate_date, rate FROM dim_currency_rate ORDER BY rate_date")
    assert [(c, d.isoformat(), D(r)) for c, d, r in rates] == [
        ("EUR", "2025-06-02", D("1.12")), ("EUR", "2025-06-09", D("1.1")), ("EUR", "2025-06-10", D("1.085")),
        ("EUR", "2025-06-13", D("1.09"))]


def test_an_order_without_a_rate_is_reported_not_summed(pipeline: Pipeline) -> None:
    """GBP 50.00 with no GBP rate. Without the money rules every revenue measure adds the 50 as if dollars (the
    issue: EUR and USD orders summed as one number)."""
    [row] = fact_orders(pipeline)["acc-o-gbp"]
    assert (row["is_converted"], row["order_value_rc"], row["net_revenue_rc"]) == (False, None, None)
    hand_total = sum((o.net_usd for o in ORDERS), D("0.00"))
    [(total,)] = pipeline.sql("SELECT sum(net_revenue_rc) FROM fact_order WHERE order_id LIKE 'acc-%'")
    assert total == hand_total
    money = pipeline.batch.star.money  # the batch reports it
    assert money.unconverted_orders == 1 and list(money.unconverted) == ["GBP"]
    assert (money.unconverted["GBP"]["orders"], D(money.unconverted["GBP"]["amount"])) == (1, D("50"))
    assert pipeline.sql("SELECT kind, currency, items, amount FROM mart_unconverted_amounts") == [
        ("order", "GBP", 1, D("50"))]
    live = pipeline.features(cid("gbp"))
    assert (live["revenue"], live["unconverted_orders"], live["unconverted_amounts"]) == (0, 1, {"GBP": D("50")})


def test_revenue_marts_equal_the_hand_computation(pipeline: Pipeline) -> None:
    """Gross revenue per day in the sales mart = the hand-converted orders of that day (cancelled: 0)."""
    hand: dict[date, Decimal] = {}
    for o in ORDERS:
        if o.counts and o.value_usd is not None:
            hand[o.day] = hand.get(o.day, D("0.00")) + o.value_usd
    rows = pipeline.dicts("SELECT * FROM mart_daily_kpis ORDER BY full_date")
    assert {r["full_date"]: r["revenue"] for r in rows if r["revenue"]} == hand
    # refunds on their own day: full (06-12), dup (06-13), ink line (06-15), capped (06-18), spec (06-25)
    refunds = {date(2025, 6, 12): D("80.00"), date(2025, 6, 13): D("15.00"), date(2025, 6, 15): D("10.00"),
               date(2025, 6, 18): D("20.00"), date(2025, 6, 25): D("5.00")}
    assert {r["full_date"]: r["refunds"] for r in rows if r["refunds"]} == refunds
    assert {r["full_date"]: r["unconverted_orders"] for r in rows if r["unconverted_orders"]} == {
        date(2025, 6, 10): 1}
    assert (rows[0]["full_date"], rows[-1]["full_date"]) == (FIRST_DAY, AS_OF)


# --- identity --------------------------------------------------------------------------------------------------

def test_pre_login_events_belong_to_the_customer_in_the_warehouse(pipeline: Pipeline) -> None:
    """anonymous page + 2 views + cart, identify, order: one customer, one session, whole funnel, RFM."""
    j1, a1 = cid("j1"), anon("j1")
    [session] = pipeline.dicts("SELECT * FROM fact_session WHERE customer_id = ?", j1)
    assert (session["page_views"], session["product_views"], session["cart_adds"], session["orders"]) == (1, 2, 1, 1)
    assert session["session_start"] == datetime(2025, 6, 20, 9, 0) and session["duration_seconds"] == 600
    [funnel] = pipeline.dicts("SELECT * FROM mart_funnel_daily WHERE full_date = ?", date(2025, 6, 20))
    assert (funnel["viewers"], funnel["cart_adders"], funnel["purchasers"]) == (1, 1, 1)
    [metrics] = pipeline.dicts("SELECT * FROM fact_customer_metrics WHERE customer_id = ? AND snapshot_date = ?",
                               j1, AS_OF)
    assert (metrics["frequency"], D(metrics["monetary"]), metrics["recency_days"]) == (1, D("12.50"), 10)
    for a in (a1, anon("j2"), anon("spec"), "acc-seg-anon", "acc-rud-anon"):
        for table in ("dim_customer", "fact_customer_activity", "fact_session", "fact_customer_metrics", "fact_order"):
            assert pipeline.sql(f"SELECT count(*) FROM {table} WHERE customer_id = ?", a) == [(0,)], (a, table)


def test_pre_login_events_belong_to_the_customer_in_the_live_features(pipeline: Pipeline) -> None:
    """Including j2, whose anonymous events were applied by the first stream run, before the alias arrived."""
    j1, j2 = pipeline.features(cid("j1")), pipeline.features(cid("j2"))
    assert (j1["views_7d"], j1["carts_7d"], j1["orders"], j1["revenue"]) == (2, 1, 1, D("12.50"))
    assert (j2["views_7d"], j2["carts_7d"], j2["orders"], j2["revenue"]) == (1, 1, 1, D("9.00"))
    assert (j1["merged_ids"], j2["merged_ids"]) == (1, 1)
    assert j1["last_seen_at"] == "2025-06-20T09:10:00.000Z" and j2["as_of"] == "2025-06-21"
    for a in (anon("j1"), anon("j2")):
        item = pipeline.items.get(a)
        assert item is None or item.get("merged_into") in (cid("j1"), cid("j2")), a


def test_warehouse_and_live_agree_on_recency_and_frequency(pipeline: Pipeline) -> None:
    rows = pipeline.dicts("SELECT customer_id, frequency FROM fact_customer_metrics WHERE snapshot_date = ? "
                          "AND customer_id IN (?, ?, ?)", AS_OF, cid("j1"), cid("j2"), cid("dup"))
    assert len(rows) == 3
    for row in rows:
        assert pipeline.features(row["customer_id"])["frequency"] == row["frequency"], row["customer_id"]


# --- sane event times ------------------------------------------------------------------------------------------

def test_events_dated_2099_and_1971_are_quarantined_on_timestamp(pipeline: Pipeline) -> None:
    answers = {m: a for a in pipeline.answers for m in a.message_ids}
    for message_id in pipeline.scenario.out_of_range:
        answer = answers[message_id]
        assert answer.status in (200, 400) and answer.body["rejected"] == 1, message_id
        assert [e["field"] for e in answer.body["errors"][0]["errors"]] == ["timestamp"], answer.body
        assert message_id not in pipeline.raw
    held = {q["payload"]["messageId"]: q for q in pipeline.quarantine}
    assert set(held) == set(pipeline.scenario.out_of_range)


def test_out_of_range_events_change_no_as_of_date_and_no_recency(pipeline: Pipeline) -> None:
    """Were the two events accepted, as_of would be 2099-01-01, dim_date would span 1971-03-03..2099-01-01 (46,690
    days) and every customer's recency would grow by ~26,800 days (the issue's report: they moved all three)."""
    assert pipeline.batch.star.as_of == AS_OF.isoformat()
    [(first, last, days)] = pipeline.sql("SELECT min(full_date), max(full_date), count(*) FROM dim_date")
    assert (first, last) == (FIRST_DAY, AS_OF) and days == (AS_OF - FIRST_DAY).days + 1
    [clock] = pipeline.dicts("SELECT * FROM fact_customer_metrics WHERE customer_id = ? AND snapshot_date = ?",
                             cid("clock"), AS_OF)
    assert clock["recency_days"] == (AS_OF - date(2025, 6, 5)).days
    [(latest,)] = pipeline.sql("SELECT max(snapshot_date) FROM fact_customer_metrics")
    assert latest == AS_OF
    live = pipeline.features(cid("clock"))
    assert (live["as_of"], live["recency_days"], live["orders"], live["revenue"]) == ("2025-06-05", 0, 1, D("15.00"))
    assert live["last_seen_at"] == "2025-06-05T10:00:00.000Z"


def test_every_stream_record_was_applied_once(pipeline: Pipeline) -> None:
    applied = sum(r.events for r in pipeline.streams)
    assert applied == len(pipeline.raw) and sum(r.rejected for r in pipeline.streams) == 0
    assert Counter(pipeline.raw[m]["type"] for m in pipeline.raw)["alias"] >= 3


def test_funnel_purchasers_are_customers_with_orders_that_count(pipeline: Pipeline) -> None:
    """The funnel's purchasers per day: distinct customers with an order that counts (a cancelled order is no
    purchase, a re-post is the same order). Seen failing while the funnel counted Order Completed events: the
    cancelled order's customer was a purchaser on 2025-06-16."""
    hand: dict[date, set[str]] = {}
    for o in ORDERS:
        if o.counts:
            hand.setdefault(o.day, set()).add(o.customer)
    rows = pipeline.dicts("SELECT full_date, purchasers FROM mart_funnel_daily WHERE purchasers > 0")
    assert {r["full_date"]: r["purchasers"] for r in rows} == {day: len(c) for day, c in hand.items()}
