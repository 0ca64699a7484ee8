"""Object storage over a lake root: the same calls for S3 (boto3) and a local directory.

Writes are atomic in both worlds: S3 ``PutObject`` is, and locally a temp file is renamed into place,
so a reader never sees half an object.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.lake.layout import LakeLayout


@dataclass(frozen=True)
class StoredObject:
    """An object in the lake: its key relative to the root and its size in bytes."""

    key: str  # relative to the lake root, e.g. raw/source=web/dt=.../x.jsonl.gz
    size: int


class LakeStorage:
    """Put, get and list objects relative to a lake root."""

    def __init__(self, layout: LakeLayout, region: str | None = None):
        self.layout = layout
        self._region = region

    @property
    def _s3(self):
        return aws_client("s3", region=self._region)

    def put_bytes(self, rel_key: str, data: bytes, content_type: str = "application/octet-stream",
                  content_encoding: str | None = None) -> str:
        """Store ``data`` at ``rel_key``; returns the object's full URI."""
        if self.layout.is_s3:
            extra = {"ContentEncoding": content_encoding} if content_encoding else {}
            self._s3.put_object(Bucket=self.layout.bucket, Key=self.layout.key(rel_key), Body=data,
                                ContentType=content_type, **extra)
        else:
            target = Path(self.layout.key(rel_key))
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return self.layout.uri(rel_key)

    def get_bytes(self, rel_key: str) -> bytes:
        """The object's content; raises ``FileNotFoundError`` (local) or ``ClientError`` (S3) when missing."""
        if self.layout.is_s3:
            return self._s3.get_object(Bucket=self.layout.bucket, Key=self.layout.key(rel_key))["Body"].read()
        return Path(self.layout.key(rel_key)).read_bytes()

    def exists(self, rel_key: str) -> bool:
        """Whether an object (not a folder) exists at ``rel_key``."""
        if self.layout.is_s3:
            resp = self._s3.list_objects_v2(Bucket=self.layout.bucket, Prefix=self.layout.key(rel_key),
                                            MaxKeys=1)
            return any(o["Key"] == self.layout.key(rel_key) for o in resp.get("Contents", []))
        return Path(self.layout.key(rel_key)).is_file()

    def list(self, rel_prefix: str) -> Iterator[StoredObject]:
        """Objects below ``rel_prefix`` (a folder-like prefix), sorted by key; hidden temp files skipped."""
        if self.layout.is_s3:
            prefix = self.layout.key(rel_prefix).rstrip("/") + "/"
            base_len = len(self.layout.base) + 1 if self.layout.base else 0
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.layout.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield StoredObject(obj["Key"][base_len:], obj["Size"])
            return
        root = Path(self.layout.key(""))
        folder = Path(self.layout.key(rel_prefix))
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield StoredObject(path.relative_to(root).as_posix(), path.stat().st_size)

    def delete(self, rel_keys: list[str]) -> int:
        """Delete the objects at ``rel_keys`` (missing ones are no error); returns how many keys were given.

        On S3 ``DeleteObjects`` in batches of 1,000 (its limit); raises ``OSError`` naming the first key S3 refused.
        """
        if self.layout.is_s3:
            self._delete_objects([{"Key": self.layout.key(k)} for k in rel_keys])
        else:
            for key in rel_keys:
                Path(self.layout.key(key)).unlink(missing_ok=True)
        return len(rel_keys)

    def purge_history(self, rel_keys: list[str]) -> int:
        """Delete every noncurrent version (and delete marker) of the objects at ``rel_keys`` — what a versioned
        bucket keeps of an object rewritten or deleted — so an erasure leaves no old copy; returns how many versions
        went. Nothing to do locally or on an unversioned bucket. Raises ``OSError`` naming a version S3 refused."""
        if not self.layout.is_s3:
            return 0
        purged = 0
        for rel_key in rel_keys:
            key = self.layout.key(rel_key)
            stale = []
            for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self.layout.bucket,
                                                                                 Prefix=key):
                for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if version["Key"] == key and not (version.get("IsLatest") and "Size" in version):
                        stale.append({"Key": key, "VersionId": version["VersionId"]})
            self._delete_objects(stale)
            purged += len(stale)
        return purged

    def purge_rewritten_since(self, rel_prefix: str, since: datetime) -> int:
        """Delete the noncurrent versions (and delete markers) of every object below ``rel_prefix`` whose newest
        version was written at or after ``since`` — what an interrupted rewrite of those objects left behind;
        returns how many versions went. Nothing to do locally or on an unversioned bucket."""
        if not self.layout.is_s3:
            return 0
        since = since.replace(microsecond=0)  # S3 keeps LastModified to the second
        prefix = self.layout.key(rel_prefix).rstrip("/") + "/"
        by_key: dict[str, list[dict]] = {}
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self.layout.bucket, Prefix=prefix):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                by_key.setdefault(version["Key"], []).append(version)
        stale = []
        for key, versions in by_key.items():
            latest = next((v for v in versions if v.get("IsLatest")), None)
            if latest is not None and latest["LastModified"] >= since:
                stale += [{"Key": key, "VersionId": v["VersionId"]} for v in versions if v is not latest]
        self._delete_objects(stale)
        return len(stale)

    def _delete_objects(self, objects: list[dict[str, str]]) -> None:
        """``DeleteObjects`` of ``{"Key"[, "VersionId"]}`` entries (full keys), 1,000 a call (its limit); raises
        ``OSError`` naming the first object S3 refused."""
        for start in range(0, len(objects), 1000):
            answer = self._s3.delete_objects(Bucket=self.layout.bucket,
                                             Delete={"Objects": objects[start:start + 1000], "Quiet": True})
            if answer.get("Errors"):
                error = answer["Errors"][0]
                version = f" version {error['VersionId']}" if error.get("VersionId") else ""
                raise OSError(f"S3 refused to delete {error.get('Key')}{version}: {error.get('Message')}")
