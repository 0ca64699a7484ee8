"""The load, as SQL in the Redshift dialect: stage each table, check it, delete rows the build no longer has, MERGE.

One load is one transaction::

    DROP TABLE … CASCADE                          (only tables whose columns differ from their DDL now)
    CREATE TABLE IF NOT EXISTS …                 (every DDL file)
    CREATE TEMP TABLE stage_t (LIKE t)            (per table)
    COPY stage_t FROM '<manifest>' IAM_ROLE '<role>' FORMAT AS PARQUET MANIFEST
    SELECT … FROM stage_t GROUP BY <key> HAVING COUNT(*) > 1   (the key check: any row fails the load)
    DELETE FROM t WHERE NOT EXISTS (… stage_t …) (rows a rebuild dropped, e.g. a session merged into another)
    MERGE INTO t USING stage_t AS s ON t.k = s.k WHEN MATCHED THEN UPDATE SET … WHEN NOT MATCHED THEN INSERT …
    DROP TABLE stage_t
    DROP VIEW IF EXISTS v CASCADE; CREATE VIEW v … (every mart, dependencies first)
    DELETE/INSERT etl_load_state                  (the build id this target now holds)

A **delta load** (the build is incremental and the target holds the build it started from) stages, for each big
table, only the build's changed rows and the rows it dropped, and replaces the DELETE NOT EXISTS with a DELETE of
the dropped keys (:func:`delta_statements`); small tables load whole as above.

Every statement follows the grammar of the Amazon Redshift Database Developer Guide, as
:mod:`glue_jobs.warehouse.grammar` checks it: MERGE names no target alias (``MERGE INTO target_table USING
source_table [ [ AS ] alias ] ON match_condition WHEN MATCHED … WHEN NOT MATCHED …``, r_MERGE), UPDATE SET and
INSERT name target columns without a table name, COPY of a manifest says MANIFEST, a view is dropped and created
(``CREATE OR REPLACE VIEW`` fails once a mart's columns change, r_CREATE_VIEW). Primary keys are informational
in Redshift (r_CREATE_TABLE_NEW: "They aren't enforced by the system"), and MERGE fails when one target row
matches several stage rows, so the key check runs first and names the duplicate keys.

Running it twice leaves the same rows: the star build's surrogate keys are stable hashes, so every
statement is idempotent. Locally the DuckDB target runs the same statements, transpiled, with the
staging step reading the Parquet files listed in the manifest instead of COPY.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from glue_jobs.warehouse.sql_files import STATE_TABLE, TableSpec, ViewSpec


@dataclass(frozen=True)
class ScoreRun:
    """One committed scoring run as its record (``state/score/runs/<run_id>.json``) names it."""

    run_id: str
    cutoff_date: str  # YYYY-MM-DD
    manifest: str  # the COPY manifest's key in the lake
    rows: int = 0


def stage_name(table: str) -> str:
    """The temporary staging table of ``table`` (``stage_<table>``)."""
    return f"stage_{table}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def merge_statements(spec: TableSpec, scope: str | None = None) -> list[str]:
    """DELETE rows missing from the stage, then MERGE the stage into the table (Redshift dialect).

    ``scope`` (a condition on the table's own columns, e.g. ``cutoff_date = CAST('2025-06-01' AS DATE)``) limits
    the DELETE to the rows the stage replaces: a scoring run replaces its cutoff's rows and keeps the others
    (:func:`score_statements`); the star load replaces whole tables (no scope).

    Rows match on the DDL's primary key (e.g. ``order_id`` for fact_order, ``customer_id, snapshot_date``
    for fact_customer_metrics); matched rows get every other column from the stage. The target takes no alias
    (Redshift's MERGE grammar has none) and is named by its table name in the ON condition; both WHEN clauses
    are always present, as the grammar requires (a table whose columns are all key updates its first key
    column to itself).
    """
    name, stage = spec.name, stage_name(spec.name)
    match = " AND ".join(f"s.{k} = {name}.{k}" for k in spec.primary_key)
    on = " AND ".join(f"{name}.{k} = s.{k}" for k in spec.primary_key)
    others = [c for c in spec.column_names if c not in spec.primary_key] or list(spec.primary_key[:1])
    columns = ", ".join(spec.column_names)
    values = ", ".join(f"s.{c}" for c in spec.column_names)
    merge = (f"MERGE INTO {name} USING {stage} AS s ON {on}"
             " WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{c} = s.{c}" for c in others) +
             f" WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})")
    where = f"{scope} AND " if scope else ""
    return [f"DELETE FROM {name} WHERE {where}NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})", merge]


def gone_stage_name(table: str) -> str:
    """The temporary stage of the rows a delta removes from ``table`` (``stage_<table>_gone``)."""
    return f"stage_{table}_gone"


def delta_statements(spec: TableSpec) -> list[str]:
    """Apply a star build's delta (Redshift dialect): DELETE the rows whose key the build dropped (the stage
    ``stage_<t>_gone`` holds them), then MERGE the new and changed rows (``stage_<t>``) on the primary key.

    Rows of ``t`` in neither stage are the previous build's and stay: the load costs what changed, not the table.
    The DELETE correlates one level down only (r_correlated_subqueries) and names no target alias (r_DELETE).
    """
    name, gone = spec.name, gone_stage_name(spec.name)
    match = " AND ".join(f"g.{k} = {name}.{k}" for k in spec.primary_key)
    return [f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM {gone} AS g WHERE {match})", merge_statements(spec)[1]]


#: how many problem rows a check reports
SHOWN = 5


def is_check(sql: str) -> bool:
    """Whether a load statement is a check: a query whose rows (one text column each) are problems that fail the
    load (:func:`key_check`); every other statement changes the warehouse."""
    return sql.lstrip().upper().startswith("SELECT")


def key_text(spec: TableSpec) -> str:
    """A SQL expression naming a row by its primary key as text, e.g. ``'order_id=' || … `` -> ``order_id=o1``."""
    return " || ', ' || ".join(f"'{k}=' || COALESCE(CAST({k} AS VARCHAR), 'NULL')" for k in spec.primary_key)


def key_check(spec: TableSpec) -> str:
    """A query giving one line per primary key the stage holds more than once (at most :data:`SHOWN`), e.g.
    ``duplicate key order_id=o1 (2 rows)``; none when the stage has one row per key, as MERGE needs."""
    keys = ", ".join(spec.primary_key)
    return (f"SELECT 'duplicate key ' || {key_text(spec)} || ' (' || CAST(COUNT(*) AS VARCHAR) || ' rows)' AS problem "
            f"FROM {stage_name(spec.name)} GROUP BY {keys} HAVING COUNT(*) > 1 ORDER BY 1 LIMIT {SHOWN}")


def check_failure(table: str, problems: list[str]) -> str:
    """The one-line error of a failed check on ``table`` (``problems``: the lines the check returned)."""
    shown = "; ".join(problems[:SHOWN]) + ("; …" if len(problems) > SHOWN else "")
    return f"cannot load {table}: {shown}. {NOTHING_LOADED}"


#: what every load failure adds: the state a failed load leaves
NOTHING_LOADED = ("Nothing was loaded (the load rolled back and the warehouse keeps its previous build); "
                  "the next load of a corrected build goes ahead normally")


def redshift_stage_statements(spec: TableSpec, manifest_uri: str, copy_role_arn: str,
                              stage: str | None = None) -> list[str]:
    """CREATE the temporary stage (default ``stage_<t>``) like the table, then COPY the build's Parquet files into it
    by manifest."""
    stage = stage or stage_name(spec.name)
    return [f"CREATE TEMP TABLE {stage} (LIKE {spec.name})",
            f"COPY {stage} FROM {_quote(manifest_uri)} IAM_ROLE {_quote(copy_role_arn)} FORMAT AS PARQUET MANIFEST"]


def drifted_tables(existing: dict[str, list[str]], expected: dict[str, list[str]]) -> list[str]:
    """Tables that exist with other columns (names and order; types where both sides give them) than their DDL.

    ``existing`` maps each table found in the warehouse to its column descriptions in order, ``expected`` each
    DDL table to the same. ``CREATE TABLE IF NOT EXISTS`` leaves such a table as it was, and COPY (columns by
    position) or MERGE would then fail or misplace values; the load drops and recreates them (every load
    brings the whole table from the build, so nothing is lost). Sorted by name.
    """
    return sorted(name for name, columns in existing.items() if name in expected and columns != expected[name])


def drop_table(name: str, cascade: bool = True) -> str:
    """DROP a table whose DDL changed; ``CASCADE`` drops the mart views over it (Redshift binds views to
    tables), which the load recreates after the tables."""
    return f"DROP TABLE IF EXISTS {name}" + (" CASCADE" if cascade else "")


_OR_REPLACE = re.compile(r"\bCREATE\s+OR\s+REPLACE\s+VIEW\b", re.IGNORECASE)


def view_statements(view: ViewSpec) -> list[str]:
    """``DROP VIEW IF EXISTS <view> CASCADE`` then ``CREATE VIEW <view> AS …`` (the mart file's query).

    Not ``CREATE OR REPLACE VIEW``: Redshift replaces a view only by "a new query that generates the identical set
    of columns, using the same column names and data types" (r_CREATE_VIEW), so a mart whose columns change would
    fail every load. Called for the views in :func:`~glue_jobs.warehouse.sql_files.views` order (every view after
    the views it reads), inside the load's transaction: the CASCADE can only drop views that read this one, and
    those come later in the same plan and are created again; nothing is dropped if the load rolls back.
    """
    create = _OR_REPLACE.sub("CREATE VIEW", view.sql, count=1)
    return [f"DROP VIEW IF EXISTS {view.name} CASCADE", create]


def drop_stage(spec: TableSpec, stage: str | None = None) -> str:
    """DROP the table's stage (default ``stage_<t>``; if it exists)."""
    return f"DROP TABLE IF EXISTS {stage or stage_name(spec.name)}"


def state_statements(target: str, version: str) -> list[str]:
    """Record that ``target`` now holds star build ``version`` (one ``etl_load_state`` row per target)."""
    return [f"DELETE FROM {STATE_TABLE} WHERE target = {_quote(target)}",
            f"INSERT INTO {STATE_TABLE} (target, version, loaded_at) "
            f"VALUES ({_quote(target)}, {_quote(version)}, GETDATE())"]


def qualify(sql: str, schema: str) -> str:
    """Redshift ``sql`` with every permanent table name qualified by ``schema`` (CTEs and stage tables kept)."""
    tree = sqlglot.parse_one(sql, read="redshift")
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.args.get("db") or table.name in ctes or table.name.startswith("stage_"):
            continue
        if not table.name:
            continue
        table.set("db", exp.to_identifier(schema))
    return tree.sql("redshift")


def scores_state_target(target: str, table: str) -> str:
    """The ``etl_load_state.target`` of a score table's loads on ``target``: ``duckdb:fact_customer_scores``."""
    return f"{target}:{table}"


def run_scope(run: ScoreRun) -> str:
    """The rows a scoring run replaces: its cutoff's (``cutoff_date = CAST('YYYY-MM-DD' AS DATE)``)."""
    return f"cutoff_date = CAST({_quote(run.cutoff_date)} AS DATE)"


def run_check(spec: TableSpec, run: ScoreRun) -> str:
    """A query giving one line per stage row (at most :data:`SHOWN`) of another run or cutoff than the run record
    says: the DELETE replaces exactly the record's cutoff, so the stage must hold nothing else."""
    return (f"SELECT 'row of run ' || run_id || ', cutoff ' || CAST(cutoff_date AS VARCHAR) || ' in the files of run "
            f"{run.run_id} (cutoff {run.cutoff_date}): ' || {key_text(spec)} AS problem "
            f"FROM {stage_name(spec.name)} WHERE run_id <> {_quote(run.run_id)} OR NOT ({run_scope(run)}) "
            f"ORDER BY 1 LIMIT {SHOWN}")


def score_statements(spec: TableSpec, run: ScoreRun) -> list[str]:
    """After the stage holds one scoring run's rows: the run check, the key check, then DELETE that cutoff's rows
    the run no longer has and MERGE on (customer_id, cutoff_date). Other cutoffs are never touched; the same run
    loaded twice leaves the same rows (MERGE sets every column to the stage's value)."""
    return [run_check(spec, run), key_check(spec), *merge_statements(spec, scope=run_scope(run))]
