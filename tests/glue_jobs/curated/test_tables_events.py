"""The compact curated ``events`` table: typed columns, leftovers in ``extra``, partitions of the old version.

Old partitions are written the way the previous version of ``events_table`` wrote them (its select list, kept
here as :data:`OLD_COLUMNS`): JSON text ``properties``/``traits``/``context``/``integrations``, ``message_id``,
``original_ts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glue_jobs.curated.parse import accepted_events, parse_lines
from glue_jobs.curated.tables import EVENTS_SCHEMA, PARTITION, events_table
from glue_jobs.curated.writer import merge_partitions
from glue_jobs.star.facts import event_channels
from glue_jobs.star.job import read_curated
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from tests.glue_jobs.curated.cases import call, changed, line, record

RAW_OBJECT = "raw/source=web/dt=2025-06-02/hour=09/t.jsonl.gz"
#: the columns the previous version of ``events_table`` wrote, in its order
OLD_COLUMNS = ("event_id", "message_id", "event_type", "event_name", "page_name", "page_category", "customer_id",
               "user_id", "anonymous_id", "previous_id", "group_id", "event_ts", "original_ts", "sent_at",
               "received_at", "source", "properties", "traits", "context", "integrations", "schema_version",
               "raw_object", PARTITION)


def parsed(spark, *records: dict[str, Any]):
    frame = spark.createDataFrame([(RAW_OBJECT, line(r)) for r in records], "raw_object string, value string")
    return accepted_events(parse_lines(frame, "python"))


def with_id(rec: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**rec, "event_id": event_id, "message_id": event_id}


def with_context(rec: dict[str, Any], **context: Any) -> dict[str, Any]:
    return changed(rec, "context", {**(rec.get("context") or {}), **context})


CASES = {
    "viewed": with_context(record(call("Product Viewed", product_id="p-1", price=9.5, colour="red")),
                           channel=" mobile ", ip="10.0.0.0"),
    "order, typed lines": record(call("Order Completed", order_id="o-1", total=20, coupon="X",
                                      products=[{"product_id": "p-1", "price": 10, "quantity": 2}])),
    "order, a line with a brand": record(call("Order Completed", order_id="o-2", total=5,
                                              products=[{"product_id": "p-2", "price": 5, "brand": "Acme"}])),
    "identify": record(call("identify", traits={"name": "Ada", "plan": "pro", "city": None, "shoe": None})),
    "page": record(call("page", name="Deals", properties={"url": "https://x/deals", "path": "/deals"})),
}


def curated_events(spark) -> dict[str, dict[str, Any]]:
    events = parsed(spark, *[with_id(rec, name) for name, rec in CASES.items()])
    return {row["event_id"]: row.asDict() for row in events_table(events).collect()}


def test_the_schema_constant_is_the_builders(spark) -> None:
    """``EVENTS_SCHEMA`` (what readers of old and new files use) is exactly what ``events_table`` writes."""
    built = events_table(parsed(spark))
    written = [(f.name, f.dataType.simpleString()) for f in built.schema.fields if f.name != PARTITION]
    assert ", ".join(f"{n} {t}" for n, t in written) == EVENTS_SCHEMA
    assert not {"message_id", "properties", "traits", "context", "integrations"} & set(built.columns)


def test_extra_keeps_what_no_typed_column_holds(spark) -> None:
    """Hand-worked: which keys of each case a typed column holds (tables.py, TYPED_PROPERTIES) and which stay."""
    rows = curated_events(spark)
    viewed = rows["viewed"]
    assert (viewed["product_id"], viewed["context_channel"]) == ("p-1", "mobile")
    assert {k: v for k, v in viewed["extra"].items() if k != "context.library"} == {
        "properties.colour": "red", "context.ip": "10.0.0.0"}
    assert "properties.products" not in (rows["order, typed lines"]["extra"] or {})
    assert not any(k in (rows["order, typed lines"]["extra"] or {}) for k in (
        "properties.order_id", "properties.total", "properties.coupon"))
    kept = json.loads(rows["order, a line with a brand"]["extra"]["properties.products"])
    assert kept[0]["brand"] == "Acme"
    identify = rows["identify"]["extra"] or {}
    assert identify.get("traits.plan") == "pro"
    assert not {"traits.name", "traits.city", "traits.shoe"} & set(identify)  # customers: columns, traits_cleared
    page = rows["page"]["extra"]
    assert (page["properties.url"], page["properties.path"]) == ("https://x/deals", "/deals")


def write_old_partition(spark, settings: Settings, records: list[dict[str, Any]]) -> None:
    """An ``events`` partition as the previous version wrote it (plain Hive folder, no manifest)."""
    old = parsed(spark, *records).select(*OLD_COLUMNS)
    old.write.partitionBy(PARTITION).parquet(settings.lake.uri("curated/events"))


def test_old_and_new_events_partitions_read_and_merge_alike(spark, tmp_path: Path) -> None:
    """A lake curated by the previous version gets a new day, then a late event into the old day.

    The star reads both days' product ids and channels; the rewritten old partition keeps its old rows' values.
    Seen failing without ``upgrade_events`` in ``conform``: the rewrite dropped ``properties``/``context`` and the
    old rows came back with ``product_id`` and ``context_channel`` NULL (their channel fell back to the source).
    """
    settings = Settings(stage="tevents", home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    viewed = with_context(record(call("Product Viewed", product_id="p-old")), channel="tv")
    write_old_partition(spark, settings, [with_id(viewed, "e-old")])
    day = "2025-06-01T10:00:00.000Z"  # the day before the old partition (a later one would be in the future)
    new_day = with_context(changed(record(call("Product Viewed", product_id="p-new")), "timestamp", day),
                           channel="web")
    late = with_context(record(call("Product Viewed", product_id="p-late")), channel="app")

    def merge(rec: dict[str, Any], event_id: str, run_id: str) -> None:
        rows = events_table(parsed(spark, with_id(rec, event_id)))
        merge_partitions(spark, storage, "events", rows, keys=["event_id"], order=["received_at", "raw_object"],
                         run_id=run_id, target_file_rows=1000)

    merge(new_day, "e-new", "r1")
    merge(late, "e-late", "r2")

    events = read_curated(spark, storage, "events")
    assert events.columns == [c.split(" ")[0] for c in EVENTS_SCHEMA.split(", ")] + [PARTITION]
    got = {r["event_id"]: (r["product_id"], r["context_channel"], str(r[PARTITION]))
           for r in events.collect()}
    assert got == {"e-old": ("p-old", "tv", "2025-06-02"), "e-late": ("p-late", "app", "2025-06-02"),
                   "e-new": ("p-new", "web", "2025-06-01")}
    channels = {r["event_id"]: r["channel"] for r in event_channels(events).collect()}
    assert channels == {"e-old": "tv", "e-late": "app", "e-new": "web"}


def test_a_key_sent_twice_keeps_its_last_value_as_json_loads_does(spark, tmp_path: Path) -> None:
    """``{"colour": "red", "colour": "blue"}`` is valid JSON; the API's parser keeps the last value. Seen failing
    without ``spark.sql.mapKeyDedupPolicy=LAST_WIN`` (``glue_jobs.curated.job.configure``): building ``extra``
    raised ``DUPLICATED_MAP_KEY`` and the whole curated run failed on that one line, every run after it too; and
    with ``from_json(...)['channel']`` / ``get_json_object`` the channel and the product id were the first value."""
    from glue_jobs.curated.job import configure
    from lakehouse.core.lake.layout import LakeLayout

    configure(spark, LakeStorage(LakeLayout.from_uri(str(tmp_path))))
    text = line(with_id(CASES["viewed"], "twice"))
    text = text.replace('"colour":"red"', '"colour":"red","colour":"blue"').replace(
        '"channel":" mobile "', '"channel":" mobile ","channel":"tv"').replace(
        '"product_id":"p-1"', '"product_id":"p-1","product_id":"p-2"')
    assert text.count('"colour"') == 2 and text.count('"channel"') == 2 and text.count('"product_id"') == 2, text
    frame = spark.createDataFrame([(RAW_OBJECT, text)], "raw_object string, value string")
    for mode in ("python", "spark"):
        [row] = events_table(accepted_events(parse_lines(frame, mode))).collect()
        sent = json.loads(text)
        assert dict(row["extra"])["properties.colour"] == sent["properties"]["colour"] == "blue", mode
        assert row["context_channel"] == sent["context"]["channel"].strip() == "tv", mode
        assert row["product_id"] == sent["properties"]["product_id"] == "p-2", mode
