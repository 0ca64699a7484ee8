"""`lakehouse batch` and `lakehouse sql` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.core.config import Settings
from lakehouse.core.contract import iso
from lakehouse.core.contract.examples import example_calls
from lakehouse.local.cli.main import app
from lakehouse.local.sample_data import land_calls, land_lines

runner = CliRunner()


def tiny_calls() -> list[dict]:
    """Every example call, for two customers on two days."""
    calls = []
    start = datetime(2025, 6, 2, 9, tzinfo=UTC)
    for n, (customer, day) in enumerate([("c1", 0), ("c2", 0), ("c1", 1)]):
        for k, call in enumerate(example_calls().values()):
            copy = call | {"userId": customer, "messageId": f"m-{n}-{k}",
                           "timestamp": iso(start + timedelta(days=day, minutes=k))}
            if "order_id" in copy.get("properties", {}):  # each copy its own order (one order_id counts once)
                copy["properties"] = copy["properties"] | {"order_id": f"{copy['properties']['order_id']}-{n}"}
            calls.append(copy)
    return calls


def _sql(*args: str, home: Path, text: bool = True) -> subprocess.CompletedProcess:
    """``lakehouse sql ARGS`` in a fresh process; ``text=False``: stdout as bytes (line ends as written)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(home), "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", "sql", *args], env=env,
                          capture_output=True, text=text, timeout=120)


@pytest.fixture(scope="module")
def batch_home(tmp_path_factory, spark) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    settings = Settings(home=home)
    land_calls(settings, tiny_calls())
    land_lines(settings, ["{broken"], source="legacy", received_at=datetime(2025, 6, 2, 10, tzinfo=UTC))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_HOME", str(home))
        patch.setenv("COLUMNS", "200")
        result = runner.invoke(app, ["batch", "--no-catalog"])
        assert result.exit_code == 0, result.output
        assert "records read" in result.output and "(line): is not a JSON object" in result.output
        assert "warehouse (duckdb)" in result.output
        assert "identities stitched / conflicts" in result.output and "orders unconverted into USD" in result.output
        again = runner.invoke(app, ["batch", "--no-catalog"])
        assert again.exit_code == 0 and "no new raw objects" in again.output
        assert "already holds star build" in again.output
    return home


def test_batch_builds_the_local_warehouse(batch_home: Path) -> None:
    assert (batch_home / "warehouse.duckdb").is_file()
    assert (batch_home / "lake" / "curated" / "orders").is_dir()


def test_single_steps_can_be_run(batch_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(batch_home))
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["batch", "--step", "warehouse", "--force"])
    assert result.exit_code == 0, result.output
    assert "tables / views loaded" in result.output and "curated" not in result.output.split("batch run")[1]


def test_unknown_steps_and_targets_are_user_errors(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    result = runner.invoke(app, ["batch", "--step", "publish"])
    assert result.exit_code == 2 and "unknown step publish" in result.output
    result = runner.invoke(app, ["batch", "--target", "bigquery"])
    assert result.exit_code == 2 and "unknown target" in result.output


def test_sql_prints_a_table(batch_home: Path) -> None:
    done = _sql("SELECT customer_id, geography FROM dim_customer WHERE is_current ORDER BY 1", home=batch_home)
    assert done.returncode == 0, done.stderr
    assert "customer_id" in done.stdout and "c1" in done.stdout and "France" in done.stdout
    assert "2 row(s)" in done.stdout


def test_sql_accepts_redshift_dialect(batch_home: Path) -> None:
    done = _sql("--redshift", "SELECT NVL(SUM(orders), 0) AS orders FROM fact_daily_kpis", home=batch_home)
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout and " 3 " in done.stdout


def test_bad_sql_is_a_clear_error_without_traceback(batch_home: Path, tmp_path: Path) -> None:
    done = _sql("SELECT * FROM no_such_table", home=batch_home)
    assert done.returncode == 2 and "no_such_table" in done.stderr and "Traceback" not in done.stderr
    missing = _sql("SELECT 1", home=tmp_path)
    assert missing.returncode == 2 and "lakehouse batch" in missing.stderr and "Traceback" not in missing.stderr


# --- lakehouse sql --format csv | json -------------------------------------------------------------------------
TYPED = """CREATE TABLE typed AS SELECT * FROM (VALUES
    (1, 'plain', CAST('12345678901234567890.123456789' AS DECIMAL(38, 9)), DATE '2025-01-02',
     TIMESTAMP '2025-01-02 03:04:05.5', 0.1::DOUBLE, TRUE),
    (2, 'comma, "quote"' || chr(10) || 'newline', CAST('-0.50' AS DECIMAL(10, 2)), NULL, NULL, NULL, FALSE),
    (3, NULL, NULL, NULL, NULL, 'NaN'::DOUBLE, NULL)
) AS v(id, label, amount, day, seen_at, ratio, flag)"""


@pytest.fixture
def typed_home(tmp_path: Path) -> Path:
    import duckdb

    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(TYPED)
        con.execute("CREATE TABLE many AS SELECT range AS n FROM range(150)")
    return home


def test_sql_prints_text_as_data_without_emoji_or_markup(typed_home: Path) -> None:
    """Seen failing (a new user's pass): ``:smile:`` in a value or a column name printed as an emoji."""
    done = _sql("SELECT ':smile: [bold]x[/bold] :x:' AS \":thumbs_up:\"", home=typed_home)
    assert done.returncode == 0, done.stderr
    assert ":smile: [bold]x[/bold] :x:" in done.stdout and ":thumbs_up:" in done.stdout


def test_sql_json_is_an_array_of_objects_with_exact_values(typed_home: Path) -> None:
    """Decimals keep every digit as JSON numbers (parsed back as Decimal), dates are ISO 8601, NULL and NaN are
    null, and nothing but the JSON is on stdout."""
    done = _sql("--format", "json", "SELECT * FROM typed ORDER BY id", home=typed_home)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout, parse_float=Decimal)
    assert rows == [
        {"id": 1, "label": "plain", "amount": Decimal("12345678901234567890.123456789"), "day": "2025-01-02",
         "seen_at": "2025-01-02T03:04:05.500000", "ratio": Decimal("0.1"), "flag": True},
        {"id": 2, "label": 'comma, "quote"\nnewline', "amount": Decimal("-0.50"), "day": None, "seen_at": None,
         "ratio": None, "flag": False},
        {"id": 3, "label": None, "amount": None, "day": None, "seen_at": None, "ratio": None, "flag": None},
    ]
    assert list(rows[0]) == ["id", "label", "amount", "day", "seen_at", "ratio", "flag"]  # column order kept
    assert date.fromisoformat(rows[0]["day"]) and datetime.fromisoformat(rows[0]["seen_at"])


