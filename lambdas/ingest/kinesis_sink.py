"""The stream sink: Kinesis ``PutRecords`` (≤ 500 records and ≤ 5 MiB per call), retrying only failures.

Each round sends every record still pending; records that Kinesis reports failed (e.g.
``ProvisionedThroughputExceededException``) and whole calls that failed are retried after a jittered,
doubling delay. Records that succeeded are never sent again. When records are still pending after the
last round, :class:`StreamUnavailable` is raised and the API answers 503.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.core.aws.clients import aws_client

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
NOT_RETRYABLE = frozenset({"ResourceNotFoundException", "AccessDeniedException", "ValidationException",
                           "InvalidArgumentException", "KMSAccessDeniedException", "KMSDisabledException",
                           "KMSNotFoundException"})
# Our loop does the retrying: one SDK attempt per call keeps the total delay bounded and predictable.
KINESIS_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=10,
                        max_pool_connections=32)

Entry = tuple[bytes, str]  # (Data, PartitionKey)


class StreamUnavailable(RuntimeError):
    """Kinesis did not accept every record (``pending`` of them) after the last round, or refused for good."""

    def __init__(self, pending: int, total: int, reason: str):
        self.pending = pending
        super().__init__(f"{pending} of {total} records not accepted by Kinesis: {reason}")


@dataclass(frozen=True)
class PutReport:
    """A successful put: records accepted, PutRecords calls made, and record sends that were retries."""

    records: int
    calls: int
    retried_records: int


class StreamSink(Protocol):
    """Where accepted records go after the raw zone: Kinesis, or a stand-in in tests and benchmarks."""

    def put(self, entries: list[Entry]) -> PutReport:
        """Put every ``(data, partition key)`` entry; raises :class:`StreamUnavailable` when some are not accepted."""
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

    @property
    def _kinesis(self):
        return aws_client("kinesis", region=self.region, config=KINESIS_CONFIG)

    def put(self, entries: list[Entry]) -> PutReport:
        """Put every entry, retrying only the records and calls that failed.

        Raises :class:`StreamUnavailable` when records are still pending after the last round, or at once
        when Kinesis refuses for a reason retrying cannot fix (no such stream, access denied, ...).
        """
        pending = entries
        calls = retried = 0
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                retried += len(pending)
                delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
                self._sleep(random.uniform(delay / 2, delay))
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
                    failed.extend(chunk)
                    continue
                if response.get("FailedRecordCount"):
                    for entry, result in zip(chunk, response["Records"], strict=True):
                        if "ErrorCode" in result:
                            failed.append(entry)
                            reason = result["ErrorCode"]
            if not failed:
                return PutReport(len(entries), calls, retried)
            pending = failed
        raise StreamUnavailable(len(pending), len(entries), reason)
