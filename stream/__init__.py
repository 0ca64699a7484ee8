"""Real-time customer features: Kinesis -> Spark Structured Streaming -> DynamoDB, exactly once.

* :mod:`stream.kinesis` — a reusable Kinesis source for Spark's Python Data Source API (pyspark >= 4);
* :mod:`stream.records` — parse and validate the raw records on the stream (bad ones are quarantined);
* :mod:`stream.features` and :mod:`stream.rfm` — pure functions of a micro-batch: per-customer deltas,
  the merge into a customer's state, rolling windows, RFM scores and segment;
* :mod:`stream.state` — the pure rules of one key's state (dedup window, identity links, merges, forwards);
* :mod:`stream.stateful` — the query: routing, the keyed state (``applyInPandasWithState``), item writes from
  the executors (``BatchWriteItem``), forwards and quarantine named by the micro-batch;
* :mod:`stream.microbatch` — what a micro-batch reports;
* :mod:`stream.job` — the local job (``lakehouse stream``) and :func:`stream.job.run_stream`;
* ``stream/glue_job.py`` — the same query as a Glue 5 streaming job (Spark 3.5), beside the raw archive.

Everything except :mod:`stream.kinesis.source` stays within the Spark 3.5 API. See docs/streaming.md.
"""
