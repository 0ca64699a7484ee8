"""Serving scores: the warehouse zone Parquet (local and moto S3) against the DDL, and the DynamoDB items (moto
server) beside the stream job's own writes."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from boto3.dynamodb.types import TypeDeserializer
from sqlglot import exp

from glue_jobs.warehouse.sql_files import score_tables
from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.local.cli.stream_commands import customer_document, stored_item
from ml import serving
from stream.stateful import write_items
from tests.stream.conftest import stored_items

_deserialize = TypeDeserializer().deserialize
JUNE, MAY, JULY = date(2025, 6, 1), date(2025, 5, 1), date(2025, 7, 1)

#: the Parquet type each Redshift type of the DDL is loaded from (Amazon Redshift Database Developer Guide, "COPY from
#: columnar data formats": Parquet STRING -> VARCHAR, DATE -> DATE, TIMESTAMP -> TIMESTAMP, DOUBLE -> DOUBLE
#: PRECISION, DECIMAL(p,s) -> DECIMAL(p,s)); TIMESTAMP without a zone, as the star build writes it
ARROW_FOR = {"VARCHAR": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
             "DOUBLE": pa.float64(), "DECIMAL": None}


def ddl_schema() -> list[tuple[str, pa.DataType, bool]]:
    """(column, Arrow type, nullable) of every column of glue_jobs/sql/scores/fact_customer_scores.sql, in order."""
    tree = sqlglot.parse_one(score_tables()["fact_customer_scores"].ddl, read="redshift")
    out = []
    for column in tree.this.expressions:
        if not isinstance(column, exp.ColumnDef):
            continue
        kind = column.args["kind"]
        name = kind.this.name
        if name == "DECIMAL":
            precision, scale = (int(e.this.name) for e in kind.expressions)
            arrow = pa.decimal128(precision, scale)
        else:
            arrow = ARROW_FOR[name]
        not_null = any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) for c in column.constraints)
        out.append((column.name, arrow, not not_null))
    return out


def frame(ids: list[str], cutoff: date, run: str, churn: float = 0.25, **overrides) -> pd.DataFrame:
    """A score frame as the scoring run gives it: one row per customer of ``ids``; ``overrides`` set columns."""
    rows = [{"customer_id": cid, "cutoff_date": cutoff, "run_id": run,
             "scored_at": datetime(2025, 6, 2, 11, 30, tzinfo=timezone(timedelta(hours=2))),
             "churn_probability": churn, "purchase_probability": 0.5, "predicted_clv": 10.005,
             "reporting_currency": "EUR", "risk_band": "medium", "reason_1": "recency_days high",
             "reason_2": "orders_total low", "reason_3": None, "churn_model_version": "churn-1",
             "propensity_model_version": "prop-1", "clv_model_version": "clv-1"} for cid in ids]
    out = pd.DataFrame(rows)
    for column, value in overrides.items():
        out[column] = value
    return out


# --- warehouse zone -------------------------------------------------------------------------------------------------
def test_the_parquet_file_has_the_ddls_columns_types_and_not_nulls(settings: Settings) -> None:
    uris = serving.write_scores(settings, frame(["c1", "c2"], JUNE, "r1"), "r1", JUNE)
    path = Path(uris[0].removeprefix("file://"))
    assert path.as_posix().endswith("warehouse/fact_customer_scores/cutoff_date=2025-06-01/run=r1/part-00000.parquet")
    schema = pq.read_schema(path)
    assert [(f.name, f.type, f.nullable) for f in schema] == ddl_schema()
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    rows = pq.read_table(path).to_pylist()
    # 10.005 rounds half up to 10.01; 11:30 at +02:00 is 09:30 UTC
    assert rows[0]["predicted_clv"] == Decimal("10.01") and rows[0]["scored_at"] == datetime(2025, 6, 2, 9, 30)
    manifest = json.loads(Path(uris[1].removeprefix("file://")).read_text())
    assert manifest == {"entries": [{"url": str(path), "mandatory": True,
                                     "meta": {"content_length": path.stat().st_size}}]}
    record = json.loads(Path(uris[2].removeprefix("file://")).read_text())
    assert (record["run_id"], record["cutoff_date"], record["rows"]) == ("r1", "2025-06-01", 2)


def test_an_s3_lake_gets_the_same_objects(moto_endpoint: str, tmp_path: Path) -> None:
    settings = Settings(stage="s3t", home=tmp_path, lake_root="s3://score-lake/lakehouse")
    s3 = aws_client("s3", region=settings.region)
    s3.create_bucket(Bucket="score-lake")
    uris = serving.write_scores(settings, frame(["c1"], JUNE, "r1"), "r1", JUNE)
    key = "lakehouse/warehouse/fact_customer_scores/cutoff_date=2025-06-01/run=r1/part-00000.parquet"
    assert uris[0] == f"s3://score-lake/{key}"
    body = s3.get_object(Bucket="score-lake", Key=key)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).column("customer_id").to_pylist() == ["c1"]
    manifest = json.loads(s3.get_object(Bucket="score-lake",
                                        Key="lakehouse/warehouse/_manifests/fact_customer_scores/r1.json")["Body"].read())
    assert manifest["entries"] == [{"url": uris[0], "mandatory": True, "meta": {"content_length": len(body)}}]
    assert s3.head_object(Bucket="score-lake", Key="lakehouse/state/score/runs/r1.json")["ContentLength"] > 0


@pytest.mark.parametrize(("fault", "overrides", "message"), [
    ("a customer twice", {"customer_id": ["c1", "c1"]}, "more than one row per customer"),
    ("a probability above one", {"churn_probability": [0.5, 1.2]}, r"outside \[0, 1\]"),
    ("a NaN probability", {"purchase_probability": [0.5, float("nan")]}, "NULL or NaN"),
    ("an unknown risk band", {"risk_band": ["medium", "extreme"]}, "not one of"),
    ("a band without a churn probability", {"churn_probability": [0.5, None]}, "a band without a churn"),
    ("a row of another cutoff", {"cutoff_date": [JUNE, MAY]}, "another cutoff"),
    ("a row of another run", {"run_id": ["r1", "r0"]}, "another run"),
    ("a CLV DECIMAL(18,2) cannot hold", {"predicted_clv": [1.0, 1e17]}, r"more than DECIMAL\(18,2\)"),
    # 129 characters, 258 bytes: within 256 characters, not within VARCHAR(256) bytes
    ("a reason longer in bytes than its column", {"reason_1": ["ok", "é" * 129]}, r"VARCHAR\(256\)"),
])
def test_a_frame_that_cannot_load_is_refused(settings: Settings, fault: str, overrides: dict, message: str) -> None:
    """Each would fail Redshift's COPY or MERGE later (or store a wrong value); refused before anything is written.
    Seen failing without the byte check: "DID NOT RAISE" on the 129-'é' reason (258 bytes in VARCHAR(256))."""
    bad = frame(["c1", "c2"], JUNE, "r1", **overrides)
    with pytest.raises(serving.ServingError, match=message):
        serving.write_scores(settings, bad, "r1", JUNE)
    assert not Path(settings.lake.key("warehouse")).exists()


def test_a_customer_without_an_order_has_no_churn_probability_nor_band(settings: Settings) -> None:
    """Churn is defined for customers who ordered (docs/ml.md): NULL in the table, absent from the live map."""
    scores = frame(["c1", "c2"], JUNE, "r1", churn_probability=[0.7, None], risk_band=["high", None])
    path = Path(serving.write_scores(settings, scores, "r1", JUNE)[0].removeprefix("file://"))
    table = pq.read_table(path)
    assert table.column("churn_probability").to_pylist() == [0.7, None]
    assert table.column("risk_band").to_pylist() == ["high", None]
    live = serving.scores_map(table.slice(1, 1).to_pylist()[0], "r1", JUNE)
    assert "churn_probability" not in live and "risk_band" not in live
    assert live["purchase_probability"] == Decimal("0.5")


# --- DynamoDB -------------------------------------------------------------------------------------------------------
def stored_scores(settings: Settings) -> dict[str, dict]:
    """customer_id -> its ``scores`` map in the scores table."""
    dynamodb = aws_client("dynamodb", region=settings.region)
    items = dynamodb.scan(TableName=settings.names.scores_table, ConsistentRead=True)["Items"]
    return {i["customer_id"]["S"]: _deserialize(i["scores"]) for i in items}


def stream_writes(settings: Settings, token: str, orders: dict[str, int]) -> None:
    """The feature job's item writes for customers with ``orders`` orders each (stream/stateful.py)."""
    rows = [(cid, "item", json.dumps({"attributes": {"features": {"M": {"orders": {"N": str(n)}}},
                                                     "state": {"M": {}}}, "received": []}))
            for cid, n in orders.items()]
    write_items(rows, settings.names.features_table, token, aws_client("dynamodb", region=settings.region))


