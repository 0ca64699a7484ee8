"""The ingestion API's Lambda: Segment-compatible routes, write-key auth, validation, raw + Kinesis sinks.

Entry point: ``lambdas/ingest/handler.py::handler``. See docs/ingestion.md.
"""
