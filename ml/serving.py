"""Serve a scoring run: ZSTD Parquet in the lake's warehouse zone (loaded into ``fact_customer_scores``) and the
scores on the customers' DynamoDB items.

Warehouse zone (:func:`write_scores`), one folder per run, never overwritten::

    warehouse/fact_customer_scores/cutoff_date=YYYY-MM-DD/run=<run_id>/part-00000.parquet
    warehouse/_manifests/fact_customer_scores/<run_id>.json     Redshift COPY manifest (entries: url, content_length)
    state/score/runs/<run_id>.json                               the run record, written last: the commit

The Parquet columns are the DDL's (``glue_jobs/sql/scores/fact_customer_scores.sql``) in its order, with its types:
VARCHAR -> string, DATE -> date32, TIMESTAMP -> timestamp[us] holding the UTC wall clock (no time zone, as the star
build writes TIMESTAMP columns), DOUBLE PRECISION -> float64, DECIMAL(18,2) -> decimal128(18, 2); NOT NULL columns
are non-nullable fields. Redshift's COPY … FORMAT AS PARQUET maps columns by position, so the order matters. A crash
before the run record leaves no run for the loader (``glue_jobs/warehouse/load.py:load_scores``), which loads the
runs whose record exists.

DynamoDB (:func:`write_live_scores`): one item per scored customer in the ML stage's own table
(``<project>-<stage>-customer-scores``, key ``customer_id``), its attribute ``scores`` a map. Not on the stream's
``customer_features`` item: the streaming job writes each changed customer's whole item with ``BatchWriteItem``
(``stream/stateful.py``), whose put replaces every attribute, so anything else stored there would be erased on the
customer's next event. Readers (``lakehouse customer``, the dashboard's customer page) fetch both items by key.
Scores are written with UpdateItem ``SET scores = :scores`` under the condition "no stored scores, or stored scores
not newer (an older cutoff, or the same cutoff from this or an older run)": a rerun writes the same map, and an older
run never replaces a newer cutoff's scores. Run ids must sort in time order (:func:`lakehouse.core.job_state.new_run_id`
does). A ``BatchGetItem`` per 100 customers reads the stored runs first so that items already holding this run (or a
newer one) cost no write; the conditional UpdateItems run on a thread pool and their condition remains the guard
against every race (``BatchWriteItem`` takes no condition).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage

TABLE = "fact_customer_scores"
#: COPY manifests of the scoring runs, one per run (``<run_id>.json``); glue_jobs/warehouse/sql_files.py names the same
SCORE_MANIFESTS = f"warehouse/_manifests/{TABLE}"
#: run records, one per committed run (``<run_id>.json``): what the loader looks for
SCORE_RUNS = "state/score/runs"
RISK_BANDS = ("high", "medium", "low")

#: the Parquet schema of ``fact_customer_scores`` (the DDL's columns, order, types and NOT NULLs)
SCHEMA = pa.schema([
    pa.field("customer_id", pa.string(), nullable=False),
    pa.field("cutoff_date", pa.date32(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("scored_at", pa.timestamp("us"), nullable=False),
    pa.field("churn_probability", pa.float64()),  # NULL: no order before the cutoff, no churn population
    pa.field("purchase_probability", pa.float64(), nullable=False),
    pa.field("predicted_clv", pa.decimal128(18, 2), nullable=False),
    pa.field("reporting_currency", pa.string(), nullable=False),
    pa.field("risk_band", pa.string()),  # NULL exactly when churn_probability is
    pa.field("reason_1", pa.string()),
    pa.field("reason_2", pa.string()),
    pa.field("reason_3", pa.string()),
    pa.field("churn_model_version", pa.string(), nullable=False),
    pa.field("propensity_model_version", pa.string(), nullable=False),
    pa.field("clv_model_version", pa.string(), nullable=False),
])
#: bytes each VARCHAR(n) column holds (Redshift counts bytes, not characters)
WIDTHS = {"customer_id": 1024, "run_id": 64, "reporting_currency": 3, "risk_band": 8, "reason_1": 256,
          "reason_2": 256, "reason_3": 256, "churn_model_version": 64, "propensity_model_version": 64,
          "clv_model_version": 64}
_CENT = Decimal("0.01")
_CLV_LIMIT = Decimal(10) ** 16  # DECIMAL(18,2) holds 16 integer digits


class ServingError(ValueError):
    """A score frame that cannot be served (the message names the column and the customers)."""


def run_folder(cutoff: date, run_id: str) -> str:
    """``warehouse/fact_customer_scores/cutoff_date=YYYY-MM-DD/run=<run_id>``: the run's Parquet folder."""
    return f"warehouse/{TABLE}/cutoff_date={cutoff.isoformat()}/run={run_id}"


