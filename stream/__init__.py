"""Real-time customer features: Kinesis -> Spark Structured Streaming -> DynamoDB, exactly once.

* :mod:`stream.kinesis` — a reusable Kinesis source for Spark's Python Data Source API (pyspark >= 4);
* :mod:`stream.records` — parse and validate the raw records on the stream (bad ones are quarantined);
* :mod:`stream.features` and :mod:`stream.rfm` — pure functions of a micro-batch: per-customer deltas,
  the merge into a customer's state, rolling windows, RFM scores and segment;
* :mod:`stream.sink` — the idempotent DynamoDB sink (event-id claims, one conditional update per customer);
* :mod:`stream.microbatch` — one micro-batch end to end, whatever the source (Python source or Glue's);
* :mod:`stream.job` — the local job (``lakehouse stream``) and :func:`stream.job.run_stream`;
* ``stream/glue_job.py`` — the same micro-batch function as a Glue 5 streaming job (Spark 3.5).

Everything except :mod:`stream.kinesis.source` stays within the Spark 3.5 API. See docs/streaming.md.
"""
