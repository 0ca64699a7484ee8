"""Erase one person from every zone of the lake (a local directory or S3), in place (docs/erasure.md).

What is rewritten, with the matching rule of :mod:`lakehouse.core.erasure`:

* **JSON-lines objects** (``*.jsonl.gz``, ``*.jsonl``) under ``raw/``, ``quarantine/`` and ``checkpoints/`` (the
  streaming job's feedback records): each object holding a record of the person is written again without it, at
  the same key, compressed the same way. An object left with no record stays, empty (landing logs name it).
* **Parquet files** under ``curated/``, ``warehouse/`` (the star's builds, every one kept, and the scoring runs)
  and ``state/`` (the identity maps): each file holding a row of the person is written again without those rows,
  same schema, ZSTD. Every version and build of a table is rewritten, not only the current one, so no retired
  copy keeps them. Locally the checksum file Spark's local file system keeps beside a data file
  (``.<name>.crc``) is removed with the rewrite (it would no longer match).
* **Redshift COPY manifests** (``warehouse/_manifests/``) get the new ``content_length`` of every file rewritten
  (COPY of Parquet checks it), and scoring-run records their new row counts.

Each rewrite is one atomic put (S3 ``PutObject``; locally a temp file renamed), so a reader sees a file before or
after it. On a versioned bucket (the lake's, docs/deploy.md) the versions a rewrite leaves behind are deleted
(:meth:`LakeStorage.purge_history`): an old version is a copy like any other. Costs one read of every JSON-lines
and Parquet object of the lake: the raw zone dominates.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.core.erasure import (
    ID_FIELDS,
    ErasureRecord,
    Subject,
    emails_in,
    holds_as_id,
    spellings,
    split_lines,
    subject_of,
)
from lakehouse.core.lake.storage import LakeStorage

#: zones whose JSON-lines objects hold records of people
JSON_LINES_ZONES = ("raw", "quarantine", "checkpoints")
#: zones whose Parquet files hold rows of people
PARQUET_ZONES = ("curated", "warehouse", "state")
#: every build's identity map (id -> resolved customer id), written by the star build
IDENTITY_MAPS = "state/build_star/identity_map"
#: tables whose rows carry a customer's e-mail hash: the star's customer dimension (every SCD2 version) and the
#: curated profile table
EMAIL_TABLES = ("warehouse/dim_customer", "curated/customers")
COPY_MANIFESTS = "warehouse/_manifests"
SCORE_RUNS = "state/score/runs"


@dataclass
class LakeErasure:
    """What :func:`erase_lake` did: the subject (with the e-mails found on the way) and the files it rewrote
    (lake-relative key -> new size in bytes)."""

    subject: Subject
    rewritten: dict[str, int] = field(default_factory=dict)


def resolve_subject(storage: LakeStorage, customer_id: str) -> Subject:
    """The subject of ``customer_id``: every id the identity maps of every star build resolve to the same customer,
    and the e-mail hashes of their profile rows (:data:`EMAIL_TABLES`). Raises ``ValueError`` for a blank id."""
    pairs: list[tuple[str, str]] = []
    for key in _keys(storage, (IDENTITY_MAPS,), (".parquet",)):
        table = _read(storage, key)
        if {"id", "resolved_id"} <= set(table.column_names):
            pairs += zip(table.column("id").to_pylist(), table.column("resolved_id").to_pylist(), strict=True)
    subject = subject_of(customer_id, [(s, t) for s, t in pairs if s and t])
    emails: set[str] = set()
    for key in _keys(storage, EMAIL_TABLES, (".parquet",)):
        table = _read(storage, key)
        if "email" in table.column_names:
            emails |= set(table.filter(row_mentions(table, subject.ids)).column("email").to_pylist()) - {None}
    return subject.with_emails(emails)


def _may_hold(text: str, identifiers: Iterable[str]) -> bool:
    """Whether ``text`` (JSON lines) holds any of ``identifiers`` in any spelling JSON gives it."""
    return any(form in text for i in identifiers for form in spellings(i))


def is_a_persons_id(storage: LakeStorage, ids: frozenset[str]) -> bool:
    """Whether any of ``ids`` is a person's id in the lake: stitched in an identity map (the caller's subject has
    more than one id then), or the user, anonymous or customer id of a curated event or of a raw or quarantined
    record (:func:`holds_as_id`). A product, order or other value some records merely mention is not: erasing by
    it would remove other people's records."""
    if len(ids) > 1:
        return True
    values = pa.array(sorted(ids), pa.string())
    for key in _keys(storage, ("curated/events",), (".parquet",)):
        handle = pq.ParquetFile(io.BytesIO(storage.get_bytes(key)))
        columns = [c for c in ID_FIELDS if c in handle.schema_arrow.names]
        table = handle.read(columns=columns)
        if any(pc.any(pc.is_in(table.column(c), value_set=values.cast(table.column(c).type))).as_py()
               for c in columns):
            return True
    for zone in ("raw", "quarantine"):
        for key in _keys(storage, (zone,), (".jsonl.gz", ".jsonl")):
            data = storage.get_bytes(key)
            try:
                text = (gzip.decompress(data) if key.endswith(".gz") else data).decode("utf-8")
            except (OSError, EOFError, UnicodeDecodeError):
                continue
            if not _may_hold(text, ids):
                continue
            for line in text.splitlines():
                try:
                    if _may_hold(line, ids) and holds_as_id(json.loads(line), ids):
                        return True
                except ValueError:
                    continue
    return False


