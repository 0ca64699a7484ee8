"""From an API Gateway proxy event's body to a JSON document: media type, base64, gzip, size, JSON.

Pure functions; every failure is an :class:`ApiError` with the status API clients expect
(415 wrong media type or encoding, 413 too large, 400 malformed).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from decimal import Decimal
from typing import Any

from lakehouse.core.contract.limits import MAX_NUMBER_CHARS

from .limits import MAX_REQUEST_BYTES, REQUEST_LIMIT_TEXT
from .responses import bad_request, invalid_json, payload_too_large, unsupported_media_type

JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})  # text/plain: browsers' sendBeacon
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip"})
GZIP_MAGIC = b"\x1f\x8b"


def check_media_type(content_type: str | None) -> None:
    """Accept JSON (``application/json``, ``application/*+json``, ``text/plain``), any parameters."""
    if not content_type:
        raise unsupported_media_type("Content-Type is missing; send application/json")
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_MEDIA_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return
    raise unsupported_media_type(f"Content-Type {media!r} is not supported; send application/json")


def content_codings(content_encoding: str | None) -> list[str]:
    """The codings to undo, in header order (``identity`` left out); 415 :class:`ApiError` for an unknown one."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    unknown = [c for c in codings if c not in ENCODINGS]
    if unknown:
        raise unsupported_media_type(f"Content-Encoding {unknown[0]!r} is not supported; send gzip or none",
                                     field="Content-Encoding")
    return [c for c in codings if c != "identity"]


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The body bytes as the client sent them (API Gateway base64-encodes binary media types)."""
    if not body:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("body is marked base64-encoded but is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("body is not valid UTF-8") from None


def gunzip(data: bytes, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """Decompress gzip (one or more members) without ever producing more than ``limit`` + 1 bytes."""
    out = bytearray()
    remaining = data
    while remaining:
        decompressor = zlib.decompressobj(wbits=31)
        try:
            out += decompressor.decompress(remaining, limit + 1 - len(out))
        except zlib.error:
            raise bad_request("body is declared or detected as gzip but is not valid gzip data") from None
        if len(out) > limit:
            raise payload_too_large(f"request body is over the limit of {REQUEST_LIMIT_TEXT} once decompressed")
        if not decompressor.eof:
            raise bad_request("gzip body is truncated")
        remaining = decompressor.unused_data
    return bytes(out)


def decode_body(body: str | None, is_base64_encoded: bool, content_type: str | None,
                content_encoding: str | None) -> bytes:
    """The request's JSON text as bytes, decompressed and within the request size limit."""
    check_media_type(content_type)
    content_codings(content_encoding)
    data = raw_body(body, is_base64_encoded)
    if len(data) > MAX_REQUEST_BYTES:
        raise payload_too_large(f"request body is {len(data)} bytes; the limit is {REQUEST_LIMIT_TEXT}")
    # Decompress by content, not by header: JSON never starts with 0x1f 0x8b, and a proxy that already
    # decompressed a gzip body may leave the Content-Encoding header in place.
    if data.startswith(GZIP_MAGIC):
        data = gunzip(data)
    if not data.strip():
        raise bad_request("request body is empty; send a JSON object")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _integer(text: str) -> int | Decimal:
    # past MAX_NUMBER_CHARS the contract refuses the number, naming its field; as a Decimal it never meets
    # Python's 4,300-digit limit on int() (which would fail the whole request with an interpreter's hint)
    return int(text) if len(text) <= MAX_NUMBER_CHARS else Decimal(text)


def parse_json(data: bytes) -> Any:
    """Strict JSON (no NaN/Infinity) or a 400 that says where it broke.

    Numbers with a fraction or an exponent become :class:`~decimal.Decimal`, integers ``int`` (a Decimal when
    longer than :data:`~lakehouse.core.contract.limits.MAX_NUMBER_CHARS`, for the contract to refuse by
    field): amounts keep exactly the digits the client sent, and the raw record writes them back as sent.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_json(f"body is not UTF-8 (invalid byte at position {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=Decimal, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise invalid_json(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise invalid_json("body is not acceptable JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity
        raise invalid_json(f"body is not acceptable JSON: {exc}") from None
