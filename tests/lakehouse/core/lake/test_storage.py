from pathlib import Path

import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage


def _roundtrip(storage: LakeStorage) -> None:
    uri = storage.put_bytes("raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz", b"one")
    storage.put_bytes("raw/source=web/dt=2025-01-01/hour=01/b.jsonl.gz", b"three")
    storage.put_bytes("quarantine/dt=2025-01-01/hour=00/c.jsonl.gz", b"x")
    assert uri.endswith("raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz")
    listed = list(storage.list("raw"))
    assert [(o.key, o.size) for o in listed] == [
        ("raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz", 3),
        ("raw/source=web/dt=2025-01-01/hour=01/b.jsonl.gz", 5),
    ]
    assert storage.get_bytes(listed[1].key) == b"three"
    assert storage.exists(listed[0].key)
    assert not storage.exists("raw/source=web/missing.gz")
    assert list(storage.list("curated")) == []


def test_local_directory_lake(tmp_path: Path) -> None:
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path / "lake")))
    _roundtrip(storage)
    leftovers = [p for p in (tmp_path / "lake").rglob(".tmp-*")]
    assert leftovers == []


@pytest.mark.parametrize("root", ["s3://{bucket}", "s3://{bucket}/some/prefix"])
def test_s3_lake_on_moto(aws_settings, root: str) -> None:
    bucket = aws_settings.names.lake_bucket
    storage = LakeStorage(LakeLayout.from_uri(root.format(bucket=bucket)))
    _roundtrip(storage)
    keys = [o["Key"] for o in aws_client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    prefix = "some/prefix/" if "prefix" in root else ""
    assert f"{prefix}quarantine/dt=2025-01-01/hour=00/c.jsonl.gz" in keys


def test_delete_and_purge_history_leave_no_old_version_on_a_versioned_bucket(aws_settings) -> None:
    """An erasure rewrites and deletes objects; a versioned bucket (the lake's) would keep every old copy. Seen
    failing before ``purge_history``: both old versions of the rewritten key and the deleted one stayed listed."""
    bucket = aws_settings.names.lake_bucket
    s3 = aws_client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    storage = LakeStorage(LakeLayout.from_uri(f"s3://{bucket}/lake"))
    storage.put_bytes("raw/a.jsonl.gz", b"theirs and others")
    storage.put_bytes("raw/a.jsonl.gz", b"others")
    storage.put_bytes("raw/ab.jsonl.gz", b"another object, same prefix")
    storage.put_bytes("state/x.delta", b"theirs")
    storage.delete(["state/x.delta"])
    assert storage.purge_history(["raw/a.jsonl.gz", "state/x.delta"]) == 3  # one old version, one version + marker
    versions = s3.list_object_versions(Bucket=bucket, Prefix="lake/")
    left = sorted((v["Key"], v.get("IsLatest")) for v in [*versions.get("Versions", []),
                                                            *versions.get("DeleteMarkers", [])])
    assert left == [("lake/raw/a.jsonl.gz", True), ("lake/raw/ab.jsonl.gz", True)]
    assert storage.get_bytes("raw/a.jsonl.gz") == b"others"
    assert LakeStorage(LakeLayout.from_uri("/tmp/unused")).purge_history(["x"]) == 0


def test_purge_rewritten_since_takes_the_old_versions_of_what_changed_after(aws_settings) -> None:
    """A killed erasure rewrote some objects; its rerun finds nothing more in them, so only their write time tells
    which old versions hold the person: those written over since the first attempt began."""
    import time
    from datetime import UTC, datetime

    bucket = aws_settings.names.lake_bucket
    s3 = aws_client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    storage = LakeStorage(LakeLayout.from_uri(f"s3://{bucket}"))
    storage.put_bytes("raw/old.jsonl.gz", b"v1")
    storage.put_bytes("raw/old.jsonl.gz", b"v2")  # rewritten before the erasure: its history is not ours to drop
    storage.put_bytes("raw/theirs.jsonl.gz", b"theirs")
    time.sleep(1.1)  # S3 keeps write times to the second
    started = datetime.now(UTC)
    storage.put_bytes("raw/theirs.jsonl.gz", b"without them")
    assert storage.purge_rewritten_since("raw", started) == 1
    versions = s3.list_object_versions(Bucket=bucket, Prefix="raw/")["Versions"]
    assert sorted(v["Key"] for v in versions) == ["raw/old.jsonl.gz", "raw/old.jsonl.gz", "raw/theirs.jsonl.gz"]
