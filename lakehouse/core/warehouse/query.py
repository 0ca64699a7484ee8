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
    for Redshift SQL that cannot be translated faithfully (refused by the translation, or a function DuckDB
    does not know or cannot bind: "<FUNC> is not translated for DuckDB"). A Redshift query's columns carry the
    names Redshift gives them (:func:`~lakehouse.core.warehouse.dialect.column_names`) where they can be told.
    """
    import duckdb
    import sqlglot

    names = None
    if not sql.strip():
        raise WarehouseError("the query is empty")
    if not path.exists():
        raise WarehouseError(f"no local warehouse at {path}; build it with `lakehouse batch`")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if dialect == "redshift":
                from lakehouse.core.warehouse.dialect import column_names

                names = column_names(sql)
                sql = _transpile(sql, warehouse_schema(con), sqlglot)
            cursor = con.execute(sql)
            if cursor.description is None:
                return QueryResult([], [], False)
            columns = [d[0] for d in cursor.description]
            if names is not None and len(names) == len(columns):
                columns = names  # Redshift's names, not the translated DuckDB expressions
            rows = cursor.fetchmany(limit + 1)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if dialect == "redshift":
            message = _untranslated_function(message) or message
        raise WarehouseError(message) from None
    return QueryResult(columns, rows[:limit], len(rows) > limit)


_FUNCTION_ERRORS = (r'Scalar Function with name (\w+) does not exist',
                    r'function call "(\w+)\(',
                    r"No function matches the given name and argument types '(\w+)\(",
                    r'(?:Table|Aggregate) Function with name (\w+) does not exist')


def _untranslated_function(message: str) -> str | None:
    """DuckDB's binder/catalog error on a function name, re-worded as a function not translated."""
    import re

    if not message.startswith(("Binder Error", "Catalog Error")):
        return None
    for pattern in _FUNCTION_ERRORS:
        match = re.search(pattern, message)
        if match:
            return (f"{match.group(1).upper()} is not translated for DuckDB (docs/batch.md lists what is); "
                    f"DuckDB said: {message}")
    return None


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