def test_scores_land_in_their_own_table_and_survive_the_streams_writes(aws_settings: Settings) -> None:
    """Seen failing with the scores table named as the feature table (the layout before the stream wrote whole items):
    the feature items gained ``scores``, and with that check removed the stream's next put of c1's item erased them
    (``KeyError: 'scores'``)."""
    stream_writes(aws_settings, "run/0", {"c1": 1, "c2": 1})
    features_before = stored_items(aws_settings)
    report = serving.write_live_scores(aws_settings, frame(["c1", "c2", "c3"], JUNE, "r1"), "r1")
    assert (report.table, report.written, report.unchanged, report.kept_newer) == (
        aws_settings.names.scores_table, 3, 0, 0)
    assert stored_items(aws_settings) == features_before  # the stream's items untouched
    scores = stored_scores(aws_settings)
    assert set(scores) == {"c1", "c2", "c3"}  # a customer without a live item is scored too
    assert scores["c1"] == {
        "run_id": "r1", "cutoff": "2025-06-01", "churn_probability": Decimal("0.25"),
        "purchase_probability": Decimal("0.5"), "predicted_clv": Decimal("10.01"), "reporting_currency": "EUR",
        "risk_band": "medium", "reasons": ["recency_days high", "orders_total low"],
        "scored_at": "2025-06-02T09:30:00.000Z", "churn_model_version": "churn-1",
        "propensity_model_version": "prop-1", "clv_model_version": "clv-1"}
    stream_writes(aws_settings, "run/1", {"c1": 2})  # the stream replaces c1's whole feature item
    item = stored_item(aws_settings, "c1")
    assert int(item["features"]["orders"]) == 2 and item["scores"] == scores["c1"]
    # `lakehouse customer c1 --json` prints the stored item with its scores
    assert customer_document(aws_settings, item, JUNE)["scores"] == scores["c1"]
    assert serving.read_live_scores(aws_settings, "c9") is None


