"""What to generate: the validated knobs of one generator run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

MAX_CUSTOMERS = 10_000_000
MAX_DAYS = 3_660
MAX_SPEC_SCALE = 20


class ConfigError(ValueError):
    """A generator setting is out of range; the message says which one and what is allowed."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of one run. Same config (seed included) => byte-identical output."""

    seed: int = 7
    customers: int = 10_000
    start: date = date(2025, 1, 1)
    days: int = 365
    chunk_events: int = 250_000  # events per output file
    streaming_share: float = 0.35  # share of customers who use the streaming app
    existing_share: float = 0.40  # share of customers already signed up on the start date
    anonymous_share: float = 0.03  # anonymous page views per logged-in landing page
    gzip_level: int = 6
    spec_scale: float = 1.0  # x every rate of the Segment spec variety (spec.py); 0 = page/identify/track only

    def __post_init__(self) -> None:
        """Raise ``ConfigError`` naming the first value out of range."""
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("customers", self.customers, 1, MAX_CUSTOMERS)
        _check_int("days", self.days, 1, MAX_DAYS)
        _check_int("chunk_events", self.chunk_events, 1, 100_000_000)
        _check_int("gzip_level", self.gzip_level, 0, 9)
        for name in ("streaming_share", "existing_share", "anonymous_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{name} must be a number between 0 and 1 (got {value!r})")
        value = self.spec_scale
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SPEC_SCALE:
            raise ConfigError(f"spec_scale must be a number between 0 and {MAX_SPEC_SCALE} (got {value!r})")
        if not isinstance(self.start, date):
            raise ConfigError(f"start must be a date (got {self.start!r})")
        if not 1971 <= self.start.year <= 2090:
            raise ConfigError(f"start must be between 1971-01-01 and 2090-12-31 (got {self.start})")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON values (``start`` as an ISO date), as the manifest records it."""
        values = asdict(self)
        values["start"] = self.start.isoformat()
        return values


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number (got {value!r})")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:,} and {high:,} (got {value:,})")
