"""The warehouse SQL files (Redshift dialect): table DDL and mart views, and what they declare.

``sql/ddl``: the star tables (loaded whole from each star build) and ``etl_load_state``; ``sql/marts``: the mart
views; ``sql/scores``: tables loaded from the ML scoring runs (``fact_customer_scores``), which keep rows across
runs and are therefore not part of the star load (its tables come from ``sql/ddl`` only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import sqlglot
from sqlglot import exp

STATE_TABLE = "etl_load_state"
SCORES_TABLE = "fact_customer_scores"
#: the COPY manifests of the scoring runs (``<run_id>.json``) and their run records, as ml/serving.py writes them
SCORE_MANIFESTS = f"warehouse/_manifests/{SCORES_TABLE}"
SCORE_RUNS = "state/score/runs"


def sql_dir() -> Traversable:
    """``glue_jobs/sql`` (also inside the zip the Glue jobs receive as --extra-py-files)."""
    import glue_jobs

    if getattr(glue_jobs, "__file__", None):
        return files("glue_jobs") / "sql"
    # an editable install made before glue_jobs had an __init__ maps it as a namespace package
    return next(Path(p) for p in glue_jobs.__path__ if Path(p).is_dir()) / "sql"


def _sql_files(folder: str) -> list[Traversable]:
    return sorted((f for f in (sql_dir() / folder).iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table as its DDL declares it."""

    name: str
    ddl: str
    columns: tuple[tuple[str, str], ...]  # (name, Redshift type)
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in DDL order (the order COPY maps Parquet columns by)."""
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True)
class ViewSpec:
    """A mart view: its ``CREATE [OR REPLACE] VIEW`` statement as the file has it (the load sends it as
    ``CREATE VIEW`` after a ``DROP VIEW``: :func:`glue_jobs.warehouse.plan.view_statements`) and the tables and
    views it reads."""

    name: str
    sql: str
    depends_on: frozenset[str]


def _read(path: Traversable) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";").strip()


def parse_table(sql: str) -> TableSpec:
    """Columns and primary key of a ``CREATE TABLE`` statement (Redshift dialect).

    Raises ``ValueError`` for another kind of statement or a table without a PRIMARY KEY.
    """
    tree = sqlglot.parse_one(sql, read="redshift")
    if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
        raise ValueError(f"not a CREATE TABLE statement: {sql[:80]}")
    schema = tree.this
    name = schema.this.name
    columns = tuple((c.name, c.args["kind"].sql("redshift")) for c in schema.expressions
                    if isinstance(c, exp.ColumnDef))
    keys: tuple[str, ...] = ()
    for item in schema.expressions:
        if isinstance(item, exp.PrimaryKey):
            keys = tuple(e.name for e in item.expressions)
    if not keys:
        raise ValueError(f"table {name} declares no PRIMARY KEY (loads MERGE on it)")
    return TableSpec(name, sql, columns, keys)


@lru_cache(maxsize=1)
def tables() -> dict[str, TableSpec]:
    """Every warehouse table by name (the star tables and the load-state table)."""
    specs = [parse_table(_read(p)) for p in _sql_files("ddl")]
    return {spec.name: spec for spec in specs}


@lru_cache(maxsize=1)
def score_tables() -> dict[str, TableSpec]:
    """Tables loaded from the ML scoring runs (``glue_jobs/sql/scores``), by name: ``fact_customer_scores``."""
    specs = [parse_table(_read(p)) for p in _sql_files("scores")]
    return {spec.name: spec for spec in specs}


def star_tables() -> dict[str, TableSpec]:
    """Tables loaded from the star build's Parquet files."""
    return {name: spec for name, spec in tables().items() if name != STATE_TABLE}


@lru_cache(maxsize=1)
def views() -> list[ViewSpec]:
    """Mart views in an order where every view comes after the views it reads.

    Raises ``ValueError`` for a file that is not a CREATE VIEW, a view named differently from its file, or
    views that depend on each other in a cycle.
    """
    found = {}
    for path in _sql_files("marts"):
        sql = _read(path)
        tree = sqlglot.parse_one(sql, read="redshift")
        if not isinstance(tree, exp.Create) or tree.kind != "VIEW":
            raise ValueError(f"{path.name}: expected CREATE [OR REPLACE] VIEW")
        name = tree.this.name
        if name != path.name.removesuffix(".sql"):
            raise ValueError(f"{path.name} defines view {name}; name the file after the view")
        ctes = {c.alias for c in tree.find_all(exp.CTE)}
        reads = {t.name for t in tree.expression.find_all(exp.Table)} - ctes
        found[name] = ViewSpec(name, sql, frozenset(reads))
    ordered: list[ViewSpec] = []
    placed: set[str] = set()
    while len(ordered) < len(found):
        ready = [v for v in found.values() if v.name not in placed and v.depends_on & set(found) <= placed]
        if not ready:
            raise ValueError("mart views depend on each other in a cycle")
        for view in sorted(ready, key=lambda v: v.name):
            ordered.append(view)
            placed.add(view.name)
    return ordered
