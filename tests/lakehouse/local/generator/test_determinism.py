"""Same config and seed => same bytes; another seed => other data; chunk size changes files, not content."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from lakehouse.local.generator import ConfigError, GeneratorConfig, generate
from lakehouse.local.generator.seasonality import black_friday, day_factor, is_black_friday_weekend, season_factor

CONFIG = GeneratorConfig(seed=3, customers=150, days=40, chunk_events=1_500)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _content(root: Path) -> bytes:
    return b"".join(gzip.decompress(p.read_bytes()) for p in sorted(root.glob("events-*.jsonl.gz")))


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    generate(CONFIG, tmp_path / "a")
    generate(CONFIG, tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) >= 4 and "manifest.json" in a and "truth/customers.csv.gz" in a
    assert a == b


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(CONFIG, tmp_path / "a")
    generate(replace(CONFIG, seed=4), tmp_path / "b")
    a, b = _content(tmp_path / "a").splitlines(), _content(tmp_path / "b").splitlines()
    assert not set(a) & set(b)  # not a single identical call (message ids differ, and much more)
    assert abs(len(a) - len(b)) < 0.2 * len(a)  # but the same kind of data set


def test_chunk_size_changes_the_files_not_the_content(tmp_path: Path) -> None:
    small = generate(CONFIG, tmp_path / "a")
    large = generate(replace(CONFIG, chunk_events=10**6), tmp_path / "b")
    assert len(small.files) > 1 and len(large.files) == 1
    assert _content(tmp_path / "a") == _content(tmp_path / "b")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customers": 0}, "customers must be between 1"),
        ({"customers": 1.5}, "customers must be a whole number"),
        ({"days": 0}, "days must be between 1"),
        ({"chunk_events": 0}, "chunk_events must be between 1"),
        ({"streaming_share": 1.5}, "streaming_share must be a number between 0 and 1"),
        ({"existing_share": -0.1}, "existing_share must be a number between 0 and 1"),
        ({"seed": -1}, "seed must be between 0"),
        ({"gzip_level": 10}, "gzip_level must be between 0 and 9"),
        ({"spec_scale": -1}, "spec_scale must be a number between 0 and 20"),
        ({"spec_scale": True}, "spec_scale must be a number between 0 and 20"),
        ({"start": "2025-01-01"}, "start must be a date"),
        ({"start": date(1960, 1, 1)}, "start must be between 1971-01-01 and 2090-12-31"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GeneratorConfig(**changes)


def test_calendar_has_a_weekend_uplift_and_a_november_december_peak() -> None:
    assert black_friday(2025) == date(2025, 11, 28) and black_friday(2024) == date(2024, 11, 29)
    assert is_black_friday_weekend(date(2025, 12, 1)) and not is_black_friday_weekend(date(2025, 12, 2))
    saturday, tuesday = date(2025, 3, 8), date(2025, 3, 4)
    assert day_factor(saturday) > 1.15 * day_factor(tuesday)
    months = [season_factor(date(2025, m, 10)) for m in range(1, 13)]
    assert max(months) == months[11] and months[10] > max(months[:10])
    assert season_factor(date(2025, 11, 28)) > 1.5 * season_factor(date(2025, 11, 10))


def test_event_counts_the_population_limit_cannot_reach_are_refused() -> None:
    from lakehouse.local.generator import customers_for_events

    with pytest.raises(ConfigError, match="simulate more days"):
        customers_for_events(10**12, GeneratorConfig(days=5))
    with pytest.raises(ConfigError, match="events must be at least 1"):
        customers_for_events(0, GeneratorConfig(days=5))
