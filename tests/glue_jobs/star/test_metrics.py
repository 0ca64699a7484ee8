"""The monthly customer snapshot and the RFM breakpoints published for the streaming job.

Oracle: the daily computation the star build used before the monthly grain (``daily_metrics_oracle``, the old
code kept verbatim); every monthly row must equal the daily row of the same customer and day, on the suite's
batch-built lake and on a generated data set whose as-of day is not a month end.
"""

from __future__ import annotations

import calendar
import itertools
import math
import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from glue_jobs.star.metrics import customer_metrics, rfm_segment
from glue_jobs.star.schema import STAR_TABLES, conform
from lakehouse.core.rfm import NO_PURCHASE, VOCABULARY, segment_of
from lakehouse.core.rfm_breakpoints import load_breakpoints

from .daily_metrics_oracle import daily_customer_metrics

COLUMNS = [name for name, _ in STAR_TABLES["fact_customer_metrics"]]


def test_breakpoints_are_published_and_score_like_the_snapshot(built_lake) -> None:
    breakpoints = load_breakpoints(built_lake.settings)
    assert breakpoints is not None and breakpoints.as_of == built_lake.report.star.as_of
    assert len(breakpoints.recency_days) == len(breakpoints.frequency) == len(breakpoints.monetary) == 4
    assert list(breakpoints.recency_days) == sorted(breakpoints.recency_days)
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT recency_days, frequency, monetary, r_score, f_score, m_score, rfm_segment "
                           "FROM fact_customer_metrics WHERE snapshot_date = ?", [breakpoints.as_of]).fetchall()
    assert breakpoints.population == sum(1 for r in rows if r[1] >= 1)
    for recency, frequency, monetary, r, f, m, segment in rows:
        scores = breakpoints.scores(recency, frequency, float(monetary))
        assert scores == ((r, f, m) if frequency >= 1 else None)
        assert breakpoints.segment(recency, frequency, float(monetary)) == segment


def month_ends(first: date, as_of: date) -> list[date]:
    """The snapshot days of a customer first seen on ``first`` (computed here with the calendar module): every
    month end from ``first``'s month up to ``as_of``, plus ``as_of`` when it is not a month end."""
    days, year, month = [], first.year, first.month
    while (year, month) <= (as_of.year, as_of.month):
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end <= as_of:
            days.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days if days and days[-1] == as_of else [*days, as_of]


def test_snapshot_has_one_row_per_registered_customer_and_snapshot_day(built_lake) -> None:
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        dupes = con.execute("SELECT count(*) FROM (SELECT customer_id, snapshot_date FROM fact_customer_metrics "
                            "GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
        [(as_of,)] = con.execute("SELECT max(full_date) FROM dim_date").fetchall()
        firsts = con.execute("SELECT customer_id, first_seen_date FROM dim_customer "
                             "WHERE is_registered AND version = 1").fetchall()
        keys = set(con.execute("SELECT customer_id, snapshot_date FROM fact_customer_metrics").fetchall())
        churned_later = con.execute(
            "SELECT count(*) FROM fact_customer_metrics WHERE is_churned AND churn_date > snapshot_date").fetchone()[0]
    expected = {(customer, day) for customer, first in firsts for day in month_ends(first, as_of)}
    assert dupes == 0 and keys == expected and churned_later == 0


def _rows(frame) -> dict[tuple[str, date], dict]:
    return {(row["customer_id"], row["snapshot_date"]): row.asDict()
            for row in conform(frame, "fact_customer_metrics").collect()}


def _differences(monthly: dict, daily: dict) -> dict:
    """Per (customer, day) of ``monthly``: the columns whose value differs from ``daily``'s row of that key
    (doubles within 1e-9: the resolution hours are summed in another order)."""
    def same(a, b) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9)
        return a == b
    out = {}
    for key, row in monthly.items():
        other = daily.get(key)
        if other is None:
            out[key] = "no daily row"
            continue
        wrong = {c: (row[c], other[c]) for c in COLUMNS if not same(row[c], other[c])}
        if wrong:
            out[key] = wrong
    return out


