"""raw_to_curated as AWS Glue runs it: Glue's argv, ``awsglue`` (the stand-in, tests/glue/stand_in) and job bookmarks.

Runs in both test environments; in `make test-glue` on Glue 5.0's Spark 3.5.4. The bookmarked source is Glue's CSV
reader over the raw zone (glue_jobs/raw_to_curated.py: bookmarked_raw_lines); the oracle for what it curates is the
other input path, the manifest of committed runs, run on a copy of the same raw objects.
"""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from glue_jobs import raw_to_curated
from glue_jobs.curated import job as curated_job
from glue_jobs.curated.tables import ALL_TABLES
from lakehouse.core.config import Settings
from lakehouse.core.contract import ContractError, parse_event, parse_iso
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.job_state import run_records
from lakehouse.core.lake.raw import land_objects
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.lake.tables import read_arrow
from lakehouse.local.sample_data import Arrival, land_calls, land_lines
from tests.glue.runtime import glue_argv, glue_stand_in
from tests.lake_fixtures import MALFORMED_LINES

JOB_NAME = "customer-lakehouse-test-raw-to-curated"


KINDS = ("identify", "page", "Product Viewed", "Order Completed", "Ticket Opened")  # 7 of the 12 curated tables


def compact_calls(days: int = 3, customers: int = 3, kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """One call of each kind per customer and day, over a few days, from the contract's examples.

    Few dates and tables on purpose: a raw_to_curated run rewrites every partition it touches, table by table,
    so dates and tables, not rows, set its cost.
    """
    start, calls = datetime(2025, 6, 1, tzinfo=UTC), []
    templates = example_calls()
    for day in range(days):
        for customer in range(customers):
            for index, template in enumerate(templates[kind] for kind in kinds):
                call = copy.deepcopy(template)
                when = start + timedelta(days=day, hours=7 + index, minutes=customer)
                call.pop("sentAt", None)
                call.update(userId=f"g-{customer}", messageId=f"glue-{day}-{customer}-{index}",
                            timestamp=when.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
                if "order_id" in call.get("properties", {}):
                    call["properties"]["order_id"] = f"o-{day}-{customer}-{index}"
                calls.append(call)
    return sorted(calls, key=lambda c: c["timestamp"])


def refused(lines: list[str]) -> list[str]:
    """The lines the contract (``parse_event``, the oracle) refuses: not a JSON object, or an invalid call (an Order
    Completed with ``products: []`` is valid since the e-commerce spec v2 made products optional)."""
    out = []
    for line in lines:
        try:
            parse_event(json.loads(line))
        except (ValueError, ContractError):  # ContractError is a ValueError too
            out.append(line)
    return out


def lake_settings(home: Path, stage: str) -> Settings:
    return Settings(stage=stage, home=home)


def read_keys(glue: Any, settings: Settings) -> list[set[str]]:
    """The lake-relative keys each bookmarked read of the stand-in returned, read by read."""
    root = f"file://{settings.lake.key('')}".rstrip("/") + "/"
    reads = glue.called("create_dynamic_frame.from_options")
    return [{uri.removeprefix(root) for uri in call["read"]} for call in reads]


def raw_keys(settings: Settings) -> set[str]:
    """The raw objects (not the landing log's records under raw/_landed/)."""
    return {o.key for o in LakeStorage(settings.lake).list("raw") if o.key.endswith(".jsonl.gz")}


def copy_raw(source: Settings, target: Settings, keys: set[str]) -> None:
    """The same raw objects (same keys, same bytes) in another lake, with a landing-log record naming them."""
    for key in keys:
        destination = Path(target.lake.key(key))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.lake.key(key), destination)
    land_objects(LakeStorage(target.lake), sorted(keys), "copy")


def curated_rows(settings: Settings) -> dict[str, list[tuple]]:
    """Every curated table's rows (partition column included), sorted: read with pyarrow, not Spark."""
    tables = {}
    for table in ALL_TABLES:
        data = read_arrow(LakeStorage(settings.lake), settings.lake.curated_table(table)).to_pylist()
        tables[table] = sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in data)
    return tables


