"""Identity stitching in the star build: the identity map from curated ``identity_links``, applied to every frame.

The rule is :mod:`lakehouse.core.identity` (docs/identity.md), applied here exactly, not re-implemented:
links (one per identify call that carries both ids, one per alias) are collected to the driver, ordered by
(event time, ``received_at``, ``event_id``) and fed to :class:`~lakehouse.core.identity.IdentityGraph`
(first link per source id wins, later different targets are conflicts, transitive, no cycles). Links are
one per identify/alias call, a small fraction of the events (a million links is ~100 MB on the driver);
the resolved map goes back to the executors as a broadcast join.

Every curated table keeps ``customer_id`` as sent (``user_id`` or else ``anonymous_id``); :func:`stitch`
replaces it with the resolved customer, so an anonymous id that later identified has its earlier events,
sessions, funnel steps and orders on the customer, and is no customer of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.core.identity import IdentityGraph, Link

LINK_COLUMNS = ("event_id", "source_id", "target_id", "event_ts", "received_at")


@dataclass
class IdentityStats:
    """What the identity map did: ``links`` read, ``stitched_ids`` (ids that now resolve to another customer)
    and ``conflicts`` (links ignored by rule 1 or 3 of :mod:`lakehouse.core.identity`)."""

    links: int = 0
    stitched_ids: int = 0
    conflicts: int = 0


def _iso(value: datetime | str | None) -> str:
    """A sortable text of a timestamp (UTC wall clock, microseconds); '' for NULL (sorts first)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def identity_graph(links: DataFrame) -> IdentityGraph:
    """The identity graph of curated ``identity_links`` (columns :data:`LINK_COLUMNS`), built on the driver.

    Links are taken in order of (``event_ts``, ``received_at``, ``event_id``) as rule 1 of
    :mod:`lakehouse.core.identity` says; a link with a NULL or empty id is ignored.
    """
    return IdentityGraph.of(_links(links))


def _links(links: DataFrame) -> list[Link]:
    rows = links.select(*LINK_COLUMNS).toLocalIterator()
    return [Link((_iso(r["event_ts"]), _iso(r["received_at"]), r["event_id"] or ""), r["source_id"] or "",
                 r["target_id"] or "") for r in rows]


def identity_map(spark: SparkSession, links: DataFrame) -> tuple[DataFrame, IdentityStats]:
    """The identity map: one row per id that resolves to another customer; key ``id``; columns ``id``,
    ``resolved_id`` (the customer the id's events belong to). Ids absent from the map are their own customer.

    Returns the map and its :class:`IdentityStats`.
    """
    taken = _links(links)
    graph = IdentityGraph.of(taken)
    resolved = sorted((source, graph.resolve(source)) for source in graph.links)
    stitched = [(source, target) for source, target in resolved if source != target]
    stats = IdentityStats(links=len(taken), stitched_ids=len(stitched), conflicts=graph.conflicts)
    return spark.createDataFrame(stitched, "id string, resolved_id string"), stats


def stitch(frame: DataFrame, id_map: DataFrame, column: str = "customer_id") -> DataFrame:
    """``frame`` with ``column`` replaced by the customer it resolves to (same rows, same column order).

    A left broadcast join on the map of :func:`identity_map`; an id not in the map stays as it is.
    """
    mapped = F.broadcast(id_map.select(F.col("id").alias("_stitch_id"), F.col("resolved_id").alias("_stitch_to")))
    joined = frame.join(mapped, frame[column] == mapped["_stitch_id"], "left")
    return joined.select(*[F.coalesce(F.col("_stitch_to"), frame[c]).alias(c) if c == column else frame[c]
                           for c in frame.columns])
