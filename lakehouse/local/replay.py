"""Post event files to the ingestion API the way a Segment client does.

Input files are JSON lines (``.jsonl`` or gzip ``.jsonl.gz``), one Segment-style call per line. Calls are
grouped into batches within Segment's limits (≤ 500 calls and ≤ 500 KB of JSON per request), each
posted to ``/v1/batch`` gzip-compressed with HTTP Basic auth (``writeKey:``) and ``sentAt`` stamped at
send time. Lines that are not a JSON object are counted and skipped, never sent. A bounded thread pool
keeps ``concurrency`` requests in flight.

HTTP is ``requests``: one ``Session`` per worker thread (the requests maintainers' advice, psf/requests#1871
and #2766), all mounted on one ``HTTPAdapter`` whose urllib3 connection pool holds ``concurrency``
connections. The environment's proxy and ``.netrc`` settings are not used (``trust_env`` off): the client
talks to the URL it is given.

Retries: 429, 500, 502, 503, 504 and connection failures are retried under a ``urllib3.util.Retry`` policy
(``status_forcelist``, ``allowed_methods`` with POST, ``respect_retry_after_header``, exponential backoff with
jitter, ``Retry-After`` parsed by urllib3 and capped at 60 s). The loop applying that policy is here, around
``requests``, not inside urllib3: urllib3 retries by calling ``urlopen`` again with the *same body bytes*,
and every attempt must carry a fresh ``sentAt`` — the API corrects clock skew with
``timestamp + (receivedAt - sentAt)``, so a retry sent 5 s after its first attempt with the old ``sentAt``
would move every event of the batch 5 s into the future. urllib3 offers no hook between its retries and the
body, so the adapter itself never retries (``max_retries=0``) and each attempt re-stamps the batch.

Single-call routes: with ``single_calls=SingleCallSample(per_route)`` the first ``per_route`` calls of each
type go to their own route (``/v1/track``, ``/identify``, ``/page``, ``/screen``, ``/group``, ``/alias``), one
call per request with its own ``sentAt`` — the way Segment's single-call libraries send — and the rest in
batches. A single-call route the API does not have (404) is reported (``single_unrouted``) and its calls go
in a batch instead, so nothing is lost.

>>> report = post_files([Path("events.jsonl.gz")], "http://127.0.0.1:8080", "wk_...")
>>> report.accepted, report.events_per_second
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util import Retry

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 500 * 1000  # a little under the API's 500 KiB, leaving room for the envelope
RETRYABLE = frozenset({429, 500, 502, 503, 504})
#: call type -> Segment's single-call route
SINGLE_CALL_ROUTES = {kind: f"/v1/{kind}" for kind in ("track", "identify", "page", "screen", "group", "alias")}
MAX_RETRY_AFTER = 60  # seconds: the longest wait a Retry-After or the backoff may impose


class ReplayError(RuntimeError):
    """The API refused in a way retrying cannot fix (e.g. 401: the write key is wrong)."""


@dataclass
class ReplayReport:
    """What a replay did: counts of calls (events), HTTP requests and retries, wall-clock seconds."""

    files: int = 0
    events_read: int = 0
    malformed_lines: int = 0
    events_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0  # events of batches that still failed after every retry
    single_calls: dict[str, int] = field(default_factory=dict)  # call type -> calls sent to its own route
    single_unrouted: dict[str, int] = field(default_factory=dict)  # call type -> 404 there; sent in a batch
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the first few rejection / failure messages

    @property
    def events_per_second(self) -> float:
        """Events sent per wall-clock second (0 before anything ran)."""
        return self.events_sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when no batch failed for good."""
        return self.failed == 0


@dataclass(frozen=True)
class Batch:
    """Consecutive calls posted in one request."""

    lines: list[str]  # JSON text of each call, as read

    def body(self, sent_at: str) -> bytes:
        """The ``/v1/batch`` JSON body (UTF-8) with ``sentAt`` = ``sent_at`` (ISO 8601 text)."""
        return ('{"batch":[' + ",".join(self.lines) + '],"sentAt":"' + sent_at + '"}').encode("utf-8")


class SingleCallSample:
    """Chooses the calls that go to their single-call route: the first ``per_route`` of each call type."""

    def __init__(self, per_route: int = 25):
        self.per_route = per_route
        self.taken: dict[str, int] = {}

    def __call__(self, line: str) -> str | None:
        """The route for the call ``line`` (JSON text), or None: it goes in a batch."""
        kind = json.loads(line).get("type")
        if kind not in SINGLE_CALL_ROUTES or self.taken.get(kind, 0) >= self.per_route:
            return None
        self.taken[kind] = self.taken.get(kind, 0) + 1
        return SINGLE_CALL_ROUTES[kind]


