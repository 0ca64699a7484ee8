"""Redshift DDL and marts transpile to DuckDB SQL that DuckDB runs."""

from __future__ import annotations

import duckdb
import pytest

from glue_jobs.warehouse.sql_files import tables, views
from lakehouse.core.warehouse.dialect import parses_as_redshift, to_duckdb


def test_physical_design_clauses_are_stripped_and_types_mapped() -> None:
    (sql,) = to_duckdb("CREATE TABLE t (k BIGINT NOT NULL ENCODE RAW, note VARCHAR(MAX) ENCODE ZSTD, "
                       "code CHAR(3), PRIMARY KEY (k)) DISTSTYLE KEY DISTKEY (k) COMPOUND SORTKEY (k, code)")
    upper = sql.upper()
    for gone in ("ENCODE", "DISTKEY", "SORTKEY", "DISTSTYLE", "PRIMARY KEY", "MAX", "TEXT("):
        assert gone not in upper
    with duckdb.connect() as con:
        con.execute(sql)
        con.execute("INSERT INTO t VALUES (1, 'a long note', 'abc'), (1, 'no key is enforced', 'xyz')")
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_identity_becomes_a_sequence_default() -> None:
    statements = to_duckdb("CREATE TABLE ids (id BIGINT IDENTITY(1, 1), name VARCHAR(20))")
    assert len(statements) == 2 and statements[0].startswith("CREATE SEQUENCE")
    with duckdb.connect() as con:
        for sql in statements:
            con.execute(sql)
        con.execute("INSERT INTO ids (name) VALUES ('a'), ('b')")
        assert con.execute("SELECT id FROM ids ORDER BY id").fetchall() == [(1,), (2,)]


def test_redshift_functions_transpile_and_run() -> None:
    (sql,) = to_duckdb("SELECT NVL(NULL, 2) AS a, DATEDIFF(day, '2025-01-01'::DATE, '2025-03-01'::DATE) AS b, "
                       "LISTAGG(x, ',') WITHIN GROUP (ORDER BY x) AS c FROM (SELECT 'b' AS x UNION ALL SELECT 'a')")
    with duckdb.connect() as con:
        assert con.execute(sql).fetchone() == (2, 59, "a,b")


def test_every_table_and_mart_view_runs_on_duckdb() -> None:
    with duckdb.connect() as con:
        for spec in tables().values():
            for sql in to_duckdb(spec.ddl):
                con.execute(sql)
        for view in views():
            for sql in to_duckdb(view.sql):
                con.execute(sql)
            con.execute(f"SELECT * FROM {view.name}").fetchall()
        names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert names == {v.name for v in views()}


def test_views_are_created_after_the_views_they_read() -> None:
    order = [v.name for v in views()]
    assert order.index("mart_customer_activeness") < order.index("mart_activeness_segments")


def test_opaque_commands_do_not_count_as_parsed() -> None:
    with pytest.raises(ValueError, match="opaque"):
        parses_as_redshift("VACUUM dim_date")
    assert parses_as_redshift("SELECT 1").sql() == "SELECT 1"


def test_every_mart_view_runs_when_transpiled_with_the_warehouse_column_types() -> None:
    """`lakehouse sql --redshift` types columns from the warehouse; the marts' own SQL must survive that path too
    (qualification, integer-division and AVG rewrites with real column types)."""
    from lakehouse.core.warehouse.query import warehouse_schema

    with duckdb.connect() as con:
        for spec in tables().values():
            for sql in to_duckdb(spec.ddl):
                con.execute(sql)
        for view in views():
            for sql in to_duckdb(view.sql, warehouse_schema(con)):
                con.execute(sql)
            con.execute(f"SELECT * FROM {view.name}").fetchall()
            (select,) = to_duckdb(f"SELECT * FROM {view.name}", warehouse_schema(con))
            con.execute(select).fetchall()