def erase_lake(storage: LakeStorage, subject: Subject, record: ErasureRecord,
               since: datetime | None = None) -> LakeErasure:
    """Remove the person's records from every JSON-lines object and rows from every Parquet file of the lake (module
    docstring), adding counts to ``record`` under ``raw``, ``quarantine``, ``checkpoints``, ``curated``,
    ``warehouse``, ``state``. E-mail hashes found on the person's JSON records join the subject; when they add one
    the profile tables did not hold, the JSON-lines objects are read once more (another record may carry only that
    e-mail), and the Parquet files are read with every identifier known. ``since``: when an earlier, unfinished
    erasure of the same person started — on a versioned bucket the old versions of every object rewritten since
    then are deleted too (that run may have rewritten them before it was killed)."""
    result = LakeErasure(subject)
    known: frozenset[str] | None = None
    while result.subject.emails != known:  # again while their records named e-mails the profile tables did not
        known = result.subject.emails
        for zone in JSON_LINES_ZONES:
            for key in _keys(storage, (zone,), (".jsonl.gz", ".jsonl")):
                first = key not in result.rewritten
                removed = _erase_json_lines(storage, key, result)
                if removed:
                    record.touched(zone, objects_rewritten=int(first), records_removed=removed)
    for zone in PARQUET_ZONES:
        for key in _keys(storage, (zone,), (".parquet",)):
            removed = _erase_parquet(storage, key, result)
            if removed:
                record.touched(zone, files_rewritten=1, rows_removed=removed)
    _fix_copy_manifests(storage)  # every entry, not only this run's files: a killed run may have rewritten some
    _fix_score_runs(storage)
    purged = storage.purge_history(sorted(result.rewritten))
    if since is not None:
        purged += sum(storage.purge_rewritten_since(zone, since) for zone in (*JSON_LINES_ZONES, *PARQUET_ZONES))
    if purged:
        record.touched("s3_versions", noncurrent_versions_deleted=purged)
    return result


def row_mentions(table: pa.Table, identifiers: Iterable[str]) -> pa.ChunkedArray | pa.Array:
    """A boolean per row of ``table``: whether any of its string values (in lists, maps and structs too) equals one
    of ``identifiers``, or holds one as a quoted JSON string."""
    values = pa.array(sorted(set(identifiers)), pa.string())
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for column in table.columns:
        mask = pc.or_(mask, _column_mentions(column.combine_chunks(), values))
    return mask


def _column_mentions(array: pa.Array, values: pa.Array) -> pa.Array:
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _column_mentions(array.dictionary_decode(), values)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        hit = pc.fill_null(pc.is_in(array, value_set=values.cast(kind)), False)
        for value in values.to_pylist():
            for quoted in dict.fromkeys((json.dumps(value), json.dumps(value, ensure_ascii=False))):
                hit = pc.or_(hit, pc.fill_null(pc.match_substring(array, quoted), False))
        return hit
    if pa.types.is_map(kind):
        offsets = array.offsets.to_numpy()
        parents = np.repeat(np.arange(len(array)), np.diff(offsets))
        inner = pc.or_(_column_mentions(array.keys, values), _column_mentions(array.items, values))
        return _hits(parents[np.asarray(inner.to_numpy(zero_copy_only=False), bool)], len(array))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list_mentions(array, values, len(array))
    if pa.types.is_struct(kind):
        hit = pa.array([False] * len(array), pa.bool_())
        for i in range(kind.num_fields):
            hit = pc.or_(hit, pc.fill_null(_column_mentions(array.field(i), values), False))
        return hit
    return pa.array([False] * len(array), pa.bool_())


