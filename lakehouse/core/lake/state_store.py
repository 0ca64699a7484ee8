"""Erase one person from a streaming job's checkpoint: the keyed state in Spark's state store (docs/erasure.md).

Core, not the stream stage: the local ``lakehouse forget`` and the AWS erasure job both rewrite checkpoints, and
neither runs the stream. The feature job keeps one JSON state per key (``stream/state.py``) in Spark's default
state store (``HDFSBackedStateStoreProvider``): per operator and partition,
``<checkpoint>/state/<op>/<partition>/<v>.delta`` (the keys a micro-batch changed or removed) and now and then
``<v>.snapshot`` (every key), version ``v`` being the micro-batch id + 1. Old versions stay until Spark's
maintenance drops them (100 micro-batches by default), so a person's state lingers in files of versions long
past. Erasing them:

1. The version to keep is the last committed micro-batch's (``commits/<id>`` -> ``id + 1``): Spark restarts
   from it. Its key/value map is rebuilt as Spark does (the latest snapshot at or before it, then each delta).
2. A partition none of whose files mentions the person is left alone. Otherwise its map, without the person's
   keys, is written as ``<v>.snapshot`` and every other version file of the partition is deleted (uncommitted
   later versions included: Spark recomputes them from ``v``). A key of another person whose state mentions one
   of the ids is kept and counted (``other_keys_mentioning``): with the identity rule such a state does not arise.

File format (Spark's ``HDFSBackedStateStoreProvider`` delta and snapshot files): a stream compressed by Spark's
``lz4`` codec — lz4-java's ``LZ4BlockOutputStream`` framing: ``LZ4Block``, a token (method | log2(block size) -
10), compressed and original lengths and the XXH32 checksum (seed ``0x9747b28c``, masked to 28 bits), little
endian — holding records ``<key length><key UnsafeRow><value length | -1 for a removal><value UnsafeRow>`` (big
endian ints) ended by ``-1``. Keys are one-string UnsafeRows; a value is the state struct ``state string``
inside an UnsafeRow. The job must be stopped while this runs (the local commands hold a lock for that).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from lakehouse.core.erasure import mentions
from lakehouse.core.lake.storage import LakeStorage

MAGIC = b"LZ4Block"
SEED = 0x9747B28C
#: 64 KiB blocks (Spark's spark.io.compression.lz4.blockSize default is 32 KiB; the reader takes up to the token's)
LEVEL = 6
BLOCK = 1 << (10 + LEVEL)
RAW, LZ4 = 0x10, 0x20
HEADER = struct.Struct("<iii")


class StateFormatError(ValueError):
    """A state store file this module cannot read (not Spark's lz4 framing, or a state of another shape)."""


@dataclass
class StateErasure:
    """What :func:`erase_state` did to one checkpoint."""

    partitions_rewritten: int = 0
    keys_removed: int = 0
    files_deleted: int = 0
    other_keys_mentioning: int = 0
    versions_purged: int = 0
    deleted: list[str] = field(default_factory=list)


def lz4_frames(data: bytes) -> bytes:
    """The bytes inside lz4-java block framing (checksums checked). Raises :class:`StateFormatError`."""
    import lz4.block  # imported here: the ingestion function's layer ships the core without these codecs
    import xxhash

    out, pos = bytearray(), 0
    while pos < len(data):
        if data[pos:pos + 8] != MAGIC or pos + 21 > len(data):
            raise StateFormatError("not lz4-java block framing (Spark's lz4 codec)")
        method = data[pos + 8] & 0xF0
        compressed, original, check = HEADER.unpack_from(data, pos + 9)
        pos += 21
        block = data[pos:pos + compressed]
        pos += compressed
        if original == 0:
            continue
        raw = block if method == RAW else lz4.block.decompress(block, uncompressed_size=original)
        if xxhash.xxh32_intdigest(raw, seed=SEED) & 0xFFFFFFF != check:
            raise StateFormatError("lz4 block checksum mismatch")
        out += raw
    return bytes(out)


def lz4_framed(raw: bytes) -> bytes:
    """``raw`` in lz4-java block framing, as ``LZ4BlockOutputStream`` writes it (ended by an empty block)."""
    import lz4.block
    import xxhash

    out = bytearray()
    for start in range(0, len(raw), BLOCK):
        chunk = raw[start:start + BLOCK]
        packed = lz4.block.compress(chunk, store_size=False)
        method, body = (LZ4, packed) if len(packed) < len(chunk) else (RAW, chunk)
        check = xxhash.xxh32_intdigest(chunk, seed=SEED) & 0xFFFFFFF
        out += MAGIC + bytes([method | LEVEL]) + HEADER.pack(len(body), len(chunk), check) + body
    out += MAGIC + bytes([RAW | LEVEL]) + HEADER.pack(0, 0, 0)
    return bytes(out)


def records(raw: bytes) -> Iterator[tuple[bytes, bytes | None]]:
    """``(key row, value row or None for a removal)`` of a state file's decompressed bytes."""
    pos = 0
    while True:
        if pos + 4 > len(raw):
            raise StateFormatError("state file ends without its end marker")
        (size,) = struct.unpack_from(">i", raw, pos)
        pos += 4
        if size == -1:
            return
        key = raw[pos:pos + size]
        pos += size
        (size,) = struct.unpack_from(">i", raw, pos)
        pos += 4
        if size < 0:
            yield key, None
            continue
        yield key, raw[pos:pos + size]
        pos += size


def encode_records(pairs: dict[bytes, bytes]) -> bytes:
    """A snapshot file's decompressed bytes: every pair, then the end marker."""
    out = bytearray()
    for key, value in pairs.items():
        out += struct.pack(">i", len(key)) + key + struct.pack(">i", len(value)) + value
    return bytes(out + struct.pack(">i", -1))


def row_string(row: bytes) -> str:
    """The string of a one-string-field UnsafeRow (8-byte null bitset, then offset << 32 | size)."""
    (word,) = struct.unpack_from("<q", row, 8)
    offset, size = word >> 32, word & 0xFFFFFFFF
    return row[offset:offset + size].decode("utf-8")


def value_state(row: bytes) -> str:
    """The JSON state inside a value row: a one-struct-field UnsafeRow holding a one-string-field row."""
    (word,) = struct.unpack_from("<q", row, 8)
    offset, size = word >> 32, word & 0xFFFFFFFF
    return row_string(row[offset:offset + size])


def erase_state(storage: LakeStorage, checkpoint: str, identifiers: frozenset[str]) -> StateErasure:
    """Remove every key in ``identifiers`` from the state store of the checkpoint at ``checkpoint`` (lake-relative)
    and every older or uncommitted version of the partitions that held them (module docstring)."""
    result = StateErasure()
    version = _committed_version(storage, checkpoint)
    folders: dict[str, dict[int, dict[str, str]]] = {}
    for obj in storage.list(f"{checkpoint}/state"):
        folder, _, name = obj.key.rpartition("/")
        stem, _, kind = name.partition(".")
        if kind in ("delta", "snapshot") and stem.isdigit():
            folders.setdefault(folder, {}).setdefault(int(stem), {})[kind] = obj.key
    needles = [i.encode("utf-8") for i in identifiers]
    for folder, versions in sorted(folders.items()):
        contents = {key: lz4_frames(storage.get_bytes(key)) for kinds in versions.values() for key in kinds.values()}
        if not any(n in raw for raw in contents.values() for n in needles):
            continue  # the cheap look: none of their ids' bytes anywhere in the partition
        if not any(_theirs(key, value, identifiers) for raw in contents.values() for key, value in records(raw)):
            continue  # the bytes were part of other ids (u1 in u10): equality decides, as everywhere
        state = _state_at(versions, contents, version) if version else {}
        kept: dict[bytes, bytes] = {}
        for key, value in state.items():
            if row_string(key) in identifiers:
                result.keys_removed += 1
                continue
            if mentions(json.loads(value_state(value)), identifiers):
                result.other_keys_mentioning += 1
            kept[key] = value
        snapshot = f"{folder}/{version}.snapshot"
        if version:
            _put(storage, snapshot, lz4_framed(encode_records(kept)))
        stale = sorted(k for kinds in versions.values() for k in kinds.values() if k != snapshot)
        _delete(storage, stale)
        result.versions_purged += storage.purge_history([snapshot, *stale])
        result.deleted += stale
        result.files_deleted += len(stale)
        result.partitions_rewritten += 1
    return result


def _theirs(key: bytes, value: bytes | None, identifiers: frozenset[str]) -> bool:
    """Whether a state record is the person's: its key is one of their ids, or its state names one."""
    return row_string(key) in identifiers or (value is not None and mentions(json.loads(value_state(value)),
                                                                              identifiers))


def _committed_version(storage: LakeStorage, checkpoint: str) -> int:
    """The state version of the last committed micro-batch (its id + 1); 0 before the first commit."""
    ids = [int(o.key.rsplit("/", 1)[1]) for o in storage.list(f"{checkpoint}/commits")
           if o.key.rsplit("/", 1)[1].isdigit()]
    return max(ids) + 1 if ids else 0


def _state_at(versions: dict[int, dict[str, str]], contents: dict[str, bytes], version: int) -> dict[bytes, bytes]:
    """The key/value map of ``version``, as Spark loads it: the latest snapshot at or before it, then the deltas."""
    base = max((v for v, kinds in versions.items() if v <= version and "snapshot" in kinds), default=0)
    state: dict[bytes, bytes] = {}
    if base:
        state.update((k, v) for k, v in records(contents[versions[base]["snapshot"]]) if v is not None)
    for v in range(base + 1, version + 1):
        if "delta" not in versions.get(v, {}):
            raise StateFormatError(f"state version {v} has no delta file: the checkpoint is incomplete")
        for key, value in records(contents[versions[v]["delta"]]):
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    return state


def _put(storage: LakeStorage, key: str, data: bytes) -> None:
    storage.put_bytes(key, data)
    _drop_checksum(storage, key)


def _delete(storage: LakeStorage, keys: list[str]) -> None:
    storage.delete(keys)
    for key in keys:
        _drop_checksum(storage, key)


def _drop_checksum(storage: LakeStorage, key: str) -> None:
    """Locally, Hadoop's checksum file beside ``key`` (``.<name>.crc``): it would not match the new bytes."""
    if not storage.layout.is_s3:
        from pathlib import Path

        path = Path(storage.layout.key(key))
        path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
