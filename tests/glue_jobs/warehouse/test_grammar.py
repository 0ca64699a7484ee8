"""The Redshift grammar checker, on statements from the Amazon Redshift Database Developer Guide, and on every
statement the loader sends to Redshift.

Seen failing before the fix: ``test_every_statement_the_loader_sends_follows_redshift_grammar`` failed on the
loader's ``MERGE INTO analytics.dim_channel AS t USING stage_dim_channel AS s …`` with "merge-target-alias: the
MERGE target has an alias (t); only source_table takes one (…/r_MERGE.html)".

Issue 12 (seen failing on the code before it): the same test failed on every mart view with "create-or-replace-view:
OR REPLACE only replaces a view by one with the identical set of columns …" (r_CREATE_VIEW) once that rule existed,
and the loader then sent ``CREATE OR REPLACE VIEW analytics.mart_…``; the new BROKEN cases ``decimal-precision``,
``encode-type``, ``merge-with``, ``insert-query``, ``reserved-word``, ``create-or-replace-view`` and ``drop-view``
each returned no violation at all (``[]``; ``drop view …`` fell to the DROP TABLE rule, ``drop-table``), so
``test_statements_against_the_documentation_are_caught`` failed on each; the new DOCUMENTED ``drop view …`` lines
failed with ``drop-table``.
"""

from __future__ import annotations

import pytest

from glue_jobs.warehouse import grammar
from glue_jobs.warehouse.load import RedshiftTarget
from glue_jobs.warehouse.plan import ScoreRun
from glue_jobs.warehouse.sql_files import score_tables, star_tables, tables
from lakehouse.core.config import RedshiftSettings, Settings

ROLE = "arn:aws:iam::0123456789012:role/MyRedshiftRole"

#: statements the documentation gives as examples (lower case as the pages print them)
DOCUMENTED = [
    # r_VACUUM_command's syntax and examples
    "vacuum",
    "vacuum delete only \"lakehouse\".\"fact_order\" to 100 percent",
    "vacuum sort only sales to 75 percent",
    "vacuum recluster sales boost",
    # r_MERGE.html, Examples
    "MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN UPDATE SET id = source.id, "
    "name = source.name WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)",
    "MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN DELETE "
    "WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)",
    "MERGE INTO target USING source ON target.id = source.id REMOVE DUPLICATES",
    # r_DELETE.html, Examples
    "delete from category",
    "delete from category where catid between 0 and 9",
    "delete from listing where listing.sellerid not in(select sales.sellerid from sales)",
    "delete from category using event where event.catid=category.catid and category.catid=9",
    # copy-parameters-data-source-s3.html and r_COPY_command_examples.html
    f"copy customer from 's3://mybucket/cust.manifest' iam_role '{ROLE}' manifest",
    f"copy listing from 's3://amzn-s3-demo-bucket/data/listings/parquet/' iam_role '{ROLE}' format as parquet",
    # r_CREATE_TABLE_NEW.html and r_CREATE_TABLE_examples.html
    "create table test(col1 varchar(max))",
    "create table t1(col1 int, col2 int) diststyle key distkey(col1)",  # DISTKEY as a table attribute
    "create table sales(salesid integer not null, listid integer not null, primary key(salesid)) "
    "distkey(listid) compound sortkey(listid, salesid)",
    "create temp table stage (like target)",
    # r_DROP_TABLE.html, r_INSERT_30.html, r_BEGIN.html, r_COMMIT.html
    "drop table feedback cascade",
    "drop table if exists feedback",
    "insert into category_stage values (12, 'Concerts', 'Comedy', 'All stand-up comedy performances')",
    "begin", "begin transaction", "commit", "end transaction",
    # r_INSERT_30.html: INSERT … query
    "insert into category_stage (select * from category)",
    "insert into category_stage (catid, catgroup) select catid, catgroup from category",
    # r_CREATE_VIEW.html, r_DROP_VIEW.html
    "create view myevent as select eventname from event where eventname = 'LeAnn Rimes'",
    "drop view eventview cascade",
    "drop view if exists eventview",
    # Examples__compression_encodings_in_CREATE_TABLE_statements.html (every encoding on a type it supports)
    "create table customer(custkey int encode delta, custname varchar(30) encode raw, gender varchar(7) encode "
    "text255, address varchar(200) encode text255, city varchar(30) encode text255, state char(2) encode raw, "
    "zipcode char(5) encode bytedict, start_date date encode delta32k)",
    # r_Numeric_types201.html: "The maximum precision is 38"
    "create table t (amount decimal(38,2))",
    # r_pg_keywords.html: reserved words are usable "with delimited identifiers (double quotation marks)"
    'create table t ("user" varchar(10), "timestamp" timestamp)',
]

