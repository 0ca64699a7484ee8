"""Incremental star builds and delta loads against one full rebuild (issue 15, item 2).

One generated data set (80 customers over 30 days, 5 % of calls three days late) plus hand-made faults arrives
over three "nights": a history (first build, full), then two nights, each landing the calls that arrived that
day and running curated -> star -> warehouse incrementally. A second lake lands every call at once and runs one
full build and load. Every warehouse table of the first must equal the second's, row for row (DuckDB).

The faults, each arriving on a later night than the rows it changes (table-driven in :func:`faults`):

* late events of old days (the generator's late share, and a page view of day 1 arriving on the last night);
* profile changes of old customers: a new city today, and a late identify dated day 3 (it splits an old SCD2
  version, so the customer keys of old facts change);
* refunds of old orders (one by the order's customer, one sent by another customer on a quiet customer's order),
  a cancellation of an old order;
* an identify merging an anonymous visitor of days 2-4 into an old customer (the visitor's rows move);
* duplicate Order Completed events of old orders under new message ids: one dated later (loses), one dated
  earlier and sent by another customer on a quiet customer's order (wins: the order changes customer);
* a product's category changing after a quiet customer bought it on a line that names no category (the line's
  category follows ``dim_product``).

Seen failing: with the order closure dropped from the dirty customers (``dirty_customers`` without source 3),
``fact_order`` differed (14 rows each side): the orders of quiet customers — who send nothing after the history,
so only that rule makes them dirty — missed the refund another customer sent and the earlier duplicate that moves
the order to another customer. An earlier version of the faults, on customers active every night, did *not* fail
under the same mutation (they were dirty anyway): hence the quiet customers. With the product rule (source 4)
dropped, ``fact_order_line`` differed (17 rows each side: the quiet customer's line kept the old category); before
the product fault was added, that mutation passed unseen.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from glue_jobs.warehouse.sql_files import star_tables
from lakehouse.core.config import Settings
from lakehouse.local.batch import run_batch
from lakehouse.local.sample_data import Arrival, generate_calls, land_calls

START = date(2025, 1, 5)
DAYS = 30
#: arrival days (from START) that end each night; the history is everything arriving before the first night
NIGHTS = (25, 40)
LATE = Arrival(late_share=0.05, late_days=3)


def at(day: int, hour: int = 12, minute: int = 0) -> str:
    moment = datetime(START.year, START.month, START.day, hour, minute, tzinfo=UTC) + timedelta(days=day)
    return moment.isoformat().replace("+00:00", "Z")


def call(kind: str, day: int, *, user: str | None = None, anon: str | None = None, event: str | None = None,
         hour: int = 12, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}{event}{user}{anon}"
                                                                     f"{day}{hour}{fields}")),
                           "timestamp": at(day, hour)}
    if event:
        out["event"] = event
    if user:
        out["userId"] = user
    if anon:
        out["anonymousId"] = anon
    out.update(fields)
    return out


def faults(generated: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(arrival day, call) of every hand-made fault, built on the generated customers and orders."""
    orders = [c for c in generated if c.get("event") == "Order Completed" and day_of(c) < 20]
    assert len(orders) >= 4, "the generated set needs old orders"
    customers = sorted({c["userId"] for c in generated if c.get("type") == "identify" and c.get("userId")})
    # quiet customers send nothing after the history: only the rule under test can make them dirty, so a fault on
    # their orders fails the comparison when that rule is missing
    active = {c.get("userId") for c in generated if arrival_day(c) >= NIGHTS[0]}
    quiet_orders = list({o["userId"]: o for o in reversed(orders) if o["userId"] not in active}.values())
    assert len(quiet_orders) >= 2, "the generated set needs old orders of two quiet customers"
    first, cancelled = [o for o in orders if o["userId"] in active][:2]
    second, third = quiet_orders[0], quiet_orders[1]
    buyer = first["userId"]
    quiet_buyers = {second["userId"], third["userId"]}
    mover, merged_into, late_profile, other = [c for c in customers if c not in quiet_buyers | {buyer}][:4]
    anon = "anon-visitor-0001"
    duplicate = {**first, "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, "again" + first["messageId"]))}
    early_duplicate = {**second, "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, "early" + second["messageId"])),
                       "userId": other,
                       "timestamp": (datetime.fromisoformat(second["timestamp"].replace("Z", "+00:00"))
                                     - timedelta(hours=1)).isoformat().replace("+00:00", "Z")}
    return [
        # history: an anonymous visitor on days 2-4
        *[(day, call("page", day, anon=anon, name="Home", hour=9)) for day in (2, 3, 4)],
        (3, call("track", 3, anon=anon, event="Product Viewed", hour=10, properties={"product_id": "p-anon"})),
        # history: a quiet new customer buys a product whose line names no category; the product's category comes
        # from a view by someone else
        (9, call("track", 9, user=mover, event="Product Viewed", properties={"product_id": "p-recat",
                                                                            "category": "alpha", "price": 10})),
        (5, call("identify", 5, user="c-recat", traits={"city": "Porto"})),
        (10, call("track", 10, user="c-recat", event="Order Completed",
                  properties={"order_id": "o-recat", "total": 10, "currency": "USD",
                              "products": [{"product_id": "p-recat", "quantity": 1, "unit_price": 10}]})),
        # night 1: the product's category changes (only the product rule makes c-recat dirty: its line's category
        # follows dim_product), a new city today, a refund of an old order, a later duplicate of an old order, the
        # visitor identifying as an old customer, an earlier duplicate of an old order sent by another customer, a
        # refund sent by someone else than the buyer
        (25, call("track", 24, user=buyer, event="Product Viewed", hour=9,
                  properties={"product_id": "p-recat", "category": "beta", "price": 11})),
        (25, call("identify", 25, user=mover, traits={"city": "Lisbon", "geography": "Portugal"})),
        (25, call("track", 25, user=buyer, event="Order Refunded",
                  properties={"order_id": first["properties"]["order_id"], "total": 5.0, "currency": "USD"})),
        (25, duplicate),
        (25, call("identify", 25, user=merged_into, anon=anon, hour=8)),
        (25, early_duplicate),
        (25, call("track", 24, user=other, event="Order Refunded",
                  properties={"order_id": third["properties"]["order_id"]})),
        # last night (across a month end): a late identify of day 3, a cancellation of an old order, a page of day 1
        (40, call("identify", 3, user=late_profile, hour=7, traits={"city": "Porto"})),
        (40, call("track", 28, user=cancelled["userId"], event="Order Cancelled",
                  properties={"order_id": cancelled["properties"]["order_id"]})),
        (40, call("page", 1, user=buyer, name="Late page", hour=15)),
    ]


def day_of(c: dict[str, Any]) -> int:
    return (datetime.fromisoformat(c["timestamp"].replace("Z", "+00:00")).date() - START).days


def arrival_day(c: dict[str, Any]) -> int:
    return (LATE.received_at(c).date() - START).days


def land(settings: Settings, calls: list[tuple[int, dict[str, Any]]]) -> None:
    """Land calls on their arrival day: ``arrival - day_of(call)`` days after their timestamp."""
    by_delay: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for arrival, c in calls:
        by_delay[max(0, arrival - day_of(c))].append(c)
    for delay, group in sorted(by_delay.items()):
        land_calls(settings, group, arrival=Arrival(late_share=1.0, late_days=delay) if delay else Arrival())


def warehouse_rows(settings: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in star_tables()}


@pytest.fixture(scope="module")
def nights(tmp_path_factory, spark) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("incremental")
    generated = generate_calls(work / "generated", customers=80, start=START, days=DAYS, seed=11)
    everything = [(arrival_day(c), c) for c in generated] + faults(generated)
    incremental = Settings(stage="incr", home=work / "incremental")
    reports = []
    after = -1
    for night in (NIGHTS[0] - 1, *NIGHTS):
        land(incremental, [(a, c) for a, c in everything if after < a <= night])
        reports.append(run_batch(incremental, spark))
        after = night
    full = Settings(stage="full", home=work / "full")
    land(full, everything)
    reports.append(run_batch(full, spark))
    return {"incremental": incremental, "full": full, "reports": reports}


def test_every_night_is_incremental_and_touches_few_customers(nights) -> None:
    """Guards the comparison below against passing vacuously (every night a full rebuild)."""
    first, *later, full = nights["reports"]
    assert first.star.mode == "full" and full.star.mode == "full"
    for report in later:
        assert report.star.mode == "incremental", report.star.full_reason
        assert report.warehouse.mode == "delta"
        customers = report.star.tables["dim_customer"].rows
        assert 0 < report.star.dirty_customers < customers


def test_incremental_nights_leave_the_warehouse_of_one_full_rebuild(nights) -> None:
    incremental, full = warehouse_rows(nights["incremental"]), warehouse_rows(nights["full"])
    assert len(full["fact_order"]) > 10 and len(full["fact_customer_metrics"]) > 60
    differing = {t: (len(incremental[t]), len(full[t])) for t in full if incremental[t] != full[t]}
    assert differing == {}


def test_the_star_files_equal_the_full_rebuilds(nights, spark) -> None:
    """The lake's star tables too (the next incremental build starts from them, and ML reads them)."""
    from glue_jobs.star.job import star_state

    def rows(settings: Settings, table: str) -> list[tuple]:
        folder = star_state(settings)["tables"][table]["folder"]
        return sorted(tuple(r) for r in spark.read.parquet(settings.lake.uri(folder)).collect())

    for table in ("dim_customer", "fact_order", "fact_session", "fact_customer_metrics", "fact_daily_kpis"):
        assert rows(nights["incremental"], table) == rows(nights["full"], table), table


def test_a_full_rebuild_on_request_gives_the_same_warehouse(nights, spark) -> None:
    """``lakehouse batch --full`` on the incremental lake: every table rebuilt and reloaded whole, same rows."""
    settings: Settings = nights["incremental"]
    before = warehouse_rows(settings)
    report = run_batch(settings, spark, steps=("star", "warehouse"), full=True)
    assert report.star.mode == "full" and report.warehouse.mode == "full"
    assert warehouse_rows(settings) == before

