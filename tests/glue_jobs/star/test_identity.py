"""The identity map in Spark against hand-written expectations (the rule: lakehouse/core/identity.py)."""

from __future__ import annotations

from datetime import datetime

from glue_jobs.star.identity import identity_map, stitch

LINKS = "event_id string, source_id string, target_id string, event_ts timestamp, received_at timestamp"


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2025, 6, 2, 10, minute, second)


def resolve(spark, rows):
    id_map, stats = identity_map(spark, spark.createDataFrame(rows, LINKS))
    return {r["id"]: r["resolved_id"] for r in id_map.collect()}, stats


def test_identify_then_alias_is_transitive(spark) -> None:
    mapping, stats = resolve(spark, [
        ("l1", "anon-1", "u-1", at(1), at(1)),   # identify: the browser becomes u-1
        ("l2", "u-1", "u-2", at(2), at(2)),      # alias: u-1 is merged into u-2
        ("l3", "anon-2", "u-2", at(3), at(3)),
    ])
    assert mapping == {"anon-1": "u-2", "u-1": "u-2", "anon-2": "u-2"}
    assert (stats.links, stats.stitched_ids, stats.conflicts) == (3, 3, 0)


def test_the_first_link_by_event_time_wins_whatever_the_row_order(spark) -> None:
    """Taken in row order (as they arrive) the later identify of a shared device would win: anon -> u-late."""
    mapping, stats = resolve(spark, [
        ("l9", "anon", "u-late", at(5), at(5)),
        ("l1", "anon", "u-first", at(1), at(9)),   # said first, received last
    ])
    assert mapping == {"anon": "u-first"} and stats.conflicts == 1


def test_ties_on_event_time_go_to_the_first_received_then_the_smallest_event_id(spark) -> None:
    mapping, _ = resolve(spark, [("l2", "anon", "u-b", at(1), at(2)), ("l3", "anon", "u-c", at(1), at(1)),
                                 ("lb", "anon-2", "u-y", at(1), at(1)), ("la", "anon-2", "u-x", at(1), at(1))])
    assert mapping == {"anon": "u-c", "anon-2": "u-x"}


def test_a_cycle_and_a_self_link_are_refused(spark) -> None:
    mapping, stats = resolve(spark, [
        ("l1", "u-1", "u-2", at(1), at(1)),
        ("l2", "u-2", "u-1", at(2), at(2)),   # would close a cycle: conflict
        ("l3", "u-3", "u-3", at(3), at(3)),   # a self link: ignored, no conflict
        ("l4", None, "u-3", at(4), at(4)),    # no source: ignored
    ])
    assert mapping == {"u-1": "u-2"} and stats.conflicts == 1


def test_stitch_moves_an_anonymous_ids_rows_and_keeps_the_others(spark) -> None:
    mapping = spark.createDataFrame([("anon-1", "u-2"), ("u-1", "u-2")], "id string, resolved_id string")
    frame = spark.createDataFrame([("e1", "anon-1", 1), ("e2", "u-1", 2), ("e3", "u-9", 3), ("e4", None, 4)],
                                  "event_id string, customer_id string, n int")
    out = stitch(frame, mapping)
    assert out.columns == ["event_id", "customer_id", "n"]
    assert sorted(tuple(r) for r in out.collect()) == [("e1", "u-2", 1), ("e2", "u-2", 2), ("e3", "u-9", 3),
                                                       ("e4", None, 4)]
