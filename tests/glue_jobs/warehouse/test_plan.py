"""The Redshift load: every statement parses in sqlglot's Redshift dialect; one transaction, idempotent.

Redshift Serverless cannot run here (moto does not implement it); the statements are checked with
sqlglot and the transaction handling with a recording stand-in for the ``redshift_connector`` connection.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from glue_jobs.warehouse import plan
from glue_jobs.warehouse.load import RedshiftTarget, WarehouseError
from glue_jobs.warehouse.sql_files import star_tables, tables, views
from lakehouse.core.config import RedshiftSettings, Settings
from lakehouse.core.warehouse.dialect import parses_as_redshift

ROLE = "arn:aws:iam::123456789012:role/lakehouse-redshift-copy"


@pytest.fixture
def s3_settings(tmp_path) -> Settings:
    return Settings(stage="prod", home=tmp_path, lake_root="s3://acme-lake/lakehouse",
                    redshift=RedshiftSettings(copy_role_arn=ROLE, schema_name="analytics"))


def test_every_generated_statement_parses_as_redshift(s3_settings) -> None:
    statements = RedshiftTarget(s3_settings).statements("20250601T000000Z-abc")
    assert len(statements) > 6 * len(star_tables())
    for _, sql in statements:
        parses_as_redshift(sql)


def test_copy_reads_the_build_manifest_with_the_iam_role(s3_settings) -> None:
    statements = [sql for _, sql in RedshiftTarget(s3_settings).statements("v1")]
    copies = [s for s in statements if s.startswith("COPY ")]
    assert len(copies) == len(star_tables())
    assert ("COPY stage_dim_customer FROM 's3://acme-lake/lakehouse/warehouse/_manifests/dim_customer.json' "
            f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST") in copies
    copy = parses_as_redshift(copies[0])
    assert isinstance(copy, exp.Copy)


def test_copy_reads_the_manifest_the_committed_state_names(s3_settings) -> None:
    """A build keys its manifests by build id (``manifest_keys`` reads them from the state): COPY must read those,
    not the fixed keys an uncommitted build may have written."""
    keys = {"dim_customer": "warehouse/_manifests/_star/b9/dim_customer.json"}
    copies = [sql for _, sql in RedshiftTarget(s3_settings).statements("v1", keys=keys) if sql.startswith("COPY ")]
    assert "COPY stage_dim_customer FROM 's3://acme-lake/lakehouse/warehouse/_manifests/_star/b9/dim_customer.json'" \
        in {c.split(" IAM_ROLE")[0] for c in copies}


def test_tables_are_qualified_and_ctes_are_not(s3_settings) -> None:
    statements = RedshiftTarget(s3_settings).statements("v1")
    view_sql = [sql for step, sql in statements if step == "views"]
    affinity = next(s for s in view_sql if "CREATE VIEW analytics.mart_product_affinity" in s)
    assert "analytics.fact_order_line" in affinity and "analytics.mart_parameters" in affinity
    assert "analytics.baskets" not in affinity
    merge = next(sql for _, sql in statements if sql.startswith("MERGE INTO analytics.dim_date"))
    assert "USING stage_dim_date AS s" in merge


def test_views_are_dropped_and_created_never_replaced(s3_settings) -> None:
    """``CREATE OR REPLACE VIEW`` fails on Redshift once a mart's columns change ("You can only replace a view with a
    new query that generates the identical set of columns", r_CREATE_VIEW), so each view is dropped (CASCADE) and
    created; a CASCADE drop may only remove views that are created again later in the plan.

    Seen failing before the fix: the plan sent ``CREATE OR REPLACE VIEW analytics.mart_… `` and no DROP VIEW, so the
    first assertion (no OR REPLACE) failed."""
    view_sql = [sql for step, sql in RedshiftTarget(s3_settings).statements("v1") if step == "views"]
    assert not any("OR REPLACE" in sql.upper() for sql in view_sql)
    order = [v.name for v in views()]
    pairs = [(view_sql[i], view_sql[i + 1]) for i in range(0, len(view_sql), 2)]
    assert [d for d, _ in pairs] == [f"DROP VIEW IF EXISTS analytics.{name} CASCADE" for name in order]
    assert all(f"CREATE VIEW analytics.{name} " in c for name, (_, c) in zip(order, pairs, strict=True))
    readers = {v.name: set() for v in views()}  # view -> views that read it, directly or not
    for view in reversed(views()):  # readers first, so readers[view.name] is complete when used
        for name in view.depends_on & set(readers):
            readers[name] |= {view.name} | readers[view.name]
    for position, name in enumerate(order):  # what a CASCADE drop of `name` removes is created after it
        assert readers[name] <= set(order[position + 1:])
    assert readers["mart_customer_activeness"] == {"mart_activeness_segments"}


def test_the_documented_collocated_merges_match_the_ddl() -> None:
    """docs/warehouse-load.md names the star tables whose DISTKEY is in the MERGE match condition (their primary key):
    only there does the stage (CREATE TEMP TABLE … (LIKE t), same distribution) join the table without
    redistribution. Recomputed from glue_jobs/sql/ddl.

    Seen failing before the fix: the document said the stage lands "on the slices the MERGE reads" for every table
    and named none: looking up the document's row of collocated tables raised StopIteration."""
    collocated = set()
    for name, spec in star_tables().items():
        properties = sqlglot.parse_one(spec.ddl, read="redshift").args["properties"].expressions
        distkey = next((p.this.name for p in properties if isinstance(p, exp.DistKeyProperty)), None)
        if distkey in spec.primary_key:
            collocated.add(name)
    assert collocated == {"fact_order", "fact_customer_metrics", "fact_offer_response"}
    doc = (Path(__file__).parents[3] / "docs" / "warehouse-load.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `fact_order` (key"))
    assert set(re.findall(r"`(fact_\w+|dim_\w+)` \(", row)) == collocated and "| yes |" in row
    assert "on the slices the MERGE reads" not in doc


