"""The curated zone as DuckDB views, for point-in-time queries (thin I/O).

Every curated table is read from the files of its current partition versions (the table's manifest,
:mod:`lakehouse.core.lake.tables`; a legacy table's ``event_date=.../*.parquet``): a local lake straight by
DuckDB's Parquet reader, an ``s3://`` lake through pyarrow's S3 file system (DuckDB 2.0 cannot load ``httpfs``
offline; pyarrow honours ``AWS_ENDPOINT_URL``). Only the columns in :data:`COLUMNS` are read. A table without
files (a lake that never saw a refund) is an empty table of the same columns, so every query runs.

The exchange rates come from the lake's rate CSV (``settings.money.rates_key``), as the star build reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pandas as pd

from lakehouse.core.config import Settings
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import RateTable

#: curated table -> the (column, DuckDB type) the ML features read
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (("event_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("user_id", "VARCHAR"),
               ("event_type", "VARCHAR"), ("event_name", "VARCHAR"), ("event_ts", "TIMESTAMP")),
    "identity_links": (("event_id", "VARCHAR"), ("source_id", "VARCHAR"), ("target_id", "VARCHAR"),
                       ("event_ts", "TIMESTAMP"), ("received_at", "TIMESTAMP")),
    "orders": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("customer_id", "VARCHAR"),
               ("order_ts", "TIMESTAMP"), ("received_at", "TIMESTAMP"), ("order_value", "DECIMAL(18,4)"),
               ("currency", "VARCHAR")),
    "order_changes": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("change", "VARCHAR"),
                      ("event_ts", "TIMESTAMP"), ("received_at", "TIMESTAMP"), ("order_value", "DECIMAL(18,4)"),
                      ("currency", "VARCHAR")),
    "order_lines": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("category", "VARCHAR"),
                    ("quantity", "INTEGER"), ("order_ts", "TIMESTAMP")),
    "refunds": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("refund_ts", "TIMESTAMP"),
                ("received_at", "TIMESTAMP"), ("amount", "DECIMAL(18,4)"), ("is_full_refund", "BOOLEAN"),
                ("currency", "VARCHAR")),
    "product_events": (("customer_id", "VARCHAR"), ("event_name", "VARCHAR"), ("event_ts", "TIMESTAMP")),
    "sessions": (("customer_id", "VARCHAR"), ("session_start", "TIMESTAMP"), ("session_end", "TIMESTAMP"),
                 ("duration_seconds", "BIGINT")),
    "support_tickets": (("ticket_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("event_name", "VARCHAR"),
                        ("event_ts", "TIMESTAMP"), ("severity", "VARCHAR"), ("resolution_hours", "DOUBLE"),
                        ("satisfaction", "INTEGER")),
    "offers": (("offer_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("event_name", "VARCHAR"),
               ("event_ts", "TIMESTAMP"), ("accepted", "BOOLEAN")),
    "content_watched": (("customer_id", "VARCHAR"), ("event_ts", "TIMESTAMP"), ("duration_seconds", "DOUBLE")),
    "account_snapshots": (("customer_id", "VARCHAR"), ("event_ts", "TIMESTAMP"), ("product_type", "VARCHAR"),
                          ("balance", "DECIMAL(18,4)"), ("num_products", "INTEGER")),
    "account_closures": (("customer_id", "VARCHAR"), ("event_ts", "TIMESTAMP")),
    "customers": (("customer_id", "VARCHAR"), ("event_ts", "TIMESTAMP"), ("age", "INTEGER"),
                  ("gender", "VARCHAR"), ("geography", "VARCHAR"), ("traits_cleared", "VARCHAR[]")),
}


def _empty(columns: Iterable[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns) + " WHERE FALSE"


def _current_files(layout: LakeLayout, table: str) -> list[str]:
    """Keys (relative to the lake root) of the current data files of a curated table."""
    storage = LakeStorage(layout)
    state = lake_tables.current(storage, layout.curated_table(table))
    return sorted(f.key for f in lake_tables.files(storage, state))


def _local_files(layout: LakeLayout, table: str) -> list[str]:
    return [layout.path(key) for key in _current_files(layout, table)]


def _s3_table(layout: LakeLayout, table: str, columns: list[str]):
    import pyarrow.dataset as ds
    from pyarrow import fs

    keys = _current_files(layout, table)
    if not keys:
        return None
    filesystem, _ = fs.FileSystem.from_uri(layout.uri(layout.curated_table(table)))
    dataset = ds.dataset([f"{layout.bucket}/{layout.key(k)}" for k in keys], filesystem=filesystem,
                         format="parquet")
    return dataset.to_table(columns=[c for c in columns if c in dataset.schema.names])


def open_curated(settings: Settings, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per curated table of :data:`COLUMNS` (same names) and ``rates``
    (``currency``, ``rate_date``, ``rate``: rows of the lake's rate CSV into the reporting currency).

    Columns a table lacks (an older lake) read as NULL. Raises ``duckdb.Error`` for unreadable Parquet.
    """
    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # curated INT64 timestamps read as TIMESTAMPTZ: cast them in UTC
    layout = settings.lake
    for table, columns in COLUMNS.items():
        select = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns)
        if layout.is_s3:
            arrow = _s3_table(layout, table, [c for c, _ in columns])
            if arrow is None:
                con.execute(f"CREATE OR REPLACE VIEW {table} AS {_empty(columns)}")
                continue
            con.register(f"_arrow_{table}", arrow)
            present = set(arrow.column_names)
            select = ", ".join(f"CAST({name if name in present else 'NULL'} AS {kind}) AS {name}"
                               for name, kind in columns)
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {select} FROM _arrow_{table}")
            continue
        files = _local_files(layout, table)
        if not files:
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {_empty(columns)}")
            continue
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
        present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        select = ", ".join(f"CAST({name if name in present else 'NULL'} AS {kind}) AS {name}"
                           for name, kind in columns)
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {select} FROM {scan}")
    register_rates(con, settings)
    return con


def register_rates(con: duckdb.DuckDBPyConnection, settings: Settings) -> RateTable:
    """Register the lake's rate CSV as table ``rates`` (empty without a file); returns the parsed table."""
    storage = LakeStorage(settings.lake, region=settings.region)
    money = settings.money
    text = storage.get_bytes(money.rates_key).decode("utf-8") if storage.exists(money.rates_key) else ""
    table = (RateTable.from_csv(text, money.reporting_currency, money.max_rate_age_days) if text
             else RateTable.from_rows([], money.reporting_currency, money.max_rate_age_days))
    frame = pd.DataFrame({"currency": pd.Series([r.currency for r in table.rows], dtype="string"),
                          "rate_date": pd.to_datetime(pd.Series([r.rate_date for r in table.rows], dtype="object")),
                          "rate": pd.Series([float(r.rate) for r in table.rows], dtype="float64")})
    con.register("_rates", frame)
    con.execute("CREATE OR REPLACE TABLE rates AS SELECT CAST(currency AS VARCHAR) AS currency, "
                "CAST(rate_date AS DATE) AS rate_date, rate FROM _rates")
    con.unregister("_rates")
    return table


def data_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last event day of the curated ``events`` (None, None for an empty lake)."""
    low, high = con.execute("SELECT MIN(event_ts), MAX(event_ts) FROM events").fetchone()
    return (low.date() if low else None, high.date() if high else None)
