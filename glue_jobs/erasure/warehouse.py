"""Erase one person from the warehouse: the local DuckDB file, or Amazon Redshift (docs/erasure.md).

DuckDB: a new file with every table and view, the person's rows left out (a row is theirs when a VARCHAR column
equals one of their identifiers or holds one quoted, or a VARCHAR[] holds one — the lake's rule,
:func:`glue_jobs.erasure.lake.row_mentions`), swapped in: a DuckDB file can keep deleted rows in its free blocks,
a new file holds none.

Redshift: in one transaction, ``DELETE FROM <schema>.<table> WHERE customer_id IN (…)`` for every warehouse table
with a ``customer_id`` column (the star's and ``fact_customer_scores``; every fact carries the id beside its
surrogate key, ``dim_customer`` every SCD2 version), then, outside it (VACUUM cannot run in a transaction block),
``VACUUM DELETE ONLY <table> TO 100 PERCENT`` on each table that lost rows, so the deleted rows' blocks are
reclaimed now rather than by Redshift's background vacuum (r_VACUUM_command). Statements follow the checker of
Redshift's documented grammar (:mod:`glue_jobs.warehouse.grammar`); nothing here can run them without an account.
Redshift's automated and manual snapshots keep their copies until their retention ends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from glue_jobs.warehouse.sql_files import score_tables, star_tables
from lakehouse.core.config import Settings
from lakehouse.core.erasure import ErasureRecord, Subject

#: the column every per-customer warehouse table carries
CUSTOMER_COLUMN = "customer_id"


def erase_duckdb(path: Path, subject: Subject, record: ErasureRecord) -> None:
    """Write the warehouse file again without the person's rows into a new file, then swap it in (module docstring).
    Nothing to do without a warehouse file."""
    import duckdb

    if not path.exists():
        return
    fresh = path.with_name(f".{path.name}.erasing")
    fresh.unlink(missing_ok=True)
    with duckdb.connect(str(fresh)) as con:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(path)])
        new = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f'COPY FROM DATABASE old TO "{new}" (SCHEMA)')
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'old' "
                             "ORDER BY 1, 2").fetchall()
        values = sorted(subject.identifiers)
        for schema, table in tables:
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'old' "
                                  "AND schema_name = ? AND table_name = ?", [schema, table]).fetchall()
            condition = _mentions_sql(columns) or "false"
            parameters = _parameters(columns, values)
            source = f'old."{schema}"."{table}"'
            removed = con.execute(f"SELECT count(*) FROM {source} WHERE {condition}", parameters).fetchone()[0]
            con.execute(f'INSERT INTO "{new}"."{schema}"."{table}" SELECT * FROM {source} '
                        f"WHERE NOT coalesce({condition}, false)", parameters)
            if removed:
                record.touched("warehouse_duckdb", tables_rewritten=1, rows_removed=removed)
        con.execute("DETACH old")
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _mentions_sql(columns: list[tuple[str, str]]) -> str:
    terms = []
    for name, kind in columns:
        if kind == "VARCHAR":
            terms.append(f'(list_contains($ids, "{name}") OR list_bool_or(list_transform($quoted, '
                         f'lambda q: contains("{name}", q))))')
        elif kind == "VARCHAR[]":
            terms.append(f'list_has_any("{name}", $ids)')
    return " OR ".join(terms)


def _parameters(columns: list[tuple[str, str]], values: list[str]) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    if any(kind in ("VARCHAR", "VARCHAR[]") for _, kind in columns):
        used["ids"] = values
    if any(kind == "VARCHAR" for _, kind in columns):
        used["quoted"] = [json.dumps(v) for v in values]
    return used


def customer_tables() -> list[str]:
    """The warehouse tables with a ``customer_id`` column, by name (the DDL's)."""
    specs = {**star_tables(), **score_tables()}
    return sorted(name for name, spec in specs.items() if CUSTOMER_COLUMN in spec.column_names)


def redshift_deletes(schema: str, ids: int, tables: Sequence[str] | None = None) -> list[str]:
    """One ``DELETE`` per customer table for ``ids`` customer ids (``%s`` placeholders, redshift_connector's
    ``format`` style), schema-qualified and quoted."""
    placeholders = ", ".join(["%s"] * ids)
    return [f'DELETE FROM "{schema}"."{table}" WHERE {CUSTOMER_COLUMN} IN ({placeholders})'
            for table in (tables if tables is not None else customer_tables())]


def redshift_vacuum(schema: str, table: str) -> str:
    """``VACUUM DELETE ONLY "<schema>"."<table>" TO 100 PERCENT``: reclaim every deleted row's space now."""
    return f'VACUUM DELETE ONLY "{schema}"."{table}" TO 100 PERCENT'


def erase_redshift(settings: Settings, subject: Subject, record: ErasureRecord) -> None:
    """Delete the person's rows from every customer table of the Redshift warehouse in one transaction, then
    vacuum the tables that lost rows (module docstring). Raises what the driver raises; the transaction is rolled
    back on any failure, so a repeated run deletes the same rows."""
    from glue_jobs.warehouse.load import redshift_connection

    schema = settings.redshift.schema_name
    ids = sorted(subject.ids)
    tables = customer_tables()
    connection = redshift_connection(settings)
    touched = []
    try:
        cursor = connection.cursor()
        for table, statement in zip(tables, redshift_deletes(schema, len(ids), tables), strict=True):
            cursor.execute(statement, ids)
            if cursor.rowcount and cursor.rowcount > 0:
                touched.append(table)
                record.touched("warehouse_redshift", tables_rewritten=1, rows_removed=cursor.rowcount)
        connection.commit()
    except BaseException:
        connection.rollback()
        connection.close()
        raise
    try:
        connection.autocommit = True  # VACUUM cannot run inside a transaction block
        for table in touched:
            connection.cursor().execute(redshift_vacuum(schema, table))
    finally:
        connection.close()