def test_merge_matches_on_the_primary_key_and_updates_the_rest() -> None:
    spec = tables()["fact_order_line"]
    delete, merge = plan.merge_statements(spec)
    assert "s.event_id = fact_order_line.event_id AND s.line_number = fact_order_line.line_number" in delete
    assert merge.startswith("MERGE INTO fact_order_line USING stage_fact_order_line AS s ON ")
    assert "ON fact_order_line.event_id = s.event_id AND fact_order_line.line_number = s.line_number" in merge
    assert "UPDATE SET order_id = s.order_id" in merge and "event_id = s.event_id" not in merge.split("UPDATE")[1]
    for sql in (delete, merge):
        parses_as_redshift(sql)


def test_redshift_needs_a_copy_role_and_an_s3_lake(tmp_path) -> None:
    with pytest.raises(WarehouseError, match="COPY_ROLE_ARN"):
        RedshiftTarget(Settings(home=tmp_path, lake_root="s3://b")).statements("v")
    with pytest.raises(WarehouseError, match="s3://"):
        RedshiftTarget(Settings(home=tmp_path, redshift=RedshiftSettings(copy_role_arn=ROLE))).statements("v")


class RecordingConnection:
    """Stands in for a redshift_connector connection: records statements, commits and rollbacks."""

    def __init__(self, fail_on: str | None = None, columns: list[tuple[str, str, int | None]] = (),
                 duplicates: dict[str, list[str]] | None = None, load_error: tuple | None = None):
        self.executed: list[str] = []
        self.columns = list(columns)  # what information_schema.columns answers: (table, column, char length)
        self.duplicates = duplicates or {}  # stage table -> what its key check answers
        self.load_error = load_error  # what sys_load_error_detail answers
        self.last = ""
        self.commits = self.rollbacks = 0
        self.autocommit = True
        self.fail_on = fail_on

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        if self.fail_on and self.fail_on in sql:
            raise RuntimeError({"S": "ERROR", "C": "XX000", "M": "COPY failed: S3 access denied"})
        self.executed.append(sql)
        self.last = sql

    def fetchall(self):
        if self.last.startswith("SELECT 'duplicate key"):
            stage = self.last.split(" FROM ")[1].split()[0]
            return [(line,) for line in self.duplicates.get(stage, [])]
        return self.columns

    def fetchone(self):
        return self.load_error

    def commit(self):
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1

    def close(self):
        pass


