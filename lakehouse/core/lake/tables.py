"""Which files hold a curated table *now*: versioned partitions and the table's manifest (one reader API).

A rewrite of partition ``event_date=D`` never touches the files readers use: the new content is written below a
fresh **version directory** named after the run, ``curated/<table>/event_date=D/_v-<run_id>/part-*.parquet``,
and the table's **manifest** ``curated/<table>/_manifest.json`` (one JSON object, written in one PUT on S3, a
temp file + ``os.replace`` locally) maps every partition value to its current version. Switching the manifest is
the commit: a reader that resolves a table through :func:`current` sees every partition either wholly before or
wholly after a rewrite, and the version it replaced stays (listed under ``retired``) until vacuumed.

``_``-prefixed directories are skipped by Spark's, pyarrow's and Hive's listings, so a reader that still lists
the table folder sees only legacy files, never two versions of a partition. The version sits *inside* the
partition folder because Spark's partition discovery (explicit folders below one ``basePath``) then finds
``event_date`` for versions and legacy folders alike; ``<table>/_v-<run>/event_date=D`` makes Spark 4.3 refuse
folders of two runs together (``CONFLICTING_DIRECTORY_STRUCTURES``, measured).

A **legacy** table (written before versions existed: ``curated/<table>/event_date=D/*.parquet``, no manifest)
reads as it is: every partition folder holding data files is current with the version ``""`` (its own files,
not its subfolders). Its first rewrite writes the manifest, listing the legacy partitions it kept.

Manifest document::

    {"format": 1, "partition_column": "event_date", "run_id": "<last run that switched it>", "updated_at": "...",
     "partitions": {"2025-06-01": "_v-20250602T093000Z-1a2b3c4d", "2025-05-01": ""},
     "retired": [{"partition": "2025-06-01", "version": "", "retired_at": "2025-06-02T09:31:00+00:00"}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakehouse.core.lake.storage import LakeStorage, StoredObject

PARTITION = "event_date"
MANIFEST = "_manifest.json"
VERSION_PREFIX = "_v-"
FORMAT = 1
#: the run id inside a version directory name: ``_v-20250602T093000Z-1a2b3c4d`` -> its start time
_RUN_TIME = re.compile(r"^_v-(\d{8}T\d{6})Z")


@dataclass(frozen=True)
class Retired:
    """A partition version no longer current: ``version`` of ``partition`` since ``retired_at`` (UTC ISO)."""

    partition: str
    version: str
    retired_at: str


@dataclass
class TableState:
    """A table's partitions: value -> current version (``""`` = legacy files in the partition folder itself).

    ``managed`` tells whether the state came from a manifest (else from listing a legacy table).
    """

    table_rel: str
    partitions: dict[str, str] = field(default_factory=dict)
    retired: list[Retired] = field(default_factory=list)
    managed: bool = False
    column: str = PARTITION

    def dir_rel(self, value: str, version: str | None = None) -> str:
        """The folder (relative to the lake root) of ``value``'s ``version`` (default: its current one)."""
        version = self.partitions[value] if version is None else version
        part = f"{self.table_rel}/{self.column}={value}"
        return f"{part}/{version}" if version else part

    def dirs(self, values: Iterable[str] | None = None) -> list[str]:
        """Current folders of ``values`` (default: every partition), sorted by value.

        Raises ``KeyError`` naming the values the table does not have.
        """
        wanted = sorted(self.partitions) if values is None else sorted(set(values))
        missing = [v for v in wanted if v not in self.partitions]
        if missing:
            raise KeyError(f"{self.table_rel} has no partition {self.column}={missing[0]} ({len(missing)} missing)")
        return [self.dir_rel(v) for v in wanted]

    def document(self, run_id: str, now: datetime | None = None) -> dict[str, Any]:
        """The manifest document of this state."""
        return {"format": FORMAT, "partition_column": self.column, "run_id": run_id,
                "updated_at": (now or datetime.now(UTC)).isoformat(),
                "partitions": dict(sorted(self.partitions.items())),
                "retired": [r.__dict__ for r in self.retired]}


def manifest_key(table_rel: str) -> str:
    """``<table_rel>/_manifest.json``."""
    return f"{table_rel}/{MANIFEST}"


