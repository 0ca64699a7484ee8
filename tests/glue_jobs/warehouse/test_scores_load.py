"""Loading scoring runs into ``fact_customer_scores``: DuckDB end to end, the Redshift plan, the star load beside it.

The runs are written by the real writer (``ml.serving.write_scores``); the expected rows are written out by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from glue_jobs.warehouse import plan
from glue_jobs.warehouse.load import (
    RedshiftTarget,
    WarehouseError,
    load_scores,
    load_warehouse,
    runs_to_load,
)
from glue_jobs.warehouse.sql_files import SCORE_MANIFESTS, SCORE_RUNS, score_tables, star_tables, tables
from lakehouse.core.config import RedshiftSettings, Settings
from lakehouse.core.contract.envelope import Envelope
from lakehouse.core.warehouse.dialect import to_duckdb
from lakehouse.core.warehouse.query import run_query, warehouse_schema
from ml import serving
from tests.glue_jobs.sql.test_ddl import BYTES_PER_CHARACTER, max_characters
from tests.glue_jobs.warehouse.test_load import dim_date_row, kpi_row, write_build
from tests.glue_jobs.warehouse.test_plan import ROLE, RecordingConnection

JUNE, MAY = date(2025, 6, 1), date(2025, 5, 1)


def score_frame(rows: dict[str, tuple[float, float, str, str]], cutoff: date, run_id: str) -> pd.DataFrame:
    """customer -> (churn probability, purchase probability, predicted CLV text, risk band)."""
    return pd.DataFrame([{
        "customer_id": cid, "cutoff_date": cutoff, "run_id": run_id,
        "scored_at": datetime(2025, 6, 2, 9, 30, tzinfo=UTC), "churn_probability": churn,
        "purchase_probability": buy, "predicted_clv": float(clv), "reporting_currency": "EUR", "risk_band": band,
        "reason_1": "recency_days high", "reason_2": "orders_total low", "reason_3": None,
        "churn_model_version": "churn-1", "propensity_model_version": "prop-1", "clv_model_version": "clv-1"}
        for cid, (churn, buy, clv, band) in rows.items()])


def score(settings: Settings, run_id: str, cutoff: date, rows: dict[str, tuple[float, float, str, str]]) -> None:
    serving.write_scores(settings, score_frame(rows, cutoff, run_id), run_id, cutoff)


def stored(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("SELECT customer_id, cutoff_date, run_id, churn_probability, predicted_clv, risk_band "
                           "FROM fact_customer_scores ORDER BY cutoff_date, customer_id").fetchall()


def state(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("SELECT target, version FROM etl_load_state ORDER BY target").fetchall()


def test_the_serving_layout_is_the_loaders() -> None:
    """ml (a stage) cannot import glue_jobs: both name the same places and the same table."""
    loader = (SCORE_MANIFESTS, SCORE_RUNS, next(iter(score_tables())))
    assert loader == (serving.SCORE_MANIFESTS, serving.SCORE_RUNS, serving.TABLE)


def test_nothing_to_load_before_the_first_scoring_run(settings) -> None:
    assert load_scores(settings).skipped == "no scoring run yet"


def test_a_run_loads_once_and_a_rescore_replaces_exactly_its_cutoff(settings) -> None:
    """Seen failing without the cutoff scope of the DELETE (``merge_statements(spec)`` as the star load sends it):
    the June re-score deleted the May rows too (``{'fact_customer_scores': 2} != {'fact_customer_scores': 4}``)."""
    score(settings, "20250602T000000Z-a", JUNE, {"c1": (0.8, 0.1, "10.005", "high"), "c2": (0.2, 0.7, "99.99", "low")})
    report = load_scores(settings)
    assert (report.version, report.tables) == ("20250602T000000Z-a", {"fact_customer_scores": 2})
    first = [("c1", JUNE, "20250602T000000Z-a", 0.8, Decimal("10.01"), "high"),
             ("c2", JUNE, "20250602T000000Z-a", 0.2, Decimal("99.99"), "low")]
    assert stored(settings) == first
    assert state(settings) == [("duckdb:fact_customer_scores", "20250602T000000Z-a")]
    # the same run again: skipped, the file is not written; forced: the same rows
    modified = settings.warehouse_path.stat().st_mtime_ns
    assert load_scores(settings).skipped == "duckdb already holds scoring run 20250602T000000Z-a"
    assert settings.warehouse_path.stat().st_mtime_ns == modified
    assert load_scores(settings, force=True).tables == {"fact_customer_scores": 2}
    assert stored(settings) == first
    # an older cutoff, then a re-score of June without c2 and with c3
    score(settings, "20250603T000000Z-b", MAY, {"c1": (0.5, 0.5, "1", "medium"), "c2": (0.1, 0.9, "2", "low")})
    load_scores(settings)
    score(settings, "20250604T000000Z-c", JUNE, {"c1": (0.6, 0.2, "5", "medium"), "c3": (0.9, 0.0, "0", "high")})
    assert load_scores(settings).tables == {"fact_customer_scores": 4}
    assert stored(settings) == [
        ("c1", MAY, "20250603T000000Z-b", 0.5, Decimal("1.00"), "medium"),
        ("c2", MAY, "20250603T000000Z-b", 0.1, Decimal("2.00"), "low"),
        ("c1", JUNE, "20250604T000000Z-c", 0.6, Decimal("5.00"), "medium"),
        ("c3", JUNE, "20250604T000000Z-c", 0.9, Decimal("0.00"), "high")]
    assert state(settings) == [("duckdb:fact_customer_scores", "20250604T000000Z-c")]


def test_runs_written_before_a_load_are_all_loaded_the_last_of_each_cutoff_wins(settings) -> None:
    """Seen failing when only the latest run was loaded (``runs_to_load`` keeping the last pending run): the May
    cutoff, written first, never reached the table (only ``('c2', 2025-06-01, 'r3')`` was stored)."""
    score(settings, "r1", MAY, {"c1": (0.5, 0.5, "1", "medium")})
    score(settings, "r2", JUNE, {"c1": (0.4, 0.5, "1", "medium"), "c2": (0.3, 0.5, "1", "low")})
    score(settings, "r3", JUNE, {"c2": (0.7, 0.5, "3", "high")})
    load_scores(settings)
    assert [(r[0], r[1], r[2]) for r in stored(settings)] == [("c1", MAY, "r1"), ("c2", JUNE, "r3")]


def test_which_runs_a_load_applies() -> None:
    runs = [plan.ScoreRun("r1", "2025-05-01", "m1"), plan.ScoreRun("r2", "2025-06-01", "m2"),
            plan.ScoreRun("r3", "2025-05-01", "m3")]
    assert [r.run_id for r in runs_to_load(runs, None)] == ["r2", "r3"]
    assert [r.run_id for r in runs_to_load(runs, "r2")] == ["r3"]
    assert runs_to_load(runs, "r3") == []
    assert [r.run_id for r in runs_to_load(runs, "r3", force=True)] == ["r3"]


def test_files_holding_another_cutoff_fail_the_load_and_keep_the_table(settings) -> None:
    """The DELETE replaces the record's cutoff only; a stage row of another cutoff would be MERGEd into that other
    cutoff without its deletions. Seen failing without the run check (``plan.score_statements`` without
    ``run_check``): "DID NOT RAISE" — the load committed a run recorded as June whose rows were May's."""
    score(settings, "r1", JUNE, {"c1": (0.8, 0.1, "1", "high")})
    load_scores(settings)
    score(settings, "r2", MAY, {"c9": (0.1, 0.1, "1", "low")})
    root = Path(settings.lake.key(""))
    record = json.loads((root / SCORE_RUNS / "r2.json").read_text())
    (root / SCORE_RUNS / "r2.json").write_text(json.dumps({**record, "cutoff_date": "2025-06-01"}))
    with pytest.raises(WarehouseError, match=r"cannot load fact_customer_scores: row of run r2, cutoff 2025-05-01 "
                                             r"in the files of run r2 \(cutoff 2025-06-01\)"):
        load_scores(settings)
    assert [r[0:3] for r in stored(settings)] == [("c1", JUNE, "r1")]
    assert state(settings) == [("duckdb:fact_customer_scores", "r1")]