def single_body(line: str, sent_at: str) -> bytes:
    """One call's body for its single-call route, with ``sentAt`` = ``sent_at``."""
    call = json.loads(line)
    call["sentAt"] = sent_at
    return json.dumps(call, separators=(",", ":")).encode("utf-8")


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


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc from the environment
    return session


def api_is_up(base_url: str, timeout: float = 5.0) -> bool:
    """True when ``GET <base_url>/health`` answers 200 within ``timeout`` seconds."""
    with _session() as session:
        try:
            return session.get(base_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
        except (requests.RequestException, ValueError):
            return False


def sent_at_now() -> str:
    """The current UTC time as Segment's ``sentAt`` text (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def retry_policy(max_retries: int, backoff_seconds: float) -> Retry:
    """The urllib3 retry policy of a batch: ``max_retries`` retries of POST on 429/5xx and connection errors.

    Waits: the server's ``Retry-After`` when it sends one (capped at :data:`MAX_RETRY_AFTER`), else urllib3's
    backoff — none before the first retry, then ``backoff_seconds * 2**(n-1)`` plus up to ``backoff_seconds``
    of jitter before retry n, capped at :data:`MAX_RETRY_AFTER`.
    """
    return Retry(total=max_retries, allowed_methods=frozenset({"POST"}), status_forcelist=RETRYABLE,
                 backoff_factor=backoff_seconds, backoff_jitter=backoff_seconds, backoff_max=MAX_RETRY_AFTER,
                 respect_retry_after_header=True, retry_after_max=MAX_RETRY_AFTER, raise_on_status=False)


def retry_delay(retry: Retry, response: requests.Response | None) -> float:
    """Seconds to wait before the next attempt: what ``Retry.sleep`` would sleep, without sleeping.

    The server's ``Retry-After`` (delta-seconds or HTTP date, parsed by urllib3) when present and valid,
    else the policy's backoff for the failures so far.
    """
    value = response.headers.get("Retry-After") if response is not None else None
    if value and retry.respect_retry_after_header:
        try:
            return float(retry.parse_retry_after(value))
        except InvalidHeader:
            pass
    return retry.get_backoff_time()


class _Client:
    """POSTs gzip batches to ``<base_url>/v1/batch``: a requests Session per thread on one shared pool."""

    def __init__(self, base_url: str, write_key: str, timeout: float, gzip_level: int, pool_size: int):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {base_url!r} must be http(s)://host[:port][/stage]")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/v1/batch"
        self.timeout = timeout
        self.gzip_level = gzip_level
        self.auth = (write_key, "")  # Segment's scheme: Basic base64("<writeKey>:")
        self.headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
                        "User-Agent": "lakehouse-replay/1"}
        # the adapter never retries (max_retries=0): every attempt must carry a fresh sentAt, see the module doc
        self.adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=True, max_retries=0)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = _session()
            session.mount("http://", self.adapter)
            session.mount("https://", self.adapter)
            self._local.session = session
        return session

    def post(self, body: bytes, route: str | None = None) -> requests.Response:
        """One attempt (to ``/v1/batch``, or ``route``); raises ``requests.RequestException`` when no HTTP answer
        came back."""
        data = gzip.compress(body, compresslevel=self.gzip_level, mtime=0)
        url = self.url if route is None else self.base_url + route
        return self._session().post(url, data=data, headers=self.headers, auth=self.auth,
                                    timeout=self.timeout, allow_redirects=False)

    def close(self) -> None:
        self.adapter.close()


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one batch: its calls by outcome, the requests it took and the retries among them."""

    events: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    errors: tuple[str, ...] = ()
    unrouted: bool = False  # a single-call route answered 404: the call was not sent


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _send(client: _Client, batch: Batch, policy: Retry, sleep: Callable[[float], None],
          route: str | None = None) -> BatchOutcome:
    events = len(batch.lines)
    retry, attempts, last = policy, 0, ""
    while True:
        attempts += 1
        response: requests.Response | None = None
        error: Exception | None = None
        try:
            sent_at = sent_at_now()
            body = batch.body(sent_at) if route is None else single_body(batch.lines[0], sent_at)
            response = client.post(body, route)
        except requests.RequestException as exc:
            error, last = exc, f"connection failed: {exc}"
        else:
            answer = _json_object(response.content)
            status = response.status_code
            if status == 200 and not isinstance(answer.get("accepted"), int):  # nothing says the events are stored
                last = f"HTTP 200 without the API's count of accepted events: {response.content[:200]!r}"
                return BatchOutcome(events, failed=events, requests=attempts, retries=attempts - 1, errors=(last,))
            if route is not None and status == 404:
                return BatchOutcome(events, requests=attempts, retries=attempts - 1, unrouted=True)
            if status == 200 or (status == 400 and answer.get("code") in ("invalid_events", "invalid_event")):
                errors = tuple(f"{e.get('index')}: {e.get('errors')}" for e in answer.get("errors", [])[:5])
                return BatchOutcome(events, int(answer.get("accepted", 0)), int(answer.get("duplicates", 0)),
                                    int(answer.get("rejected", 0)), 0, attempts, attempts - 1, errors)
            message = answer.get("message") or response.content[:200].decode("utf-8", "replace")
            if status == 401:
                raise ReplayError(f"the API refused the write key (401): {message}")
            last = f"HTTP {status}: {message}"
            if not retry.is_retry("POST", status, has_retry_after="Retry-After" in response.headers):
                return BatchOutcome(events, failed=events, requests=attempts, retries=attempts - 1, errors=(last,))
        try:
            retry = retry.increment("POST", client.url, response=response.raw if response is not None else None,
                                    error=error)
        except MaxRetryError:
            return BatchOutcome(events, failed=events, requests=attempts, retries=attempts - 1, errors=(last,))
        sleep(retry_delay(retry, response))


def post_files(paths: Iterable[Path], base_url: str, write_key: str, *,
               on_progress: Callable[[int], None] | None = None, concurrency: int = 2, max_retries: int = 8,
               backoff_seconds: float = 0.5, timeout: float = 60.0, gzip_level: int = 6,
               sleep: Callable[[float], None] = time.sleep,
               single_calls: Callable[[str], str | None] | None = None) -> ReplayReport:
    """Post every call in ``paths`` to ``base_url`` (the API root, e.g. the local gateway's ``.url``).

    ``concurrency`` requests are in flight at once; each batch gets up to ``max_retries`` retries (see
    :func:`retry_policy` for the waits, which go through ``sleep``); ``timeout`` is the connect and read
    timeout in seconds of one attempt. ``on_progress(n)`` is called with the number of calls each finished
    batch covered (sent or failed). Raises :class:`ReplayError` when the API refuses the write key and
    ValueError when ``base_url`` is not http(s); other failures are counted in the report.
    ``single_calls(line)`` names the single-call route of a call that goes alone (module docstring), or None.
    """
    workers = max(1, concurrency)
    client = _Client(base_url, write_key, timeout, gzip_level, pool_size=workers)
    policy = retry_policy(max_retries, backoff_seconds)
    report = ReplayReport()
    started = time.perf_counter()
    in_flight: set[Future[BatchOutcome]] = set()

    unrouted: list[str] = []
    singles: dict[Future[BatchOutcome], tuple[str, str]] = {}

    def collect(done: Iterable[Future[BatchOutcome]]) -> None:
        for future in done:
            outcome = future.result()
            single = singles.pop(future, None)
            if single is not None:
                kind = json.loads(single[1]).get("type", "?")
                if outcome.unrouted:
                    report.single_unrouted[kind] = report.single_unrouted.get(kind, 0) + 1
                    report.requests += outcome.requests
                    unrouted.append(single[1])
                    continue
                report.single_calls[kind] = report.single_calls.get(kind, 0) + 1
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

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="replay") as pool:
            try:
                def submit(batch: Batch, route: str | None = None) -> Future[BatchOutcome]:
                    nonlocal in_flight
                    if len(in_flight) >= 2 * workers:
                        done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        collect(done)
                    future = pool.submit(_send, client, batch, policy, sleep, route)
                    in_flight.add(future)
                    return future

                def batched(lines: Iterable[str]) -> Iterator[str]:
                    for line in lines:
                        route = single_calls(line) if single_calls is not None else None
                        if route is None:
                            yield line
                        else:
                            singles[submit(Batch([line]), route)] = (route, line)

                for batch in batches(batched(read_calls([Path(p) for p in paths], report))):
                    submit(batch)
                done, in_flight = wait(in_flight)
                collect(done)
                for batch in batches(unrouted):
                    submit(batch)
                done, in_flight = wait(in_flight)
                collect(done)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
    finally:
        client.close()
    report.seconds = time.perf_counter() - started
    return report
