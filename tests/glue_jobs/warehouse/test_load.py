"""Loading a star build into the local DuckDB warehouse: MERGE, deletes, idempotent reruns, skips."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.star.job import manifest_key
from glue_jobs.star.schema import STAR_TABLES
from glue_jobs.warehouse.load import DuckDbTarget, WarehouseError, load_warehouse
from glue_jobs.warehouse.sql_files import views
from lakehouse.core.job_state import MANIFESTS, STAR_STATE

ARROW = {"bigint": pa.int64(), "int": pa.int32(), "string": pa.string(), "double": pa.float64(),
         "decimal(18,2)": pa.decimal128(18, 2), "decimal(18,4)": pa.decimal128(18, 4),
         "decimal(18,8)": pa.decimal128(18, 8), "boolean": pa.bool_(), "date": pa.date32(),
         "timestamp_ntz": pa.timestamp("us")}


def dim_date_row(day: date) -> dict:
    return {"date_key": int(day.strftime("%Y%m%d")), "full_date": day, "year": day.year, "quarter": 2,
            "month": day.month, "month_name": day.strftime("%B"), "year_month": day.strftime("%Y-%m"),
            "day_of_month": day.day, "day_of_week": day.isoweekday(), "day_name": day.strftime("%A"),
            "week_of_year": 22, "is_weekend": day.isoweekday() >= 6}


def kpi_row(day: date, orders: int, revenue: str) -> dict:
    return {"date_key": int(day.strftime("%Y%m%d")), "full_date": day, "dau": 10, "new_customers": 1,
            "sessions": 12, "orders": orders, "purchasers": orders, "units_sold": orders, "revenue": Decimal(revenue),
            "refunds": Decimal("0"), "conversion_rate": 0.1, "unconverted_orders": 0,
            "aov": (Decimal(revenue) / orders).quantize(Decimal("0.01")) if orders else None}


def write_build(settings, build_id: str, rows: dict[str, list[dict]], keyed: bool = False,
                commit: bool = True) -> None:
    """A star build as build_star leaves it: Parquet per table, COPY manifests, the build state.

    ``keyed``: as build_star writes them now, files in ``warehouse/<t>/_b-<build_id>/`` and manifests under
    ``warehouse/_manifests/_star/<build_id>/`` named by the state (else the fixed keys of earlier builds);
    ``commit=False``: a build that died before writing its state."""
    root = Path(settings.lake.key(""))
    named = {}
    for table, columns in STAR_TABLES.items():
        schema = pa.schema([(name, ARROW[kind]) for name, kind in columns])
        folder = root / "warehouse" / table / (f"_b-{build_id}" if keyed else "")
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        path = folder / f"part-00000-{build_id}.zstd.parquet"
        pq.write_table(pa.Table.from_pylist(rows.get(table, []), schema=schema), path, compression="zstd")
        manifest = {"entries": [{"url": str(path), "mandatory": True, "meta": {"content_length": path.stat().st_size}}]}
        named[table] = manifest_key(build_id, table) if keyed else f"{MANIFESTS}/{table}.json"
        (root / named[table]).parent.mkdir(parents=True, exist_ok=True)
        (root / named[table]).write_text(json.dumps(manifest))
    if commit:
        (root / STAR_STATE).parent.mkdir(parents=True, exist_ok=True)
        state = {"build_id": build_id, "curated_version": "r1"} | ({"manifests": named} if keyed else {})
        (root / STAR_STATE).write_text(json.dumps(state))


def query(settings, sql: str):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_nothing_to_load_before_the_first_build(settings) -> None:
    assert load_warehouse(settings).skipped == "no star build yet"


def test_a_build_is_loaded_once_and_merged_on_change(settings) -> None:
    days = [date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)]
    write_build(settings, "b1", {"dim_date": [dim_date_row(d) for d in days],
                                 "fact_daily_kpis": [kpi_row(days[0], 2, "50.00"), kpi_row(days[1], 1, "20.00")]})
    report = load_warehouse(settings)
    assert report.version == "b1" and report.tables["dim_date"] == 3 and report.tables["fact_daily_kpis"] == 2
    assert set(report.views) == {v.name for v in views()}
    assert query(settings, "SELECT target, version FROM etl_load_state") == [("duckdb", "b1")]
    # the same build again: nothing is written
    modified = settings.warehouse_path.stat().st_mtime_ns
    assert load_warehouse(settings).skipped == "duckdb already holds star build b1"
    assert settings.warehouse_path.stat().st_mtime_ns == modified
    # a new build: one row changed, one gone, one new
    write_build(settings, "b2", {"dim_date": [dim_date_row(d) for d in days],
                                 "fact_daily_kpis": [kpi_row(days[0], 3, "80.00"), kpi_row(days[2], 1, "5.00")]})
    assert load_warehouse(settings).tables["fact_daily_kpis"] == 2
    rows = query(settings, "SELECT full_date, orders, revenue, aov FROM mart_daily_kpis ORDER BY full_date")
    assert rows == [(days[0], 3, Decimal("80.00"), Decimal("26.67")), (days[2], 1, Decimal("5.00"), Decimal("5.00"))]
    # a forced reload of the same build changes nothing
    load_warehouse(settings, force=True)
    assert query(settings, "SELECT count(*), sum(revenue) FROM fact_daily_kpis") == [(2, Decimal("85.00"))]


def test_timestamps_keep_their_utc_wall_clock(settings) -> None:
    start = datetime(2025, 6, 1, 23, 30)
    customer = {"customer_key": 7, "customer_id": "c1", "version": 1, "is_registered": True, "name": None,
                "email": None, "age": 30, "age_band": "30-45", "gender": None, "geography": "Spain", "city": "Bilbao",
                "geography_key": 1, "signup_date": None, "first_seen_date": start.date(), "dw_start_date": start,
                "dw_end_date": datetime(9999, 12, 31), "is_current": True}
    write_build(settings, "b1", {"dim_customer": [customer]})
    load_warehouse(settings)
    assert query(settings, "SELECT dw_start_date, dw_end_date FROM dim_customer") == [
        (start, datetime(9999, 12, 31))]


def test_an_s3_lake_cannot_load_into_local_duckdb(settings) -> None:
    target = DuckDbTarget(settings.warehouse_path)
    with pytest.raises(WarehouseError, match="local lake only"):
        target.statements("b1", {"dim_date": ["s3://bucket/warehouse/dim_date/part-0.parquet"]})


def test_a_table_whose_ddl_changed_is_recreated_by_the_next_load(settings) -> None:
    """Seen failing without the drift check: the old fact_order (keyed by event_id, 14 columns) stayed, and the
    load failed with "Binder Error: Table "fact_order" does not have a column with name "duplicate_events"". """
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE fact_order (event_id VARCHAR, order_id VARCHAR, order_total DECIMAL(18,2))")
        con.execute("INSERT INTO fact_order VALUES ('e1', 'o1', 10.00)")
        con.execute("CREATE TABLE dim_channel (channel_key BIGINT, channel VARCHAR)")  # as its DDL: kept
        con.execute("INSERT INTO dim_channel VALUES (1, 'web')")
    write_build(settings, "b1", {"dim_channel": [{"channel_key": 1, "channel": "web"}]})
    report = load_warehouse(settings)
    assert report.tables["fact_order"] == 0 and report.tables["dim_channel"] == 1
    columns = [r[0] for r in query(settings, "SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = 'fact_order' ORDER BY ordinal_position")]
    assert columns == [name for name, _ in STAR_TABLES["fact_order"]]


def geography_row(key: int, city: str) -> dict:
    return {"geography_key": key, "geography": "Japan", "city": city}


def test_duplicate_keys_fail_the_load_and_the_next_good_build_loads(settings) -> None:
    """A stage with two rows for one key (e.g. two dim_customer versions with one key) fails with the keys named,
    leaves the warehouse on its previous build, and does not block the next build.

    Seen failing without the key check: the load failed at the MERGE with DuckDB's "MERGE INTO command cannot affect
    the same target row more than once", naming no key (and Redshift's message differs again)."""
    days = [date(2025, 6, 1), date(2025, 6, 2)]
    write_build(settings, "b1", {"dim_date": [dim_date_row(d) for d in days]})
    load_warehouse(settings)
    write_build(settings, "b2", {"dim_date": [dim_date_row(days[0]), dim_date_row(days[0]), dim_date_row(days[1])],
                                 "fact_daily_kpis": [kpi_row(days[0], 2, "50.00")]})
    with pytest.raises(WarehouseError) as caught:
        load_warehouse(settings)
    message = str(caught.value)
    assert message.startswith("cannot load dim_date: duplicate key date_key=20250601 (2 rows). Nothing was loaded")
    assert "\n" not in message
    assert query(settings, "SELECT target, version FROM etl_load_state") == [("duckdb", "b1")]
    assert query(settings, "SELECT count(*) FROM dim_date") == [(2,)]
    assert query(settings, "SELECT count(*) FROM fact_daily_kpis") == [(0,)]  # nothing of b2 half-loaded
    write_build(settings, "b3", {"dim_date": [dim_date_row(d) for d in days],
                                 "fact_daily_kpis": [kpi_row(days[0], 2, "50.00")]})
    report = load_warehouse(settings)
    assert report.version == "b3" and report.tables["fact_daily_kpis"] == 1
    assert query(settings, "SELECT version FROM etl_load_state") == [("b3",)]


