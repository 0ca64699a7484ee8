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


def run_query(path: Path, sql: str, *, limit: int = 100, dialect: str = "duckdb") -> QueryResult:
    """Run one query on the local warehouse; ``dialect='redshift'`` transpiles it first.

    Raises :class:`WarehouseError` with DuckDB's message for bad SQL or a missing warehouse.
    """
    import duckdb
    import sqlglot

    if not sql.strip():
        raise WarehouseError("the query is empty")
    if not path.exists():
        raise WarehouseError(f"no local warehouse at {path}; build it with `lakehouse batch`")
    if dialect == "redshift":
        try:
            from lakehouse.core.warehouse.dialect import to_duckdb

            statements = to_duckdb(sql)
        except sqlglot.errors.ParseError as exc:
            raise WarehouseError(f"not valid Redshift SQL: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise WarehouseError("run one statement at a time")
        sql = statements[0]
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute(sql)
            if cursor.description is None:
                return QueryResult([], [], False)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchmany(limit + 1)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(message) from None
    return QueryResult(columns, rows[:limit], len(rows) > limit)