def glue_run(settings: Settings, monkeypatch: pytest.MonkeyPatch, bookmark: str = "enable") -> dict[str, Any]:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    return raw_to_curated.main(glue_argv("raw_to_curated.py", JOB_NAME, "--lake_root", str(settings.lake.key("")),
                                         "--stage", settings.stage, "--region", "us-east-1", "--catalog", "false",
                                         bookmark=bookmark))


def local_run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    return raw_to_curated.main(["raw_to_curated.py", "--lake_root", str(settings.lake.key("")),
                                "--stage", settings.stage])


def test_bookmarks_read_each_raw_object_once_and_curate_what_the_manifest_path_curates(
        spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """First run: every raw object; the next, only the objects landed since; a run that fails before
    ``job.commit()`` (after writing two tables) leaves the bookmark alone and its objects are read again whole; the
    curated tables then equal those the manifest path builds from the same raw objects in one run. (Validation in
    ``python`` mode: ~5 s a run instead of ~12; the Spark rules are tested in tests/glue_jobs/curated/test_rules.py.)

    Seen failing: with ``job.commit()`` also called in the failed run (the bookmark advanced by it), the "no
    commit" check failed and, that check removed, the rerun read nothing; with the stand-in's bookmark filter off
    (every run reads every object), the second run read the first batch's objects again.
    """
    monkeypatch.setenv("LAKEHOUSE_BATCH__VALIDATION", "python")  # the input path is under test, not the rules
    stage = "tglue" + uuid.uuid4().hex[:6]
    glue_lake, manifest_lake = lake_settings(tmp_path / "glue", stage), lake_settings(tmp_path / "manifest", stage)
    calls = compact_calls()
    first = [c for c in calls if c["timestamp"] < "2025-06-02T12"]
    second = [c for c in calls if c["timestamp"] >= "2025-06-02T12"]  # touches a day the first batch touched

    land_calls(glue_lake, first, arrival=Arrival(hours_per_object=6))
    batch_one = raw_keys(glue_lake)
    with glue_stand_in(tmp_path / "glue-service") as glue:
        report = glue_run(glue_lake, monkeypatch)
        assert read_keys(glue, glue_lake) == [batch_one]
        (init,) = glue.called("Job.init")
        assert init["job_name"] == JOB_NAME and init["args"]["job_bookmark_option"] == "job-bookmark-enable"
        assert len(glue.called("Job.commit")) == 1
    assert "ignored job arguments" not in capsys.readouterr().err  # Glue's own parameters are all recognised
    assert report["raw_objects"] == len(batch_one) and report["new_events"] == len(first)

    land_calls(glue_lake, second, arrival=Arrival(hours_per_object=6))
    land_calls(glue_lake, [first[3]], arrival=Arrival(delay_seconds=7_200))  # a client retry of an earlier call
    land_lines(glue_lake, MALFORMED_LINES, source="legacy-crm", received_at=parse_iso(second[0]["timestamp"]))
    batch_two = raw_keys(glue_lake) - batch_one

    real_merge, merged = curated_job.merge_partitions, []

    def crash_on_third_table(*args: Any, **kwargs: Any) -> Any:
        merged.append(args[2])
        if len(merged) == 3:
            raise RuntimeError("injected crash after two tables")
        return real_merge(*args, **kwargs)

    bookmarks = tmp_path / "glue-service" / "bookmarks" / f"{JOB_NAME}.json"
    committed = bookmarks.read_text()
    with glue_stand_in(tmp_path / "glue-service") as glue:
        monkeypatch.setattr(curated_job, "merge_partitions", crash_on_third_table)
        with pytest.raises(RuntimeError, match="injected crash"):
            glue_run(glue_lake, monkeypatch)
        monkeypatch.setattr(curated_job, "merge_partitions", real_merge)
        assert read_keys(glue, glue_lake) == [batch_two]  # only what landed since the last commit
        assert not glue.called("Job.commit")
    assert bookmarks.read_text() == committed  # the failed run did not move the bookmark

    with glue_stand_in(tmp_path / "glue-service") as glue:
        report = glue_run(glue_lake, monkeypatch)
        assert read_keys(glue, glue_lake) == [batch_two]  # the failed run's objects, again
        assert len(glue.called("Job.commit")) == 1
    assert report["raw_objects"] == len(batch_two) and report["rejected"] == len(refused(MALFORMED_LINES))
    valid_legacy = len(MALFORMED_LINES) - len(refused(MALFORMED_LINES))  # the legacy writer's valid lines
    assert report["new_events"] == len(second) + valid_legacy and report["duplicates_of_earlier_runs"] == 1

    with glue_stand_in(tmp_path / "glue-service") as glue:
        assert glue_run(glue_lake, monkeypatch)["skipped"] == "no new raw objects"
        assert read_keys(glue, glue_lake) == [set()]
        assert len(glue.called("Job.commit")) == 1

    recorded = [set(r["raw_objects"]) for r in run_records(LakeStorage(glue_lake.lake))]
    assert recorded == [batch_one, batch_two]  # one run record per committed run, as on the manifest path
    copy_raw(glue_lake, manifest_lake, batch_one | batch_two)
    assert local_run(manifest_lake, monkeypatch)["raw_objects"] == len(batch_one | batch_two)
    glue_tables, manifest_tables = curated_rows(glue_lake), curated_rows(manifest_lake)
    assert glue_tables["events"] and glue_tables["sessions"] and glue_tables["orders"]
    for table in ALL_TABLES:
        assert glue_tables[table] == manifest_tables[table], table


def test_the_bookmarked_source_reads_raw_objects_on_s3(spark, moto_endpoint: str, tmp_path: Path) -> None:
    """Glue's source over an S3 raw zone below a key prefix: every line, named by its lake-relative key; after a
    commit, only objects landed since.

    Seen failing: with ``raw_object_of`` anchored at the start of the path (the lake prefix not stripped), every
    ``raw_object`` came back empty.
    """
    import boto3

    bucket = "glue-raw-" + uuid.uuid4().hex[:8]
    boto3.client("s3").create_bucket(Bucket=bucket)
    settings = Settings(stage="tglue", home=tmp_path / "home", lake_root=f"s3://{bucket}/lakes/prod")
    calls = compact_calls()
    land_calls(settings, calls[:15], arrival=Arrival(hours_per_object=6))
    storage = LakeStorage(settings.lake)

    def expected(keys: set[str]) -> list[tuple[str, str]]:
        return sorted((key, line) for key in keys
                      for line in gzip.decompress(storage.get_bytes(key)).decode().splitlines() if line)

    with glue_stand_in(tmp_path / "glue-service"):
        from awsglue.context import GlueContext
        from awsglue.job import Job

        first_keys = {o.key for o in storage.list("raw") if o.key.endswith(".jsonl.gz")}
        context = GlueContext(spark.sparkContext)
        job = Job(context)
        job.init("s3-job", {"job_bookmark_option": "job-bookmark-enable"})
        lines = raw_to_curated.bookmarked_raw_lines(context, settings.lake.uri("raw"))
        assert sorted((r["raw_object"], r["value"]) for r in lines.collect()) == expected(first_keys)
        job.commit()

        land_calls(settings, calls[30:40], arrival=Arrival(hours_per_object=6))
        new_keys = {o.key for o in storage.list("raw") if o.key.endswith(".jsonl.gz")} - first_keys
        job = Job(context)
        job.init("s3-job", {"job_bookmark_option": "job-bookmark-enable"})
        lines = raw_to_curated.bookmarked_raw_lines(context, settings.lake.uri("raw"))
        assert new_keys and sorted((r["raw_object"], r["value"]) for r in lines.collect()) == expected(new_keys)