def test_the_load_is_one_transaction(s3_settings) -> None:
    connection = RecordingConnection()
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    steps = []
    count = target.load("v1", {}, steps.append)
    assert connection.autocommit is False and connection.commits == 1 and connection.rollbacks == 0
    assert count == len(connection.executed) - 1  # the first reads information_schema (drifted tables)
    checks = [sql for sql in connection.executed[1:] if plan.is_check(sql)]
    assert len(checks) == len(star_tables())
    order = [sql.split()[0] for sql in connection.executed if "stage_fact_order " in sql + " "]
    assert order == ["CREATE", "COPY", "SELECT", "DELETE", "MERGE", "DROP"]
    assert not any(sql.startswith("DROP TABLE IF EXISTS analytics.") for sql in connection.executed)
    assert connection.executed[-1].startswith("INSERT INTO analytics.etl_load_state")
    assert steps[0] == "tables" and steps[-1] == "state" and len(views()) > 0


def test_a_failing_statement_rolls_everything_back(s3_settings) -> None:
    """Seen failing without the protection: the rollback taken out of ``glue_jobs/warehouse/load.py``
    ``RedshiftTarget._run`` (``con.rollback()`` removed from its ``except Exception``): ``assert (0 == 0 and 0 == 1)``,
    no commit and no rollback. Not seen by this test: ``con.autocommit = False`` removed from ``_run``, it still
    passed (the recording connection counts commits and rollbacks, not autocommit);
    ``test_the_load_is_one_transaction`` asserts ``autocommit is False``."""
    connection = RecordingConnection(fail_on="COPY stage_fact_order ")
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    with pytest.raises(RuntimeError, match="access denied"):
        target.load("v1", {}, lambda step: None)
    assert connection.commits == 0 and connection.rollbacks == 1


def test_a_table_whose_ddl_changed_is_dropped_and_recreated(s3_settings) -> None:
    """Issue 11 changed fact_order's grain (key order_id, new columns): with only CREATE TABLE IF NOT EXISTS the
    old table stayed and COPY, which maps Parquet columns by position, failed or misplaced the values."""
    old = [("fact_order", c, n) for c, n in (("event_id", 256), ("order_id", 128), ("customer_key", None))]
    current = [("dim_channel", "channel_key", None), ("dim_channel", "channel", 256)]
    connection = RecordingConnection(columns=old + current)
    RedshiftTarget(s3_settings, connect=lambda: connection).load("v1", {}, lambda step: None)
    drops = [sql for sql in connection.executed if sql.startswith("DROP TABLE IF EXISTS analytics.")]
    assert drops == ["DROP TABLE IF EXISTS analytics.fact_order CASCADE"]
    create = next(i for i, sql in enumerate(connection.executed)
                  if "CREATE TABLE IF NOT EXISTS analytics.fact_order " in sql)
    assert connection.executed.index(drops[0]) < create


def test_duplicate_keys_in_a_stage_fail_the_load_before_merge(s3_settings) -> None:
    """MERGE fails (or double-counts) when one target row matches several stage rows; the key check names them.

    Seen failing before the key check: the load ran through (commits == 1) with the duplicates in the stage."""
    connection = RecordingConnection(duplicates={"stage_dim_customer": ["duplicate key customer_key=7 (2 rows)"]})
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    with pytest.raises(WarehouseError, match=r"cannot load dim_customer: duplicate key customer_key=7 \(2 rows\)"):
        target.load("v1", {}, lambda step: None)
    assert connection.commits == 0 and connection.rollbacks == 1
    assert not any(sql.startswith("MERGE INTO analytics.dim_customer ") for sql in connection.executed)


