"""Write-key extraction (Basic auth, body) and resolution against the real key store on moto."""

import base64

import pytest

from lakehouse.core.write_keys import CachedWriteKeys, WriteKeyStore
from lambdas.ingest.auth import Authenticator, key_from_authorization, key_from_body
from lambdas.ingest.responses import ApiError


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_auth_carries_the_key_as_user_name() -> None:
    assert key_from_authorization(basic("wk_abc:")) == "wk_abc"
    assert key_from_authorization(basic("wk_abc:ignored")) == "wk_abc"
    assert key_from_authorization("basic " + base64.b64encode(b"wk_abc:").decode()) == "wk_abc"
    assert key_from_authorization(None) is None and key_from_authorization("") is None


@pytest.mark.parametrize("header", ["Bearer abc", "Basic", "Basic !!!", basic(":password"),
                                    "Basic " + base64.b64encode(b"\xff\xfe:").decode()])
def test_malformed_authorization_is_401(header: str) -> None:
    with pytest.raises(ApiError) as caught:
        key_from_authorization(header)
    assert caught.value.status == 401 and caught.value.headers["WWW-Authenticate"].startswith("Basic")


def test_write_key_in_the_body() -> None:
    assert key_from_body({"writeKey": "wk_x", "batch": []}) == "wk_x"
    assert key_from_body({"batch": []}) is None and key_from_body([{"writeKey": "wk_x"}]) is None
    for bad in ({"writeKey": ""}, {"writeKey": 7}, {"writeKey": ["wk"]}):
        with pytest.raises(ApiError):
            key_from_body(bad)


def test_authenticator_resolves_sources_and_refuses_unknown_and_revoked_keys(aws_settings) -> None:
    store = WriteKeyStore(aws_settings.names.write_keys_table, aws_settings.region)
    web, app = store.create("web"), store.create("app")
    auth = Authenticator(store.lookup)
    assert auth.source_for(web.key) == "web" and auth.source_for(app.key) == "app"
    store.revoke(app.info.key_id)
    for key in (app.key, "wk_unknown", "x" * 300, None):
        with pytest.raises(ApiError) as caught:
            auth.source_for(key)
        assert caught.value.status == 401


def test_cached_lookups_hit_dynamodb_once_per_period(aws_settings) -> None:
    store = WriteKeyStore(aws_settings.names.write_keys_table, aws_settings.region)
    web = store.create("web")
    reads: list[str] = []
    now = [0.0]

    def lookup(key: str):
        reads.append(key)
        return store.lookup(key)

    auth = Authenticator(CachedWriteKeys(lookup, ttl_seconds=60, clock=lambda: now[0]).get)
    for _ in range(5):
        assert auth.source_for(web.key) == "web"
    assert len(reads) == 1
    store.revoke(web.info.key_id)
    assert auth.source_for(web.key) == "web"  # still cached: revocation takes effect after the TTL
    now[0] = 61.0
    with pytest.raises(ApiError):
        auth.source_for(web.key)
    assert len(reads) == 2
