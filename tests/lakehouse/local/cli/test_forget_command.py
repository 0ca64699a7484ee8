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
LINES = [{"event_id": "e1", "user_id": "u1", "properties": {"product_id": "p1"}},
         {"event_id": "e2", "user_id": "u2", "properties": {"product_id": "p1"}},
         {"event_id": "e3", "user_id": "x\"q'\\/é\tz"}]


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


def test_a_second_erasure_says_nothing_was_found(home: Path) -> None:
    """A second erasure of the same person is no error but says nothing was found (seen missing when the DynamoDB
    entry counted zero items)."""
    assert runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"]).exit_code == 0
    again = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-2", "--yes"])
    assert again.exit_code == 0 and "nothing of 'u1' was found" in again.output.replace("\n", " ")


def test_a_second_erasure_leaves_other_peoples_records_that_mention_the_id(home: Path) -> None:
    """After u1 was erased, u2's records name ``u1`` as a group's and a product's id: forgetting u1 again rewrites
    nothing. Seen failing (a new user's pass): the repeated erasure, let through by the suppression list, matched
    the id anywhere and removed u2's group call and the product."""
    assert runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"]).exit_code == 0
    theirs = [{"event_id": "e4", "user_id": "u2", "type": "group", "group_id": "u1"},
              {"event_id": "e5", "user_id": "u2", "properties": {"product_id": "u1"}}]
    later = home / "lake" / "raw/source=web/dt=2025-01-02/hour=00/b.jsonl.gz"
    later.parent.mkdir(parents=True)
    later.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in theirs)))
    again = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-2"])  # no prompt: nothing will change
    said = " ".join(again.output.split())
    assert again.exit_code == 0 and "was erased before" in said and "nothing of 'u1' was found" in said, said
    assert [json.loads(line) for line in gzip.decompress(later.read_bytes()).splitlines()] == theirs


def test_an_id_that_is_no_persons_is_refused_before_asking(home: Path) -> None:
    """Seen before: the confirmation came first, and only a yes was told the id is a product's."""
    result = runner.invoke(app, ["forget", "p1", "--requested-by", "DSR-1"], input="y\n")
    assert result.exit_code == 2 and "cannot be undone" not in result.output
    assert "is no customer's or visitor's id" in " ".join(result.output.split())


@pytest.mark.parametrize("value", ["p1", "nobody", "[/]"], ids=["a product id", "a typo", "rich markup"])
def test_an_id_no_record_holds_as_a_persons_is_refused_changing_nothing(home: Path, value: str) -> None:
    """Seen failing (a review): ``forget p01956``, a product id, removed the raw order of the customer who bought
    it, order lines and the product's dimension row, for good (the curated zone then refused the re-posted events
    as duplicates). An id with rich markup is printed as text (seen crashing with MarkupError)."""
    result = runner.invoke(app, ["forget", value, "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"{value!r} is no customer's or visitor's id" in said
    assert "let the raw archive land them (`lakehouse archive --once` locally" in said  # their events on Kinesis only
    assert _raw(home) == LINES
    assert not (home / "lake" / "state" / "erasure").exists()


def test_an_id_with_quotes_backslashes_and_control_characters_is_erased(home: Path) -> None:
    """Seen failing (a review): the pre-filter searched the JSON text for the id unescaped, so a record of
    ``x"q'\\/é<TAB>z`` (escaped in JSON) was never looked at and stayed in the raw zone."""
    result = runner.invoke(app, ["forget", LINES[2]["user_id"], "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 0, result.output
    assert _raw(home) == LINES[:2]


def test_a_running_batch_makes_it_refuse(home: Path) -> None:
    from lakehouse.core.config import Settings
    from lakehouse.core.run_lock import batch_lock

    with checkpoint_lock(batch_lock(Settings().lake), "a test batch"):
        result = runner.invoke(app, ["forget", "u1", "--requested-by", "DSR-1", "--yes"])
    assert result.exit_code == 2 and "a test batch" not in result.output  # the message names what forget waits on
    assert "is running on" in result.output.replace("\n", "") and _raw(home) == LINES
