"""`lakehouse rates load FILE` as a user runs it: a bad file is refused naming its line, a good one is stored
where the batch reads rates (settings.money.rates_key in the lake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.local.cli.main import app

runner = CliRunner()
GOOD = "rate_date,currency,rate\n2025-01-02,EUR,1.0321\n2025-01-02,GBP,1.2466\n2025-01-03,EUR,1.0298\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LAKEHOUSE_LAKE_ROOT", raising=False)
    return tmp_path / "home"


def stored(home: Path) -> Path:
    return home / "lake" / "reference" / "currency_rates.csv"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate_date,currency,rate\n2025-01-02,EUR,1.03\n2025-01-03,EUR,abc\n", "line 3: rate must be a positive"),
        ("rate_date,currency,rate\n2025-01-02,EUR,1.03\n2025-01-03,EUR,-1.0\n", "line 3: rate must be a positive"),
        ("rate_date,currency,rate\n2025-01-02,EURO,1.03\n", "line 2: currency must be a 3-letter"),
        ("rate_date,currency,rate\n2025-1-2,EUR,1.03\n", "line 2: rate_date must be an ISO date"),
        ("date,currency,rate\n2025-01-02,EUR,1.03\n", "missing rate_date"),
        ("rate_date,currency,rate\n", "holds no rates"),
    ],
    ids=["rate not a number", "negative rate", "four-letter currency", "date not ISO", "header wrong", "empty"],
)
def test_a_bad_rate_file_is_refused_naming_the_line_and_nothing_is_stored(home: Path, tmp_path: Path, text: str,
                                                                          message: str) -> None:
    """Without the validation the file would be stored and the batch would fail (or convert with garbage) later."""
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["rates", "load", str(path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "nothing was loaded" in " ".join(result.output.split())
    assert not stored(home).exists()


def test_a_good_rate_file_is_stored_at_the_rates_key(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["rates", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert stored(home).read_text(encoding="utf-8") == GOOD
    output = " ".join(result.output.split())
    assert "loaded 3 rates (EUR, GBP; 2025-01-02 .. 2025-01-03)" in output


def test_a_missing_file_is_a_one_line_error(home: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["rates", "load", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "cannot read" in result.output
