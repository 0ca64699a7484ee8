"""The right to be forgotten: which records are a person's, the suppression list, the erasure record (pure, no I/O).

A **subject** is the person to forget: the customer id asked for, every id the identity graph resolves to that
customer (anonymous ids, ids merged by ``alias``; :mod:`lakehouse.core.identity`) and the hashed e-mail
addresses seen on their profile (``<hex>@hashed.invalid``, :func:`lambdas.ingest.pii.hash_email`'s shape).

Matching rule (GDPR Art. 17 erasure, applied as Segment's "delete" does: whole records, not fields):

* a **JSON record** (a raw, quarantine or feedback line) is the person's when any string value in it, at any
  depth, equals one of the subject's identifiers;
* a **table row** is the person's when any string value in it (a list's or map's elements included) equals one
  of them, or holds one of them as a quoted JSON string (a JSON text column).

Whole records go, so an order line, a ticket or a session of the person leaves with its identifiers. Anonymous
aggregates (a day's revenue, RFM breakpoints) keep the person's contribution: they hold no personal data.

The **suppression list** (:class:`Suppression`) holds a salted digest of each erased id and e-mail hash, never
the value itself, so the raw archive, the stream and the batch can refuse the person's records arriving later (a
replay, a source resending its history, records still inside Kinesis' retention, a sign-up under a new id with
the same e-mail address) without the lakehouse keeping a byte of who they were.

The **erasure record** says who asked, when, and how many records each store lost, with no personal data.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: where the suppression list and the erasure records live, relative to the lake root
SUPPRESSION_KEY = "state/erasure/suppressed.json"
RECORDS_PREFIX = "state/erasure/records"
#: erasure requests for the AWS workflow: ``<request id>.json`` = {"customer_id", "requested_by"}, deleted when done
REQUESTS_PREFIX = "state/erasure/requests"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: the JSON fields of a record that can hold an e-mail address (the ingestion PII rule's fields)
EMAIL_PATHS = (("traits", "email"), ("context", "traits", "email"), ("properties", "email"))


@dataclass(frozen=True)
class Subject:
    """The person to forget: ``customer_id`` (as asked, resolved), every id of theirs, their e-mail hashes."""

    customer_id: str
    ids: frozenset[str]
    emails: frozenset[str] = frozenset()

    @property
    def identifiers(self) -> frozenset[str]:
        """Every value whose presence makes a record the person's."""
        return self.ids | self.emails

    def with_emails(self, emails: Iterable[str]) -> Subject:
        """The same subject with ``emails`` added (empty and non-string values ignored)."""
        more = {e for e in emails if isinstance(e, str) and e}
        return Subject(self.customer_id, self.ids, self.emails | more)


def subject_of(customer_id: str, resolutions: Iterable[tuple[str, str]]) -> Subject:
    """The subject of ``customer_id`` given the identity map's ``(id, resolved_id)`` pairs (any number of builds).

    An id that resolves to another customer means that customer: asking to forget an anonymous id or an id merged
    by ``alias`` forgets the person it belongs to. Raises ``ValueError`` for an empty or blank id.
    """
    if not customer_id or not customer_id.strip():
        raise ValueError("customer_id: give the id of the customer to forget")
    pairs = list(resolutions)
    resolved = next((target for source, target in pairs if source == customer_id), customer_id)
    ids = {resolved, customer_id} | {source for source, target in pairs if target == resolved}
    return Subject(resolved, frozenset(ids))


def mentions(value: Any, identifiers: frozenset[str]) -> bool:
    """Whether any string in ``value`` (a parsed JSON document: dicts, lists, scalars) equals an identifier."""
    if isinstance(value, str):
        return value in identifiers
    if isinstance(value, dict):
        return any(mentions(v, identifiers) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, identifiers) for v in value)
    return False


def emails_in(record: Any) -> Iterator[str]:
    """The e-mail values of a JSON record (:data:`EMAIL_PATHS`)."""
    if not isinstance(record, dict):
        return
    for path in EMAIL_PATHS:
        node: Any = record
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            yield node


def split_lines(lines: Iterable[str], identifiers: frozenset[str]) -> tuple[list[str], list[Any]]:
    """``(kept lines, the person's parsed records)`` of JSON lines; a line that is not JSON is kept unless it holds
    an identifier as a quoted string (it cannot be parsed to tell more)."""
    kept, removed = [], []
    quoted = [json.dumps(i) for i in identifiers]
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            if any(q in line for q in quoted):
                removed.append(None)
            else:
                kept.append(line)
            continue
        if mentions(record, identifiers):
            removed.append(record)
        else:
            kept.append(line)
    return kept, removed


#: the record fields holding an id a suppressed person can arrive under (the canonical raw record's names)
ID_FIELDS = ("user_id", "anonymous_id", "previous_id", "customer_id")
#: the same in a call as the API receives it (quarantined calls, a source's exports)
CALL_ID_FIELDS = ("userId", "anonymousId", "previousId")
#: the JSONPath (``get_json_object``'s) of every canonical raw record field the suppression list is checked
#: against: the ids (:data:`ID_FIELDS`) and the e-mail fields (:data:`EMAIL_PATHS`, hashed by the API)
SUPPRESSED_JSON_PATHS = (*(f"$.{name}" for name in ID_FIELDS), *("$." + ".".join(path) for path in EMAIL_PATHS))


def spellings(identifier: str) -> tuple[str, ...]:
    """The forms ``identifier`` takes inside JSON text: as is, and escaped (quotes, backslashes and control
    characters; non-ASCII as ``\\uXXXX`` too), so that a substring search for any of them finds every record
    holding it."""
    return tuple(dict.fromkeys((identifier, json.dumps(identifier)[1:-1],
                                json.dumps(identifier, ensure_ascii=False)[1:-1])))