def _fail(column: str, what: str, ids: Sequence[str]) -> ServingError:
    shown = ", ".join(map(str, list(ids)[:5])) + (", …" if len(ids) > 5 else "")
    return ServingError(f"scores.{column}: {what} ({len(ids)} customers: {shown})")


def _to_utc_naive(values: pd.Series) -> pd.Series:
    """Timestamps as the UTC wall clock without a zone, microseconds (naive input is taken as UTC)."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert(UTC).dt.tz_localize(None).astype("datetime64[us]")


def _clv(value: float) -> Decimal:
    """A CLV as DECIMAL(18,2): rounded half up to the cent from its shortest decimal form (``repr``)."""
    return Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP)


def scores_table(scores: pd.DataFrame, run_id: str, cutoff: date) -> pa.Table:
    """The score frame as an Arrow table of :data:`SCHEMA`, checked.

    ``scores``: one row per customer (``customer_id`` a column), the columns of :data:`SCHEMA` (extra columns are
    ignored); ``run_id``/``cutoff_date`` columns, when present, must equal the arguments (missing ones are filled).
    Raises :class:`ServingError` for a missing column, a duplicate or empty ``customer_id``, a NULL/NaN in a NOT
    NULL column, a probability outside [0, 1], a ``risk_band`` other than high/medium/low, a CLV that DECIMAL(18,2)
    cannot hold, or text longer in UTF-8 bytes than its VARCHAR(n).
    """
    frame = scores.copy()
    frame["run_id"] = frame.get("run_id", run_id)
    frame["cutoff_date"] = frame.get("cutoff_date", cutoff)
    for name in ("reason_1", "reason_2", "reason_3"):
        if name not in frame:
            frame[name] = None
    missing = [f.name for f in SCHEMA if f.name not in frame]
    if missing:
        raise ServingError(f"the score frame lacks columns {missing}")
    ids = frame["customer_id"].astype("string")
    if ids.isna().any() or (ids == "").any():
        raise ServingError("scores.customer_id: empty customer ids")
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        raise _fail("customer_id", "more than one row per customer", duplicated)
    other_run = ids[frame["run_id"].astype("string") != run_id].tolist()
    if other_run:
        raise _fail("run_id", f"rows of another run than {run_id}", other_run)
    other_cutoff = ids[pd.to_datetime(frame["cutoff_date"]).dt.date != cutoff].tolist()
    if other_cutoff:
        raise _fail("cutoff_date", f"rows of another cutoff than {cutoff}", other_cutoff)
    for f in SCHEMA:
        if not f.nullable and frame[f.name].isna().any():
            raise _fail(f.name, "NULL or NaN in a NOT NULL column", ids[frame[f.name].isna()].tolist())
    for name in ("churn_probability", "purchase_probability"):
        values = frame[name].astype("float64")
        outside = ids[~values.between(0.0, 1.0) & values.notna()].tolist()
        if outside:
            raise _fail(name, "a probability outside [0, 1]", outside)
    no_churn = frame["churn_probability"].isna()
    bands = ids[~frame["risk_band"].isin(RISK_BANDS) & ~no_churn].tolist()
    if bands:
        raise _fail("risk_band", f"not one of {RISK_BANDS}", bands)
    unmatched = ids[frame["risk_band"].notna() & no_churn].tolist()
    if unmatched:
        raise _fail("risk_band", "a band without a churn probability", unmatched)
    clv = frame["predicted_clv"].astype("float64")
    if not clv.map(math.isfinite).all():
        raise _fail("predicted_clv", "not a finite number", ids[~clv.map(math.isfinite)].tolist())
    money = clv.map(_clv)
    too_big = ids[money.map(lambda v: abs(v) >= _CLV_LIMIT)].tolist()
    if too_big:
        raise _fail("predicted_clv", "more than DECIMAL(18,2) holds", too_big)
    for name, size in WIDTHS.items():
        long = [c for c, v in zip(ids, frame[name], strict=True) if isinstance(v, str) and len(v.encode()) > size]
        if long:
            raise _fail(name, f"more bytes than VARCHAR({size}) holds", long)
    columns = {
        "customer_id": ids.tolist(),
        "cutoff_date": [cutoff] * len(frame),
        "run_id": [run_id] * len(frame),
        "scored_at": _to_utc_naive(frame["scored_at"]),
        "churn_probability": frame["churn_probability"].astype("float64"),
        "purchase_probability": frame["purchase_probability"].astype("float64"),
        "predicted_clv": money.tolist(),
    }
    for name in ("reporting_currency", "risk_band", "reason_1", "reason_2", "reason_3", "churn_model_version",
                 "propensity_model_version", "clv_model_version"):
        columns[name] = [None if pd.isna(v) else str(v) for v in frame[name]]
    arrays = [pa.array(columns[f.name], type=f.type) for f in SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def write_scores(settings: Settings, scores: pd.DataFrame, run_id: str, cutoff: date) -> list[str]:
    """Write one scoring run to the lake's warehouse zone; returns the URIs written (Parquet, manifest, run record).

    Grain: one row per customer (key ``customer_id``) for ``cutoff``; columns and types of ``fact_customer_scores``
    (:data:`SCHEMA`, checked by :func:`scores_table`, which raises :class:`ServingError`). Layout in the module
    docstring: the Parquet file (ZSTD), then the Redshift COPY manifest
    (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html: ``url``, ``mandatory``,
    ``meta.content_length``, which COPY of Parquet requires), then the run record (``run_id``, ``cutoff_date``,
    ``rows``, ``manifest``): the loader sees the run only once all three exist. Works for local and ``s3://`` lakes
    (:class:`~lakehouse.core.lake.storage.LakeStorage`). Writing the same run again rewrites the same objects.
    """
    table = scores_table(scores, run_id, cutoff)
    storage = LakeStorage(settings.lake, region=settings.region)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    body = sink.getvalue().to_pybytes()
    data_key = f"{run_folder(cutoff, run_id)}/part-00000.parquet"
    data_uri = storage.put_bytes(data_key, body)
    url = data_uri if storage.layout.is_s3 else storage.layout.key(data_key)
    manifest = {"entries": [{"url": url, "mandatory": True, "meta": {"content_length": len(body)}}]}
    manifest_key = f"{SCORE_MANIFESTS}/{run_id}.json"
    manifest_uri = storage.put_bytes(manifest_key, json.dumps(manifest, indent=1).encode(),
                                     content_type="application/json")
    record = {"run_id": run_id, "cutoff_date": cutoff.isoformat(), "rows": table.num_rows, "manifest": manifest_key,
              "files": [data_key]}
    record_uri = storage.put_bytes(f"{SCORE_RUNS}/{run_id}.json", json.dumps(record, indent=1).encode(),
                                   content_type="application/json")
    return [data_uri, manifest_uri, record_uri]


# --- DynamoDB -------------------------------------------------------------------------------------------------------
SCORES = "scores"
GET_CHUNK = 100  # BatchGetItem keys per call (the API's limit)
ROUNDS = 8  # attempts for throttled calls and unprocessed keys before giving up
_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                        "InternalServerError", "TransactionConflictException"})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class LiveScoresReport:
    """The outcome of :func:`write_live_scores` (counts of customers; ``seconds`` wall clock).

    ``written``: items whose ``scores`` were set by this call; ``unchanged``: items that already held this run's
    scores; ``kept_newer``: items holding a newer cutoff's (or a newer run's) scores, left as they were.
    """

    table: str
    run_id: str
    written: int = 0
    unchanged: int = 0
    kept_newer: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)


class LiveScoresError(RuntimeError):
    """DynamoDB refused a score read or write for another reason than its condition, or could not be reached (the
    message names the table, the customer or how many writes were done)."""


def scores_map(row: dict[str, Any], run_id: str, cutoff: date) -> dict[str, Any]:
    """The item's ``scores`` map for one row of :func:`scores_table`: run_id, cutoff (YYYY-MM-DD), churn_probability,
    purchase_probability (Decimal, as DynamoDB numbers are), predicted_clv (Decimal, cents), reporting_currency,
    risk_band, reasons (the non-empty ones of reason_1..3, in order), scored_at (ISO 8601 UTC 'Z') and the three
    model versions; churn_probability and risk_band are left out for a customer without one (no order yet)."""
    scored_at = row["scored_at"]
    churn = row["churn_probability"]
    value = {
        "run_id": run_id,
        "cutoff": cutoff.isoformat(),
        "churn_probability": None if churn is None or churn != churn else Decimal(repr(float(churn))),
        "purchase_probability": Decimal(repr(float(row["purchase_probability"]))),
        "predicted_clv": row["predicted_clv"],
        "reporting_currency": row["reporting_currency"],
        "risk_band": row["risk_band"],
        "reasons": [r for r in (row["reason_1"], row["reason_2"], row["reason_3"]) if r],
        "scored_at": scored_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "churn_model_version": row["churn_model_version"],
        "propensity_model_version": row["propensity_model_version"],
        "clv_model_version": row["clv_model_version"],
    }
    if churn is None or churn != churn:
        del value["churn_probability"], value["risk_band"]
    return value


def _newer_or_same(stored: dict[str, Any] | None, run_id: str, cutoff: str) -> str | None:
    """``'same'`` when ``stored`` scores are this run's, ``'newer'`` when a later cutoff's or a later run's of this
    cutoff, None when this run's scores should replace them (or there are none)."""
    if not stored or "cutoff" not in stored:
        return None
    key, mine = (stored["cutoff"], stored.get("run_id", "")), (cutoff, run_id)
    return "same" if key == mine else "newer" if key > mine else None


