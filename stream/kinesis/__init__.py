"""A reusable Kinesis source for Spark Structured Streaming (Python Data Source API).

* :mod:`stream.kinesis.options` — the source's options;
* :mod:`stream.kinesis.offsets` — offsets: per-shard sequence numbers in Spark's checkpoint;
* :mod:`stream.kinesis.client` — boto3 calls with backoff on throttling (ListShards, GetShardIterator, GetRecords);
* :mod:`stream.kinesis.planner` — end offsets per micro-batch, read-ahead, resharding (parents before children);
* :mod:`stream.kinesis.source` — the ``DataSource`` / ``DataSourceStreamReader`` (the only module that needs
  pyspark >= 4.2; import it explicitly).

Documented in docs/streaming.md ("Kinesis source").
"""

from stream.kinesis.offsets import KinesisOffset
from stream.kinesis.options import KinesisOptionError, KinesisOptions

__all__ = ["KinesisOffset", "KinesisOptionError", "KinesisOptions"]
