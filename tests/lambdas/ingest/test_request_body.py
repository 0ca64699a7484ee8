"""Body decoding: media types, base64, gzip (bounded), size limits, strict JSON."""

import base64
import gzip
import json
from decimal import Decimal

import pytest

from lambdas.ingest.limits import MAX_REQUEST_BYTES
from lambdas.ingest.request_body import check_media_type, content_codings, decode_body, gunzip, parse_json
from lambdas.ingest.responses import ApiError


def status_of(call, *args) -> int:
    with pytest.raises(ApiError) as caught:
        call(*args)
    assert caught.value.message
    return caught.value.status


@pytest.mark.parametrize("value", ["application/json", "application/json; charset=utf-8", "text/plain",
                                   "APPLICATION/JSON", "application/vnd.segment+json"])
def test_json_media_types_are_accepted(value: str) -> None:
    check_media_type(value)


@pytest.mark.parametrize("value", [None, "", "application/x-www-form-urlencoded", "multipart/form-data",
                                   "application/xml", "image/png"])
def test_other_media_types_are_415(value) -> None:
    assert status_of(check_media_type, value) == 415


def test_content_codings() -> None:
    assert content_codings("gzip") == ["gzip"] and content_codings("identity") == [] and content_codings(None) == []
    assert status_of(content_codings, "br") == 415 and status_of(content_codings, "gzip, deflate") == 415


def test_gzip_and_base64_bodies_decode_to_the_same_bytes() -> None:
    doc = json.dumps({"batch": [{"type": "track"}]}).encode()
    packed = base64.b64encode(gzip.compress(doc)).decode()
    assert decode_body(packed, True, "application/json", "gzip") == doc
    assert decode_body(doc.decode(), False, "application/json", None) == doc
    # a proxy that already decompressed but kept the header: accepted as plain JSON
    assert decode_body(doc.decode(), False, "application/json", "gzip") == doc
    # gzip without the header is recognised by its magic bytes
    assert decode_body(base64.b64encode(gzip.compress(doc)).decode(), True, "application/json", None) == doc


def test_multi_member_gzip_is_read_whole() -> None:
    assert gunzip(gzip.compress(b'{"a":') + gzip.compress(b"1}")) == b'{"a":1}'


def test_gzip_bombs_stop_at_the_limit_without_inflating_everything() -> None:
    bomb = gzip.compress(b" " * (50 * MAX_REQUEST_BYTES))
    assert len(bomb) < MAX_REQUEST_BYTES
    assert status_of(gunzip, bomb) == 413


def test_truncated_and_corrupt_gzip_are_400() -> None:
    data = gzip.compress(b'{"batch": []}' * 100)
    assert status_of(gunzip, data[: len(data) // 2]) == 400
    assert status_of(gunzip, b"\x1f\x8b" + b"\x00" * 30) == 400


def test_bad_base64_oversized_and_empty_bodies() -> None:
    assert status_of(decode_body, "###", True, "application/json", None) == 400
    assert status_of(decode_body, "x" * (MAX_REQUEST_BYTES + 1), False, "application/json", None) == 413
    assert status_of(decode_body, "   ", False, "application/json", None) == 400
    assert status_of(decode_body, None, False, "application/json", None) == 400


@pytest.mark.parametrize(("data", "fragment"), [
    (b"{", "line 1 column 2"),
    (b'{"a": NaN}', "NaN"),
    (b'{"a": -Infinity}', "Infinity"),
    (b"[" * 100_000, "nested too deeply"),
    (b"\xc3\x28", "not UTF-8"),
])
def test_malformed_json_is_400_saying_what_is_wrong(data: bytes, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(data)
    assert caught.value.status == 400 and fragment in caught.value.message


def test_integers_too_long_to_store_parse_as_decimals_for_the_contract_to_refuse_by_field() -> None:
    """Seen failing before: 5,000 digits failed the whole request with Python's hint to call
    ``sys.set_int_max_str_digits()``; the contract now names the field (``unstorable_field``)."""
    parsed = parse_json(b'{"a": ' + b"9" * 5000 + b', "b": ' + b"9" * 100 + b', "c": 7}')
    assert parsed == {"a": Decimal("9" * 5000), "b": int("9" * 100), "c": 7}
    assert isinstance(parsed["b"], int) and isinstance(parsed["a"], Decimal)


def test_unicode_heavy_json_parses() -> None:
    assert parse_json('{"name": "Zoë 北京 🚀 \\u00e9"}'.encode()) == {"name": "Zoë 北京 🚀 é"}