def _list_mentions(lists: pa.Array, values: pa.Array, rows: int) -> pa.Array:
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    inner = _column_mentions(flat, values)
    return _hits(pc.filter(parents, inner).to_numpy(), rows)


def _hits(rows_hit: np.ndarray, rows: int) -> pa.Array:
    mask = np.zeros(rows, bool)
    mask[rows_hit] = True
    return pa.array(mask)


def _keys(storage: LakeStorage, prefixes: Iterable[str], suffixes: tuple[str, ...]) -> list[str]:
    return [o.key for prefix in prefixes for o in storage.list(prefix)
            if o.key.endswith(suffixes) and not Path(o.key).name.startswith(("_", "."))]


def _read(storage: LakeStorage, key: str) -> pa.Table:
    return pq.ParquetFile(io.BytesIO(storage.get_bytes(key))).read()


def _erase_json_lines(storage: LakeStorage, key: str, result: LakeErasure) -> int:
    data = storage.get_bytes(key)
    zipped = key.endswith(".gz")
    try:
        text = (gzip.decompress(data) if zipped else data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError):  # an unreadable object: set aside by curation, read as bytes
        text = data.decode("utf-8", errors="replace")
    if not _may_hold(text, result.subject.identifiers):  # the common case: not the person's object
        return 0
    kept, removed = split_lines(text.splitlines(), result.subject.identifiers)
    if not removed:
        return 0
    for found in removed:
        result.subject = result.subject.with_emails(emails_in(found))
    body = "".join(line + "\n" for line in kept).encode("utf-8")
    payload = gzip.compress(body, compresslevel=6, mtime=0) if zipped else body
    _put(storage, key, payload, "application/x-ndjson")
    result.rewritten[key] = len(payload)
    return len(removed)


def _erase_parquet(storage: LakeStorage, key: str, result: LakeErasure) -> int:
    handle = pq.ParquetFile(io.BytesIO(storage.get_bytes(key)))
    table = handle.read()
    mask = row_mentions(table, result.subject.identifiers)
    removed = pc.sum(mask).as_py() or 0
    if not removed:
        return 0
    int96 = any(handle.schema.column(i).physical_type == "INT96" for i in range(len(handle.schema)))
    sink = io.BytesIO()
    pq.write_table(table.filter(pc.invert(mask)), sink, compression="zstd",
                   use_deprecated_int96_timestamps=int96)
    payload = sink.getvalue()
    _put(storage, key, payload, "application/vnd.apache.parquet")
    result.rewritten[key] = len(payload)
    return removed


def _put(storage: LakeStorage, key: str, payload: bytes, content_type: str) -> None:
    storage.put_bytes(key, payload, content_type=content_type)
    if not storage.layout.is_s3:  # Hadoop's local checksum of the old bytes would fail every later read
        path = Path(storage.layout.key(key))
        path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


def _fix_copy_manifests(storage: LakeStorage) -> None:
    """Every COPY manifest entry whose ``content_length`` is not its object's size now gets the size (COPY of
    Parquet checks it): one listing of the warehouse zone."""
    sizes: dict[str, int] = {}
    for obj in storage.list("warehouse"):
        sizes[storage.layout.path(obj.key)] = sizes[storage.layout.uri(obj.key)] = obj.size
    for key in _keys(storage, (COPY_MANIFESTS,), (".json",)):
        document = json.loads(storage.get_bytes(key))
        changed = False
        for entry in document.get("entries", []):
            size = sizes.get(entry.get("url"))
            if size is not None and entry.get("meta", {}).get("content_length") != size:
                entry.setdefault("meta", {})["content_length"] = size
                changed = True
        if changed:
            storage.put_bytes(key, json.dumps(document, indent=1, sort_keys=True).encode(),
                              content_type="application/json")


def _fix_score_runs(storage: LakeStorage) -> None:
    """Every scoring-run record's ``rows``, recounted from its files' Parquet footers when it differs."""
    for key in _keys(storage, (SCORE_RUNS,), (".json",)):
        record = json.loads(storage.get_bytes(key))
        files = [f for f in record.get("files", []) if storage.exists(f)]
        if not files:
            continue
        rows = sum(pq.ParquetFile(io.BytesIO(storage.get_bytes(f))).metadata.num_rows for f in files)
        if rows != record.get("rows"):
            record["rows"] = rows
            storage.put_bytes(key, json.dumps(record, indent=1, sort_keys=True).encode(),
                              content_type="application/json")
