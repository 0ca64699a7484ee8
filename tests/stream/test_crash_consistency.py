"""Exactly once under SIGKILL: the streaming job killed mid-batch, again and again, then run to the end.

Each run is a separate process (crash_runner.py, its own Spark) against the session's moto server; the fault
points are a parameter of ``run_stream`` that only the runner passes. Runs die by SIGKILL at
chosen points of a micro-batch (before the item writes, after them, after the forward and quarantine objects but
before Spark commits) and at random moments (which land inside the executors' writes too); the last run finishes.
The default suite kills twice (after the writes, random) and finishes in this process; the slow variant kills at
every step, several times. Failures at every step are also exercised in-process, in test_job.py. The features in
DynamoDB must equal the independent batch computation of the same events — anonymous browsing merged into the
identified customers (exactly once, whatever micro-batch the kill interrupted), orders counted once by order_id.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from lakehouse.core.config import Settings
from stream.job import run_stream
from stream.rfm import DEFAULT_BREAKPOINTS

from .conftest import actual_features, assert_features_match, oracle_features, put_payloads, scenario, stored_items

RUNNER = Path(__file__).with_name("crash_runner.py")


def job_env(settings: Settings, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_STAGE": settings.stage, "COLUMNS": "200",
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "LAKEHOUSE_STREAM__MAX_RECORDS_PER_TRIGGER": "200",
                "LAKEHOUSE_STREAM__TRIGGER_SECONDS": "0"})
    return env


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an orphaned JVM that exited may linger as one, harmlessly)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class JobProcess:
    """The streaming job (crash_runner.py) in a child process; remembers its descendants (the JVM) to reap them."""

    def __init__(self, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen([sys.executable, str(RUNNER), *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.descendants: dict[int, psutil.Process] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line)

    def _watch(self) -> None:
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.descendants.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def wait(self, timeout: float = 240) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            self._watch()
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the job did not finish in time:\n" + "".join(self.lines[-30:]))
            time.sleep(0.2)
        self.reap()
        return self.proc.returncode

    def kill(self) -> None:
        self._watch()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.reap()

    def reap(self) -> None:
        """The JVM exits when its parent's pipe closes; make sure before the next run uses the checkpoint."""
        deadline = time.monotonic() + 30
        alive = list(self.descendants.values())
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _running(p)]
            time.sleep(0.1)
        for child in alive:
            child.kill()
        self._reader.join(10)

    def wait_for_batches(self, count: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while sum(line.startswith("batch ") for line in self.lines) < count:
            assert self.proc.poll() is None, "".join(self.lines[-30:])
            assert time.monotonic() < deadline, "no micro-batch in time:\n" + "".join(self.lines[-30:])
            self._watch()
            time.sleep(0.1)


def killed_and_restarted(spark, endpoint: str, settings: Settings, events: int, faults: tuple[str, ...],
                         random_kills: int, seed: int) -> None:
    data = scenario(seed=seed, customers=max(20, events // 12), events=events)
    put_payloads(settings.names.stream, data.payloads)
    expected = oracle_features(data.records, DEFAULT_BREAKPOINTS)

    for fault in faults:  # killed by SIGKILL at a chosen point of a chosen micro-batch
        job = JobProcess(job_env(settings, endpoint), "--once", "--fault", fault)
        assert job.wait() == -signal.SIGKILL, "".join(job.lines[-30:])

    rng = random.Random(seed)
    for _ in range(random_kills):  # continuous: killed at a random moment mid-stream
        job = JobProcess(job_env(settings, endpoint))
        job.wait_for_batches(1)
        time.sleep(rng.uniform(0.1, 1.5))
        job.kill()

    job_settings = settings.model_copy(update={"stream": settings.stream.model_copy(
        update={"max_records_per_trigger": 200})})
    report = run_stream(job_settings, spark, once=True)  # the last restart runs to the end (in this process)
    assert report.batches and report.batches[0].batch_id > 0
    items = stored_items(settings)
    assert_features_match(expected, actual_features(items))
    # the scenario's anonymous browsing was merged into identified customers across the kills, each merge once
    assert any(item.get("merged_into") for item in items.values())
    assert all("features" not in item for item in items.values() if item.get("merged_into"))
    checkpoint = Path(settings.lake.path("checkpoints", settings.names.streaming_job))
    assert (checkpoint / "commits").is_dir() and (checkpoint / "lakehouse-sink.json").is_file()


def test_sigkill_mid_stream_and_restarts_keep_every_feature_exact(spark, moto_endpoint: str,
                                                                  aws_settings: Settings) -> None:
    """Seen failing without the protection: the run id not kept in the checkpoint (a fresh ``uuid.uuid4().hex[:16]``
    in place of ``data["run"]`` in ``stream/identity.py`` ``checkpoint_identity``): each start forwarded through
    its own folder, and the last run (``run_stream`` in this process) failed replaying a micro-batch whose forward
    object lay in a killed run's folder: ``StreamJobError``, Spark's file source "Wrong basePath
    .../_forward/0deeb42959e54598 for the root path: .../_forward/33f6a37d798a4cfc/0000000000.jsonl"."""
    killed_and_restarted(spark, moto_endpoint, aws_settings, events=1_000, faults=("after-writes@1",), random_kills=1,
                         seed=77)


@pytest.mark.slow
def test_sigkill_at_every_step_many_times(spark, moto_endpoint: str, aws_settings: Settings) -> None:
    """Five fault points and three random kills (``pytest -m slow``). Seen failing under the same mutation as the
    test above (a fresh run id per start in ``checkpoint_identity``): after the five fault runs, the first
    continuous run exited 1 before its first micro-batch, replaying a batch whose forward object lay in a killed
    run's folder: ``StreamJobError`` "Wrong basePath .../_forward/6873cf9ae0f74f86 for the root path:
    .../_forward/79f4b53ccaac44b8/0000000006.jsonl"."""
    killed_and_restarted(spark, moto_endpoint, aws_settings, events=4_000,
                         faults=("before-writes@0", "after-writes@1", "after-forwards@2", "after-writes@3",
                                 "after-forwards@6"), random_kills=3, seed=78)
