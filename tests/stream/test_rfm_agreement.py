"""Stream and batch agree on RFM: the same events through both, compared customer by customer at several as-of days.

The batch side is the shared batch-built lake (``built_lake``: the data generator's customers, the demo's
generator, plus hand-made journeys, landed in the raw zone as the API writes it; curated, star and the DuckDB
warehouse built from it). The stream side replays every line of that raw zone onto the stage's Kinesis stream
and runs the real streaming job into DynamoDB. Then, for every registered customer of the warehouse's latest
snapshot, what ``lakehouse customer <id> --as-of <that day>`` derives from the live item
(:func:`lakehouse.local.cli.stream_commands.customer_features`) must equal ``fact_customer_metrics`` of that
day: recency, frequency, monetary, the three scores and the segment; and ``mart_rfm_segments`` must count the
live segments. The same must hold at past snapshot days (the month ends: ``fact_customer_metrics`` is a
monthly snapshot), each scored with that day's breakpoints (the batch's ``state/rfm_breakpoints_history.json``);
a day between two snapshots is scored with the last snapshot day's breakpoints before it. All this as long as
the day's window lies inside the orders the live item holds (``retention_days`` before its last event,
docs/rfm.md): the data set spans 61 days, well inside 365.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import duckdb

from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.rfm import VOCABULARY
from lakehouse.core.rfm_breakpoints import breakpoints_of_day
from lakehouse.local.cli.stream_commands import customer_features
from stream.items import state_from_item
from stream.job import run_stream

from .conftest import put_payloads, stored_items

MEASURES = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment")


def test_live_features_and_the_rfm_mart_agree_for_every_customer_at_the_same_as_of_day(spark, lake_copy) -> None:
    """Seen failing on main before the one rule table (4f1eb8c, run on a copy with the ``derive`` call its
    ``lakehouse customer`` made): 59 of 233 customers differed, all in the segment name only (batch Recent, live
    Potential Loyalist; Hibernating / Lost; Needs Attention / Potential Loyalist): the stream named its seven, the
    batch six others, while recency, frequency, monetary and the scores already agreed. The past days were seen
    failing before the breakpoints history (``customer_features`` scored every day with the latest breakpoints):
    at 2025-06-29, 7 of 231 customers differed in their scores and segment only (e.g. batch R 2 Hibernating, live
    R 3 Potential Loyalist), recency, frequency and monetary agreed."""
    settings = lake_copy
    storage = LakeStorage(settings.lake, region=settings.region)
    payloads = [line.encode() for obj in storage.list("raw") if obj.key.endswith(".jsonl.gz")
                for line in decode_lines(storage.get_bytes(obj.key))]
    put_payloads(settings.names.stream, payloads, region=settings.region)
    report = run_stream(settings, spark, once=True)
    assert report.records == len(payloads) and report.events > 0
    items = stored_items(settings)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(as_of,)] = con.execute("SELECT max(snapshot_date) FROM fact_customer_metrics").fetchall()
        cursor = con.execute(f"SELECT customer_id, {', '.join(MEASURES)} FROM fact_customer_metrics "
                             "WHERE snapshot_date = ?", [as_of])
        batch = {row[0]: dict(zip(MEASURES, row[1:], strict=True)) for row in cursor.fetchall()}
        mart = dict(con.execute("SELECT rfm_segment, customers FROM mart_rfm_segments").fetchall())
        [(mart_as_of,)] = con.execute("SELECT DISTINCT as_of_date FROM mart_rfm_segments").fetchall()
    assert isinstance(as_of, date) and mart_as_of == as_of
    assert len(batch) > 150 and set(mart) <= set(VOCABULARY)

    live = _live(settings, items, batch, as_of)
    _assert_agree(batch, live, as_of)
    assert Counter(row["rfm_segment"] for row in live.values()) == Counter(mart)
    assert len(mart) >= 4  # the data set exercises several segments

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        days = [d for (d,) in con.execute("SELECT DISTINCT snapshot_date FROM fact_customer_metrics "
                                          "WHERE snapshot_date < ? ORDER BY 1", [as_of]).fetchall()]
        assert days  # the month ends before the as-of day (monthly snapshot, issue 15)
        for day in days:
            cursor = con.execute(f"SELECT customer_id, {', '.join(MEASURES)} FROM fact_customer_metrics "
                                 "WHERE snapshot_date = ?", [day])
            past = {row[0]: dict(zip(MEASURES, row[1:], strict=True)) for row in cursor.fetchall()}
            assert sum(1 for row in past.values() if row["frequency"] >= 1) >= 5
            for customer_id in past:  # the bound (docs/rfm.md): the day's window lies inside the held orders
                assert _holds_window(settings, items[customer_id], day), f"{customer_id}: {day} out of reach"
            _assert_agree(past, _live(settings, items, past, day), day)

    # a day between two snapshots scores with the last snapshot day's breakpoints before it (docs/rfm.md)
    between = days[-1] + timedelta(days=12)
    assert days[-1] < between < as_of
    previous = breakpoints_of_day(settings, days[-1])
    for customer_id in list(batch)[:40]:
        features = customer_features(settings, items[customer_id], between)
        assert features.breakpoints_as_of == days[-1].isoformat()
        rfm = features.rfm
        scores = previous.scores(features.recency_days, features.frequency, float(features.monetary))
        assert ((rfm.r, rfm.f, rfm.m) if rfm else None) == scores, customer_id


def _live(settings, items: dict, batch: dict, as_of: date) -> dict[str, dict[str, object]]:
    live: dict[str, dict[str, object]] = {}
    for customer_id in batch:
        assert customer_id in items, f"{customer_id}: no live item"
        features = customer_features(settings, items[customer_id], as_of)
        rfm = features.rfm
        live[customer_id] = {"recency_days": features.recency_days, "frequency": features.frequency,
                             "monetary": features.monetary, "r_score": rfm.r if rfm else None,
                             "f_score": rfm.f if rfm else None, "m_score": rfm.m if rfm else None,
                             "rfm_segment": features.segment}
    return live


def _assert_agree(batch: dict, live: dict, as_of: date) -> None:
    for row in batch.values():
        row["monetary"] = Decimal(str(row["monetary"]))
    differ = {c: {k: (batch[c][k], live[c][k]) for k in MEASURES if batch[c][k] != live[c][k]}
              for c in batch if batch[c] != live[c]}
    sample = dict(list(differ.items())[:3])
    assert not differ, f"{as_of}: {len(differ)} of {len(batch)} customers differ (batch, live), e.g. {sample}"



def _holds_window(settings, item: dict, day: date) -> bool:
    """Whether the item still holds every order of ``day``'s frequency/monetary window: none has left it yet,
    or the window starts on or after the first day kept (``retention_days`` ending on the last event's day)."""
    state = state_from_item(item)
    if state.settled.orders == 0 or state.last_seen_at is None:
        return True
    kept_from = state.last_seen_at.date() - timedelta(days=settings.stream.retention_days - 1)
    return day - timedelta(days=settings.batch.rfm_window_days - 1) >= kept_from
