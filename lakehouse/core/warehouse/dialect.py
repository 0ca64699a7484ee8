"""Redshift SQL -> DuckDB SQL: sqlglot's transpiler plus the small AST fixes DuckDB needs.

Measured with sqlglot 30.30: the redshift->duckdb transpile keeps ``ENCODE`` (DuckDB rejects it), renders
``VARCHAR(MAX)`` as ``TEXT(MAX)``, emits IDENTITY columns DuckDB rejects, and warns on DISTKEY/SORTKEY.
:func:`to_duckdb` strips the physical-design clauses (ENCODE, DISTSTYLE, DISTKEY, SORTKEY), maps every
character type to ``VARCHAR``, replaces IDENTITY by a sequence default, and drops PRIMARY KEY
constraints (Redshift never enforces them; keeping them would make DuckDB build and check an index).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

_PHYSICAL = (exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)
_CHAR_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.NVARCHAR,
               exp.DataType.Type.NCHAR, exp.DataType.Type.TEXT}


def _strip(tree: exp.Expression) -> list[exp.Expression]:
    """Apply the DuckDB fixes in place; returns statements that must run first (sequences)."""
    before: list[exp.Expression] = []
    for node in list(tree.find_all(exp.Properties)):
        for prop in list(node.expressions):
            if isinstance(prop, _PHYSICAL):
                prop.pop()
        if not node.expressions:
            node.pop()
    for constraint in list(tree.find_all(exp.ColumnConstraint)):
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.EncodeColumnConstraint | exp.PrimaryKeyColumnConstraint):
            constraint.pop()
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            column = constraint.find_ancestor(exp.ColumnDef)
            table = tree.find(exp.Table)
            sequence = f"{table.name if table else 'table'}_{column.name if column else 'id'}_seq"
            start = kind.args.get("start")
            before.append(sqlglot.parse_one(
                f"CREATE SEQUENCE IF NOT EXISTS {sequence} START {start.sql() if start else 1}", read="duckdb"))
            constraint.replace(exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(
                this=sqlglot.parse_one(f"nextval('{sequence}')", read="duckdb"))))
    for key in list(tree.find_all(exp.PrimaryKey)):
        if isinstance(key.parent, exp.Schema):
            key.pop()
    for dtype in tree.find_all(exp.DataType):
        if dtype.this in _CHAR_TYPES:
            dtype.replace(exp.DataType.build("VARCHAR"))
    return before


def to_duckdb(sql: str) -> list[str]:
    """DuckDB statements equivalent to the Redshift ``sql`` (one or more statements)."""
    out: list[str] = []
    for tree in sqlglot.parse(sql, read="redshift"):
        if tree is None:
            continue
        before = _strip(tree)
        out += [b.sql("duckdb") for b in before]
        out.append(tree.sql("duckdb"))
    return out


def parses_as_redshift(sql: str) -> exp.Expression:
    """The parsed statement; raises if sqlglot's Redshift dialect cannot parse it as real SQL."""
    tree = sqlglot.parse_one(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    if isinstance(tree, exp.Command):
        raise ValueError(f"sqlglot could only treat this as an opaque command: {sql[:80]}")
    return tree