def holds_as_id(record: Any, identifiers: frozenset[str]) -> bool:
    """Whether an id field of ``record`` (:data:`ID_FIELDS` and :data:`CALL_ID_FIELDS`, at its top level or in the
    ``payload`` of a quarantined call) is one of ``identifiers``: the record is then *of* that person, not merely
    mentioning the value."""
    if not isinstance(record, dict):
        return False
    if any(record.get(name) in identifiers for name in (*ID_FIELDS, *CALL_ID_FIELDS)):
        return True
    return isinstance(record.get("payload"), dict) and holds_as_id(record["payload"], identifiers)


@dataclass(frozen=True)
class Suppression:
    """The suppression list: the salted SHA-256 of every erased id, and the salt (random, made with the list).

    ``digest(id) = sha256_hex(salt + ":" + id)``: one expression in Python, Spark SQL (``sha2(concat(…), 256)``)
    and DuckDB, so every stage checks it without a secret. The list cannot be read back into ids; a reader of the
    lake can test a guessed id against it, as they could have looked the id up in the lake before the erasure.
    """

    salt: str
    digests: frozenset[str] = frozenset()
    erasures: tuple[str, ...] = ()

    @classmethod
    def new(cls) -> Suppression:
        """An empty list with a fresh random salt."""
        return cls(secrets.token_hex(16))

    @classmethod
    def of(cls, document: dict[str, Any] | None) -> Suppression:
        """The list a :meth:`document` wrote; an empty one (salt ``""``) for None. Raises ``ValueError`` for
        a document of an unknown format."""
        if document is None:
            return cls("")
        if document.get("format") != 1:
            raise ValueError(f"suppression list format {document.get('format')!r}; this code reads 1")
        return cls(document["salt"], frozenset(document.get("digests", [])), tuple(document.get("erasures", [])))

    def digest(self, identifier: str) -> str:
        """The list's digest of ``identifier``."""
        return hashlib.sha256(f"{self.salt}:{identifier}".encode()).hexdigest()

    def covers(self, identifier: Any) -> bool:
        """Whether ``identifier`` (any value: only non-empty strings can be on the list) is suppressed."""
        return bool(self.digests) and isinstance(identifier, str) and bool(identifier) \
            and self.digest(identifier) in self.digests

    def covers_record(self, record: dict[str, Any]) -> bool:
        """Whether any id field (:data:`ID_FIELDS`; camelCase spellings too) or e-mail field (:data:`EMAIL_PATHS`)
        of ``record`` is suppressed."""
        if not self.digests:
            return False
        return any(self.covers(record.get(name)) for name in (*ID_FIELDS, *CALL_ID_FIELDS)) \
            or any(self.covers(email) for email in emails_in(record))

    def adding(self, subject: Subject, erasure_id: str) -> Suppression:
        """This list with ``subject``'s ids and e-mail hashes added: a record arriving under any of its ids, or
        under a new id with one of its e-mail addresses, is the erased person's."""
        base = self if self.salt else Suppression.new()
        return Suppression(base.salt, base.digests | {base.digest(i) for i in subject.identifiers},
                           tuple(sorted({*base.erasures, erasure_id})))

    def document(self) -> dict[str, Any]:
        """The JSON document stored at :data:`SUPPRESSION_KEY`."""
        return {"format": 1, "salt": self.salt, "digests": sorted(self.digests), "erasures": list(self.erasures)}


def request_key(request_id: str) -> str:
    """``state/erasure/requests/<request_id>.json``. Raises ``ValueError`` for an id that is not 1-64 letters,
    digits, ``-`` or ``_`` (it becomes an object key)."""
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise ValueError(f"request_id: 1-64 letters, digits, '-' or '_', not {request_id!r}")
    return f"{REQUESTS_PREFIX}/{request_id}.json"


def load_suppression(storage: Any) -> Suppression:
    """The lake's suppression list (``storage``: a :class:`lakehouse.core.lake.storage.LakeStorage`); empty when
    nobody was erased."""
    if not storage.exists(SUPPRESSION_KEY):
        return Suppression("")
    return Suppression.of(json.loads(storage.get_bytes(SUPPRESSION_KEY)))


@dataclass
class ErasureRecord:
    """What one erasure did: who asked, when, and per store how many records went. No personal data: the subject's
    ids are never written here (the count of ids and e-mail hashes is)."""

    requested_by: str
    reason: str = "data subject request (GDPR Art. 17 / CCPA 1798.105)"
    erasure_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    identifiers: dict[str, int] = field(default_factory=dict)
    stores: dict[str, dict[str, int]] = field(default_factory=dict)
    not_erased: dict[str, str] = field(default_factory=dict)

    def touched(self, store: str, **counts: int) -> None:
        """Add ``counts`` (objects rewritten, records removed …) to ``store``'s entry."""
        entry = self.stores.setdefault(store, {})
        for name, count in counts.items():
            entry[name] = entry.get(name, 0) + count

    def key(self) -> str:
        """``state/erasure/records/<started date>/<erasure id>.json``."""
        return f"{RECORDS_PREFIX}/{self.started_at[:10]}/{self.erasure_id}.json"

    def document(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return {"format": 1, "erasure_id": self.erasure_id, "requested_by": self.requested_by, "reason": self.reason,
                "started_at": self.started_at, "finished_at": self.finished_at, "identifiers": self.identifiers,
                "stores": self.stores, "not_erased": self.not_erased}
