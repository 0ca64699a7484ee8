"""File operations on the lake that Spark does not do for us: list, sizes, delete a prefix; and the one way
Spark reads a curated table (its current partition versions, :mod:`lakehouse.core.lake.tables`).

Works on a local lake (plain files) and on ``s3://`` (boto3, which Glue ships), through
:class:`lakehouse.core.lake.storage.LakeStorage` for reads and listings.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.lake import tables
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage, StoredObject

_PARTITION = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*)=([^/]+)/")


@dataclass(frozen=True)
class FileStats:
    """A count of files and their total size in bytes."""

    files: int = 0
    bytes: int = 0


def data_files(storage: LakeStorage, rel_prefix: str, suffix: str = ".parquet") -> list[StoredObject]:
    """Data files below a prefix (Spark's ``_SUCCESS`` markers, hidden and staging files skipped)."""
    return [o for o in storage.list(rel_prefix)
            if o.key.endswith(suffix) and "/_" not in o.key[len(rel_prefix):] and "/." not in o.key]


def stats(files: list[StoredObject]) -> FileStats:
    """How many ``files`` and their total size in bytes."""
    return FileStats(len(files), sum(f.size for f in files))


def partition_values(storage: LakeStorage, table_rel: str, column: str) -> set[str]:
    """Values of a Hive-style partition column that have data files (``event_date=2025-06-02`` -> '2025-06-02').

    A table with a partition manifest (a curated table, :mod:`lakehouse.core.lake.tables`) answers with its
    current partitions; any other folder from its listing (``_``-prefixed folders, so partition versions, skipped).
    """
    if storage.exists(tables.manifest_key(table_rel)):
        return set(tables.current(storage, table_rel, column).partitions)
    values = set()
    for obj in data_files(storage, table_rel):
        for name, value in _PARTITION.findall(obj.key[len(table_rel):]):
            if name == column:
                values.add(value)
    return values


def read_table(spark, storage: LakeStorage, table_rel: str, values: Iterable[str] | None = None, schema=None,
               state: tables.TableState | None = None):
    """The current rows of a curated table (partitions ``values``, default all) as a Spark DataFrame with the
    partition column; None when the table has no partition (or none of ``values``).

    Reads the current version folders as explicit paths below ``basePath`` = the table folder, so Spark finds the
    partition column in ``.../event_date=D/_v-<run>`` and in legacy ``.../event_date=D`` alike (measured on 90
    partitions: no slower than listing the table folder). ``schema`` skips schema inference. Raises ``KeyError``
    for a value the table does not have.
    """
    state = state or tables.current(storage, table_rel)
    dirs = state.dirs(values)
    if not dirs:
        return None
    reader = spark.read.option("basePath", storage.layout.uri(table_rel))
    if schema is not None:
        reader = reader.schema(schema)
    return reader.parquet(*[storage.layout.uri(d) for d in dirs])


def move_prefix(storage: LakeStorage, source_rel: str, target_rel: str, region: str | None = None) -> int:
    """Move every object below ``source_rel`` to the same place below ``target_rel``; returns how many.

    Locally one folder rename; on S3 a server-side copy per object, then the deletes. Not atomic on S3: use it only
    for folders no reader resolves yet (a partition version before its manifest switch).
    """
    layout = storage.layout
    if not layout.is_s3:
        source, target = Path(layout.key(source_rel)), Path(layout.key(target_rel))
        if not source.is_dir():
            return 0
        count = sum(1 for p in source.rglob("*") if p.is_file())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        source.rename(target)
        return count
    s3 = aws_client("s3", region=region)
    keys = [o.key for o in storage.list(source_rel)]
    for key in keys:
        s3.copy_object(Bucket=layout.bucket, Key=layout.key(target_rel + key[len(source_rel):]),
                       CopySource={"Bucket": layout.bucket, "Key": layout.key(key)})
    delete_keys(storage, keys, region)
    return len(keys)


def delete_keys(storage: LakeStorage, keys: list[str], region: str | None = None) -> int:
    """Delete the given objects (keys relative to the lake root); returns how many were asked for."""
    layout = storage.layout
    if not layout.is_s3:
        for key in keys:
            Path(layout.key(key)).unlink(missing_ok=True)
        return len(keys)
    s3 = aws_client("s3", region=region)
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": layout.key(k)} for k in keys[start:start + 1000]]
        s3.delete_objects(Bucket=layout.bucket, Delete={"Objects": chunk, "Quiet": True})
    return len(keys)


def delete_prefix(layout: LakeLayout, rel_prefix: str, region: str | None = None) -> int:
    """Delete everything below ``rel_prefix``; returns the number of objects/files removed.

    Raises ``ValueError`` for an empty prefix (the whole lake).
    """
    if not rel_prefix.strip("/"):
        raise ValueError("refusing to delete the whole lake")
    if not layout.is_s3:
        folder = Path(layout.key(rel_prefix))
        if not folder.exists():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count
    s3 = aws_client("s3", region=region)
    prefix = layout.key(rel_prefix).rstrip("/") + "/"
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=layout.bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=layout.bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
        removed += len(keys)
    return removed


def parquet_rows(storage: LakeStorage, files: list[StoredObject]) -> int | None:
    """Rows in local Parquet files from their footers (None on S3: let Spark count)."""
    if storage.layout.is_s3:
        return None
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(storage.layout.key(f.key)).metadata.num_rows for f in files)
