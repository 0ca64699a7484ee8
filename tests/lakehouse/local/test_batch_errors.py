"""`lakehouse batch` ends with one readable error line for any failure, never a JVM stack trace (issue 12, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.core.config import Settings
from lakehouse.local.batch import BatchStepFailed, one_line
from lakehouse.local.cli.main import app
from lakehouse.local.sample_data import land_lines
from tests.glue_jobs.curated.cases import PAGE_RECORD, line


def test_a_spark_failure_ends_as_one_readable_line(spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A curated Parquet file that is not Parquet (a disk error, a hand edit) makes Spark fail inside the curated
    step. Seen failing before the fix: the command exited 1 with Python's traceback ending in Py4J's text — the
    whole JVM stack trace (``at org.apache.spark...`` frames)."""
    home = tmp_path / "home"
    settings = Settings(home=home)
    land_lines(settings, [line(PAGE_RECORD)], source="web", received_at=datetime(2025, 6, 2, 9, 31, tzinfo=UTC))
    broken = Path(settings.lake.key("curated", "events", "event_date=2025-06-02", "part-00000.parquet"))
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet at all")
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "300")

    result = CliRunner().invoke(app, ["batch", "--step", "curated", "--no-catalog"])

    assert result.exit_code == 2, result.output
    assert "\tat " not in result.output and "at org.apache" not in result.output
    output = result.output.strip()
    error = output[output.index("error: the curated step failed:"):]  # after the progress bars
    assert len(error.splitlines()) <= 4  # the one line, as rich wraps it
    text = " ".join(error.split())
    assert text.endswith("(or the whole chain) again") and "lakehouse batch --step curated" in text, text
    assert "is not a Parquet file" in text, text  # the root cause, named


def test_one_line_keeps_the_message_and_the_root_cause_of_a_java_error(spark, tmp_path: Path) -> None:
    """The deepest ``Caused by:`` of a real Py4J error survives, its frames do not."""
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00")  # a gzip header and nothing else
    with pytest.raises(Exception) as caught:  # whatever Spark raises
        spark.read.text(str(path)).collect()
    text = one_line(caught.value)
    assert "\n" not in text and " at org." not in text and len(text) <= 400
    assert "EOFException" in text or "Unexpected end" in text, text
    assert str(BatchStepFailed("star", text)).startswith("the star step failed: ")


def test_a_long_path_does_not_push_the_root_cause_past_the_clip() -> None:
    """A file's path is cut to its last folders, so what is wrong with the file stays in the line. Seen failing
    before the cut: under pytest-xdist the test folder's path is 10 characters longer, and the Spark failure test
    above lost "is not a Parquet file" to the clip."""
    prefix = "file:/tmp/" + "/".join(f"folder-{i:02d}-of-a-long-temporary-path" for i in range(8))
    cause = f"java.lang.RuntimeException: {prefix}/curated/events/event_date=2025-06-02/part-00000.parquet is not a " \
            "Parquet file. Expected magic number at tail, but found [116, 32, 97, 108]"
    text = one_line(RuntimeError(f"An error occurred while calling o1.parquet.\n: boom\nCaused by: {cause}\n\tat x"))
    assert "…/curated/events/event_date=2025-06-02/part-00000.parquet is not a Parquet file" in text, text
    assert "folder-00" not in text and len(text) <= 400
    short = one_line(RuntimeError("cannot read s3://bucket/raw/web/a.gz"))
    assert short == "RuntimeError: cannot read s3://bucket/raw/web/a.gz"  # a short path stays whole
