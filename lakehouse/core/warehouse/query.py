"""Ad-hoc queries against the local warehouse (the DuckDB file), read-only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.core.warehouse import WarehouseError


@dataclass(frozen=True)
class QueryResult:
    """A query's column names and rows (at most the ``limit`` asked for)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows existed than were fetched


def warehouse_schema(con: Any) -> dict[str, dict[str, str]]:
    """``{table or view: {column: DuckDB type}}`` of an open DuckDB connection (first schema wins a name)."""
    schema: dict[str, dict[str, str]] = {}
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "ORDER BY table_schema <> 'main', table_schema, table_name, ordinal_position").fetchall()
    for table, column, dtype in rows:
        schema.setdefault(table, {}).setdefault(column, dtype)
    return schema


def run_query(path: Path, sql: str, *, limit: int = 100, dialect: str = "duckdb") -> QueryResult:
    """Run one query on the local warehouse; ``dialect='redshift'`` transpiles it first.

    A Redshift query is transpiled with the warehouse's column types, so that it gets Redshift's answers
    (integer division, AVG, TRUNC, ... — see :mod:`lakehouse.core.warehouse.dialect`). Raises
    :class:`WarehouseError` with DuckDB's message for bad SQL or a missing warehouse, and naming the function
    for Redshift SQL that cannot be translated faithfully.
    """
    import duckdb
    import sqlglot

    if not sql.strip():
        raise WarehouseError("the query is empty")
    if not path.exists():
        raise WarehouseError(f"no local warehouse at {path}; build it with `lakehouse batch`")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if dialect == "redshift":
                sql = _transpile(sql, warehouse_schema(con), sqlglot)
            cursor = con.execute(sql)
            if cursor.description is None:
                return QueryResult([], [], False)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchmany(limit + 1)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(message) from None
    return QueryResult(columns, rows[:limit], len(rows) > limit)


def _transpile(sql: str, schema: dict[str, dict[str, str]], sqlglot: Any) -> str:
    from lakehouse.core.warehouse.dialect import UntranslatableSql, to_duckdb

    try:
        statements = to_duckdb(sql, schema)
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"not valid Redshift SQL: {str(exc).splitlines()[0]}") from None
    except UntranslatableSql as exc:
        raise WarehouseError(f"not translated to DuckDB: {exc}") from None
    if len(statements) != 1:
        raise WarehouseError("run one statement at a time")
    return statements[0]
