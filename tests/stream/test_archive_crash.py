"""No accepted event lost or duplicated while the raw archive is down, killed mid-batch and restarted.

Events go through the real API path (the local API Gateway stand-in, the real handler, Kinesis on the session's
moto server); the archive runs in child processes (archive_runner.py, their own Spark) that SIGKILL themselves
at chosen points of a micro-batch, then once more to the end. The raw zone must hold every line Kinesis accepted
exactly once, every object must be named by a landing-log record, and the curated zone must equal what the
pipeline built before the raw archive existed: the same lines written the old way (one object per request, keyed
by its ``received_at``) and curated by the same job.

Seen failing without the protection (each run on a copy of the branch with one change):
- object names random (``uuid4().hex`` in place of ``archive_object_name(run, batch, part)`` in
  ``stream/archive.py`` ``partition_writer``): the crashed attempts' objects of micro-batches 1 and 3 stayed next
  to their replays', and the raw zone held 300 of the 810 accepted lines twice (the ``Counter`` assertion after the
  final run: "Omitting 510 identical items", e.g. ``arch-707`` counted 2);
- the run id not kept in the checkpoint (a fresh ``uuid4().hex[:16]`` per start in place of ``identity.run`` in
  ``run_archive``): the replays of micro-batches 1 and 3 wrote under new names, the same 300 lines twice.
The other order — a landing-log record written before its objects — cannot be built here without guessing the
part names before writing, so it was not tried; the mid-crash batch run checks its consequence instead (the batch
takes only objects a record names, and the record of micro-batch 1 is missing while its objects exist).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psutil

from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.tables import ALL_TABLES
from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.contract import parse_iso
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.raw import decode_lines, encode_json_lines, land_objects, landing_logs, raw_object_key
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.gateway import LocalGateway
from lakehouse.local.replay import post_files

from .conftest import make_call

RUNNER = Path(__file__).with_name("archive_runner.py")
PER_BATCH = 150  # records per archive micro-batch (LAKEHOUSE_ARCHIVE__MAX_RECORDS_PER_TRIGGER)


class Runner:
    """archive_runner.py in a child process; its descendants (the JVM) reaped before the next run."""

    def __init__(self, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen([sys.executable, str(RUNNER), *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.children: dict[int, psutil.Process] = {}
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or []), daemon=True)
        self._reader.start()

    def wait(self, timeout: float = 300) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            try:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    self.children.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("the archive did not finish in time:\n" + "".join(self.lines[-30:]))
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        alive = list(self.children.values())
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.1)
        for child in alive:
            child.kill()
        self._reader.join(10)
        return self.proc.returncode


def runner_env(settings: Settings, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_STAGE": settings.stage,
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "LAKEHOUSE_ARCHIVE__MAX_RECORDS_PER_TRIGGER": str(PER_BATCH),
                "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])})
    return env


def write_calls(path: Path, first: int, count: int, rng: random.Random) -> list[dict]:
    """``count`` calls (views, carts, orders, pages, identifies) by 40 customers over the last two days."""
    now = datetime.now(UTC)
    calls = []
    for n in range(first, first + count):
        kind = rng.choice(("Product Viewed", "Product Added", "Order Completed", "page", "identify"))
        at = now - timedelta(minutes=rng.randrange(1, 2 * 24 * 60))
        total = Decimal(rng.randrange(500, 40_000)) / 100 if kind == "Order Completed" else None
        calls.append(make_call(kind, f"c{n % 40:03d}", at, f"arch-{n}", rng, total=total))
    path.write_text("".join(json.dumps(c, default=str) + "\n" for c in calls))
    return calls


def stream_lines(settings: Settings) -> list[bytes]:
    """The data of every record on the stream (all shards, from the start): what the API acknowledged."""
    kinesis = aws_client("kinesis", region=settings.region)
    found = []
    shards = [shard for page in kinesis.get_paginator("list_shards").paginate(StreamName=settings.names.stream)
              for shard in page["Shards"]]  # ListShards pages at 1,000 shards
    for shard in shards:
        iterator = kinesis.get_shard_iterator(StreamName=settings.names.stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found += [r["Data"] for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def raw_zone(settings: Settings) -> dict[str, list[bytes]]:
    storage = LakeStorage(settings.lake)
    return {o.key: [line.encode() for line in decode_lines(storage.get_bytes(o.key))]
            for o in storage.list("raw") if o.key.endswith(".jsonl.gz")}


def curated_zone(settings: Settings) -> dict[str, list[tuple]]:
    """Every curated table's rows without ``raw_object`` (which names the object, old or new), sorted."""
    storage = LakeStorage(settings.lake)
    tables = {}
    for name in ALL_TABLES:
        table = lake_tables.read_arrow(storage, settings.lake.curated_table(name))
        rows = [tuple(sorted((k, repr(v)) for k, v in row.items() if k != "raw_object")) for row in table.to_pylist()]
        tables[name] = sorted(rows)
    return tables


