"""Write-key authentication: HTTP Basic ``writeKey:`` (Segment's scheme) or ``writeKey`` in the body."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from lakehouse.core.write_keys import WriteKey

from .responses import unauthorized


def key_from_authorization(header: str | None) -> str | None:
    """The write key of an ``Authorization: Basic base64(writeKey:)`` header; None when there is no header."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        raise unauthorized("Authorization must be HTTP Basic with the write key as user name ('writeKey:')")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise unauthorized("Authorization Basic credentials are not valid base64 of 'writeKey:'") from None
    key = decoded.partition(":")[0]
    if not key:
        raise unauthorized("Authorization Basic credentials hold no write key (expected 'writeKey:')")
    return key


def key_from_body(document: Any) -> str | None:
    """``writeKey`` at the top level of the JSON body (Segment allows it there)."""
    if isinstance(document, dict):
        key = document.get("writeKey")
        if key is None:
            return None
        if isinstance(key, str) and key:
            return key
        raise unauthorized("writeKey must be a non-empty string", field="writeKey")
    return None


class Authenticator:
    """Resolve a write key to its source, or answer 401."""

    def __init__(self, lookup: Callable[[str], WriteKey | None]):
        self._lookup = lookup

    def source_for(self, key: str | None, field: str = "Authorization") -> str:
        """The source ``key`` writes for; raises :class:`ApiError` 401 when it is missing, unknown or revoked,
        naming ``field``: where the key came from (``Authorization``, or ``writeKey`` in the body)."""
        if key is None:
            raise unauthorized("write key missing: use HTTP Basic auth ('writeKey:') or writeKey in the body")
        found = self._lookup(key) if len(key) <= 256 else None
        if found is None or found.revoked:
            raise unauthorized("write key is not valid (unknown or revoked)", field=field)
        return found.source
