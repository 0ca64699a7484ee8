"""The pieces of an incremental star build that need no Spark: which partitions changed, which snapshot days a
night adds, which keys the delta load uses."""

from __future__ import annotations

from datetime import date

import pytest

from glue_jobs.star.incremental import DELTA_KEYS, changed_partitions, is_month_end, snapshot_days_between
from glue_jobs.star.schema import STAR_TABLES
from glue_jobs.warehouse.sql_files import star_tables


@pytest.mark.parametrize(("now", "before", "after", "up_to", "expected"), [
    # a rewritten partition (late event), a new one; an untouched one is not looked at again
    ({"2025-01-01": "_v-a", "2025-01-02": "_v-c", "2025-01-03": "_v-d"},
     {"2025-01-01": "_v-a", "2025-01-02": "_v-b"}, date(2025, 1, 2), date(2025, 1, 3), ["2025-01-02", "2025-01-03"]),
    # a legacy partition (version "") rewritten for the first time
    ({"2025-01-01": "_v-a"}, {"2025-01-01": ""}, date(2025, 1, 1), date(2025, 1, 1), ["2025-01-01"]),
    # a partition dated after the previous as-of day (left out then) that the new as-of day now includes
    ({"2025-01-05": "_v-a"}, {"2025-01-05": "_v-a"}, date(2025, 1, 4), date(2025, 1, 5), ["2025-01-05"]),
    # ... and one still after the new as-of day stays out
    ({"2025-01-09": "_v-a"}, {"2025-01-09": "_v-a"}, date(2025, 1, 4), date(2025, 1, 5), []),
    # no previous build: every partition
    ({"2025-01-01": ""}, {}, None, date(2025, 1, 1), ["2025-01-01"]),
])
def test_changed_partitions(now, before, after, up_to, expected) -> None:
    assert changed_partitions(now, before, after, up_to) == expected


@pytest.mark.parametrize(("after", "up_to", "expected"), [
    (date(2025, 1, 29), date(2025, 1, 30), [date(2025, 1, 30)]),
    (date(2025, 1, 30), date(2025, 2, 1), [date(2025, 1, 31), date(2025, 2, 1)]),  # a night across a month end
    (date(2025, 1, 31), date(2025, 1, 31), []),
    (date(2024, 2, 27), date(2024, 3, 1), [date(2024, 2, 29), date(2024, 3, 1)]),
])
def test_snapshot_days_a_night_adds(after, up_to, expected) -> None:
    assert snapshot_days_between(after, up_to) == expected
    assert all(is_month_end(d) for d in expected[:-1])


def test_the_delta_keys_are_the_ddl_primary_keys() -> None:
    """The star's delta (gone rows by key) and the load's DELETE must agree on what a row's key is."""
    specs = star_tables()
    assert {t: specs[t].primary_key for t in DELTA_KEYS} == DELTA_KEYS
    assert set(DELTA_KEYS) <= set(STAR_TABLES)
