"""Personal data rules applied to each raw record before it is stored or streamed.

E-mail addresses (``traits.email``, ``context.traits.email``, ``properties.email``): ``hash`` replaces
them with ``<hex>@hashed.invalid`` — HMAC-SHA-256 of the trimmed, lower-cased address (plain SHA-256
without a key), in an address shape so records still satisfy the contract and the same address always
maps to the same value; ``drop`` removes them; ``keep`` stores them as sent.

IP addresses (``context.ip``): ``truncate`` keeps the network (IPv4 /24, IPv6 /48) and drops anything
that is not an IP address; ``drop`` removes them; ``keep`` stores them as sent.

An e-mail sent as ``null`` (an identify clearing the trait) stays ``null``: it holds no personal data.
Rejected calls are stored in quarantine only as :meth:`PiiRules.redact_call` makes them: the same rules on
the same fields, and ``traits``/``properties``/``context`` that are not objects (the rules cannot look inside
them) replaced by a marker. Access logs keep IPs truncated the same way (:func:`truncate_ip`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from decimal import Decimal
from typing import Any

from lakehouse.core.config import PiiSettings

HASHED_EMAIL_DOMAIN = "hashed.invalid"  # RFC 2606 reserves .invalid: never a real mailbox
#: what a rejected call's traits/properties/context become when they are not objects the rules can inspect
NOT_INSPECTED = "(redacted: not a JSON object, so the PII rules could not inspect it)"
_HOLDERS = ("traits", "properties", "context")


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

    def client_ip(self, value: Any) -> str | None:
        """The caller's address as logs may keep it under the ``ip`` rule (truncated by default; None: drop)."""
        if self.ip == "keep":
            return value if isinstance(value, str) else None
        return truncate_ip(value) if self.ip == "truncate" else None

    def redact_call(self, call: Any) -> Any:
        """A copy of a rejected ``call`` (as sent) fit for quarantine: the record rules applied to its ``traits``,
        ``properties`` and ``context``; those that are not objects replaced by :data:`NOT_INSPECTED`; a call
        that is not an object kept only if it is a number, a boolean or null (nothing else can be inspected).
        With both rules ``keep`` the call is returned as it is."""
        if self.email == "keep" and self.ip == "keep":
            return call
        if not isinstance(call, dict):
            if call is None or isinstance(call, bool | int | float | Decimal):
                return call
            return {"redacted": f"the call is a JSON {_json_type(call)}, not an object; it is not stored"}
        redacted = dict(call)
        for name in _HOLDERS:
            if name in redacted and redacted[name] is not None and not isinstance(redacted[name], dict):
                redacted[name] = NOT_INSPECTED
        holders = {name: value if isinstance(value := redacted.get(name), dict) else {} for name in _HOLDERS}
        inner = holders["context"].get("traits")
        if inner is not None and not isinstance(inner, dict):
            holders["context"] = {**holders["context"], "traits": NOT_INSPECTED}
        self.apply(holders)
        for name in _HOLDERS:
            if name in redacted and isinstance(redacted[name], dict):
                redacted[name] = holders[name]
        return redacted

    def _has_email(self, holder: Any) -> bool:
        return self.email != "keep" and isinstance(holder, dict) and "email" in holder

    def _scrub_email(self, holder: Any) -> Any:
        if not self._has_email(holder) or holder["email"] is None:  # null clears the trait: nothing personal
            return holder
        holder = dict(holder)
        value = holder.pop("email")
        if self.email == "hash" and isinstance(value, str) and value.strip():
            holder["email"] = hash_email(value, self._key)
        return holder


def _json_type(value: Any) -> str:
    return "string" if isinstance(value, str) else "array" if isinstance(value, list | tuple) else "value"
