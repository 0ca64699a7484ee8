"""Write keys: per-source secrets that authenticate the ingestion API.

A key is random (``wk_`` + 32 URL-safe characters), shown once when created and stored only as its
SHA-256 hash in the DynamoDB table ``settings.names.write_keys_table`` (partition key ``key_hash``), with
the source it belongs to, its creation time and a revoked flag. ``key_id`` (the first 12 hex digits of
the hash) names a key in listings and for revocation without revealing it.

The ingestion Lambda looks keys up through :class:`CachedWriteKeys` so that DynamoDB sees one read per
key per cache period; the CLI uses :class:`WriteKeyStore` directly.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from lakehouse.core.aws.clients import aws_client

KEY_PREFIX = "wk_"
KEY_ID_LENGTH = 12
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class WriteKeyError(ValueError):
    """A write-key operation the caller asked for is not possible (bad source, unknown key id)."""


def hash_key(key: str) -> str:
    """The stored form of a write key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key_hash: str) -> str:
    """The public id of a key: the first characters of its hash (what ``keys list`` shows and ``revoke`` takes)."""
    return key_hash[:KEY_ID_LENGTH]


def check_source(source: str) -> str:
    """``source`` if it can name a raw-zone partition (``raw/source=<source>/``): lower-case, digits, '-', '_'.

    Raises :class:`WriteKeyError` otherwise.
    """
    if not SOURCE_PATTERN.match(source):
        raise WriteKeyError(
            f"source {source!r} must be 1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit")
    return source


@dataclass(frozen=True)
class WriteKey:
    """A stored write key (never the secret itself)."""

    key_id: str
    key_hash: str
    source: str
    created_at: str
    revoked: bool = False
    revoked_at: str | None = None


@dataclass(frozen=True)
class NewWriteKey:
    """A key just created: ``key`` is the secret, shown once."""

    key: str
    info: WriteKey


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_item(item: dict) -> WriteKey:
    return WriteKey(
        key_id=item["key_id"]["S"],
        key_hash=item["key_hash"]["S"],
        source=item["source"]["S"],
        created_at=item["created_at"]["S"],
        revoked=item.get("revoked", {}).get("BOOL", False),
        revoked_at=item.get("revoked_at", {}).get("S"),
    )


class WriteKeyStore:
    """Create, look up, list and revoke write keys in DynamoDB."""

    def __init__(self, table_name: str, region: str | None = None):
        self.table_name = table_name
        self.region = region

    @property
    def _dynamodb(self):
        return aws_client("dynamodb", region=self.region)

    def create(self, source: str) -> NewWriteKey:
        """A new random key for ``source``; only its hash is stored."""
        check_source(source)
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        digest = hash_key(key)
        info = WriteKey(key_id=key_id_of(digest), key_hash=digest, source=source, created_at=_now())
        self._dynamodb.put_item(
            TableName=self.table_name,
            Item={"key_hash": {"S": digest}, "key_id": {"S": info.key_id}, "source": {"S": source},
                  "created_at": {"S": info.created_at}, "revoked": {"BOOL": False}},
            ConditionExpression="attribute_not_exists(key_hash)",
        )
        return NewWriteKey(key=key, info=info)

    def lookup(self, key: str) -> WriteKey | None:
        """The stored key for the secret ``key`` (revoked or not), or None if there is none."""
        item = self._dynamodb.get_item(TableName=self.table_name, Key={"key_hash": {"S": hash_key(key)}},
                                       ConsistentRead=True).get("Item")
        return _from_item(item) if item else None

    def list(self) -> list[WriteKey]:
        """Every key, oldest first."""
        keys: list[WriteKey] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.table_name):
            keys.extend(_from_item(item) for item in page.get("Items", []))
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def revoke(self, key_id: str) -> WriteKey:
        """Mark the key whose id (or hash prefix of at least 6 hex digits) is ``key_id`` as revoked.

        Raises :class:`WriteKeyError` for an id that is too short, matches no key, or matches several.
        """
        key_id = key_id.strip().lower()
        if len(key_id) < 6 or not all(c in "0123456789abcdef" for c in key_id):
            raise WriteKeyError(f"key id {key_id!r} must be at least 6 hex digits (see `lakehouse keys list`)")
        matches = [k for k in self.list() if k.key_hash.startswith(key_id)]
        if not matches:
            raise WriteKeyError(f"no write key with id {key_id!r}")
        if len(matches) > 1:
            raise WriteKeyError(f"key id {key_id!r} is ambiguous; give more digits")
        found = matches[0]
        if found.revoked:
            return found
        revoked_at = _now()
        try:
            self._dynamodb.update_item(
                TableName=self.table_name, Key={"key_hash": {"S": found.key_hash}},
                UpdateExpression="SET revoked = :yes, revoked_at = :at",
                ConditionExpression="attribute_exists(key_hash)",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":at": {"S": revoked_at}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise WriteKeyError(f"no write key with id {key_id!r}") from None
            raise
        return WriteKey(found.key_id, found.key_hash, found.source, found.created_at, True, revoked_at)


class CachedWriteKeys:
    """Key lookups remembered for ``ttl_seconds`` (unknown keys for at most ``negative_ttl_seconds``).

    A revoked key therefore stops working within ``ttl_seconds``; a key created after a failed attempt
    with the same secret works within ``negative_ttl_seconds``.
    """

    def __init__(self, lookup: Callable[[str], WriteKey | None], ttl_seconds: float = 60.0,
                 negative_ttl_seconds: float = 5.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._negative_ttl = min(negative_ttl_seconds, ttl_seconds)
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, WriteKey | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> WriteKey | None:
        """The stored key for the secret ``key`` (None: unknown), from the cache while it is fresh."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        found = self._lookup(key)
        ttl = self._ttl if found is not None else self._negative_ttl
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # a flood of random keys must not grow memory without bound
            self._entries[key] = (now + ttl, found)
        return found