def test_every_monthly_row_equals_the_daily_row_of_its_day_on_the_batch_built_lake(built_lake, spark) -> None:
    """The warehouse's ``fact_customer_metrics`` against the old daily computation on the very inputs the build
    read (the star's dimensions and facts, the curated account tables read, windowed and stitched as the job
    does).
    The generated-data test below is the one seen failing under mutations; this one checks the real build."""
    from glue_jobs.star.identity import identity_map, stitch
    from glue_jobs.star.job import in_window, read_curated, star_table_uri
    from lakehouse.core.lake.storage import LakeStorage

    settings = built_lake.settings
    storage = LakeStorage(settings.lake, region=settings.region)

    warehouse = {t: spark.read.parquet(star_table_uri(settings, t)) for t in ("dim_customer", "dim_date", "fact_order",
                 "fact_refund", "fact_support_ticket", "fact_customer_metrics")}
    bounds = (warehouse["dim_date"].agg({"full_date": "min"}).first()[0],
              date.fromisoformat(built_lake.report.star.as_of))
    curated = {t: in_window(read_curated(spark, storage, t), *bounds)
               for t in ("identity_links", "account_snapshots", "account_closures")}
    id_map, _ = identity_map(spark, curated["identity_links"])
    daily = daily_customer_metrics(warehouse["dim_customer"], warehouse["fact_order"], warehouse["fact_refund"],
                                   warehouse["fact_support_ticket"], stitch(curated["account_snapshots"], id_map),
                                   stitch(curated["account_closures"], id_map), bounds[1],
                                   settings.batch.rfm_window_days)
    monthly = _rows(warehouse["fact_customer_metrics"])
    assert len(monthly) > 200 and {day for _, day in monthly} == set(month_ends(bounds[0], bounds[1]))
    assert _differences(monthly, _rows(daily)) == {}


AS_OF = date(2025, 5, 17)  # not a month end: the as-of row is a row of its own


def generated_inputs(spark, seed: int = 7, customers: int = 36):
    """Random customers over four and a half months (first seen from 2025-01-02 to the as-of day, some on a month
    end or on the as-of day; versions changing mid-day; orders, cancelled ones and unconverted ones, netted and
    unnetted refunds, tickets, account snapshots and closures, some before first seen or after the as-of day)."""
    rng = random.Random(seed)
    start = date(2025, 1, 2)
    span = (AS_OF - start).days
    ts = (lambda day, hour=12: datetime(day.year, day.month, day.day, hour, rng.randrange(60)))  # noqa: E731
    dims, orders, refunds, tickets, snaps, closures = [], [], [], [], [], []
    key = 0
    for i in range(customers):
        cid = f"g-{i}"
        first = {0: date(2025, 1, 31), 1: AS_OF, 2: date(2025, 2, 28)}.get(i, start + timedelta(rng.randrange(span)))
        registered = i % 9 != 8
        changes = sorted({first + timedelta(rng.randrange(max(1, (AS_OF - first).days)))
                          for _ in range(rng.randrange(3))})
        starts = [datetime(first.year, first.month, first.day, rng.randrange(24))]
        starts += [ts(day, rng.randrange(24)) for day in changes if ts(day) > starts[0]]
        for v, begin in enumerate(starts):
            key += 1
            end = starts[v + 1] if v + 1 < len(starts) else datetime(9999, 12, 31)
            dims.append((key, cid, registered, first, first - timedelta(rng.randrange(400)) if i % 3 else None,
                         begin, end))
        last = (AS_OF - first).days + 3
        for _ in range(rng.randrange(12)):
            day = first + timedelta(rng.randrange(-3, last))
            value = None if rng.random() < 0.1 else Decimal(rng.randrange(100, 20000)) / 100
            orders.append((cid, ts(day, rng.randrange(24)), rng.random() < 0.1, value))
            if rng.random() < 0.3:
                status = "netted" if rng.random() < 0.8 else "unknown_order"
                refunds.append((cid, ts(day + timedelta(rng.randrange(20))), status,
                                Decimal(rng.randrange(100, 5000)) / 100))
        for _ in range(rng.randrange(4)):
            opened = ts(first + timedelta(rng.randrange(-2, last)))
            resolved = rng.random() < 0.7
            hours = round(rng.uniform(0.5, 90), 3)
            tickets.append((cid, opened, resolved, opened + timedelta(hours=hours) if resolved else None,
                            hours if resolved else None))
        for n in range(rng.randrange(5)):
            when = ts(first + timedelta(rng.randrange(last)), rng.randrange(24))
            snaps.append((f"s-{i}-{n}", cid, when, round(rng.uniform(0, 900), 2), rng.randrange(1, 4)))
            if n == 0:  # two snapshots the same day: the later one wins
                snaps.append((f"s-{i}-{n}b", cid, when + timedelta(minutes=5), round(rng.uniform(0, 900), 2), 9))
        if rng.random() < 0.25:
            closures.append((cid, first + timedelta(rng.randrange(last))))
    frames = (
        spark.createDataFrame(dims, "customer_key bigint, customer_id string, is_registered boolean, "
                                    "first_seen_date date, signup_date date, dw_start_date timestamp, "
                                    "dw_end_date timestamp"),
        spark.createDataFrame(orders, "customer_id string, order_ts timestamp, is_cancelled boolean, "
                                      "order_value_rc decimal(18,2)"),
        spark.createDataFrame(refunds, "customer_id string, refund_ts timestamp, status string, "
                                       "refund_amount_rc decimal(18,2)"),
        spark.createDataFrame(tickets, "customer_id string, opened_ts timestamp, is_resolved boolean, "
                                       "resolved_ts timestamp, resolution_hours double"),
        spark.createDataFrame(snaps, "event_id string, customer_id string, event_ts timestamp, balance double, "
                                     "num_products int"),
        spark.createDataFrame(closures, "customer_id string, event_date date"),
    )
    firsts = {d[1]: d[3] for d in dims if d[2]}
    return frames, firsts


