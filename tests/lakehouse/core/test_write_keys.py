"""Write keys on moto DynamoDB: random, stored hashed, listed by id, revocable, cached with a TTL."""

import hashlib

import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.write_keys import CachedWriteKeys, WriteKeyError, WriteKeyStore, check_source, hash_key


@pytest.fixture
def store(aws_settings) -> WriteKeyStore:
    return WriteKeyStore(aws_settings.names.write_keys_table, aws_settings.region)


def test_keys_are_random_shown_once_and_stored_only_as_hashes(store: WriteKeyStore) -> None:
    first, second = store.create("web"), store.create("web")
    assert first.key != second.key and first.key.startswith("wk_") and len(first.key) == 35
    assert first.info.key_hash == hashlib.sha256(first.key.encode()).hexdigest() == hash_key(first.key)
    assert first.info.key_id == first.info.key_hash[:12]
    items = aws_client("dynamodb").scan(TableName=store.table_name)["Items"]
    assert len(items) == 2 and first.key not in str(items) and second.key not in str(items)
    assert {item["key_hash"]["S"] for item in items} == {first.info.key_hash, second.info.key_hash}


def test_lookup_list_and_revoke(store: WriteKeyStore) -> None:
    web, app = store.create("web"), store.create("mobile-app")
    assert store.lookup(web.key) == web.info and store.lookup("wk_nope") is None
    assert [k.source for k in store.list()] in (["web", "mobile-app"], ["mobile-app", "web"])
    revoked = store.revoke(app.info.key_id[:8].upper())
    assert revoked.revoked and revoked.revoked_at and revoked.source == "mobile-app"
    assert store.lookup(app.key).revoked and not store.lookup(web.key).revoked
    assert store.revoke(app.info.key_id).revoked  # idempotent


@pytest.mark.parametrize("key_id", ["", "abc", "zzzzzzzz", "0123456789abcdef"])
def test_revoke_needs_a_known_hex_id(store: WriteKeyStore, key_id: str) -> None:
    store.create("web")
    with pytest.raises(WriteKeyError):
        store.revoke(key_id)


@pytest.mark.parametrize("source", ["", "Web", "has space", "../etc", "a" * 64, "-web", "web/x", "dt=1"])
def test_sources_must_be_safe_partition_values(source: str) -> None:
    with pytest.raises(WriteKeyError):
        check_source(source)


def test_valid_sources() -> None:
    for source in ("web", "mobile-app", "crm_export", "1st", "a" * 63):
        assert check_source(source) == source


def test_cache_remembers_hits_for_the_ttl_and_misses_briefly(store: WriteKeyStore) -> None:
    created = store.create("web")
    reads: list[str] = []
    now = [100.0]

    def lookup(key: str):
        reads.append(key)
        return store.lookup(key)

    cache = CachedWriteKeys(lookup, ttl_seconds=60, negative_ttl_seconds=5, clock=lambda: now[0])
    assert cache.get(created.key).source == "web" and cache.get(created.key).source == "web"
    assert cache.get("wk_unknown") is None and cache.get("wk_unknown") is None
    assert reads == [created.key, "wk_unknown"]
    now[0] += 6
    cache.get("wk_unknown")
    cache.get(created.key)
    assert reads == [created.key, "wk_unknown", "wk_unknown"]
    now[0] += 60
    cache.get(created.key)
    assert reads[-1] == created.key and len(reads) == 4


def test_cache_size_is_bounded() -> None:
    cache = CachedWriteKeys(lambda key: None, max_entries=10)
    for i in range(25):
        cache.get(f"wk_{i}")
    assert len(cache._entries) <= 10