def test_a_copy_that_fails_on_a_value_names_the_column_in_one_line(s3_settings) -> None:
    """A stage row that cannot load: the error is one line with the column and reason from sys_load_error_detail.

    Seen failing before: the driver's exception (a dict of server fields) propagated as is."""
    connection = RecordingConnection(fail_on="COPY stage_dim_geography ",
                                     load_error=("city", "varchar(512)", "String length exceeds DDL length"))
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    with pytest.raises(WarehouseError) as caught:
        target.load("v1", {}, lambda step: None)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("loading dim_geography failed: COPY failed: S3 access denied; column city "
                              "(varchar(512)): String length exceeds DDL length.")
    assert "next load of a corrected build" in message
    assert connection.commits == 0 and connection.rollbacks >= 1


def test_a_column_widened_in_bytes_recreates_the_table(s3_settings) -> None:
    """dim_geography.city went from VARCHAR(128) to VARCHAR(512) (bytes for 128 characters): an existing table with
    the old width is dropped and recreated, else COPY would still fail on a long multi-byte city.

    Seen failing before: the drift check compared column names only, so no DROP was sent."""
    narrow = [("dim_geography", "geography_key", None), ("dim_geography", "geography", 256),
              ("dim_geography", "city", 128)]
    connection = RecordingConnection(columns=narrow)
    RedshiftTarget(s3_settings, connect=lambda: connection).load("v1", {}, lambda step: None)
    assert [sql for sql in connection.executed if sql.startswith("DROP TABLE IF EXISTS analytics.")] == [
        "DROP TABLE IF EXISTS analytics.dim_geography CASCADE"]


def _delta(tables_: tuple[str, ...]):
    from glue_jobs.warehouse.load import DeltaFiles

    return {t: DeltaFiles([], [], f"warehouse/_manifests/_delta/{t}-upsert.json",
                          f"warehouse/_manifests/_delta/{t}-gone.json") for t in tables_}


def test_a_delta_load_is_one_transaction_that_deletes_dropped_keys_and_merges(s3_settings) -> None:
    """Issue 15, item 2: a big table stages only the build's delta; rows not in it are never touched (no DELETE NOT
    EXISTS against a partial stage, which would delete every other row); small tables load whole."""
    connection = RecordingConnection()
    RedshiftTarget(s3_settings, connect=lambda: connection).load("v2", {}, lambda step: None,
                                                                 _delta(("fact_order",)))
    assert connection.commits == 1 and connection.rollbacks == 0
    order = [sql.split()[0] for sql in connection.executed if re.search(r"stage_fact_order(_gone)?\b", sql)]
    assert order == ["CREATE", "COPY", "SELECT", "CREATE", "COPY", "DELETE", "MERGE", "DROP", "DROP"]
    copies = [sql for sql in connection.executed if re.match(r"COPY stage_fact_order(_gone)? ", sql)]
    assert [c.split("'")[1] for c in copies] == ["s3://acme-lake/lakehouse/warehouse/_manifests/_delta/fact_order-"
                                                 f"{part}.json" for part in ("upsert", "gone")]
    delete = next(sql for sql in connection.executed if sql.startswith("DELETE FROM analytics.fact_order "))
    assert "NOT EXISTS" not in delete and "stage_fact_order_gone AS g WHERE g.order_id = " in delete
    whole = [sql for sql in connection.executed if sql.startswith("DELETE FROM analytics.dim_date ")]
    assert len(whole) == 1 and "NOT EXISTS(SELECT 1 FROM stage_dim_date" in whole[0]


def test_a_drifted_table_turns_a_delta_load_into_a_full_one(s3_settings) -> None:
    """A table recreated from its new DDL is empty: a delta onto it would lose every other row."""
    old = [("fact_order", c, n) for c, n in (("event_id", 256), ("order_id", 128))]
    connection = RecordingConnection(columns=old)
    RedshiftTarget(s3_settings, connect=lambda: connection).load("v2", {}, lambda step: None,
                                                                 _delta(("fact_order",)))
    assert not any("_gone" in sql for sql in connection.executed)
    copy = next(sql for sql in connection.executed if sql.startswith("COPY stage_fact_order"))
    assert "/warehouse/_manifests/fact_order.json" in copy
