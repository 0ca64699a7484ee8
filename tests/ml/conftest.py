"""Fixtures of the ML tests: curated zones to compute features on.

* :func:`write_curated` writes the rows of a :class:`tests.glue_jobs.star.curated_lake.CuratedLake` (the rows
  raw_to_curated makes of each Segment call, written independently of the curated code) as
  ``curated/<table>/event_date=…/*.parquet`` with pyarrow — no Spark, so a hand-made lake costs milliseconds.
  Timestamps are naive UTC microseconds, as DuckDB reads Spark's INT96 curated timestamps.
* :func:`write_rates` writes the lake's rate CSV (docs/money.md format, :mod:`lakehouse.core.money`).
* ``ml_star_lake``: the suite's batch-built lake (``tests/lake_fixtures.py``: generated journeys plus hand-made
  scenarios through raw -> curated -> star); shared with the other tests of the suite, so it adds no cost.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.core.config import Settings
from tests.glue_jobs.star.curated_lake import SCHEMAS, CuratedLake

#: curated ``sessions`` (docs/batch.md; glue_jobs/curated/sessions.py); CuratedLake has no session writer
SESSIONS = ("session_id string, customer_id string, session_start timestamp, session_end timestamp, "
            "duration_seconds bigint, event_count int, page_views int, product_views int, cart_adds int, "
            "orders int, channel string, event_date date")
_TYPES = {"string": pa.string(), "timestamp": pa.timestamp("us"), "date": pa.date32(), "int": pa.int32(),
          "bigint": pa.int64(), "double": pa.float64(), "boolean": pa.bool_(), "array<string>": pa.list_(pa.string())}


def arrow_schema(ddl: str) -> pa.Schema:
    """The pyarrow schema of a Spark DDL column list (the types :data:`SCHEMAS` uses)."""
    fields = []
    for item in re.split(r",\s*(?![^()]*\))", ddl):
        name, kind = item.strip().split(" ", 1)
        decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", kind)
        fields.append(pa.field(name, pa.decimal128(int(decimal[1]), int(decimal[2])) if decimal else _TYPES[kind]))
    return pa.schema(fields)


def write_table(settings: Settings, table: str, ddl: str, rows: list[tuple], part: str = "part-0") -> None:
    """``rows`` (tuples in ``ddl``'s column order, the last one ``event_date``) as ``curated/<table>`` Parquet,
    one file ``<part>.parquet`` per ``event_date`` partition (the partition column is in the path only)."""
    schema = arrow_schema(ddl)
    root = Path(settings.lake.path(settings.lake.curated_table(table)))
    by_day: dict[date, list[tuple]] = {}
    for row in rows:
        by_day.setdefault(row[-1], []).append(row[:-1])
    data_schema = pa.schema(list(schema)[:-1])
    for day, day_rows in by_day.items():
        folder = root / f"event_date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        columns = list(zip(*day_rows, strict=True))
        arrays = [pa.array(list(col), type=f.type) for col, f in zip(columns, data_schema, strict=True)]
        pq.write_table(pa.Table.from_arrays(arrays, schema=data_schema), folder / f"{part}.parquet")


def write_curated(settings: Settings, lake: CuratedLake, sessions: list[tuple] = (), part: str = "part-0") -> None:
    """Every table of ``lake`` (and the ``sessions`` rows, :data:`SESSIONS` order) under ``settings``' lake."""
    for table, ddl in SCHEMAS.items():
        write_table(settings, table, ddl, lake.rows.get(table, []), part)
    write_table(settings, "sessions", SESSIONS, list(sessions), part)


def write_rates(settings: Settings, rows: list[tuple[str, str, str]]) -> None:
    """The lake's rate CSV (``rate_date,currency,rate``) at ``money.rates_key``."""
    path = Path(settings.lake.path(settings.money.rates_key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("rate_date,currency,rate\n" + "".join(f"{d},{c},{r}\n" for d, c, r in rows))


def session(customer: str, start: datetime, end: datetime, events: int = 2) -> tuple:
    """A curated ``sessions`` row (:data:`SESSIONS`) from ``start`` to ``end`` (whole seconds, truncated)."""
    return (f"s-{customer}-{start:%Y%m%d%H%M%S}", customer, start, end, int((end - start).total_seconds()), events,
            events, 0, 0, 0, "web", start.date())


@pytest.fixture
def hand_settings(tmp_path: Path) -> Settings:
    """Settings whose lake is an empty private directory (write a hand-made curated zone into it)."""
    return Settings(stage="tml", home=tmp_path / "home")


@pytest.fixture(scope="session")
def ml_star_lake(built_lake) -> Settings:
    """The settings of the suite's batch-built lake (curated zone and star); read it, never change it."""
    return built_lake.settings
