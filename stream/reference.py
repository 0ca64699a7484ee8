"""Reference data the features read and re-read while the job runs: RFM breakpoints and exchange rates.

Both are published in the lake by other parts of the system (the star build's ``state/rfm_breakpoints.json``;
the user's rate CSV at ``settings.money.rates_key``) and may change while a streaming job runs for days, so
the job re-reads them every ``refresh_seconds`` (``settings.stream.breakpoints_refresh_seconds``).
:class:`Refreshed` does that for any loader: a load that returns None gives the default, one that raises is
logged and the value in force is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from lakehouse.core.config import Settings
from lakehouse.core.lake.reference import read_rate_table
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import RateTable

T = TypeVar("T")


class Refreshed(Generic[T]):
    """A value loaded at start and re-loaded every ``refresh_seconds`` (thread-safe; never raises)."""

    def __init__(self, load: Callable[[], T | None], default: T, refresh_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, what: str = "reference data"):
        self._load = load
        self._default = default
        self._refresh = refresh_seconds
        self._clock = clock
        self._what = what
        self._lock = threading.Lock()
        self._current: T = default
        self._loaded_at: float | None = None

    def current(self) -> T:
        """The value in force, re-loaded when ``refresh_seconds`` have passed since the last load.

        A load that returns None gives the default; one that raises is logged and the value in force is kept.
        """
        with self._lock:
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at >= self._refresh:
                try:
                    loaded = self._load()
                    self._current = self._default if loaded is None else loaded
                except Exception as exc:  # storage or document trouble: keep the value in force
                    logging.getLogger(__name__).warning("%s not refreshed: %s", self._what, exc)
                self._loaded_at = now
            return self._current


def no_rates(reporting_currency: str = "USD", max_rate_age_days: int = 7) -> RateTable:
    """A rate table without rates: only the reporting currency converts (at 1)."""
    return RateTable(reporting_currency, max_rate_age_days)


def load_rates(settings: Settings, region: str | None = None) -> RateTable | None:
    """The rate CSV at ``settings.money.rates_key`` in the lake, or None when there is none.

    Raises :class:`lakehouse.core.money.RateFileError` naming the line at fault when the file is malformed
    (:class:`RatesProvider` logs it and keeps the table in force).
    """
    storage = LakeStorage(settings.lake, region=region or settings.region)
    return read_rate_table(storage, settings.money)


class RatesProvider(Refreshed[RateTable]):
    """The exchange rates in force (:func:`load_rates`, re-read every ``refresh_seconds``); without a rate file
    only the reporting currency converts."""

    def __init__(self, load: Callable[[], RateTable | None], reporting_currency: str = "USD",
                 max_rate_age_days: int = 7, refresh_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(load, no_rates(reporting_currency, max_rate_age_days), refresh_seconds, clock,
                         what="exchange rates")

    @classmethod
    def fixed(cls, rates: RateTable) -> RatesProvider:
        """A provider that always returns ``rates`` (never re-loads)."""
        return cls(lambda: rates, rates.reporting_currency, rates.max_rate_age_days, refresh_seconds=float("inf"))

    @classmethod
    def of_settings(cls, settings: Settings) -> RatesProvider:
        """The provider for ``settings``: the lake's rate CSV, re-read every ``breakpoints_refresh_seconds``."""
        money = settings.money
        return cls(lambda: load_rates(settings), money.reporting_currency, money.max_rate_age_days,
                   settings.stream.breakpoints_refresh_seconds)
