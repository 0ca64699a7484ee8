"""`lakehouse generate` and `lakehouse load-cdnow` as a user runs them (Typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.local.cli.main import app

runner = CliRunner()


def _run(*args: str, home: Path) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"LAKEHOUSE_HOME": str(home), "COLUMNS": "160"})
    return result.exit_code, result.output


def test_generate_writes_a_data_set_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    code, output = _run("generate", "--customers", "120", "--days", "30", "--seed", "5", "--start", "2024-06-01",
                        "--chunk-events", "1000", "--out", str(out), home=tmp_path)
    assert code == 0, output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["start"] == "2024-06-01" and manifest["seed"] == 5
    assert len(manifest["files"]) == -(-manifest["total_events"] // 1000) >= 2
    for text in ("events by name", "Product Viewed", "bytes/event", "events/s", f"{manifest['total_events']:,}"):
        assert text in output


def test_generate_defaults_to_the_lakehouse_home(tmp_path: Path) -> None:
    code, output = _run("generate", "--customers", "20", "--days", "5", home=tmp_path)
    assert code == 0, output
    assert (tmp_path / "data" / "generated" / "manifest.json").is_file()


def test_generate_sizes_the_population_from_an_event_count(tmp_path: Path) -> None:
    code, output = _run("generate", "--events", "20000", "--days", "30", "--out", str(tmp_path / "g"), home=tmp_path)
    assert code == 0, output
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert 0.75 * 20_000 <= manifest["total_events"] <= 1.25 * 20_000
    assert "20,000 events" in output and "customers" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "Invalid value for '--days'"),
        (["--customers", "-3"], "Invalid value for '--customers'"),
        (["--start", "2025-02-30"], "Invalid value for '--start'"),
        (["--streaming-share", "2"], "Invalid value for '--streaming-share'"),
        (["--customers", "10", "--events", "100"], "either --customers or --events"),
        (["--bogus"], "No such option"),
    ],
)
def test_bad_options_give_a_clear_error_and_exit_code_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _run("generate", *args, "--out", str(tmp_path / "x"), home=tmp_path)
    assert code == 2
    assert message in " ".join(output.split())  # Rich may wrap the message over lines
    assert "Traceback" not in output
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    for command in ("generate", "load-cdnow"):
        code, output = _run(command, "--out", str(tmp_path / "file"), home=tmp_path)
        assert code == 2 and "is not a directory" in output and "Traceback" not in output


def test_load_cdnow(tmp_path: Path) -> None:
    code, output = _run("load-cdnow", home=tmp_path)
    assert code == 0, output
    manifest = json.loads((tmp_path / "data" / "cdnow" / "manifest.json").read_text())
    assert manifest["total_events"] == 69_659 and manifest["customers"] == 23_570
    assert "69,659" in output and "Order Completed" in output
