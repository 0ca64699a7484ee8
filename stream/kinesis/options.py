"""Options of the Kinesis source, parsed and checked once (Spark hands them over with lower-cased keys)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
GET_RECORDS_MAX = 10_000  # Kinesis' own cap on GetRecords' Limit


class KinesisOptionError(ValueError):
    """An option of the Kinesis source is missing or wrong; the message names it."""


@dataclass(frozen=True)
class KinesisOptions:
    """Every option of the source (see docs/streaming.md, "Kinesis source").

    ``stream_name``            streamName: the stream to read (required)
    ``region``                 region: AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)
    ``endpoint_url``           endpointUrl: emulator endpoint (default: AWS_ENDPOINT_URL at query start)
    ``starting_position``      startingPosition: TRIM_HORIZON (default), LATEST or AT_TIMESTAMP
    ``starting_timestamp``     startingTimestamp: ISO 8601 or epoch seconds, for AT_TIMESTAMP
    ``max_records_per_trigger`` maxRecordsPerTrigger: records per micro-batch over all shards (default: no cap)
    ``max_records_per_call``   maxRecordsPerCall: GetRecords Limit (default and maximum 10,000)
    ``shard_list_interval``    shardListIntervalSeconds: how often ListShards looks for resharding (default 5)
    ``idle_poll_interval``     idlePollIntervalMs: pause before re-polling a caught-up shard (default 200)
    ``max_retries``            maxRetries: attempts on throttling / transient errors (default 8)
    ``retry_backoff``          retryBackoffMs: first retry delay, doubled each time (default 100)
    ``max_retry_backoff``      maxRetryBackoffMs: cap of the retry delay (default 5000)
    """

    stream_name: str
    region: str
    endpoint_url: str | None = None
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: datetime | None = None
    max_records_per_trigger: int | None = None
    max_records_per_call: int = GET_RECORDS_MAX
    shard_list_interval: float = 5.0
    idle_poll_interval: float = 0.2
    max_retries: int = 8
    retry_backoff: float = 0.1
    max_retry_backoff: float = 5.0

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> KinesisOptions:
        """Options as Spark passes them (any key case); raises :class:`KinesisOptionError`."""
        given = {str(k).lower(): v for k, v in options.items() if v is not None}
        unknown = sorted(set(given) - set(_KNOWN))
        if unknown:
            raise KinesisOptionError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(_KNOWN.values())}")
        stream_name = str(given.get("streamname", "")).strip()
        if not stream_name:
            raise KinesisOptionError("option streamName is required")
        position = str(given.get("startingposition", "TRIM_HORIZON")).strip().upper()
        if position not in STARTING_POSITIONS:
            raise KinesisOptionError(f"option startingPosition must be one of {', '.join(STARTING_POSITIONS)}, "
                                     f"not {given['startingposition']!r}")
        timestamp = _timestamp(given["startingtimestamp"]) if given.get("startingtimestamp") else None
        if position == "AT_TIMESTAMP" and timestamp is None:
            raise KinesisOptionError("option startingTimestamp is required with startingPosition AT_TIMESTAMP")
        return cls(
            stream_name=stream_name,
            region=str(given.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                       or "us-east-1"),
            endpoint_url=str(given.get("endpointurl") or os.environ.get("AWS_ENDPOINT_URL_KINESIS")
                             or os.environ.get("AWS_ENDPOINT_URL") or "") or None,
            starting_position=position,
            starting_timestamp=timestamp,
            max_records_per_trigger=_int(given, "maxrecordspertrigger", None, 1, None),
            max_records_per_call=_int(given, "maxrecordspercall", GET_RECORDS_MAX, 1, GET_RECORDS_MAX),
            shard_list_interval=_number(given, "shardlistintervalseconds", 5.0, 0.0, 3600.0),
            idle_poll_interval=_number(given, "idlepollintervalms", 200.0, 0.0, 60_000.0) / 1000,
            max_retries=_int(given, "maxretries", 8, 0, 100),
            retry_backoff=_number(given, "retrybackoffms", 100.0, 1.0, 60_000.0) / 1000,
            max_retry_backoff=_number(given, "maxretrybackoffms", 5000.0, 1.0, 600_000.0) / 1000,
        )

    def as_spark_options(self) -> dict[str, str]:
        """The options as ``spark.readStream.format('kinesis').options(**...)`` takes them."""
        out = {"streamName": self.stream_name, "region": self.region, "startingPosition": self.starting_position,
               "maxRecordsPerCall": str(self.max_records_per_call),
               "shardListIntervalSeconds": str(self.shard_list_interval),
               "idlePollIntervalMs": str(self.idle_poll_interval * 1000), "maxRetries": str(self.max_retries),
               "retryBackoffMs": str(self.retry_backoff * 1000),
               "maxRetryBackoffMs": str(self.max_retry_backoff * 1000)}
        if self.endpoint_url:
            out["endpointUrl"] = self.endpoint_url
        if self.starting_timestamp is not None:
            out["startingTimestamp"] = self.starting_timestamp.isoformat()
        if self.max_records_per_trigger is not None:
            out["maxRecordsPerTrigger"] = str(self.max_records_per_trigger)
        return out


_KNOWN = {name.lower(): name for name in (
    "streamName", "region", "endpointUrl", "startingPosition", "startingTimestamp", "maxRecordsPerTrigger",
    "maxRecordsPerCall", "shardListIntervalSeconds", "idlePollIntervalMs", "maxRetries", "retryBackoffMs",
    "maxRetryBackoffMs")}


def _timestamp(value: str) -> datetime:
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KinesisOptionError(f"option startingTimestamp must be ISO 8601 or epoch seconds, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(given: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    if key not in given:
        return default
    try:
        value = float(given[key])
    except ValueError:
        raise KinesisOptionError(f"option {_KNOWN[key]} must be a number, not {given[key]!r}") from None
    if not low <= value <= high:
        raise KinesisOptionError(f"option {_KNOWN[key]} must be between {low:g} and {high:g}, not {value:g}")
    return value


def _int(given: Mapping[str, str], key: str, default: int | None, low: int, high: int | None) -> int | None:
    if key not in given:
        return default
    try:
        value = int(str(given[key]).strip())
    except ValueError:
        raise KinesisOptionError(f"option {_KNOWN[key]} must be an integer, not {given[key]!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise KinesisOptionError(f"option {_KNOWN[key]} must be {bound}, not {value}")
    return value
