"""The emulator's Kinesis fixes return exactly what moto's own shard code returns."""

import pytest
from moto.kinesis.models import Shard

from lakehouse.aws import moto_patches


def _shard(records: int) -> Shard:
    shard = Shard(0, 0, 2**128 - 1)
    for n in range(records):
        shard.put_record(f"k{n}", f"data-{n}", None)
    return shard


@pytest.mark.parametrize("records", [0, 1, 7, 50])
@pytest.mark.parametrize(("after", "limit"), [("0", None), ("0", 5), ("3", 2), ("6", 100), ("49", 10), ("60", 1)])
def test_patched_lookups_match_moto(records: int, after: str, limit: int | None) -> None:
    shard = _shard(records)
    expected = moto_patches._original_get_records(shard, after, limit)
    got = moto_patches._get_records(shard, after, limit)
    assert [r.sequence_number for r in got[0]] == [r.sequence_number for r in expected[0]]
    assert got[1] == expected[1]
    assert abs(got[2] - expected[2]) <= 1
    keys = list(shard.records)
    assert moto_patches._first_key(shard) == (keys[0] if keys else 0)
    assert moto_patches._last_key(shard) == (keys[-1] if keys else 0)


def test_falls_back_to_moto_when_sequence_numbers_have_gaps() -> None:
    shard = _shard(10)
    del shard.records[4]
    expected = moto_patches._original_get_records(shard, "2", 3)
    got = moto_patches._get_records(shard, "2", 3)
    assert [r.sequence_number for r in got[0]] == [r.sequence_number for r in expected[0]] == [3, 5, 6]


def test_apply_keeps_puts_sequential() -> None:
    moto_patches.apply()
    shard = Shard(1, 0, 2**128 - 1)
    numbers = [shard.put_record(f"k{n}", "d", None) for n in range(5)]
    assert numbers == ["1", "2", "3", "4", "5"]
    assert shard.get_max_sequence_number() == 5 and shard.get_min_sequence_number() == 1