def test_a_multibyte_city_at_the_contract_limit_loads(settings) -> None:
    """The contract allows 128 characters of city; Redshift's VARCHAR counts bytes (up to 4 per character).

    Seen failing with the DDL's former VARCHAR(128): "cannot load dim_geography: city: 512 bytes, more than
    VARCHAR(128) holds (geography_key=1)", as Redshift's COPY would have failed."""
    from lakehouse.core.contract.properties import Traits

    city = "\U0001d538" * 128  # MATHEMATICAL DOUBLE-STRUCK CAPITAL A: 4 bytes in UTF-8
    assert Traits(city=city).city == city and len(city.encode()) == 512
    with pytest.raises(ValueError):
        Traits(city=city + "A")
    write_build(settings, "b1", {"dim_geography": [geography_row(1, city), geography_row(2, "Ōsaka")]})
    assert load_warehouse(settings).tables["dim_geography"] == 2
    assert query(settings, "SELECT city FROM dim_geography ORDER BY geography_key") == [(city,), ("Ōsaka",)]


def test_a_value_too_long_in_bytes_fails_like_redshift_copy(settings) -> None:
    """context.channel has no length in the contract: a longer one than dim_channel holds cannot load on Redshift.

    Seen failing before the byte check: DuckDB (VARCHAR without length) loaded it and the local load passed where
    Redshift's COPY fails."""
    write_build(settings, "b1", {"dim_channel": [{"channel_key": 1, "channel": "web"}]})
    load_warehouse(settings)
    long_channel = "é" * 200  # 200 characters, 400 bytes
    write_build(settings, "b2", {"dim_channel": [{"channel_key": 2, "channel": long_channel}]})
    with pytest.raises(WarehouseError, match=r"^cannot load dim_channel: channel: 400 bytes, more than VARCHAR\(256\) "
                                             r"holds \(channel_key=2\)\. Nothing was loaded"):
        load_warehouse(settings)
    assert query(settings, "SELECT channel FROM dim_channel") == [("web",)]