def test_reruns_are_idempotent_and_an_older_cutoff_never_replaces_a_newer_one(aws_settings: Settings) -> None:
    """Seen failing with the pre-read's ordering removed (``_newer_or_same`` returning None): the rerun rewrote every
    item (``(written, unchanged) == (2, 0)``). The condition's own ordering is checked by the race test below."""
    serving.write_live_scores(aws_settings, frame(["c1", "c2"], JUNE, "r2", churn=0.4), "r2")
    june = stored_scores(aws_settings)
    rerun = serving.write_live_scores(aws_settings, frame(["c1", "c2"], JUNE, "r2", churn=0.4), "r2")
    assert (rerun.written, rerun.unchanged) == (0, 2) and stored_scores(aws_settings) == june
    older = serving.write_live_scores(aws_settings, frame(["c1", "c2"], MAY, "r3", churn=0.9), "r3")
    assert (older.written, older.kept_newer) == (0, 2) and stored_scores(aws_settings) == june
    earlier_run = serving.write_live_scores(aws_settings, frame(["c1"], JUNE, "r1", churn=0.1), "r1")
    assert earlier_run.kept_newer == 1 and stored_scores(aws_settings) == june
    newer = serving.write_live_scores(aws_settings, frame(["c1"], JULY, "r4", churn=0.7), "r4")
    assert newer.written == 1
    items = stored_scores(aws_settings)
    assert (items["c1"]["cutoff"], items["c1"]["churn_probability"]) == ("2025-07-01", Decimal("0.7"))
    assert items["c2"] == june["c2"]


def test_the_condition_guards_a_race_the_pre_read_missed(aws_settings: Settings, monkeypatch) -> None:
    """The pre-read is only an optimisation: a newer cutoff stored between the read and the write is kept. Seen
    failing with the condition reduced to ``attribute_not_exists(#scores) OR attribute_exists(#scores)``:
    written == 2, c1's July scores replaced."""
    serving.write_live_scores(aws_settings, frame(["c1"], JULY, "r4"), "r4")
    before = stored_scores(aws_settings)
    monkeypatch.setattr(serving, "_stored_scores", lambda _db, _table, ids: {})  # a stale read
    report = serving.write_live_scores(aws_settings, frame(["c1", "c2"], JUNE, "r5"), "r5")
    assert (report.written, report.kept_newer) == (1, 1)
    after = stored_scores(aws_settings)
    assert after["c1"] == before["c1"] and after["c2"]["run_id"] == "r5"
