"""File operations on the lake that Spark does not do for us: list, sizes, delete a prefix.

Works on a local lake (plain files) and on ``s3://`` (boto3, which Glue ships), through
:class:`lakehouse.core.lake.storage.LakeStorage` for reads and listings.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from lakehouse.core.aws.clients import aws_client
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
    """Values of a Hive-style partition column that have data files (``event_date=2025-06-02`` -> '2025-06-02')."""
    values = set()
    for obj in data_files(storage, table_rel):
        for name, value in _PARTITION.findall(obj.key[len(table_rel):]):
            if name == column:
                values.add(value)
    return values


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