def test_the_star_load_leaves_the_scores_alone(settings) -> None:
    """The star load only knows glue_jobs/sql/ddl: it neither drops nor empties fact_customer_scores, and the score
    load leaves the star's state row and tables. Seen failing with the scores table among the star load's tables
    (``tables()``/``star_tables()`` patched to include it, as a DDL file in sql/ddl would): the star load stopped with
    "the star build wrote no manifest for fact_customer_scores; run the star build first"."""
    write_build(settings, "b1", {"dim_date": [dim_date_row(JUNE)], "fact_daily_kpis": [kpi_row(JUNE, 2, "50.00")]})
    load_warehouse(settings)
    score(settings, "r1", JUNE, {"c1": (0.8, 0.1, "1", "high")})
    load_scores(settings)
    write_build(settings, "b2", {"dim_date": [dim_date_row(JUNE)], "fact_daily_kpis": [kpi_row(JUNE, 3, "60.00")]})
    report = load_warehouse(settings)
    assert "fact_customer_scores" not in report.tables and report.tables["fact_daily_kpis"] == 1
    assert [r[0:3] for r in stored(settings)] == [("c1", JUNE, "r1")]
    assert state(settings) == [("duckdb", "b2"), ("duckdb:fact_customer_scores", "r1")]


def test_a_scores_table_with_other_columns_is_kept_and_the_load_says_what_to_do(settings) -> None:
    """It holds every cutoff's scores, which no single run can bring back: never dropped by a load."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE fact_customer_scores (customer_id VARCHAR, cutoff_date DATE, churn DOUBLE)")
        con.execute("INSERT INTO fact_customer_scores VALUES ('old', DATE '2025-01-01', 0.5)")
    score(settings, "r1", JUNE, {"c1": (0.8, 0.1, "1", "high")})
    with pytest.raises(WarehouseError, match=r"has other columns than glue_jobs/sql/scores/fact_customer_scores\.sql"):
        load_scores(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT * FROM fact_customer_scores").fetchall() == [("old", date(2025, 1, 1), 0.5)]


def test_the_local_warehouse_has_the_ddl_columns_and_answers_redshift_sql(settings) -> None:
    """lakehouse.core.warehouse sees the table as the DDL declares it (transpiled by the same dialect layer)."""
    score(settings, "r1", JUNE, {"c1": (0.8, 0.1, "12.5", "high"), "c2": (0.2, 0.7, "7.25", "low")})
    load_scores(settings)
    ddl = score_tables()["fact_customer_scores"].ddl
    with duckdb.connect(":memory:") as scratch:
        for sql in to_duckdb(ddl):
            scratch.execute(sql)
        expected = warehouse_schema(scratch)["fact_customer_scores"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert warehouse_schema(con)["fact_customer_scores"] == expected
    result = run_query(settings.warehouse_path, "SELECT customer_id, predicted_clv, NVL(reason_3, '-') AS r3 "
                       "FROM fact_customer_scores WHERE cutoff_date = '2025-06-01' ORDER BY 1", dialect="redshift")
    assert result.rows == [("c1", Decimal("12.50"), "-"), ("c2", Decimal("7.25"), "-")]


# --- Redshift -------------------------------------------------------------------------------------------------------
@pytest.fixture
def s3_settings(tmp_path) -> Settings:
    return Settings(stage="prod", home=tmp_path, lake_root="s3://acme-lake/lakehouse",
                    redshift=RedshiftSettings(copy_role_arn=ROLE, schema_name="analytics"))


RUNS = [plan.ScoreRun("20250603T000000Z-b", "2025-05-01", f"{SCORE_MANIFESTS}/20250603T000000Z-b.json"),
        plan.ScoreRun("20250604T000000Z-c", "2025-06-01", f"{SCORE_MANIFESTS}/20250604T000000Z-c.json")]


def test_the_redshift_score_load_replaces_only_each_runs_cutoff(s3_settings) -> None:
    statements = [sql for _, sql in RedshiftTarget(s3_settings).score_statements(RUNS)]
    copies = [s for s in statements if s.startswith("COPY ")]
    assert copies == [
        f"COPY stage_fact_customer_scores FROM 's3://acme-lake/lakehouse/warehouse/_manifests/fact_customer_scores/"
        f"{run.run_id}.json' IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST" for run in RUNS]
    deletes = [s for s in statements if s.startswith("DELETE FROM analytics.fact_customer_scores")]
    assert len(deletes) == 2 and all("NOT EXISTS" in d for d in deletes)
    assert "cutoff_date = CAST('2025-05-01' AS DATE)" in deletes[0]
    assert "cutoff_date = CAST('2025-06-01' AS DATE)" in deletes[1]
    merges = [s for s in statements if s.startswith("MERGE INTO analytics.fact_customer_scores USING")]
    assert len(merges) == 2 and all(
        "ON fact_customer_scores.customer_id = s.customer_id AND fact_customer_scores.cutoff_date = s.cutoff_date"
        in m for m in merges)
    assert statements[-1].startswith("INSERT INTO analytics.etl_load_state (target, version, loaded_at) VALUES "
                                     "('redshift:fact_customer_scores', '20250604T000000Z-c'")
    # nothing of the star load: no other table is created, staged or merged, no view is dropped
    touched = {t for s in statements for t in tables() if f"analytics.{t} " in s + " " or f"analytics.{t}(" in s}
    assert touched <= {"etl_load_state"}
    assert not any("VIEW" in s for s in statements)


def test_a_redshift_score_load_is_one_transaction_that_rolls_back_on_duplicates(s3_settings) -> None:
    """Seen failing without the key check (``plan.score_statements`` without ``key_check``): "DID NOT RAISE"."""
    connection = RecordingConnection(duplicates={
        "stage_fact_customer_scores": ["duplicate key customer_id=c1, cutoff_date=2025-06-01 (2 rows)"]})
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    with pytest.raises(WarehouseError, match="cannot load fact_customer_scores: duplicate key customer_id=c1"):
        target.load_scores(RUNS, {}, lambda step: None)
    assert connection.autocommit is False and connection.commits == 0 and connection.rollbacks == 1
    assert not any(sql.startswith("MERGE") for sql in connection.executed)
    good = RecordingConnection()
    assert RedshiftTarget(s3_settings, connect=lambda: good).load_scores(RUNS, {}, lambda step: None) > 0
    assert good.commits == 1 and good.rollbacks == 0


def test_a_redshift_scores_table_with_other_columns_is_not_dropped(s3_settings) -> None:
    connection = RecordingConnection(columns=[("fact_customer_scores", "customer_id", 256)])
    target = RedshiftTarget(s3_settings, connect=lambda: connection)
    with pytest.raises(WarehouseError, match="has other columns"):
        target.load_scores(RUNS, {}, lambda step: None)
    assert not any(sql.startswith("DROP TABLE IF EXISTS analytics.fact_customer_scores") for sql in connection.executed)


def test_the_star_plan_never_names_the_scores_table(s3_settings) -> None:
    assert "fact_customer_scores" not in star_tables() and "fact_customer_scores" not in tables()
    statements = RedshiftTarget(s3_settings).statements("v1", drifted=list(tables()))
    assert not any("fact_customer_scores" in sql for _, sql in statements)


def test_the_customer_id_column_holds_the_longest_user_id_in_bytes() -> None:
    """As every DDL column fed by a contract field (tests/glue_jobs/sql/test_ddl.py): 4 bytes per character."""
    columns = dict(score_tables()["fact_customer_scores"].columns)
    assert columns["customer_id"] == f"VARCHAR({BYTES_PER_CHARACTER * max_characters(Envelope, 'user_id')})"
    assert {name: int(kind[8:-1]) for name, kind in columns.items() if kind.startswith("VARCHAR")} == serving.WIDTHS