#: (statement, the rule it breaks): each against a sentence of the documentation
BROKEN = [
    ("MERGE INTO target AS t USING source AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name "
     "WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)", "merge-target-alias"),
    ("MERGE INTO target USING source ON target.id = source.id WHEN NOT MATCHED THEN INSERT VALUES (source.id)",
     "merge-clauses"),
    ("MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN UPDATE SET target.name = "
     "source.name WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)", "merge-update-column"),
    ("MERGE INTO target USING source ON target.id = source.id WHEN MATCHED AND source.x > 1 THEN DELETE "
     "WHEN NOT MATCHED THEN INSERT VALUES (source.id)", "merge-when-condition"),
    ("MERGE INTO target USING (SELECT * FROM source) AS s ON target.id = s.id WHEN MATCHED THEN DELETE "
     "WHEN NOT MATCHED THEN INSERT VALUES (s.id)", "merge-source"),
    ("MERGE INTO target USING source ON target.id > source.id WHEN MATCHED THEN DELETE "
     "WHEN NOT MATCHED THEN INSERT VALUES (source.id)", "merge-on"),
    ("MERGE INTO target AS t USING source ON t.id = source.id REMOVE DUPLICATES", "merge-remove-duplicates"),
    ("delete category using event where event.catid = category.catid", "delete-from"),
    ("delete from category as c where c.catid = 9", "delete-target-alias"),
    (f"copy stage from 's3://b/warehouse/_manifests/t.json' iam_role '{ROLE}' format as parquet", "copy-manifest"),
    (f"copy stage from 's3://b/m.json' iam_role '{ROLE}' format as parquet manifest region 'us-east-1'",
     "copy-columnar-parameters"),
    (f"copy stage from 's3://b/m.json' iam_role '{ROLE}' format as parquet manifest maxerror 10",
     "copy-columnar-parameters"),
    ("copy stage from 's3://b/m.json' format as parquet manifest", "copy-authorization"),
    ("create table t (city varchar(70000))", "character-length"),
    ("create table t (code char(5000))", "character-length"),
    ("create temp table analytics.stage (like analytics.t)", "temp-table-schema"),
    ("create temp table stage (like t) diststyle all", "like-physical"),
    ("create table t (a int, b int) diststyle all distkey(a)", "distkey-style"),
    ("create table t (a int) diststyle key", "diststyle-key"),
    ("create table t (a int) distkey(b)", "distkey-column"),
    ("create table t (a int) sortkey(a, b)", "sortkey-column"),
    ("create table t (a int encode snappy)", "encode"),
    ("create table t (a int, primary key (b))", "primary-key-column"),
    ("insert into t (a, b) values (1, 2, 3)", "insert-values"),
    ("insert into t (a) select 1, 2", "insert-query"),
    ("create table t (amount decimal(39,2))", "decimal-precision"),
    ("create table t (flag boolean encode az64)", "encode-type"),
    ("create table t (name varchar(10) encode az64)", "encode-type"),
    ("create table t (price double precision encode delta)", "encode-type"),
    ("create table t (code varchar(3) encode delta)", "encode-type"),
    ("create table t (code char(3) encode text255)", "encode-type"),
    ("create table t (n smallint encode delta32k)", "encode-type"),
    ("with s as (select 1 as id) merge into target using source on target.id = source.id when matched then delete "
     "when not matched then insert values (source.id)", "merge-with"),
    ("create table t (user varchar(10))", "reserved-word"),
    ("create table t (timestamp timestamp)", "reserved-word"),
    ("create table t (partition integer)", "reserved-word"),
    ("create table t (tag varchar(32))", "reserved-word"),
    ("create or replace view v as select 1 as a", "create-or-replace-view"),
    ("drop view v purge", "drop-view"),
    ("drop table t purge", "drop-table"),
    ("analyze t", "kind"),
    # r_VACUUM_command: a threshold needs a table and is 0-100; DELETE alone is no option
    ("vacuum delete only to 100 percent", "vacuum-threshold"),
    ("vacuum t to 101 percent", "vacuum-threshold"),
    ("vacuum delete t", "vacuum"),
]


@pytest.mark.parametrize("sql", DOCUMENTED)
def test_documented_statements_pass(sql: str) -> None:
    assert grammar.violations(sql) == []


