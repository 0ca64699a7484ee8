"""The Glue streaming entry script: Glue's unparsed Kinesis rows feed the same keyed-state query as locally, exactly
once across failed micro-batches and Glue's restarts.

Every test here runs in both test environments; in `make test-glue` on Glue 5.0's Spark 3.5.4. Nothing here can run
Glue's Kinesis reader: a file source of rows shaped like its unparsed output (``data`` bytes,
``approximateArrivalTimestamp``) stands in for it (``glue_job.kinesis_records``), the rest is the job's own code.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.core.config import Settings
from lakehouse.core.job_args import JobArgumentsError
from stream import glue_job
from stream.rfm import DEFAULT_BREAKPOINTS
from stream.stateful import MicroBatchWriter, forward_prefix
from tests.glue.runtime import glue_argv, glue_stand_in

from .conftest import actual_features, assert_features_match, oracle_features, scenario, stored_items

GLUE_ROWS = "data STRING, approximateArrivalTimestamp TIMESTAMP"


def land(folder: Path, name: str, payloads: list[bytes], arrival: datetime) -> None:
    """One file of Glue-shaped rows (the record's bytes base64-encoded for JSON, its arrival on the stream)."""
    lines = [json.dumps({"data": base64.b64encode(p).decode(), "approximateArrivalTimestamp": arrival.isoformat()})
             for p in payloads]
    (folder / f".{name}.tmp").write_text("\n".join(lines) + "\n")
    (folder / f".{name}.tmp").rename(folder / name)  # whole files only, as the file source wants them


def run_until_idle(query_name: str, spark, main, forward_dir: Path, timeout: float = 240.0) -> BaseException | None:
    """Run ``main`` in a thread until its query ``query_name`` has processed every file and forward object there
    is, then stop the query (``main`` returns); the error ``main`` raised, if any."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            main()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    query = None
    while query is None and thread.is_alive() and time.monotonic() < deadline:
        query = next((q for q in spark.streams.active if q.name == query_name), None)
        time.sleep(0.2)
    try:
        seen = -1
        while query is not None and query.isActive and time.monotonic() < deadline:
            query.processAllAvailable()  # raises when the query failed
            forwards = len(list(forward_dir.glob("*.jsonl"))) if forward_dir.is_dir() else 0
            if forwards == seen:
                break
            seen = forwards  # a micro-batch forwarded records: the next one reads them
    except Exception:  # the query failed: main raises its error
        pass
    finally:
        if query is not None:
            query.stop()
        thread.join(timeout=60)
    assert not thread.is_alive(), "the Glue job did not end when its query stopped"
    return errors[0] if errors else None


def test_the_glue_job_runs_the_keyed_state_query_exactly_once_across_restarts(
        spark, aws_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``stream/glue_job.py`` under the ``awsglue`` stand-in with Glue's argv: the feature query reads the records,
    a micro-batch fails after its item writes (the job run fails), the restarted job replays it from the checkpoint
    under the same run, more records arrive, and the DynamoDB features equal the independent DuckDB computation
    (duplicates across files, late, bad and identity-linked records included).

    Seen failing with the checkpoint's run id forgotten across restarts (``checkpoint_identity`` given a fresh
    folder in ``start_features``): each start forwarded through a folder of its own (three runs where the
    checkpoint has one), so a forward written before a restart would never be read.
    """
    monkeypatch.setenv("LAKEHOUSE_HOME", str(aws_settings.home))
    data = scenario(seed=33, customers=20, events=240)
    source = tmp_path / "kinesis"
    source.mkdir()
    arrival = datetime.now(UTC) - timedelta(seconds=5)
    half = len(data.payloads) // 2
    land(source, "part-0.json", data.payloads[:half], arrival)
    checkpoint = aws_settings.lake.path("checkpoints", aws_settings.names.streaming_job)
    arn = f"arn:aws:kinesis:{aws_settings.region}:123456789012:stream/{aws_settings.names.stream}"
    argv = glue_argv("glue_job.py", "customer-lakehouse-test-stream", "--project", aws_settings.project,
                     "--stage", aws_settings.stage, "--region", aws_settings.region,
                     "--lake_root", aws_settings.lake.root_uri, "--stream_arn", arn,
                     "--checkpoint_location", checkpoint, "--kinesis_shards", "2",
                     "--stream_trigger_seconds", "0.5", "--stream_max_records_per_trigger", "1000",
                     "--stream_starting_position", "TRIM_HORIZON", "--stream_state_partitions", "3")
    options_seen: list[dict[str, str]] = []

    def file_source(spark_session, options: dict[str, str]):
        options_seen.append(options)
        return (spark_session.readStream.schema(GLUE_ROWS).option("maxFilesPerTrigger", 1).json(str(source))
                .selectExpr("unbase64(data) AS data", "approximateArrivalTimestamp"))

    failing = {"left": 1}

    def fault(_writer, step: str, batch_id: int) -> None:
        if step == "after-writes" and batch_id == 1 and failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("injected failure after-writes@1")

    monkeypatch.setattr(glue_job, "kinesis_records", file_source)
    monkeypatch.setattr(MicroBatchWriter, "_fault", fault)
    partitions_before = spark.conf.get("spark.sql.shuffle.partitions")
    with glue_stand_in(tmp_path / "glue-service"):
        land(source, "part-1.json", data.payloads[half:half + 20], arrival)
        error = run_until_idle(glue_job.FEATURE_QUERY, spark, lambda: glue_job.main(argv), Path(checkpoint))
        assert error is not None and "injected failure" in str(error)  # the job run failed
        assert not failing["left"]
        runs = [p.name for p in (Path(checkpoint) / "_forward").iterdir()]
        error = run_until_idle(glue_job.FEATURE_QUERY, spark, lambda: glue_job.main(argv),
                               Path(checkpoint) / "_forward" / runs[0])  # Glue restarts the job
        assert error is None
        land(source, "part-2.json", data.payloads[half + 20:], arrival)
        error = run_until_idle(glue_job.FEATURE_QUERY, spark, lambda: glue_job.main(argv),
                               Path(checkpoint) / "_forward" / runs[0])
        assert error is None
    spark.conf.set("spark.sql.shuffle.partitions", partitions_before)  # the job owns its session on Glue
    offsets = (Path(checkpoint) / "offsets" / "0").read_text().splitlines()
    assert json.loads(offsets[1])["conf"]["spark.sql.shuffle.partitions"] == "3"  # the keyed state's partitions
    assert runs == [p.name for p in (Path(checkpoint) / "_forward").iterdir()]  # one checkpoint run throughout
    assert Path(aws_settings.lake.path(forward_prefix(aws_settings.names.streaming_job, runs[0]), "_started")).exists()
    assert len(options_seen) == 3 and all(o["streamARN"] == arn for o in options_seen)
    assert len({o["startingPosition"] for o in options_seen}) == 1  # the checkpoint's start, pinned
    expected = oracle_features(data.records, DEFAULT_BREAKPOINTS)
    assert_features_match(expected, actual_features(stored_items(aws_settings)))


@pytest.mark.parametrize("seconds, window", [(0, "1 seconds"), (0.4, "1 seconds"), (1, "1 seconds"),
                                             (2.5, "3 seconds"), (60, "60 seconds")])
def test_glue_window_is_never_shorter_than_the_trigger(seconds: float, window: str) -> None:
    """Seen failing: with ``round()``, 2.5 s gave a 2-second window (micro-batches more often than configured)."""
    assert glue_job.window_size(seconds) == window


def test_bad_arguments_are_refused_before_glue_is_touched() -> None:
    """Off Glue (no awsglue here) a missing argument must still be a clear error, not an ImportError.

    Seen failing: with the awsglue imports first in main(), this raised ModuleNotFoundError: No module named 'awsglue'.
    """
    with pytest.raises(JobArgumentsError, match="needs --stream_arn and --checkpoint_location"):
        glue_job.main(["glue_job.py", "--stage", "dev"])


def test_the_raw_archive_micro_batch_on_a_frame_shaped_like_glues_kinesis_source(spark, settings: Settings) -> None:
    """``archive_batch`` (what ``start_raw_archive`` runs per micro-batch) on Spark 3.5 in `make test-glue`: rows of
    ``data`` (binary) and ``approximateArrivalTimestamp`` -> one object per (source, arrival hour), the lines as
    they came; a line without ``received_at`` lands by its arrival on the stream."""
    import gzip

    from lakehouse.core.lake.raw import landing_logs
    from lakehouse.core.lake.storage import LakeStorage
    from stream.archive import archive_batch

    lines = [json.dumps({"event_id": f"e{i}", "source": "web", "received_at": f"2025-06-01T0{i % 2}:10:00.000Z",
                         "text": "Zoë \u2028"}, ensure_ascii=False).encode() for i in range(6)]
    arrival = datetime(2025, 6, 1, 5, 0, tzinfo=UTC)
    rows = [(line, arrival) for line in [*lines, b"not json"]]
    frame = spark.createDataFrame(rows, "data binary, approximateArrivalTimestamp timestamp")
    storage = LakeStorage(settings.lake)
    batch = archive_batch(frame, 3, storage=storage, region=None, run="00000000000000aa", max_object_bytes=1 << 20,
                          partitions=2, arrival_column="approximateArrivalTimestamp")
    keys = sorted(o.key for o in batch.objects)
    assert keys == ["raw/source=unknown/dt=2025-06-01/hour=05/00000000000000aa-b0000000003-p0000.jsonl.gz",
                    "raw/source=web/dt=2025-06-01/hour=00/00000000000000aa-b0000000003-p0000.jsonl.gz",
                    "raw/source=web/dt=2025-06-01/hour=01/00000000000000aa-b0000000003-p0000.jsonl.gz"]
    stored = sorted(line for key in keys for line in gzip.decompress(storage.get_bytes(key)).split(b"\n") if line)
    assert stored == sorted([*lines, b"not json"])
    assert [log.key for log in landing_logs(storage)] == [batch.landing_log]


def test_source_options_for_glues_kinesis_reader() -> None:
    """Glue's pattern for a start time is yyyy-mm-ddTHH:MM:SS±hh:mm: a pinned start with microseconds (what
    ``datetime.isoformat()`` writes) is cut to the second."""
    options = glue_job.source_options("arn:aws:kinesis:eu-west-1:1:stream/s", "AT_TIMESTAMP",
                                              "2025-06-01T00:00:00.123456+00:00", 500)
    assert options == {"streamARN": "arn:aws:kinesis:eu-west-1:1:stream/s",
                       "startingPosition": "2025-06-01T00:00:00+00:00", "maxFetchRecordsPerShard": "500",
                       "emitConsumerLagMetrics": "true"}
    assert glue_job.source_options("arn", "TRIM_HORIZON", None, 10)["startingPosition"] == "TRIM_HORIZON"
    shifted = glue_job.source_options("arn", "AT_TIMESTAMP", "2025-06-01T02:00:00.5+02:00", 10)
    assert shifted["startingPosition"] == "2025-06-01T00:00:00+00:00"
