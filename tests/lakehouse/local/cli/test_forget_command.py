"""`lakehouse forget ID` as an operator runs it: asks before erasing, needs a requester, refuses while a stream
runs, prints what each store lost and where the erasure record is."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.core.run_lock import checkpoint_lock
from lakehouse.local.cli.main import app

runner = CliRunner()
RAW = "raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz"
LINES = [{"event_id": "e1", "user_id": "u1"}, {"event_id": "e2", "user_id": "u2"}]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    for name in ("LAKEHOUSE_LAKE_ROOT", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    raw = home / "lake" / RAW
    raw.parent.mkdir(parents=True)
    raw.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in LINES)))
    return home


def _raw(home: Path) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress((home / "lake" / RAW).read_bytes()).splitlines()]


def test_it_asks_first_and_a_no_changes_nothing(home: Path) -> None:
    result = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1"], input="n\n")
    assert result.exit_code == 1 and "cannot be undone" in result.output
    assert _raw(home) == LINES


def test_forget_prints_what_went_and_where_the_record_is(home: Path) -> None:
    result = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 0, result.output
    flat = result.output.replace("\n", "")  # the console wraps at the terminal's width
    assert "records removed 1" in flat and "erasure record: file://" in flat
    assert "no embedded AWS is running" in flat and "not erased kinesis" in flat
    assert _raw(home) == LINES[1:]
    records = list((home / "lake" / "state" / "erasure" / "records").rglob("*.json"))
    assert len(records) == 1 and "u1" not in records[0].read_text()


@pytest.mark.parametrize(("args", "message"),
                         [(["forget", "u1", "--requested-by", " ", "--yes"], "--requested-by: say who"),
                          (["forget", " ", "--requested-by", "DSR-1", "--yes"], "the id of")],
                         ids=["blank requester", "blank id"])
def test_blank_values_are_refused(home: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output.replace("\n", "")
    assert _raw(home) == LINES


def test_a_running_stream_makes_it_refuse(home: Path) -> None:
    (home / "lake" / "checkpoints" / "features" / "commits").mkdir(parents=True)
    (home / "lake" / "checkpoints" / "features" / "commits" / "0").write_text("v1\n{}")
    with checkpoint_lock(home / "lake" / "checkpoints" / "features", "a test stream"):
        result = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 2 and "is running on" in result.output.replace("\n", "")
    assert _raw(home) == LINES


def test_nothing_found_says_so_and_markup_in_an_id_is_shown_as_text(home: Path) -> None:
    """A second erasure of the same person, or a typo, is no error but says nothing was found (seen missing when
    the DynamoDB entry counted zero items); an id with rich markup is printed, not interpreted (seen crashing with
    MarkupError after the erasure had run)."""
    assert runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"]).exit_code == 0
    again = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-2", "--yes"])
    assert again.exit_code == 0 and "nothing of 'u1' was found" in again.output.replace("\n", " ")
    odd = runner.invoke(app, ["forget", "[/]", "--requested-by", "DSR-3", "--yes"])
    assert odd.exit_code == 0 and "nothing of '[/]' was found" in odd.output.replace("\n", " ")


def test_a_running_batch_makes_it_refuse(home: Path) -> None:
    from lakehouse.core.config import Settings
    from lakehouse.core.run_lock import batch_lock

    with checkpoint_lock(batch_lock(Settings().lake), "a test batch"):
        result = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 2 and "a test batch" not in result.output  # the message names what forget waits on
    assert "is running on" in result.output.replace("\n", "") and _raw(home) == LINES
