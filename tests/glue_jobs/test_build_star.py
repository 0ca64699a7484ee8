"""The build_star Glue entry script, run locally."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glue_jobs import build_star


def test_entry_script_skips_an_unchanged_curated_zone(lake_copy, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    summary = build_star.main(["build_star.py"])
    assert summary["skipped"] == "curated zone, settings and rate file unchanged since the last build"
    assert summary["build_id"]


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glue_jobs.build_star", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LAKEHOUSE_HOME": "/nonexistent/lakehouse-home"})


@pytest.mark.parametrize("args, message", [
    (["--forc", "true"], "unknown arguments --forc (--help lists what this job reads)"),
    (["--force"], "argument --force needs a value (booleans too: --force true)"),
    (["--force", "maybe"], "--force: Input should be a valid boolean"),
    (["--batch_rfm_window_days", "0"], "--batch_rfm_window_days: Input should be greater than or equal to 1"),
])
def test_a_user_error_is_one_line_and_exit_status_2(args: list[str], message: str) -> None:
    """Seen failing before run_entry_script: a traceback ending in JobArgumentsError, and a typo (--forc) only
    warned and ran the job without force."""
    result = run_script(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"build_star.py: error: {message}")


def test_help_lists_the_arguments_and_runs_nothing() -> None:
    result = run_script("--help")
    assert result.returncode == 0 and "--force" in result.stdout and "true|false" in result.stdout
