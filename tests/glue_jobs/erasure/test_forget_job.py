"""The ``forget`` Glue job's entry script, run here as its local command: the request object names the person,
the job erases them and deletes the request; a bad request is a one-line error naming what is wrong."""

from __future__ import annotations

import gzip
import json

import pytest

from glue_jobs import forget
from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.job_args import JobArgumentsError
from lakehouse.core.lake.storage import LakeStorage

RAW = "raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz"


def _argv(settings: Settings, *more: str) -> list[str]:
    return ["forget.py", "--lake_root", settings.lake.key(""), "--stage", settings.stage, "--region",
            settings.region, "--target", "duckdb", *more]


@pytest.fixture
def lake(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> LakeStorage:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(aws_settings.home))
    storage = LakeStorage(aws_settings.lake, region=aws_settings.region)
    lines = [{"event_id": "e1", "user_id": "u1"}, {"event_id": "e2", "user_id": "u2"}]
    storage.put_bytes(RAW, gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in lines)))
    dynamodb = aws_client("dynamodb", region=aws_settings.region)
    for customer in ("u1", "u2"):
        dynamodb.put_item(TableName=aws_settings.names.features_table,
                          Item={"customer_id": {"S": customer}, "orders": {"N": "1"}})
    return storage


def test_the_job_erases_the_requested_person_and_deletes_the_request(aws_settings: Settings, lake: LakeStorage,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    lake.put_bytes("state/erasure/requests/r-1.json", json.dumps({"customer_id": "u1",
                                                                   "requested_by": "DSR-7"}).encode())
    record = forget.main(_argv(aws_settings, "--request_id", "r-1"))
    assert record["requested_by"] == "DSR-7" and record["stores"]["dynamodb"] == {"items_deleted": 1}
    lines = gzip.decompress(lake.get_bytes(RAW)).decode().splitlines()
    assert [json.loads(line)["user_id"] for line in lines] == ["u2"]
    items = aws_client("dynamodb", region=aws_settings.region).scan(TableName=aws_settings.names.features_table)
    assert [i["customer_id"]["S"] for i in items["Items"]] == ["u2"]
    assert not lake.exists("state/erasure/requests/r-1.json")
    assert "u1" not in capsys.readouterr().out.splitlines()[-1]  # the printed record


@pytest.mark.parametrize(("request_id", "body", "message"), [
    (None, None, "--request_id: the erasure request"),
    ("../x", None, "--request_id: 1-64 letters"),
    ("r-2", None, "no erasure request at"),
    ("r-3", b"[1, 2]", "a JSON object with customer_id and requested_by"),
    ("r-4", b'{"customer_id": 7, "requested_by": "x"}', "must be strings"),
    ("r-5", b'{"customer_id": "u1", "requested_by": " "}', "requested_by: say who asked"),
], ids=["no id", "a path", "no object", "not an object", "a number", "blank requester"])
def test_a_bad_request_is_refused_and_nothing_changes(aws_settings: Settings, lake: LakeStorage,
                                                      request_id: str | None, body: bytes | None,
                                                      message: str) -> None:
    if body is not None:
        lake.put_bytes(f"state/erasure/requests/{request_id}.json", body)
    before = lake.get_bytes(RAW)
    with pytest.raises(JobArgumentsError, match=message):
        forget.main(_argv(aws_settings, *(["--request_id", request_id] if request_id else [])))
    assert lake.get_bytes(RAW) == before and not list(lake.list("state/erasure/records"))