def the_old_way(lines: list[bytes], settings: Settings) -> None:
    """The raw zone as the ingest function wrote it before the archive: one object per request (a request's records
    share their ``received_at``), under ``raw/source=/dt=/hour=`` of that arrival time."""
    storage = LakeStorage(settings.lake)
    requests: dict[tuple[str, str], list[bytes]] = {}
    for line in lines:
        record = json.loads(line)
        requests.setdefault((record["source"], record["received_at"]), []).append(line)
    keys = []
    for (source, received_at), group in sorted(requests.items()):
        key = raw_object_key(source, parse_iso(received_at))
        storage.put_bytes(key, encode_json_lines(group), content_type="application/gzip")
        keys.append(key)
    land_objects(storage, keys, "old-ingest-function")


def test_events_accepted_while_the_archive_is_down_land_exactly_once_through_kills_and_restarts(
        spark, moto_endpoint: str, aws_settings: Settings, tmp_path: Path) -> None:
    settings = aws_settings
    rng = random.Random(5)
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("web").key
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    calls = write_calls(first, 0, 400, rng) + write_calls(second, 400, 380, rng)
    retry = tmp_path / "retry.jsonl"  # a client's retry of 30 calls: same messageIds, accepted again
    retry.write_text("".join(json.dumps(c, default=str) + "\n" for c in calls[100:130]))
    with LocalGateway(settings) as gateway:  # the archive is not running: Kinesis holds what is acknowledged
        posted = [post_files([path], gateway.url, key) for path in (first, second, retry)]
    assert [p.accepted for p in posted] == [400, 380, 30] and all(p.ok for p in posted)
    accepted = stream_lines(settings)
    assert len(accepted) == 810 and raw_zone(settings) == {}

    env = runner_env(settings, moto_endpoint)
    killed = Runner(env, "--fault", "after-objects@1")  # objects of micro-batch 1 written; no landing log, no commit
    assert killed.wait() == -signal.SIGKILL, "".join(killed.lines[-30:])
    [log] = landing_logs(LakeStorage(settings.lake))  # micro-batch 0's
    unlogged = set(raw_zone(settings)) - {o.key for o in log.objects}
    assert unlogged  # micro-batch 1's objects exist, named by no record

    mid = run_raw_to_curated(spark, settings)  # a batch run between the crash and the restart
    assert mid.raw_objects == len(log.objects)  # only what a landing log names
    assert mid.records_read == sum(o.records for o in log.objects) == PER_BATCH

    killed = Runner(env, "--fault", "after-landing-log@3")  # replays 1, runs 2, dies after 3's log, before commit
    assert killed.wait() == -signal.SIGKILL, "".join(killed.lines[-30:])
    finished = Runner(env)
    assert finished.wait() == 0, "".join(finished.lines[-30:])
    assert "batch 3:" in "".join(finished.lines)  # the uncommitted micro-batch 3 was replayed

    objects = raw_zone(settings)
    assert Counter(line for lines in objects.values() for line in lines) == Counter(accepted)  # each exactly once
    logs = landing_logs(LakeStorage(settings.lake))
    assert set(objects) == {o.key for log in logs for o in log.objects}  # every object named by a record

    run_raw_to_curated(spark, settings)
    before = Settings(stage=settings.stage, home=tmp_path / "before-the-archive")
    the_old_way(accepted, before)
    run_raw_to_curated(spark, before)
    assert curated_zone(settings) == curated_zone(before)