def test_sql_csv_is_rfc4180_with_null_as_an_empty_field(typed_home: Path) -> None:
    done = _sql("--format", "csv", "SELECT id, label, amount, day, flag FROM typed ORDER BY id", home=typed_home,
                text=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.startswith("id,label,amount,day,flag\r\n")  # RFC 4180: CRLF after every record
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows == [["id", "label", "amount", "day", "flag"],
                    ["1", "plain", "12345678901234567890.123456789", "2025-01-02", "true"],
                    ["2", 'comma, "quote"\nnewline', "-0.500000000", "", "false"],  # the column's scale
                    ["3", "", "", "", ""]]


def test_sql_csv_and_json_write_every_row_unless_limited(typed_home: Path) -> None:
    """Scripts get the whole answer; a --limit that cuts it says so on stderr only.

    Seen failing with the note on stdout: json.loads raised "Extra data"."""
    everything = _sql("--format", "json", "SELECT n FROM many ORDER BY n", home=typed_home)
    assert [r["n"] for r in json.loads(everything.stdout)] == list(range(150)) and everything.stderr == ""
    cut = _sql("--format", "json", "--limit", "10", "SELECT n FROM many ORDER BY n", home=typed_home)
    assert [r["n"] for r in json.loads(cut.stdout)] == list(range(10))
    assert "first 10 rows shown; more exist" in cut.stderr
    cut_csv = _sql("-f", "csv", "--limit", "10", "SELECT n FROM many ORDER BY n", home=typed_home)
    assert len(list(csv.reader(io.StringIO(cut_csv.stdout, newline="")))) == 11 and "more exist" in cut_csv.stderr
    table = _sql("SELECT n FROM many", home=typed_home)  # a table still shows a screenful by default
    assert "100 row(s) (first 100 rows shown; more exist" in table.stdout


def test_sql_json_of_no_rows_is_an_empty_array_and_errors_stay_off_stdout(typed_home: Path) -> None:
    empty = _sql("--format", "json", "SELECT * FROM typed WHERE id < 0", home=typed_home)
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    empty_csv = _sql("--format", "csv", "SELECT id, label FROM typed WHERE id < 0", home=typed_home, text=False)
    assert empty_csv.stdout == b"id,label\r\n"
    bad = _sql("--format", "json", "SELECT * FROM no_such_table", home=typed_home)
    assert bad.returncode == 2 and bad.stdout == "" and "no_such_table" in bad.stderr
    unknown = _sql("--format", "xml", "SELECT 1", home=typed_home)
    assert unknown.returncode == 2 and "choose table, csv or json" in unknown.stderr


def test_sql_json_on_the_built_warehouse_equals_duckdbs_own_answer(batch_home: Path) -> None:
    import duckdb

    query = "SELECT customer_id, geography, first_seen_date FROM dim_customer WHERE is_current ORDER BY 1"
    with duckdb.connect(str(batch_home / "warehouse.duckdb"), read_only=True) as con:
        expected = [(c, g, d.isoformat() if d else None) for c, g, d in con.execute(query).fetchall()]
    done = _sql("--format", "json", query, home=batch_home)
    assert done.returncode == 0, done.stderr
    assert [(r["customer_id"], r["geography"], r["first_seen_date"]) for r in json.loads(done.stdout)] == expected
    assert len(expected) == 2
    as_csv = _sql("--format", "csv", "--redshift", "SELECT NVL(SUM(orders), 0) AS orders FROM fact_daily_kpis",
                  home=batch_home)
    assert list(csv.reader(io.StringIO(as_csv.stdout, newline=""))) == [["orders"], ["3"]]


def test_sql_on_redshift_without_a_host_is_a_clear_error(tmp_path: Path) -> None:
    done = _sql("--target", "redshift", "--format", "json", "SELECT 1", home=tmp_path)
    assert done.returncode == 2 and "LAKEHOUSE_REDSHIFT__HOST" in done.stderr and done.stdout == ""
