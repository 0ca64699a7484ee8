"""Reference files users supply, read from the lake's ``reference/`` zone (thin I/O over the core rules)."""

from __future__ import annotations

from lakehouse.core.config import MoneySettings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import RateTable


def read_rate_table(storage: LakeStorage, money: MoneySettings) -> RateTable | None:
    """The exchange-rate table at ``money.rates_key`` in the lake, or None when there is no such file.

    Raises :class:`lakehouse.core.money.RateFileError` naming the line at fault when the file is malformed.
    """
    if not storage.exists(money.rates_key):
        return None
    text = storage.get_bytes(money.rates_key).decode("utf-8")
    return RateTable.from_csv(text, money.reporting_currency, money.max_rate_age_days)