def version_name(run_id: str) -> str:
    """The version directory a run writes: ``_v-<run_id>``."""
    return f"{VERSION_PREFIX}{run_id}"


def version_time(version: str) -> datetime | None:
    """When the run that wrote ``version`` started (from its name); None for a legacy or foreign name."""
    match = _RUN_TIME.match(version)
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC) if match else None


def _legacy_partitions(storage: LakeStorage, table_rel: str, column: str) -> dict[str, str]:
    found: dict[str, str] = {}
    prefix = f"{column}="
    for obj in storage.list(table_rel):
        parts = obj.key[len(table_rel) + 1:].split("/")
        if len(parts) == 2 and parts[0].startswith(prefix) and parts[1].endswith(".parquet") \
                and not parts[1].startswith(("_", ".")):
            found[parts[0][len(prefix):]] = ""
    return found


def current(storage: LakeStorage, table_rel: str, column: str = PARTITION) -> TableState:
    """The table's partitions now: its manifest, or (none yet) the legacy partition folders holding data.

    Raises ``ValueError`` for a manifest of an unknown format (written by a newer version of this code).
    """
    key = manifest_key(table_rel)
    if not storage.exists(key):
        return TableState(table_rel, _legacy_partitions(storage, table_rel, column), [], False, column)
    document = json.loads(storage.get_bytes(key))
    if document.get("format") != FORMAT:
        raise ValueError(f"{key}: manifest format {document.get('format')!r}, this code reads {FORMAT}")
    return TableState(table_rel, dict(document["partitions"]),
                      [Retired(**r) for r in document.get("retired", [])], True,
                      document.get("partition_column", column))


def commit(storage: LakeStorage, state: TableState, run_id: str, now: datetime | None = None) -> str:
    """Write ``state`` as the table's manifest (the atomic switch); returns its URI."""
    body = json.dumps(state.document(run_id, now), indent=1, sort_keys=True).encode()
    return storage.put_bytes(manifest_key(state.table_rel), body, content_type="application/json")


def files(storage: LakeStorage, state: TableState, values: Iterable[str] | None = None) -> list[StoredObject]:
    """The Parquet files of the current version of ``values`` (default: every partition).

    A legacy partition's files are those directly in its folder (its ``_v-*``/hidden subfolders excluded).
    """
    out: list[StoredObject] = []
    for folder in state.dirs(values):
        for obj in storage.list(folder):
            name = obj.key[len(folder) + 1:]
            if "/" not in name and name.endswith(".parquet") and not name.startswith(("_", ".")):
                out.append(obj)
    return out


def _naive_utc(table):
    """``table`` with its UTC timestamps (INT64 ``TIMESTAMP(isAdjustedToUTC)``, as the curated writer writes them
    since issue 15) as naive UTC ``timestamp[ns]``, the type pyarrow gives INT96 files: partitions written before
    and after concatenate, and callers see one type."""
    import pyarrow as pa

    fields = [pa.field(f.name, pa.timestamp("ns")) if pa.types.is_timestamp(f.type) and f.type.tz in ("UTC", "+00:00")
              else f for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def read_arrow(storage: LakeStorage, table_rel: str, columns: list[str] | None = None):
    """Every current row of a table as a ``pyarrow.Table``, the partition column last (``date32``); an empty
    table (no columns) when it has no data. For tests and small tables: it reads everything into memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    state = current(storage, table_rel)
    layout = storage.layout
    parts = []
    for value in sorted(state.partitions):
        paths = [layout.path(f.key) for f in files(storage, state, [value])]
        if not paths:
            continue
        wanted = [c for c in columns if c != state.column] if columns is not None else None
        # ParquetFile: no partition discovery from the path (pyarrow 17's read_table adds event_date itself)
        table = pa.concat_tables([_naive_utc(pq.ParquetFile(p).read(columns=wanted)) for p in paths],
                                 promote_options="default")
        day = pa.array([datetime.strptime(value, "%Y-%m-%d").date()] * table.num_rows, pa.date32())
        if columns is None or state.column in columns:
            table = table.append_column(state.column, day)
        parts.append(table)
    return pa.concat_tables(parts, promote_options="default") if parts else pa.table({})
