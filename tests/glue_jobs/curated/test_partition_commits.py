"""Crash-safe partition commits (issue 15, item 3): a curated run SIGKILLed at any point leaves every table as it
was before the run or as the run leaves it, never less; the next run converges to the after-state.

The lake holds a first run's tables (the before-state); a second batch of raw objects, with late events, touches
those partitions again. A copy of the lake runs the second batch to completion in this process (the after-state).
Then a child process (its own Spark) runs the second batch on the original lake and kills itself with SIGKILL at
a chosen point: right after the n-th partition folder is moved into place (data written, manifest not switched),
right after the n-th manifest switch (some tables committed, others not), or just before the run record. After
each kill every curated table is read through its manifest with pyarrow (no Spark) and must equal the before or
the after rows. The kills pile up on the same lake (crash after crash), then a clean run must converge.

Seen failing without the protection: with readers that take every Parquet file below the table folder, as they
did before the manifest (``KILL_TEST_READER=all-files``), the kill after the third partition move failed:
``events`` read 134 rows where the before-state has 107 and the after-state 334 — the old and the new version of
the moved partitions side by side.
The old writer's own window (Spark's dynamic overwrite deletes a partition, then renames the new files in) lasts
milliseconds on a local disk, so timed kills did not hit it (measured: 4 kills x 3 seeds passed against it); the
kill points above are exact instead.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.tables import ALL_TABLES
from lakehouse.core.config import BatchSettings, Settings
from lakehouse.core.lake import tables
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.local.sample_data import Arrival, generate_calls, land_calls

ROOT = Path(__file__).resolve().parents[3]
CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    home, point, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from lakehouse.core.config import BatchSettings, Settings
    from lakehouse.core.lake import tables
    from lakehouse.core.spark import local_spark
    import glue_jobs.curated.job as job
    import glue_jobs.curated.writer as writer
    calls = {"move": 0, "commit": 0}

    def killing(name, real):
        def wrapper(*args, **kwargs):
            out = real(*args, **kwargs)
            calls[name] += 1
            if name == point and calls[name] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        return wrapper

    def record_then_die(real):
        def wrapper(*args, **kwargs):
            if point == "record":
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapper

    writer.move_prefix = killing("move", writer.move_prefix)
    tables.commit = killing("commit", tables.commit)
    job.commit_run = record_then_die(job.commit_run)
    settings = Settings(stage="tkill", home=Path(home), batch=BatchSettings(target_file_rows=100_000))
    job.run_raw_to_curated(local_spark("kill-test"), settings)
    print("FINISHED", flush=True)
""")


def rows_of(settings: Settings) -> dict[str, list[str]]:
    """Every curated table's current rows (sorted JSON lines), read through the manifest without Spark."""
    storage = LakeStorage(settings.lake)
    out = {}
    for table in ALL_TABLES:
        rel = settings.lake.curated_table(table)
        if os.environ.get("KILL_TEST_READER") == "all-files":  # the reader before manifests (the docstring)
            import pyarrow.dataset as ds

            found = [str(p) for p in Path(settings.lake.key(rel)).rglob("*.parquet") if "/_w-" not in str(p)]
            data = ds.dataset(found, format="parquet").to_table() if found else None
            out[table] = sorted(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist()) if data else []
            continue
        data = tables.read_arrow(storage, rel)
        out[table] = sorted(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist())
    return out


def land(settings: Settings, calls: list[dict], part: int) -> None:
    """Land half ``part`` of ``calls`` (by day); 10% arrive 3 days late, so the second half rewrites old days."""
    cut = date(2025, 3, 10).isoformat()
    chosen = [c for c in calls if (c["timestamp"][:10] < cut) == (part == 0)]
    land_calls(settings, chosen, arrival=Arrival(late_share=0.1, late_days=3))


def kill_run(home: Path, point: str, nth: int) -> str:
    """Run the curated job in a child that SIGKILLs itself at ``point`` (``move``, ``commit``: after the
    ``nth`` such call; ``record``: before the run record); returns how it ended."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env = {k: v for k, v in env.items() if not k.startswith("LAKEHOUSE_")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(home), point, str(nth)], env=env, cwd=str(home.parent),
                          capture_output=True, text=True, timeout=300)
    return "finished" if "FINISHED" in done.stdout else f"killed ({done.returncode})"


def kill_points(seed: int, count: int) -> list[tuple[str, int]]:
    """``count`` seeded kill points: after the n-th partition move or manifest switch, or before the record."""
    rng = random.Random(seed)
    return [rng.choice([("move", rng.randint(1, 60)), ("commit", rng.randint(1, 12)), ("record", 1)])
            for _ in range(count)]


def crash_and_converge(spark, tmp_path: Path, seed: int, points: list[tuple[str, int]]) -> None:
    settings = Settings(stage="tkill", home=tmp_path / "lake" / "home", batch=BatchSettings(target_file_rows=100_000))

    def run(home: Path) -> None:
        run_raw_to_curated(spark, settings.model_copy(update={"home": home}))

    calls = generate_calls(tmp_path / "generated", seed=seed, customers=25, start=date(2025, 3, 1), days=20)
    land(settings, calls, 0)
    run(settings.home)
    land(settings, calls, 1)
    before = rows_of(settings)

    finished = tmp_path / "after" / "home"
    shutil.copytree(settings.home, finished)
    run(finished)
    after = rows_of(settings.model_copy(update={"home": finished}))
    assert any(before[t] != after[t] and before[t] for t in ALL_TABLES)  # the run rewrites partitions with rows

    for point, nth in points:
        ended = kill_run(settings.home, point, nth)
        now = rows_of(settings)
        for table in ALL_TABLES:
            assert now[table] in (before[table], after[table]), (
                f"{table} after a kill at {point} #{nth} ({ended}): {len(now[table])} rows, "
                f"before {len(before[table])}, after {len(after[table])}")
        if ended == "finished":
            break
    run(settings.home)
    assert rows_of(settings) == after


def test_a_run_killed_between_partition_moves_leaves_each_table_before_or_after(spark, tmp_path: Path) -> None:
    """The kill that tells the manifest's protection apart: data of a new version in place, manifest not switched."""
    crash_and_converge(spark, tmp_path, seed=3, points=[("move", 3)])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kills_between_two_tables_switches_and_before_the_run_record(spark, tmp_path: Path) -> None:
    """Some tables committed and others not; every table committed and no run record (``pytest -m slow``).

    Seen failing with the readers before the manifest (``KILL_TEST_READER=all-files``): the kill after the second
    manifest switch passed unseen, the kill before the run record failed: ``events`` read 424 rows, where the
    before-state has 68 and the after-state 246 (the superseded partition versions are removed only after the
    record)."""
    crash_and_converge(spark, tmp_path, seed=4, points=[("commit", 2), ("record", 1)])


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", [5, 8, 13])
def test_many_kills(spark, tmp_path: Path, seed: int) -> None:
    """Six seeded kill points per lake (``pytest -m slow``). Seen failing, every seed, with the readers before the
    manifest (``KILL_TEST_READER=all-files``): ``events`` read 517 rows (before 165, after 341) after the kill
    before the run record (seed 5), 458 (128 / 293, seed 8), 511 after the 59th partition move (145 / 328,
    seed 13)."""
    crash_and_converge(spark, tmp_path, seed=seed, points=kill_points(seed, 6))
