"""The Kinesis source for Spark Structured Streaming (Python Data Source API, pyspark >= 4.2).

>>> from stream.kinesis.source import KinesisDataSource
>>> spark.dataSource.register(KinesisDataSource)
>>> frame = (spark.readStream.format("kinesis").option("streamName", "events")
...          .option("startingPosition", "TRIM_HORIZON").option("maxRecordsPerTrigger", 20000).load())

Rows: ``shard_id``, ``sequence_number`` (strings), ``approximate_arrival_timestamp`` (timestamp),
``partition_key`` (string) and ``data`` (binary). Offsets are per-shard sequence numbers (see
:mod:`stream.kinesis.offsets`), kept in the query's checkpoint, so a restarted query resumes exactly
after the last committed record and a replayed micro-batch reads exactly the same records.

Supports ``Trigger.AvailableNow`` (reads what had arrived when the query started, then stops, honouring
``maxRecordsPerTrigger``) and follows resharding (:mod:`stream.kinesis.planner`). Options:
:class:`stream.kinesis.options.KinesisOptions`. This module needs pyspark >= 4.2; the rest of the
package only needs boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow

from stream.kinesis.client import KinesisCaller, ShardReader
from stream.kinesis.offsets import KinesisOffset, start_spec
from stream.kinesis.options import KinesisOptions
from stream.kinesis.planner import KinesisPlanner

SCHEMA = ("shard_id string, sequence_number string, approximate_arrival_timestamp timestamp, "
          "partition_key string, data binary")


class KinesisPartition(InputPartition):
    """Records ``(after, until]`` of one shard; ``rows`` carries them when the planner already read them."""

    def __init__(self, shard_id: str, after: str | None, until: str, start: str, rows: list[tuple] | None):
        super().__init__(shard_id)
        self.shard_id = shard_id
        self.after = after
        self.until = until
        self.start = start
        self.rows = rows

    def __repr__(self) -> str:
        carried = "carried" if self.rows is not None else "to read"
        return f"KinesisPartition({self.shard_id}, after={self.after}, until={self.until}, {carried})"


class KinesisDataSource(DataSource):
    """``spark.readStream.format("kinesis")`` once registered with ``spark.dataSource.register``."""

    @classmethod
    def name(cls) -> str:
        """The format name: ``kinesis``."""
        return "kinesis"

    def schema(self) -> str:
        """The row schema (:data:`SCHEMA`); user-supplied schemas are ignored."""
        return SCHEMA

    def streamReader(self, schema) -> KinesisStreamReader:
        """A reader for the query's options; raises ``KinesisOptionError`` for invalid ones."""
        return KinesisStreamReader(KinesisOptions.parse(self.options))


class KinesisStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Spark's side of the source: offsets are :class:`KinesisOffset` dicts, one partition per shard range."""

    def __init__(self, options: KinesisOptions):
        self.options = options
        self._planner: KinesisPlanner | None = None
        self._arrived_by: datetime | None = None
        self._initial: dict | None = None

    @property
    def planner(self) -> KinesisPlanner:
        """The planner, created on first use (on the driver)."""
        if self._planner is None:
            self._planner = KinesisPlanner(self.options, ShardReader(KinesisCaller(self.options)))
        return self._planner

    def initialOffset(self) -> dict:
        """The offset before any record: the configured start, LATEST pinned to the first call's time."""
        if self._initial is None:
            position, moment = self.options.starting_position, self.options.starting_timestamp
            if position == "LATEST":  # pinned to the moment the query first asks
                position, moment = "AT_TIMESTAMP", datetime.now(UTC)
            self._initial = KinesisOffset.initial(start_spec(position, moment)).to_dict()
        return self._initial

    def getDefaultReadLimit(self) -> ReadLimit:
        """At most ``maxRecordsPerTrigger`` records per micro-batch, or everything available when unset."""
        cap = self.options.max_records_per_trigger
        return ReadMaxRows(cap) if cap else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        """Bound an AvailableNow run to records that arrived before now."""
        self._arrived_by = datetime.now(UTC)

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        """The end offset of the next micro-batch after ``start``, at most ``limit`` records on."""
        max_rows = limit.max_rows if isinstance(limit, ReadMaxRows) else None
        plan = self.planner.plan(KinesisOffset.from_dict(start), max_rows, self._arrived_by)
        return plan.end.to_dict()

    def partitions(self, start: dict, end: dict) -> list[KinesisPartition]:
        """One partition per shard with records in ``(start, end]``, carrying the rows the planner already read."""
        first, last = KinesisOffset.from_dict(start), KinesisOffset.from_dict(end)
        parts = []
        for shard_id, until in sorted(last.shards.items()):
            after = first.position(shard_id)
            if after == until:
                continue
            records = self.planner.planned_records(shard_id, after, until)
            rows = [r.as_row() for r in records] if records is not None else None
            parts.append(KinesisPartition(shard_id, after, until, last.start, rows))
        return parts

    def read(self, partition: KinesisPartition) -> Iterator[tuple]:
        """The rows of one partition (on an executor): the carried rows, or the shard range read again.

        Raises ``RangeUnavailable`` when the range can no longer be read (expired from the stream).
        """
        if partition.rows is not None:
            yield from partition.rows
            return
        reader = ShardReader(KinesisCaller(self.options))
        for record in reader.read_range(partition.shard_id, partition.after, partition.until, partition.start,
                                        limit=self.options.max_records_per_call,
                                        idle_pause=self.options.idle_poll_interval):
            yield record.as_row()

    def commit(self, end: dict) -> None:
        """Spark committed everything up to ``end``: the planner may drop what it cached before it."""
        self.planner.committed(KinesisOffset.from_dict(end))

    def stop(self) -> None:
        """Release the planner and its caches."""
        self._planner = None


def register(spark) -> None:
    """Make ``format("kinesis")`` available in ``spark`` (idempotent)."""
    spark.dataSource.register(KinesisDataSource)
