"""A streaming checkpoint's state store rewritten without a person, on a checkpoint written here in Spark's format
(lz4-java framing, UnsafeRow keys and values); Spark itself reading the rewritten state after a real stream run is
tests/lakehouse/local/test_forget.py."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.state_store import (
    StateFormatError,
    encode_records,
    erase_state,
    lz4_framed,
    lz4_frames,
    records,
)
from lakehouse.core.lake.storage import LakeStorage

CHECKPOINT = "checkpoints/features"
PART = f"{CHECKPOINT}/state/0/3"


def _row(*fields: bytes) -> bytes:
    """An UnsafeRow of variable-length fields: null bitset, (offset << 32 | size) words, 8-byte aligned data."""
    head = 8 + 8 * len(fields)
    words, data = b"", b""
    for value in fields:
        words += struct.pack("<q", ((head + len(data)) << 32) | len(value))
        data += value + b"\0" * (-len(value) % 8)
    return b"\0" * 8 + words + data


def key(name: str) -> bytes:
    return _row(name.encode())


def value(state: dict) -> bytes:
    return _row(_row(json.dumps(state).encode()))


def delta(*pairs: tuple[bytes, bytes | None]) -> bytes:
    out = b""
    for k, v in pairs:
        out += struct.pack(">i", len(k)) + k + (struct.pack(">i", -1) if v is None else struct.pack(">i", len(v)) + v)
    return lz4_framed(out + struct.pack(">i", -1))


def test_the_framing_round_trips_and_checks_its_checksums() -> None:
    raw = os.urandom(70_000) + b"a" * 100_000  # an incompressible block (stored raw) and compressible ones
    framed = lz4_framed(raw)
    assert framed.count(b"LZ4Block") == 4 and lz4_frames(framed) == raw
    broken = bytearray(framed)
    broken[30] ^= 0xFF
    with pytest.raises(StateFormatError):
        lz4_frames(bytes(broken))
    with pytest.raises(StateFormatError):
        lz4_frames(b"PAR1....")


@pytest.fixture
def lake(tmp_path: Path) -> LakeStorage:
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path / "lake")))
    storage.put_bytes(f"{CHECKPOINT}/commits/0", b"v1\n{}")
    storage.put_bytes(f"{CHECKPOINT}/commits/1", b"v1\n{}")
    storage.put_bytes(f"{PART}/1.delta", delta((key("u1"), value({"key": "u1", "orders": 1})),
                                               (key("anon-1"), value({"key": "anon-1", "link": "u1"})),
                                               (key("u2"), value({"key": "u2", "orders": 2}))))
    storage.put_bytes(f"{PART}/2.delta", delta((key("anon-1"), None),
                                               (key("u3"), value({"key": "u3", "note": "u1"}))))
    storage.put_bytes(f"{PART}/3.delta", delta((key("u1"), value({"key": "u1", "orders": 2}))))  # not committed
    storage.put_bytes(f"{CHECKPOINT}/state/0/0/1.delta", delta((key("u9"), value({"key": "u9"}))))
    storage.put_bytes(f"{CHECKPOINT}/state/0/0/2.delta", delta())
    Path(storage.layout.key(f"{PART}/1.delta")).with_name(".1.delta.crc").write_bytes(b"crc")
    return storage


def test_the_committed_version_is_kept_without_their_keys_and_every_other_version_goes(lake: LakeStorage) -> None:
    """Version 2 (micro-batch 1 committed) as Spark rebuilds it — u1 and u2 from 1.delta, anon-1 removed by
    2.delta, u3 added — without u1, as 2.snapshot; 1.delta (which still held anon-1's state) and the uncommitted
    3.delta deleted; the partition without them untouched. Seen failing with only the current map filtered and
    the old deltas kept: the oracle of test_forget found the ids in the .delta files."""
    untouched = {k: lake.get_bytes(k) for k in (f"{CHECKPOINT}/state/0/0/1.delta", f"{CHECKPOINT}/state/0/0/2.delta")}
    result = erase_state(lake, CHECKPOINT, frozenset({"u1", "anon-1"}))
    assert sorted(o.key for o in lake.list(PART)) == [f"{PART}/2.snapshot"]
    kept = dict(records(lz4_frames(lake.get_bytes(f"{PART}/2.snapshot"))))
    assert kept == {key("u2"): value({"key": "u2", "orders": 2}), key("u3"): value({"key": "u3", "note": "u1"})}
    assert (result.partitions_rewritten, result.keys_removed, result.files_deleted) == (1, 1, 3)
    assert result.other_keys_mentioning == 1  # u3's state names u1: kept (another person's), and counted
    assert {k: lake.get_bytes(k) for k in untouched} == untouched
    assert not Path(lake.layout.key(f"{PART}/1.delta")).with_name(".1.delta.crc").exists()


def test_a_state_rebuilt_from_a_snapshot_and_later_deltas(lake: LakeStorage) -> None:
    lake.put_bytes(f"{PART}/2.snapshot", lz4_framed(encode_records({key("u1"): value({"key": "u1"}),
                                                                    key("u4"): value({"key": "u4"})})))
    lake.put_bytes(f"{CHECKPOINT}/commits/2", b"v1\n{}")
    erase_state(lake, CHECKPOINT, frozenset({"u1"}))
    assert sorted(o.key for o in lake.list(PART)) == [f"{PART}/3.snapshot"]
    assert set(dict(records(lz4_frames(lake.get_bytes(f"{PART}/3.snapshot"))))) == {key("u4")}


def test_a_checkpoint_missing_a_delta_is_refused_before_anything_changes(lake: LakeStorage) -> None:
    lake.delete([f"{PART}/1.delta"])
    lake.put_bytes(f"{PART}/2.delta", delta((key("u1"), value({"key": "u1"}))))
    with pytest.raises(StateFormatError, match="version 1"):
        erase_state(lake, CHECKPOINT, frozenset({"u1"}))
    assert lake.exists(f"{PART}/2.delta") and lake.exists(f"{PART}/3.delta")



def test_an_id_inside_other_ids_touches_nothing(lake: LakeStorage) -> None:
    """Forgetting `u` (the bytes of u1, u2, u3): no partition holds the id `u` itself, so none is rewritten. Seen
    failing with the byte look alone: both partitions rewritten, their older versions deleted (a new user's
    report)."""
    before = {o.key: lake.get_bytes(o.key) for o in lake.list(CHECKPOINT)}
    result = erase_state(lake, CHECKPOINT, frozenset({"u"}))
    assert (result.partitions_rewritten, result.files_deleted) == (0, 0)
    assert {o.key: lake.get_bytes(o.key) for o in lake.list(CHECKPOINT)} == before