@pytest.mark.parametrize(("sql", "rule"), BROKEN)
def test_statements_against_the_documentation_are_caught(sql: str, rule: str) -> None:
    found = grammar.violations(sql)
    assert rule in {v.rule for v in found}, found
    assert all(v.source.startswith(grammar.DOCS) for v in found)
    with pytest.raises(grammar.GrammarError, match=rule):
        grammar.check(sql)


@pytest.mark.parametrize("schema", ["analytics", "public"])
def test_every_statement_the_loader_sends_follows_redshift_grammar(tmp_path, schema: str) -> None:
    """Every table in glue_jobs/sql/ddl: its DDL, stage, COPY, key check, DELETE, MERGE; the views; the state rows."""
    settings = Settings(stage="prod", home=tmp_path, lake_root="s3://acme-lake/lakehouse",
                        redshift=RedshiftSettings(copy_role_arn=ROLE, schema_name=schema))
    statements = RedshiftTarget(settings).statements("20250601T000000Z-abc", drifted=list(tables()))
    merges = [sql for _, sql in statements if sql.startswith("MERGE")]
    assert len(merges) == len(star_tables())
    problems = [f"{step}: {v}" for step, sql in statements for v in grammar.violations(sql)]
    assert problems == []


@pytest.mark.parametrize("schema", ["analytics", "public"])
def test_every_statement_of_the_score_load_follows_redshift_grammar(tmp_path, schema: str) -> None:
    """The scores DDL (glue_jobs/sql/scores) and the whole score load: tables, per run its stage, COPY, run and key
    checks, the cutoff's DELETE, MERGE, the stage drop, the state rows."""
    settings = Settings(stage="prod", home=tmp_path, lake_root="s3://acme-lake/lakehouse",
                        redshift=RedshiftSettings(copy_role_arn=ROLE, schema_name=schema))
    runs = [ScoreRun("20250603T000000Z-b", "2025-05-01", "warehouse/_manifests/fact_customer_scores/b.json"),
            ScoreRun("20250604T000000Z-c", "2025-06-01", "warehouse/_manifests/fact_customer_scores/c.json")]
    statements = RedshiftTarget(settings).score_statements(runs)
    assert sum(sql.startswith("MERGE") for _, sql in statements) == len(runs)
    assert sum(sql.startswith("COPY") for _, sql in statements) == len(runs)
    problems = [f"{step}: {v}" for step, sql in statements for v in grammar.violations(sql)]
    problems += [f"{name} DDL: {v}" for name, spec in score_tables().items() for v in grammar.violations(spec.ddl)]
    assert problems == []


@pytest.mark.parametrize("schema", ["analytics", "public"])
def test_every_statement_of_a_delta_load_follows_redshift_grammar(tmp_path, schema: str) -> None:
    """The delta load of an incremental star build (issue 15, item 2): per big table the stage of new and changed
    rows and the stage of dropped rows, each COPYed from its own manifest, the DELETE of the dropped keys
    (``DELETE FROM t WHERE EXISTS (SELECT 1 FROM stage_t_gone AS g WHERE g.k = t.k)``), the MERGE; the small
    tables as in a full load."""
    from glue_jobs.star.incremental import DELTA_KEYS
    from glue_jobs.warehouse.load import DeltaFiles

    settings = Settings(stage="prod", home=tmp_path, lake_root="s3://acme-lake/lakehouse",
                        redshift=RedshiftSettings(copy_role_arn=ROLE, schema_name=schema))
    delta = {t: DeltaFiles([], [], f"warehouse/_manifests/_delta/{t}-upsert.json",
                           f"warehouse/_manifests/_delta/{t}-gone.json") for t in DELTA_KEYS}
    statements = RedshiftTarget(settings).statements("20250602T000000Z-def", delta=delta)
    sql = [s for _, s in statements]
    deletes = [s for s in sql if s.startswith("DELETE FROM") and "_gone" in s]
    assert len(deletes) == len(DELTA_KEYS)
    assert sum(s.startswith("MERGE") for s in sql) == len(star_tables())
    assert sum("_delta/" in s for s in sql if s.startswith("COPY")) == 2 * len(DELTA_KEYS)
    assert not any("NOT EXISTS" in s and s.split()[2].split(".")[-1] in DELTA_KEYS for s in sql)
    problems = [f"{step}: {v}" for step, s in statements for v in grammar.violations(s)]
    assert problems == []
