"""Cross-stage acceptance tests: calls written from Segment's public HTTP Tracking API and e-commerce spec v2
documentation go through the real local gateway (the ingestion Lambda behind it, on the embedded moto
server), then through the real batch chain (curated, star, DuckDB warehouse) and the real streaming job
(Kinesis on moto -> DynamoDB features); every number is checked against a hand computation written next to
the payload that produces it.

These tests belong to no single stage (the mirror-the-source-tree rule has no folder for them): they are the
issue's acceptance criteria, run end to end. One pipeline run per module (a module-scoped fixture), distinct
customers per scenario, so scenarios cannot disturb each other's numbers.
"""
