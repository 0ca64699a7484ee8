"""Bounded memory: a >= 1M-event run in a child process stays far below the size of what it wrote."""

from __future__ import annotations

from tests.lakehouse.local.generator.conftest import BigRun

MiB = 2**20


def test_a_million_events_in_bounded_memory_and_well_under_a_minute(big_run: BigRun) -> None:
    manifest = big_run.manifest
    assert manifest["total_events"] >= 1_000_000
    assert len(manifest["files"]) == -(-manifest["total_events"] // manifest["config"]["chunk_events"])
    assert all(f["events"] <= manifest["config"]["chunk_events"] for f in manifest["files"])
    written = manifest["uncompressed_bytes"]
    assert written > 300 * MiB
    assert big_run.max_rss_bytes < written / 3, f"peak RSS {big_run.max_rss_bytes / MiB:.0f} MiB"
    assert big_run.max_rss_bytes < 400 * MiB
    # CPU time is the work done (about 8 s on the reference machine); wall time also depends on machine load
    assert big_run.cpu_s < 30, f"used {big_run.cpu_s:.1f} s of CPU"
    assert big_run.wall_s < 120, f"took {big_run.wall_s:.1f} s"
