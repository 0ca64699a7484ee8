"""The warehouse tables as their DDL declares them (``glue_jobs/sql/ddl/*.sql``, ``glue_jobs/sql/scores/*.sql``).

The DDL is the source of truth for every table, column and data type the Power BI model names. It is read here
as files (a stage never imports another stage, so not through ``glue_jobs``) and parsed with sqlglot in the
Redshift dialect. :func:`tmdl_data_type` maps a Redshift type to the Tabular ``dataType`` Power BI imports it as.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

#: the repository's warehouse SQL (``<repo>/glue_jobs/sql``): the folders holding the DDL of the loaded tables
SQL_ROOT = Path(__file__).resolve().parents[2] / "glue_jobs" / "sql"
DDL_DIRS: tuple[Path, ...] = (SQL_ROOT / "ddl", SQL_ROOT / "scores")


class DdlError(ValueError):
    """A DDL file that is not one ``CREATE TABLE`` with a primary key, or a type with no Tabular mapping."""


@dataclass(frozen=True)
class Column:
    """One column: its name, its Redshift type as the DDL writes it (``DECIMAL(18,2)``) and nullability."""

    name: str
    redshift_type: str
    nullable: bool

    @property
    def data_type(self) -> str:
        """The Tabular ``dataType`` (see :func:`tmdl_data_type`)."""
        return tmdl_data_type(self.redshift_type)


@dataclass(frozen=True)
class WarehouseTable:
    """A warehouse table: name, columns in DDL order, primary key, and the DDL file's leading comment."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    comment: str

    def column(self, name: str) -> Column:
        """The column called ``name``; raises ``KeyError`` naming the table and its columns."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}; it has: {', '.join(c.name for c in self.columns)}")


def tmdl_data_type(redshift_type: str) -> str:
    """The Tabular column ``dataType`` for a Redshift type.

    Integers -> ``int64``; ``DECIMAL(p,s)`` with s <= 4 -> ``decimal`` (Power BI's fixed decimal keeps four
    places), with s > 4 -> ``double``; ``DOUBLE PRECISION``/``REAL``/``FLOAT`` -> ``double``; ``BOOLEAN`` ->
    ``boolean``; ``DATE``/``TIMESTAMP`` -> ``dateTime`` (Tabular has no date-only type); text -> ``string``.
    Raises :class:`DdlError` for another type.
    """
    t = redshift_type.upper().replace(" ", "")
    base = t.split("(")[0]
    if base in {"SMALLINT", "INT", "INT2", "INT4", "INT8", "INTEGER", "BIGINT"}:
        return "int64"
    if base in {"DECIMAL", "NUMERIC"}:
        scale = int(t.split(",")[1].rstrip(")")) if "," in t else 0
        return "decimal" if scale <= 4 else "double"
    if base in {"DOUBLE", "DOUBLEPRECISION", "REAL", "FLOAT", "FLOAT4", "FLOAT8"}:
        return "double"
    if base in {"BOOLEAN", "BOOL"}:
        return "boolean"
    if base in {"DATE", "TIMESTAMP", "TIMESTAMPTZ"}:
        return "dateTime"
    if base in {"VARCHAR", "CHAR", "CHARACTER", "TEXT", "NVARCHAR", "BPCHAR"}:
        return "string"
    raise DdlError(f"no Tabular data type for Redshift type {redshift_type!r}")


def parse_table(sql: str) -> WarehouseTable:
    """The table one ``CREATE TABLE`` statement (Redshift dialect) declares; raises :class:`DdlError` otherwise."""
    tree = sqlglot.parse_one(sql.strip().rstrip(";"), read="redshift")
    if not isinstance(tree, exp.Create) or tree.kind != "TABLE" or not isinstance(tree.this, exp.Schema):
        raise DdlError(f"not a CREATE TABLE statement: {sql.strip()[:80]!r}")
    columns: list[Column] = []
    keys: tuple[str, ...] = ()
    for item in tree.this.expressions:
        if isinstance(item, exp.ColumnDef):
            constraints = item.args.get("constraints") or []
            not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in constraints)
            columns.append(Column(item.name, item.args["kind"].sql("redshift"), not not_null))
        elif isinstance(item, exp.PrimaryKey):
            keys = tuple(e.name for e in item.expressions)
    name = tree.this.this.name
    if not keys:
        raise DdlError(f"table {name} declares no PRIMARY KEY")
    comment = " ".join(c.strip() for c in tree.comments or [])
    return WarehouseTable(name, tuple(columns), keys, comment)


def read_tables(dirs: Iterable[Path] = DDL_DIRS) -> dict[str, WarehouseTable]:
    """Every table the ``*.sql`` files of ``dirs`` declare, by name; raises :class:`DdlError` on a bad file."""
    out: dict[str, WarehouseTable] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.sql")):
            table = parse_table(path.read_text(encoding="utf-8"))
            out[table.name] = table
    return out
