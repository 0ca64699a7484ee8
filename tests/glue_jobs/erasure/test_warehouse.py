"""The warehouse's erasure: the DuckDB file rewritten without the person (tables, keys and views kept), and the
Redshift statements, checked against the documented grammar (nothing here runs Redshift)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from glue_jobs.erasure.warehouse import customer_tables, erase_duckdb, redshift_deletes, redshift_vacuum
from glue_jobs.warehouse import grammar
from lakehouse.core.erasure import ErasureRecord, Subject

SQL = Path(__file__).resolve().parents[3] / "glue_jobs" / "sql"
SUBJECT = Subject("u1", frozenset({"u1", "anon-1"}), frozenset({"m1@hashed.invalid"}))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE dim_customer (customer_key BIGINT PRIMARY KEY, customer_id VARCHAR, "
                    "email VARCHAR, version INTEGER)")
        con.execute("INSERT INTO dim_customer VALUES (1, 'u1', 'm1@hashed.invalid', 1), (2, 'u1', NULL, 2), "
                    "(3, 'u10', 'm10@x', 1), (4, 'anon-9', 'm1@hashed.invalid', 1)")
        con.execute("CREATE TABLE fact_order (order_id VARCHAR, customer_id VARCHAR, tags VARCHAR[], "
                    "note VARCHAR, amount DECIMAL(18,4))")
        con.execute("""INSERT INTO fact_order VALUES ('o1', 'u1', [], NULL, 10), ('o2', 'u2', ['anon-1'], NULL, 20),
                       ('o3', 'u2', [], '{"by": "u1"}', 30), ('o4', 'u2', NULL, 'u1 said', 40)""")
        con.execute("CREATE TABLE fact_daily_kpis (full_date DATE, revenue DECIMAL(18,4))")
        con.execute("INSERT INTO fact_daily_kpis VALUES ('2025-01-01', 100)")
        con.execute("CREATE VIEW mart_value AS SELECT customer_id, sum(amount) AS amount FROM fact_order GROUP BY 1")
    return path


def test_the_file_is_rebuilt_without_their_rows_with_its_keys_and_views(warehouse: Path) -> None:
    """Rows with an id (a VARCHAR equal to it, a VARCHAR[] holding it, a JSON text quoting it) or their e-mail go;
    `u10` and 'u1 said' stay (whole values, quoted JSON strings only)."""
    record = ErasureRecord(requested_by="t")
    erase_duckdb(warehouse, SUBJECT, record)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT customer_key FROM dim_customer ORDER BY 1").fetchall() == [(3,)]
        assert con.execute("SELECT order_id FROM fact_order ORDER BY 1").fetchall() == [("o4",)]
        assert con.execute("SELECT revenue FROM fact_daily_kpis").fetchall() != []
        assert con.execute("SELECT * FROM mart_value").fetchall() == [("u2", 40)]
    with duckdb.connect(str(warehouse)) as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO dim_customer VALUES (3, 'x', NULL, 1)")  # the primary key came along
    assert record.stores["warehouse_duckdb"] == {"tables_rewritten": 2, "rows_removed": 6}
    assert not list(warehouse.parent.glob(".*erasing*"))


def test_the_old_file_keeps_no_deleted_row_bytes(warehouse: Path) -> None:
    """A DELETE in place leaves the row's bytes in the file's blocks; the rebuilt file has none. Seen with DELETE
    + CHECKPOINT instead: 'm1@hashed.invalid' still in the file's bytes."""
    assert b"m1@hashed.invalid" in warehouse.read_bytes()  # small tables store strings uncompressed
    erase_duckdb(warehouse, SUBJECT, ErasureRecord(requested_by="t"))
    assert b"m1@hashed.invalid" not in warehouse.read_bytes()


def test_the_redshift_statements_follow_the_documented_grammar() -> None:
    deletes = redshift_deletes("lakehouse", 3)
    assert len(deletes) == len(customer_tables())
    for statement in deletes:
        grammar.check(statement.replace("%s", "'x'"))
        assert statement.count("%s") == 3
    grammar.check(redshift_vacuum("lakehouse", "fact_order"))


def test_every_table_whose_ddl_has_a_customer_id_is_erased() -> None:
    """Read from the DDL files themselves: a new table with a customer_id column is erased without a code change."""
    declared = {re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", path.read_text()).group(1)
                for path in [*SQL.glob("ddl/*.sql"), *SQL.glob("scores/*.sql")]
                if re.search(r"^\s*customer_id\s", path.read_text(), re.MULTILINE)}
    assert set(customer_tables()) == declared
    assert {"dim_customer", "fact_order", "fact_customer_scores"} <= declared