def _throttled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _THROTTLED


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))


def _stored_scores(dynamodb, table: str, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """customer_id -> its stored ``scores`` run/cutoff, for the ids that have an item; BatchGetItem, consistent
    reads, 100 keys per call, unprocessed keys retried."""
    found: dict[str, dict[str, Any] | None] = {}
    for start in range(0, len(ids), GET_CHUNK):
        request: dict[str, Any] = {
            "Keys": [{"customer_id": {"S": c}} for c in ids[start:start + GET_CHUNK]], "ConsistentRead": True,
            "ProjectionExpression": "customer_id, #s.#run, #s.#cut",
            "ExpressionAttributeNames": {"#s": SCORES, "#run": "run_id", "#cut": "cutoff"}}
        for attempt in range(ROUNDS):
            try:
                answer = dynamodb.batch_get_item(RequestItems={table: request})
            except BotoCoreError as exc:
                raise LiveScoresError(f"reading {table}: DynamoDB could not be reached ({exc})") from None
            except ClientError as exc:
                if not _throttled(exc) or attempt == ROUNDS - 1:
                    raise LiveScoresError(f"reading {table}: {exc}") from None
                _backoff(attempt)
                continue
            for raw in answer.get("Responses", {}).get(table, []):
                item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
                found[item["customer_id"]] = item.get(SCORES)
            pending = answer.get("UnprocessedKeys", {}).get(table)
            if not pending or not pending.get("Keys"):
                break
            request = {**request, "Keys": pending["Keys"]}
            _backoff(attempt)
        else:
            raise LiveScoresError(f"BatchGetItem on {table} left keys unprocessed after {ROUNDS} rounds")
    return found


#: "no stored scores, or stored scores not newer than (cutoff, run_id)"
CONDITION = ("attribute_not_exists(#scores) OR #scores.#cutoff < :cutoff "
             "OR (#scores.#cutoff = :cutoff AND #scores.#run_id <= :run_id)")


def _put_scores(dynamodb, table: str, customer_id: str, value: dict[str, Any]) -> str:
    """One conditional UpdateItem ``SET scores``; returns 'written' or 'kept_newer'."""
    request = {
        "TableName": table, "Key": {"customer_id": {"S": customer_id}},
        "UpdateExpression": "SET #scores = :scores", "ConditionExpression": CONDITION,
        "ExpressionAttributeNames": {"#scores": SCORES, "#cutoff": "cutoff", "#run_id": "run_id"},
        "ExpressionAttributeValues": {":scores": _serializer.serialize(value), ":cutoff": {"S": value["cutoff"]},
                                      ":run_id": {"S": value["run_id"]}}}
    for attempt in range(ROUNDS):
        try:
            dynamodb.update_item(**request)
            return "written"
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return "kept_newer"
            if not _throttled(exc) or attempt == ROUNDS - 1:
                raise LiveScoresError(f"writing the scores of customer {customer_id} to {table}: {exc}") from None
            _backoff(attempt)
    raise AssertionError("unreachable")


def write_live_scores(settings: Settings, scores: pd.DataFrame, run_id: str, *, cutoff: date | None = None,
                      threads: int = 8) -> LiveScoresReport:
    """Put one scoring run's scores in the scores table (``settings.names.scores_table``, key ``customer_id``).

    ``scores``: the score frame of :func:`write_scores` (one row per customer, one ``cutoff_date``; ``cutoff``
    defaults to it). Sets the item attribute ``scores`` (:func:`scores_map`) of every scored customer under the
    condition of the module docstring: a rerun leaves the same item, a newer cutoff's scores (or a later run's of
    the same cutoff) are kept. Reads are batched (BatchGetItem, 100 keys); the writes are conditional UpdateItems on
    ``threads`` threads. Throttling is retried with jittered exponential backoff; any other refusal, or DynamoDB
    unreachable (botocore's connection and timeout errors), raises :class:`LiveScoresError` saying how many writes
    were done (the others are not started; a rerun finishes them); a bad frame raises :class:`ServingError`.
    """
    started = time.monotonic()
    if cutoff is None:
        days = pd.to_datetime(scores["cutoff_date"]).dt.date.unique()
        if len(days) != 1:
            raise ServingError(f"scores.cutoff_date: expected one cutoff, found {sorted(days)[:5]}")
        cutoff = days[0]
    rows = scores_table(scores, run_id, cutoff).to_pylist()
    table = settings.names.scores_table
    report = LiveScoresReport(table=table, run_id=run_id)
    dynamodb = aws_client("dynamodb", region=settings.region)
    stored = _stored_scores(dynamodb, table, [r["customer_id"] for r in rows])
    pending = []
    for row in rows:
        cid = row["customer_id"]
        state = _newer_or_same(stored.get(cid), run_id, cutoff.isoformat())
        if state == "same":
            report.unchanged += 1
        elif state == "newer":
            report.kept_newer += 1
        else:
            pending.append((cid, scores_map(row, run_id, cutoff)))
    outcomes: list[str] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(_put_scores, dynamodb, table, cid, value) for cid, value in pending]
        try:
            outcomes.extend(future.result() for future in as_completed(futures))
        except (BotoCoreError, LiveScoresError) as exc:
            for future in futures:
                future.cancel()
            raise LiveScoresError(
                f"{table}: {len(outcomes):,} of {len(pending):,} score writes of run {run_id} done when this one "
                f"failed: {exc}; score again once DynamoDB is reachable (a rerun of this run writes only the missing "
                f"items)") from None
    report.written = outcomes.count("written")
    report.kept_newer += outcomes.count("kept_newer")
    report.seconds = time.monotonic() - started
    return report


def read_live_scores(settings: Settings, customer_id: str) -> dict[str, Any] | None:
    """The customer's stored ``scores`` map (:func:`scores_map`'s keys, numbers as ``Decimal``), or None when the
    customer has no scores; one consistent GetItem on ``settings.names.scores_table``."""
    answer = aws_client("dynamodb", region=settings.region).get_item(
        TableName=settings.names.scores_table, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True)
    stored = answer.get("Item", {}).get(SCORES)
    return None if stored is None else _deserializer.deserialize(stored)
