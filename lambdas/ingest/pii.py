"""Personal data rules applied to each raw record before it is stored or streamed.

E-mail addresses (``traits.email``, ``context.traits.email``, ``properties.email``): ``hash`` replaces
them with ``<hex>@hashed.invalid`` — HMAC-SHA-256 of the trimmed, lower-cased address (plain SHA-256
without a key), in an address shape so records still satisfy the contract and the same address always
maps to the same value; ``drop`` removes them; ``keep`` stores them as sent.

IP addresses (``context.ip``): ``truncate`` keeps the network (IPv4 /24, IPv6 /48) and drops anything
that is not an IP address; ``drop`` removes them; ``keep`` stores them as sent.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from typing import Any

from lakehouse.core.config import PiiSettings

HASHED_EMAIL_DOMAIN = "hashed.invalid"  # RFC 2606 reserves .invalid: never a real mailbox


def hash_email(email: str, key: bytes | None = None) -> str:
    """``<hex>@hashed.invalid``: HMAC-SHA-256 with ``key`` (SHA-256 without) of the trimmed, lower-cased address."""
    normalised = email.strip().lower().encode("utf-8")
    digest = (hmac.new(key, normalised, hashlib.sha256) if key else hashlib.sha256(normalised)).hexdigest()
    return f"{digest}@{HASHED_EMAIL_DOMAIN}"


def truncate_ip(value: Any) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network address of ``value``; None if it is not an IP address."""
    return _truncate(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=8192)  # the same client addresses repeat across a batch
def _truncate(value: str) -> str | None:
    octets = value.strip().split(".")
    if len(octets) == 4 and all(o.isdigit() and o.isascii() and len(o) <= 3 and int(o) <= 255 and
                                (o == "0" or not o.startswith("0")) for o in octets):
        return f"{octets[0]}.{octets[1]}.{octets[2]}.0"  # the common case, without ipaddress' overhead
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class PiiRules:
    """Apply the configured e-mail and IP rules to a raw record, in place."""

    def __init__(self, settings: PiiSettings):
        self.email = settings.email
        self.ip = settings.ip
        self._key = settings.hash_key.get_secret_value().encode("utf-8") if settings.hash_key else None

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with its e-mails and IP handled by the rules (module docstring); returns the same dict."""
        if self.email != "keep":
            record["traits"] = self._scrub_email(record["traits"])
            record["properties"] = self._scrub_email(record["properties"])
        context = record["context"]
        if context and (("ip" in context and self.ip != "keep") or self._has_email(context.get("traits"))):
            context = dict(context)
            if "ip" in context and self.ip != "keep":
                address = context.pop("ip")
                truncated = truncate_ip(address) if self.ip == "truncate" else None
                if truncated is not None:
                    context["ip"] = truncated
            if "traits" in context:
                context["traits"] = self._scrub_email(context["traits"])
            record["context"] = context
        return record

    def _has_email(self, holder: Any) -> bool:
        return self.email != "keep" and isinstance(holder, dict) and "email" in holder

    def _scrub_email(self, holder: Any) -> Any:
        if not self._has_email(holder):
            return holder
        holder = dict(holder)
        value = holder.pop("email")
        if self.email == "hash" and isinstance(value, str) and value.strip():
            holder["email"] = hash_email(value, self._key)
        return holder