@pytest.fixture(scope="module")
def generated(spark):
    frames, firsts = generated_inputs(spark)
    monthly = _rows(customer_metrics(*frames, AS_OF, 30))
    return frames, firsts, monthly


def test_every_monthly_row_equals_the_daily_row_of_its_day_on_generated_data(spark, generated) -> None:
    """A 30-day RFM window, so frequency and monetary move between month ends; the as-of day mid-month.
    Seen failing on two mutations of ``customer_metrics``: the trailing window counted in rows
    (``rowsBetween``) instead of days, and the activity days dropped before the window functions (snapshot
    days only): rows of g-0 and others differed from the daily oracle."""
    frames, _, monthly = generated
    daily = _rows(daily_customer_metrics(*frames, AS_OF, 30))
    assert len(daily) > 3 * len(monthly)
    assert _differences(monthly, daily) == {}
    scored = [row for row in monthly.values() if row["f_score"] is not None]
    assert len(scored) > 20 and len({row["rfm_segment"] for row in monthly.values()}) >= 3


def test_snapshot_days_are_month_ends_and_the_as_of_day_never_every_day(generated) -> None:
    """The grain: customers x months + one as-of row each, not customers x days. Seen failing with the daily
    spine back (``snapshot_days`` returning ``F.sequence(first_date, as_of)``): every day of g-0 was a row."""
    _, firsts, monthly = generated
    expected = {(customer, day) for customer, first in firsts.items() for day in month_ends(first, AS_OF)}
    assert set(monthly) == expected
    months = sum((AS_OF.year - f.year) * 12 + AS_OF.month - f.month for f in firsts.values())  # month ends passed
    assert len(monthly) == months + len(firsts)  # + the as-of row, as 2025-05-17 is no month end
    ends = {date(2025, m, calendar.monthrange(2025, m)[1]) for m in (1, 2, 3, 4)}
    assert {day for _, day in monthly} == ends | {AS_OF}


def test_the_spark_segment_expression_is_the_core_rule_table(spark) -> None:
    """The batch's ``rfm_segment`` column is generated from ``lakehouse.core.rfm.RULES``. Seen failing before issue
    12's item 5: the hand-written chain named (5, 1, 1) Recent and (3, 2, 2) Needs Attention, the table Potential
    Loyalist."""
    from pyspark.sql import functions as F

    cells = [*itertools.product(range(1, 6), repeat=3), (None, None, None)]
    frame = spark.createDataFrame(cells, "r int, f int, m int")
    rows = frame.select("r", "f", "m", rfm_segment(F.col("r"), F.col("f"), F.col("m")).alias("s")).collect()
    got = {(row.r, row.f, row.m): row.s for row in rows}
    assert got == {cell: (segment_of(*cell).value if cell[0] else NO_PURCHASE) for cell in cells}


def test_the_warehouse_holds_only_the_one_vocabulary(built_lake) -> None:
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        labels = {row[0] for row in con.execute("SELECT DISTINCT rfm_segment FROM fact_customer_metrics").fetchall()}
    assert labels <= set(VOCABULARY) and len(labels) >= 4
