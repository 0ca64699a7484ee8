from datetime import UTC, datetime

import pytest

from lakehouse.core.lake.layout import LakeLayout


def test_local_root_gives_paths_and_file_uris(tmp_path) -> None:
    layout = LakeLayout.from_uri(str(tmp_path))
    assert not layout.is_s3
    assert layout.key("curated", "orders") == f"{tmp_path}/curated/orders"
    assert layout.uri("curated/orders") == f"file://{tmp_path}/curated/orders"
    assert LakeLayout.from_uri(f"file://{tmp_path}") == layout


def test_s3_root_with_and_without_prefix() -> None:
    bare = LakeLayout.from_uri("s3://bucket")
    assert bare.key("raw", "a.gz") == "raw/a.gz"
    assert bare.uri("raw/a.gz") == "s3://bucket/raw/a.gz"
    nested = LakeLayout.from_uri("s3://bucket/team/lake/")
    assert nested.key("raw/a.gz") == "team/lake/raw/a.gz"
    assert nested.root_uri == "s3://bucket/team/lake"


def test_s3_root_without_bucket_is_rejected() -> None:
    with pytest.raises(ValueError, match="names no bucket"):
        LakeLayout.from_uri("s3:///prefix")


def test_zone_objects_follow_the_documented_partitioning() -> None:
    at = datetime(2025, 3, 9, 7, 5, tzinfo=UTC)
    assert LakeLayout.raw_object("web", at, "u1") == "raw/source=web/dt=2025-03-09/hour=07/u1.jsonl.gz"
    assert LakeLayout.quarantine_object(at, "u2") == "quarantine/dt=2025-03-09/hour=07/u2.jsonl.gz"
    assert LakeLayout.model_artifact("churn", "v3") == "artifacts/models/churn/v3"
