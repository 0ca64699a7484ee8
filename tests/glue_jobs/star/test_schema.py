"""The Spark star schema and the Redshift DDL declare the same columns, in the same order."""

from __future__ import annotations

from glue_jobs.star.schema import STAR_TABLES
from glue_jobs.warehouse.sql_files import star_tables

SPARK_FOR_REDSHIFT = {"BIGINT": "bigint", "INTEGER": "int", "DOUBLE PRECISION": "double",
                      "DECIMAL(18, 2)": "decimal(18,2)", "DECIMAL(18, 4)": "decimal(18,4)",
                      "DECIMAL(18, 8)": "decimal(18,8)", "BOOLEAN": "boolean", "DATE": "date",
                      "TIMESTAMP": "timestamp_ntz"}


def spark_type(redshift_type: str) -> str:
    return "string" if redshift_type.startswith("VARCHAR") else SPARK_FOR_REDSHIFT[redshift_type]


def test_every_ddl_table_is_built_with_its_columns_in_order() -> None:
    ddl = star_tables()
    assert set(ddl) == set(STAR_TABLES)
    for name, spec in ddl.items():
        assert [(c, spark_type(t)) for c, t in spec.columns] == list(STAR_TABLES[name]), name
