"""Ad-hoc queries against the local warehouse: results, limits, dialects and clear errors."""

from __future__ import annotations

import duckdb
import pytest

from glue_jobs.warehouse.load import WarehouseError
from lakehouse.core.warehouse.query import run_query


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS n, 'row ' || range AS label FROM range(5)")
    return path


def test_rows_and_columns_come_back(warehouse) -> None:
    result = run_query(warehouse, "SELECT n, label FROM t ORDER BY n", limit=3)
    assert result.columns == ["n", "label"] and result.rows == [(0, "row 0"), (1, "row 1"), (2, "row 2")]
    assert result.truncated
    assert not run_query(warehouse, "SELECT count(*) FROM t").truncated


def test_redshift_sql_is_transpiled(warehouse) -> None:
    result = run_query(warehouse, "SELECT NVL(NULL, n) AS n FROM t WHERE n = 4", dialect="redshift")
    assert result.rows == [(4,)]


def test_mistakes_are_reported_without_a_traceback(warehouse, tmp_path) -> None:
    with pytest.raises(WarehouseError, match="syntax error"):
        run_query(warehouse, "SELEC 1")
    with pytest.raises(WarehouseError, match="missing_table"):
        run_query(warehouse, "SELECT * FROM missing_table")
    with pytest.raises(WarehouseError, match="no local warehouse"):
        run_query(tmp_path / "none.duckdb", "SELECT 1")
    with pytest.raises(WarehouseError, match="empty"):
        run_query(warehouse, "  ")
    with pytest.raises(WarehouseError):
        run_query(warehouse, "DELETE FROM t")  # the connection is read-only
    assert run_query(warehouse, "SELECT count(*) FROM t").rows == [(5,)]


def test_redshift_queries_use_the_warehouse_column_types(warehouse) -> None:
    """`n` is a BIGINT column of the warehouse: Redshift divides integers as integers (4 / 3 = 1).

    Seen failing before: the translation knew no column types and DuckDB answered 1.333…"""
    result = run_query(warehouse, "SELECT MAX(n) / 3 AS third, AVG(n) AS mean FROM t WHERE n > 1", dialect="redshift")
    assert result.rows == [(1, 3)]


def test_redshift_sql_that_cannot_be_translated_is_refused_by_name(warehouse) -> None:
    with pytest.raises(WarehouseError, match="not translated to DuckDB: TO_CHAR"):
        run_query(warehouse, "SELECT TO_CHAR(GETDATE(), 'J')", dialect="redshift")


def test_redshift_columns_carry_the_names_redshift_gives_them(warehouse) -> None:
    """The guide's ``SELECT OCTET_LENGTH('français'), LEN('français')`` has the columns octet_length and len.

    Seen failing before: the header was the translated DuckDB expression ("strlen(CAST('français' AS VARCHAR))",
    "length('français')")."""
    result = run_query(warehouse, "SELECT OCTET_LENGTH('français'), LEN('français'), n + 1, n AS m, label "
                                  "FROM t WHERE n = 0", dialect="redshift")
    assert result.columns == ["octet_length", "len", "?column?", "m", "label"]
    assert result.rows == [(9, 8, 1, 0, "row 0")]


def test_a_function_duckdb_does_not_know_is_refused_by_name(warehouse) -> None:
    """Seen failing before: DuckDB's raw "Catalog Error: Scalar Function with name ... does not exist"."""
    with pytest.raises(WarehouseError, match=r"^SOUNDEX_X is not translated for DuckDB"):
        run_query(warehouse, "SELECT SOUNDEX_X(label) FROM t", dialect="redshift")
