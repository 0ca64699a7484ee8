"""Post event files to the ingestion API the way a Segment client does.

Input files are JSON lines (``.jsonl`` or gzip ``.jsonl.gz``), one Segment-style call per line. Calls are
grouped into batches within Segment's limits (≤ 500 calls and ≤ 500 KB of JSON per request), each
posted to ``/v1/batch`` gzip-compressed with HTTP Basic auth (``writeKey:``) and ``sentAt`` stamped at
send time (every attempt gets a fresh one, so clock-skew correction stays right). 429, 503 and other
transient failures are retried, honouring ``Retry-After``; a bounded thread pool keeps a few requests in
flight. Lines that are not a JSON object are counted and skipped, never sent.

>>> report = post_files([Path("events.jsonl.gz")], "http://127.0.0.1:8080", "wk_...")
>>> report.accepted, report.events_per_second
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 500 * 1000  # a little under the API's 500 KiB, leaving room for the envelope
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


class ReplayError(RuntimeError):
    """The API refused in a way retrying cannot fix (e.g. 401: the write key is wrong)."""


@dataclass
class ReplayReport:
    files: int = 0
    events_read: int = 0
    malformed_lines: int = 0
    events_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0  # events of batches that still failed after every retry
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the first few rejection / failure messages

    @property
    def events_per_second(self) -> float:
        return self.events_sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class Batch:
    lines: list[str]  # JSON text of each call, as read

    def body(self, sent_at: str) -> bytes:
        return ('{"batch":[' + ",".join(self.lines) + '],"sentAt":"' + sent_at + '"}').encode("utf-8")


def read_calls(paths: Iterable[Path], report: ReplayReport) -> Iterator[str]:
    """The JSON text of every call in ``paths``; malformed lines are counted in ``report`` and skipped."""
    for path in paths:
        report.files += 1
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                report.events_read += 1
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError("not an object")
                except ValueError:
                    report.malformed_lines += 1
                    continue
                yield line


def batches(lines: Iterable[str], max_events: int = MAX_BATCH_EVENTS,
            max_bytes: int = MAX_BATCH_BYTES) -> Iterator[Batch]:
    """Consecutive batches within both limits (a single line over ``max_bytes`` goes alone)."""
    current: list[str] = []
    size = 0
    for line in lines:
        line_size = len(line.encode("utf-8")) + 1
        if current and (len(current) >= max_events or size + line_size > max_bytes):
            yield Batch(current)
            current, size = [], 0
        current.append(line)
        size += line_size
    if current:
        yield Batch(current)


def count_events(paths: Iterable[Path]) -> int:
    """Non-blank lines in ``paths`` (for a progress bar's total)."""
    total = 0
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def api_is_up(base_url: str, timeout: float = 5.0) -> bool:
    """True when ``GET <base_url>/health`` answers 200."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def sent_at_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class _Client:
    """One persistent HTTP connection per thread."""

    def __init__(self, base_url: str, write_key: str, timeout: float, gzip_level: int):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {base_url!r} must be http(s)://host[:port][/stage]")
        self.parts = parts
        self.path = parts.path + "/v1/batch"
        self.timeout = timeout
        self.gzip_level = gzip_level
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self.headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
                        "Authorization": f"Basic {token}", "User-Agent": "lakehouse-replay/1"}
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.parts.hostname, self.parts.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        data = gzip.compress(body, compresslevel=self.gzip_level, mtime=0)
        conn = self._connection()
        try:
            conn.request("POST", self.path, body=data, headers=self.headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            raise


def _retry_delay(headers: dict[str, str], attempt: int, backoff: float) -> float:
    value = headers.get("retry-after")
    if value:
        try:
            return min(MAX_RETRY_AFTER, max(0.0, float(value)))
        except ValueError:
            pass
    return min(MAX_RETRY_AFTER, backoff * 2 ** attempt) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class BatchOutcome:
    events: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    errors: tuple[str, ...] = ()


def _send(client: _Client, batch: Batch, max_retries: int, backoff: float,
          sleep: Callable[[float], None]) -> BatchOutcome:
    events = len(batch.lines)
    last = ""
    for attempt in range(max_retries + 1):
        try:
            status, headers, raw = client.post(batch.body(sent_at_now()))
        except (OSError, http.client.HTTPException) as exc:
            last = f"connection failed: {exc}"
            headers = {}
        else:
            try:
                answer = json.loads(raw) if raw else {}
            except ValueError:
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
            if status == 200 or (status == 400 and answer.get("code") == "invalid_events"):
                errors = tuple(f"{e.get('index')}: {e.get('errors')}" for e in answer.get("errors", [])[:5])
                return BatchOutcome(events, int(answer.get("accepted", 0)), int(answer.get("duplicates", 0)),
                                    int(answer.get("rejected", 0)), 0, attempt + 1, attempt, errors)
            message = answer.get("message") or raw[:200].decode("utf-8", "replace")
            if status == 401:
                raise ReplayError(f"the API refused the write key (401): {message}")
            last = f"HTTP {status}: {message}"
            if status not in RETRYABLE:
                return BatchOutcome(events, failed=events, requests=attempt + 1, retries=attempt, errors=(last,))
        if attempt < max_retries:
            sleep(_retry_delay(headers, attempt, backoff))
    return BatchOutcome(events, failed=events, requests=max_retries + 1, retries=max_retries, errors=(last,))


def post_files(paths: Iterable[Path], base_url: str, write_key: str, *,
               on_progress: Callable[[int], None] | None = None, concurrency: int = 2, max_retries: int = 8,
               backoff_seconds: float = 0.5, timeout: float = 60.0, gzip_level: int = 6,
               sleep: Callable[[float], None] = time.sleep) -> ReplayReport:
    """Post every call in ``paths`` to ``base_url`` (the API root, e.g. the local gateway's ``.url``).

    ``on_progress(n)`` is called with the number of calls each finished batch covered (sent or failed).
    Raises :class:`ReplayError` when the API refuses the write key; other failures are counted.
    """
    client = _Client(base_url, write_key, timeout, gzip_level)
    report = ReplayReport()
    started = time.perf_counter()
    in_flight: set[Future[BatchOutcome]] = set()

    def collect(done: Iterable[Future[BatchOutcome]]) -> None:
        for future in done:
            outcome = future.result()
            report.events_sent += outcome.events - outcome.failed
            report.accepted += outcome.accepted
            report.duplicates += outcome.duplicates
            report.rejected += outcome.rejected
            report.failed += outcome.failed
            report.requests += outcome.requests
            report.retries += outcome.retries
            report.errors.extend(outcome.errors[: max(0, 10 - len(report.errors))])
            if on_progress is not None:
                on_progress(outcome.events)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="replay") as pool:
        try:
            for batch in batches(read_calls([Path(p) for p in paths], report)):
                if len(in_flight) >= 2 * max(1, concurrency):
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    collect(done)
                in_flight.add(pool.submit(_send, client, batch, max_retries, backoff_seconds, sleep))
            done, in_flight = wait(in_flight)
            collect(done)
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    report.seconds = time.perf_counter() - started
    return report
