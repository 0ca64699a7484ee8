"""The emulator's Kinesis fixes return exactly what moto's own shard code returns."""

import sys
import threading

import pytest
from moto.kinesis.models import Shard

from lakehouse.local.aws import moto_patches


def _shard(records: int) -> Shard:
    shard = Shard(0, 0, 2**128 - 1)
    for n in range(records):
        shard.put_record(f"k{n}", f"data-{n}", None)
    return shard


@pytest.mark.parametrize("records", [0, 1, 7, 50])
@pytest.mark.parametrize(("after", "limit"), [("0", None), ("0", 5), ("3", 2), ("6", 100), ("49", 10), ("60", 1)])
def test_patched_lookups_match_moto(records: int, after: str, limit: int | None) -> None:
    shard = _shard(records)
    expected = moto_patches._original_get_records(shard, after, limit)
    got = moto_patches._get_records(shard, after, limit)
    assert [r.sequence_number for r in got[0]] == [r.sequence_number for r in expected[0]]
    assert got[1] == expected[1]
    assert abs(got[2] - expected[2]) <= 1
    keys = list(shard.records)
    assert moto_patches._first_key(shard) == (keys[0] if keys else 0)
    assert moto_patches._last_key(shard) == (keys[-1] if keys else 0)


def test_falls_back_to_moto_when_sequence_numbers_have_gaps() -> None:
    shard = _shard(10)
    del shard.records[4]
    expected = moto_patches._original_get_records(shard, "2", 3)
    got = moto_patches._get_records(shard, "2", 3)
    assert [r.sequence_number for r in got[0]] == [r.sequence_number for r in expected[0]] == [3, 5, 6]


def test_apply_keeps_puts_sequential() -> None:
    moto_patches.apply()
    shard = Shard(1, 0, 2**128 - 1)
    numbers = [shard.put_record(f"k{n}", "d", None) for n in range(5)]
    assert numbers == ["1", "2", "3", "4", "5"]
    assert shard.get_max_sequence_number() == 5 and shard.get_min_sequence_number() == 1


def test_concurrent_puts_into_one_shard_keep_every_record() -> None:
    """The moto server answers on threads; unpatched, concurrent puts reuse sequence numbers and lose records."""
    moto_patches.apply()
    shard = Shard(2, 0, 2**128 - 1)
    threads, per_thread = 8, 1_500

    def put(thread: int) -> None:
        for n in range(per_thread):
            shard.put_record(f"k{thread}-{n}", f"{thread}-{n}", None)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: makes a race show up at once
    try:
        workers = [threading.Thread(target=put, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(shard.records) == threads * per_thread
    assert list(shard.records) == list(range(1, threads * per_thread + 1))
    assert len({record.data for record in shard.records.values()}) == threads * per_thread


ITEM = {"customer_id": {"S": "c1"}, "amount": {"N": "1.5"}, "blob": {"B": b"\x00\xffbin"}, "flag": {"BOOL": True},
        "nothing": {"NULL": True}, "tags": {"SS": ["p", "q"]}, "counts": {"NS": ["1", "2"]},
        "blobs": {"BS": [b"a", b"b"]},
        "nested": {"M": {"x": {"S": "y"}, "list": {"L": [{"N": "1"}, {"B": b"zz"}, {"M": {"deep": {"SS": ["a"]}}}]}}}}


def _dynamodb_answers(table: str) -> list:
    """Items as boto3 decodes them from moto's serialised responses (get, batch get, scan, update)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}])
        client.put_item(TableName=table, Item=ITEM)
        key = {"customer_id": {"S": "c1"}}
        updated = client.update_item(TableName=table, Key=key, UpdateExpression="SET amount = amount + :one",
                                     ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
        return [client.get_item(TableName=table, Key=key)["Item"],
                client.batch_get_item(RequestItems={table: {"Keys": [key]}})["Responses"][table],
                client.scan(TableName=table)["Items"], updated["Attributes"]]


def test_dynamodb_responses_match_moto_shape_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.serialize import ResponseSerializer

    monkeypatch.setattr(ResponseSerializer, "_serialize", moto_patches._original_serialize)
    expected = _dynamodb_answers("shape-walk")
    monkeypatch.setattr(ResponseSerializer, "_serialize", moto_patches._serialize)
    got = _dynamodb_answers("direct-copy")
    assert got == expected
    assert got[0]["blob"] == {"B": b"\x00\xffbin"} and got[0]["nested"]["M"]["list"]["L"][1] == {"B": b"zz"}
    assert got[3]["amount"] == {"N": "2.5"}


def test_attribute_values_holding_other_objects_go_to_the_shape_walk() -> None:
    with pytest.raises(moto_patches._NotPlain):
        moto_patches._attribute_value({"M": {"x": object()}}, lambda b: b)
    with pytest.raises(moto_patches._NotPlain):
        moto_patches._attribute_value({"S": object()}, lambda b: b)