def test_a_row_that_cannot_load_gives_one_line_naming_the_table(settings) -> None:
    """A NULL in a NOT NULL column: the load fails with one line naming the table, not DuckDB's exception.

    Seen failing before: duckdb.ConstraintException propagated ("NOT NULL constraint failed: dim_channel.channel");
    the CLI catches WarehouseError only, so `lakehouse batch` ended in a stack trace."""
    write_build(settings, "b1", {"dim_channel": [{"channel_key": 1, "channel": None}]})
    with pytest.raises(WarehouseError) as caught:
        load_warehouse(settings)
    message = str(caught.value)
    assert message.startswith("loading dim_channel failed: ") and "NOT NULL" in message and "\n" not in message
    write_build(settings, "b2", {"dim_channel": [{"channel_key": 1, "channel": "web"}]})
    assert load_warehouse(settings).tables["dim_channel"] == 1


def test_a_mart_view_whose_columns_changed_is_recreated_locally(settings) -> None:
    """The local load sends the same DROP VIEW IF EXISTS … CASCADE / CREATE VIEW pair as Redshift (never OR REPLACE,
    r_CREATE_VIEW): a view left by an older build with other columns, and a view reading it, are recreated.

    A guard that the DuckDB path keeps working with the DROP/CREATE pair (DuckDB's OR REPLACE accepted changed
    columns, so this passed before the fix too; the Redshift failure is caught by test_plan and test_grammar)."""
    day = date(2025, 6, 1)
    write_build(settings, "b1", {"dim_date": [dim_date_row(day)]})
    load_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("DROP VIEW mart_activeness_segments")
        con.execute("CREATE OR REPLACE VIEW mart_customer_activeness AS SELECT 1 AS old_column")
        con.execute("CREATE VIEW mart_activeness_segments AS SELECT old_column FROM mart_customer_activeness")
    load_warehouse(settings, force=True)
    columns = [row[0] for row in query(settings, "SELECT column_name FROM information_schema.columns WHERE "
                                                 "table_name = 'mart_customer_activeness'")]
    assert "old_column" not in columns and "customer_id" in columns
    query(settings, "SELECT COUNT(*) FROM mart_activeness_segments")


