"""Reading the exchange-rate file from the lake's reference zone."""

from datetime import date
from decimal import Decimal

import pytest

from lakehouse.core.config import MoneySettings
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.reference import read_rate_table
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import RateFileError


def test_rate_file_read_from_the_lake(tmp_path):
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path)))
    money = MoneySettings(reporting_currency="EUR", rates_key="reference/fx.csv")
    assert read_rate_table(storage, money) is None
    storage.put_bytes("reference/fx.csv", b"rate_date,currency,rate\n2026-01-02,USD,0.9\n")
    table = read_rate_table(storage, money)
    assert table is not None and table.reporting_currency == "EUR"
    assert table.convert(Decimal("10"), "USD", date(2026, 1, 3)) == Decimal("9.00")
    storage.put_bytes("reference/fx.csv", b"rate_date,currency,rate\n2026-01-02,USD,zero\n")
    with pytest.raises(RateFileError, match="line 2"):
        read_rate_table(storage, money)
