"""The stream sink: Kinesis ``PutRecords`` (≤ 500 records and ≤ 5 MiB per call), retrying only failures.

Each round sends every record still pending; records that Kinesis reports failed (e.g.
``ProvisionedThroughputExceededException``) and whole calls that failed are retried after a jittered,
doubling delay. Records that succeeded are never sent again. When records are still pending after the
last round, :class:`StreamUnavailable` is raised and the API answers 503.

A call that got no answer (a read timeout, a dropped connection: botocore's ``HTTPClientError``) may have been
stored by Kinesis all the same: its records are sent again, so the stream is at least once, and the copies are
removed downstream by ``event_id``. :attr:`PutReport.unanswered_records` counts such records so operators see
how many copies to expect (metric ``RecordsResentAfterNoAnswer``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from lakehouse.core.aws.clients import aws_client

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
NOT_RETRYABLE = frozenset({"ResourceNotFoundException", "AccessDeniedException", "ValidationException",
                           "InvalidArgumentException", "KMSAccessDeniedException", "KMSDisabledException",
                           "KMSNotFoundException"})
# Our loop does the retrying: one SDK attempt per call keeps the total delay bounded and predictable
# (``total_max_attempts`` counts the first attempt; botocore's ``max_attempts`` counts retries only: 1 meant two
# attempts, each a full timeout when Kinesis hangs). A PutRecords
# call of at most 5 MB answers in milliseconds when Kinesis is well; the timeouts bound one hung call to 6 s, so a
# first round that hangs still leaves a 10 s function time to answer 503 (see ``KinesisSink.put``'s deadline).
KINESIS_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=4,
                        max_pool_connections=32)
CALL_BUDGET_SECONDS = KINESIS_CONFIG.connect_timeout + KINESIS_CONFIG.read_timeout  # one call at its slowest

Entry = tuple[bytes, str]  # (Data, PartitionKey)


class StreamUnavailable(RuntimeError):
    """Kinesis did not accept every record (``pending`` of them) after the last round, or refused for good."""

    def __init__(self, pending: int, total: int, reason: str):
        self.pending = pending
        super().__init__(f"{pending} of {total} records not accepted by Kinesis: {reason}")


@dataclass(frozen=True)
class PutReport:
    """A successful put: records accepted, PutRecords calls made, record sends that were retries, and of those
    the records whose earlier call got no answer (Kinesis may hold them twice)."""

    records: int
    calls: int
    retried_records: int
    unanswered_records: int = 0


class StreamSink(Protocol):
    """Where accepted records go after the raw zone: Kinesis, or a stand-in in tests and benchmarks."""

    def put(self, entries: list[Entry], deadline: float | None = None) -> PutReport:
        """Put every ``(data, partition key)`` entry, giving up by ``deadline`` (``time.monotonic()`` seconds);
        raises :class:`StreamUnavailable` when some are not accepted."""
        ...


def chunks(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Consecutive slices within the PutRecords limits."""
    chunk: list[Entry] = []
    size = 0
    for entry in entries:
        entry_size = len(entry[0]) + len(entry[1].encode("utf-8"))
        if chunk and (len(chunk) == MAX_RECORDS_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk


class KinesisSink:
    """The stream sink on Kinesis ``stream_name``: at most ``attempts`` rounds, the delay between them doubling
    from ``backoff_seconds`` up to ``max_backoff_seconds`` (jittered)."""

    def __init__(self, stream_name: str, region: str | None = None, *, attempts: int = 5,
                 backoff_seconds: float = 0.05, max_backoff_seconds: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.stream_name = stream_name
        self.region = region
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep

    def _backoff(self, attempt: int) -> tuple[float, float]:
        """The jitter range of the wait before round ``attempt + 1`` (doubling, capped)."""
        delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return delay / 2, delay

    @property
    def _kinesis(self):
        return aws_client("kinesis", region=self.region, config=KINESIS_CONFIG)

    def put(self, entries: list[Entry], deadline: float | None = None) -> PutReport:
        """Put every entry, retrying only the records and calls that failed.

        ``deadline`` (``time.monotonic()`` seconds; the function's end less the time to answer): no round is started
        that could not finish by then at the calls' slowest (:data:`CALL_BUDGET_SECONDS` each, after its backoff),
        so a Kinesis that hangs gets the client a 503 rather than a function timed out, with the state unknown.
        Raises :class:`StreamUnavailable` when records are still pending after the last round or by the deadline,
        or at once when Kinesis refuses for a reason retrying cannot fix (no such stream, access denied, ...).
        """
        pending = entries
        calls = retried = unanswered = 0
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                delay = random.uniform(*self._backoff(attempt))
                rounds_calls = len(list(chunks(pending)))
                if deadline is not None and time.monotonic() + delay + rounds_calls * CALL_BUDGET_SECONDS > deadline:
                    raise StreamUnavailable(len(pending), len(entries),
                                            f"{reason}, no time left for round {attempt + 1}")
                retried += len(pending)
                self._sleep(delay)
            failed: list[Entry] = []
            for chunk in chunks(pending):
                calls += 1
                try:
                    response = self._kinesis.put_records(
                        StreamName=self.stream_name,
                        Records=[{"Data": data, "PartitionKey": key} for data, key in chunk])
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code", "")
                    reason = code or str(exc)
                    if code in NOT_RETRYABLE:
                        raise StreamUnavailable(len(pending), len(entries), reason) from exc
                    failed.extend(chunk)
                    continue
                except BotoCoreError as exc:
                    reason = type(exc).__name__
                    if isinstance(exc, HTTPClientError):  # sent, no answer: Kinesis may have stored them
                        unanswered += len(chunk)
                    failed.extend(chunk)
                    continue
                if response.get("FailedRecordCount"):
                    for entry, result in zip(chunk, response["Records"], strict=True):
                        if "ErrorCode" in result:
                            failed.append(entry)
                            reason = result["ErrorCode"]
            if not failed:
                return PutReport(len(entries), calls, retried, unanswered)
            pending = failed
        raise StreamUnavailable(len(pending), len(entries), reason)