def session_row(session_id: str, customer: str, seconds: int) -> dict:
    start = datetime(2025, 6, 1, 10)
    return {"session_id": session_id, "customer_key": 1, "customer_id": customer, "date_key": 20250601,
            "channel_key": 1, "session_start": start, "session_end": start, "duration_seconds": seconds,
            "event_count": 1, "page_views": 1, "product_views": 0, "cart_adds": 0, "orders": 0}


def write_delta(settings, build_id: str, base: str, upsert: list[dict], gone: list[dict]) -> None:
    """Make the latest build (``write_build``) an incremental one over ``base`` with a fact_session delta."""
    root = Path(settings.lake.key(""))
    schema = pa.schema([(name, ARROW[kind]) for name, kind in STAR_TABLES["fact_session"]])
    record = {}
    for part, rows in (("upsert", upsert), ("gone", gone)):
        path = root / "warehouse" / "_delta" / build_id / "fact_session" / part / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        key = f"{MANIFESTS}/_delta/fact_session-{part}.json"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(json.dumps({"entries": [{"url": str(path), "mandatory": True,
                                                         "meta": {"content_length": path.stat().st_size}}]}))
        record[part] = key
    state = json.loads((root / STAR_STATE).read_text())
    state.update({"base_build_id": base, "delta": {"fact_session": record}})
    (root / STAR_STATE).write_text(json.dumps(state))


def sessions(settings) -> list[tuple]:
    return query(settings, "SELECT session_id, duration_seconds FROM fact_session ORDER BY 1")


def test_an_incremental_build_loads_as_a_delta_onto_the_build_it_started_from(settings) -> None:
    """Issue 15, item 2: the dropped key is deleted, the changed and new rows merged, every other row untouched.

    The build's full files hold s2 with another value on purpose: the delta load must not read them (a full
    load would), so s2 keeps the value already loaded."""
    write_build(settings, "b1", {"fact_session": [session_row(s, "c1", 10) for s in ("s1", "s2", "s3")]})
    assert load_warehouse(settings).mode == "full"
    write_build(settings, "b2", {"fact_session": [session_row("s1", "c1", 99), session_row("s2", "c1", 55),
                                                  session_row("s4", "c2", 7)]})
    write_delta(settings, "b2", "b1", upsert=[session_row("s1", "c1", 99), session_row("s4", "c2", 7)],
                gone=[session_row("s3", "c1", 10)])
    report = load_warehouse(settings)
    assert report.mode == "delta" and report.version == "b2"
    assert sessions(settings) == [("s1", 99), ("s2", 10), ("s4", 7)]
    # --full (and --force) reload the build whole, from its full files
    assert load_warehouse(settings, full=True).mode == "full"
    assert sessions(settings) == [("s1", 99), ("s2", 55), ("s4", 7)]


def test_a_star_build_that_dies_before_its_commit_leaves_the_load_on_the_committed_build(settings) -> None:
    """The build's files and COPY manifests are written under its own id; only the state, written last, names them.

    Seen failing with the manifests at fixed keys (``keyed=False`` for both builds, as build_star wrote them
    before): the uncommitted b2's manifests replaced b1's and the load put b2's row s2 into the warehouse under
    b1's build id, a build nothing had committed."""
    write_build(settings, "b1", {"fact_session": [session_row("s1", "c1", 10)]}, keyed=True)
    write_build(settings, "b2", {"fact_session": [session_row("s2", "c1", 20)]}, keyed=True, commit=False)
    report = load_warehouse(settings)
    assert report.version == "b1" and sessions(settings) == [("s1", 10)]


def test_a_warehouse_not_on_the_base_build_loads_the_build_whole(settings) -> None:
    """A missed load (the warehouse holds b0, the build's delta is over b1) must not apply b1 -> b2 onto b0."""
    write_build(settings, "b0", {"fact_session": [session_row("s9", "c9", 1)]})
    load_warehouse(settings)
    write_build(settings, "b2", {"fact_session": [session_row("s1", "c1", 99)]})
    write_delta(settings, "b2", "b1", upsert=[session_row("s1", "c1", 99)], gone=[])
    report = load_warehouse(settings)
    assert report.mode == "full" and sessions(settings) == [("s1", 99)]
