"""The load, as SQL in the Redshift dialect: stage each table, delete rows the build no longer has, MERGE.

One load is one transaction::

    DROP TABLE … CASCADE                          (only tables whose columns differ from their DDL now)
    CREATE TABLE IF NOT EXISTS …                 (every DDL file)
    CREATE TEMP TABLE stage_t (LIKE t)            (per table)
    COPY stage_t FROM '<manifest>' IAM_ROLE '<role>' FORMAT AS PARQUET MANIFEST
    DELETE FROM t WHERE NOT EXISTS (… stage_t …) (rows a rebuild dropped, e.g. a session merged into another)
    MERGE INTO t USING stage_t …                  (update on the primary key, insert the rest)
    DROP TABLE stage_t
    CREATE OR REPLACE VIEW …                      (every mart, dependencies first)
    DELETE/INSERT etl_load_state                  (the build id this target now holds)

Running it twice leaves the same rows: the star build's surrogate keys are stable hashes, so every
statement is idempotent. Locally the DuckDB target runs the same statements, transpiled, with the
staging step reading the Parquet files listed in the manifest instead of COPY.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from glue_jobs.warehouse.sql_files import STATE_TABLE, TableSpec


def stage_name(table: str) -> str:
    """The temporary staging table of ``table`` (``stage_<table>``)."""
    return f"stage_{table}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def merge_statements(spec: TableSpec) -> list[str]:
    """DELETE rows missing from the stage, then MERGE the stage into the table (Redshift dialect).

    Rows match on the DDL's primary key (e.g. ``event_id`` for fact_order, ``customer_id, snapshot_date``
    for fact_customer_metrics); matched rows get every other column from the stage.
    """
    stage = stage_name(spec.name)
    match = " AND ".join(f"s.{k} = {spec.name}.{k}" for k in spec.primary_key)
    on = " AND ".join(f"t.{k} = s.{k}" for k in spec.primary_key)
    others = [c for c in spec.column_names if c not in spec.primary_key]
    columns = ", ".join(spec.column_names)
    values = ", ".join(f"s.{c}" for c in spec.column_names)
    merge = f"MERGE INTO {spec.name} AS t USING {stage} AS s ON {on}"
    if others:
        merge += " WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{c} = s.{c}" for c in others)
    merge += f" WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
    return [f"DELETE FROM {spec.name} WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})", merge]


def redshift_stage_statements(spec: TableSpec, manifest_uri: str, copy_role_arn: str) -> list[str]:
    """CREATE the temporary stage like the table, then COPY the build's Parquet files into it by manifest."""
    stage = stage_name(spec.name)
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


def drop_stage(spec: TableSpec) -> str:
    """DROP the table's stage (if it exists)."""
    return f"DROP TABLE IF EXISTS {stage_name(spec.name)}"


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
