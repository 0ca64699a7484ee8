"""What an incremental star build recomputes: the changed curated partitions, the dirty customers, the deltas.

The star build remembers, in its state (``state/build_star/last_build.json``), the version of every curated
partition it read (:mod:`lakehouse.core.lake.tables` manifests) and the identity map it used. The next build diffs
the current manifests against it: a partition whose version changed, a new partition, and every partition dated
after the previous as-of day up to the new one (rows the previous build left out as "after as-of") are
**changed**; curated rewrites are dedup(existing + new), so a changed partition's current rows hold every new row.

The **dirty customers** C (:func:`dirty_customers`) are the customers whose star rows may differ from the
previous build's:

1. the stitched ids, under the new and under the previous identity map, of every row in a changed partition;
2. both owners (previous and new) of every id whose resolution changed (an identify or alias merging an
   anonymous id into an old customer moves its rows from one customer to another);
3. every customer of any row of an ``order_id`` touched in a changed partition (orders, order_changes, refunds,
   order_lines: a refund or a cancellation of an old order, a duplicate Order Completed under a new event id),
   and of any ``ticket_id`` touched (support_tickets);
4. every customer with order lines of a product whose ``dim_product`` row changed (lines without a category
   take the product's).

Customer-grain star tables are a function of a customer's own curated rows plus, for orders and tickets, every
row of the orders and tickets those rows name (:func:`order_scope`, :func:`ticket_scope`), so recomputing them
for C from curated rows filtered that way and replacing the rows with ``customer_id`` in C gives the full
rebuild's rows (surrogate keys are xxhash64 of natural keys: the same in both). ``tests/glue_jobs/star/
test_incremental.py`` checks it against a full rebuild on a sequence of nights.

:func:`delta` gives what the warehouse load applies: the rows of a table that are new or changed (``upsert``,
MERGEd on the key) and the previous rows whose key is gone (``gone``, DELETEd by key).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_jobs.star.identity import stitch

#: star tables whose rows belong to one customer (``customer_id``): recomputed for the dirty customers only
CUSTOMER_TABLES = ("dim_customer", "fact_order", "fact_refund", "fact_order_line", "fact_customer_activity",
                   "fact_session", "fact_support_ticket", "fact_offer_response", "fact_content_watch")
#: tables the warehouse load merges as a delta (the others are small and reloaded whole); key = the DDL's
DELTA_KEYS: dict[str, tuple[str, ...]] = {
    "dim_customer": ("customer_key",), "fact_order": ("order_id",), "fact_refund": ("event_id",),
    "fact_order_line": ("event_id", "line_number"), "fact_customer_activity": ("event_id",),
    "fact_session": ("session_id",), "fact_support_ticket": ("ticket_id",),
    "fact_offer_response": ("offer_id", "customer_id"), "fact_content_watch": ("event_id",),
    "fact_customer_metrics": ("customer_id", "snapshot_date"),
}
ORDER_TABLES = ("orders", "order_changes", "refunds", "order_lines")


def changed_partitions(now: Mapping[str, str], before: Mapping[str, str], after_day: date | None,
                       up_to: date) -> list[str]:
    """Partition values (``YYYY-MM-DD``) of one curated table whose rows a build must look at again: a version
    that differs from ``before`` (new partitions included), and every partition in (``after_day``, ``up_to``]
    (rows the previous build, of as-of ``after_day``, left out as later than its as-of day). Sorted."""
    changed = {value for value, version in now.items() if before.get(value) != version}
    if after_day is not None:
        changed |= {value for value in now if after_day < date.fromisoformat(value) <= up_to}
    return sorted(changed)


def snapshot_days_between(after: date, up_to: date) -> list[date]:
    """The snapshot days of ``fact_customer_metrics`` in (``after``, ``up_to``]: the month ends, and ``up_to``."""
    days, day = [], after + timedelta(days=1)
    while day <= up_to:
        if day.day == calendar.monthrange(day.year, day.month)[1] or day == up_to:
            days.append(day)
        day += timedelta(days=1)
    return days


def is_month_end(day: date) -> bool:
    """Whether ``day`` is the last day of its month (a snapshot day that stays when the as-of day moves on)."""
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _ids(frame: DataFrame, *columns: str) -> DataFrame:
    parts = [frame.select(F.col(c).alias("id")) for c in columns if c in frame.columns]
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.where(F.col("id").isNotNull())


def _union(frames: Iterable[DataFrame]) -> DataFrame:
    frames = list(frames)
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def resolution_changes(new_map: DataFrame, old_map: DataFrame) -> DataFrame:
    """Customers (``customer_id``) owning, before or now, an id whose resolution differs between the two identity
    maps (``id``, ``resolved_id``; an id absent from a map is its own customer)."""
    o = old_map.select("id", F.col("resolved_id").alias("_old"))
    n = new_map.select("id", F.col("resolved_id").alias("_new"))
    both = o.join(n, "id", "full").select(F.coalesce("_old", "id").alias("_o"), F.coalesce("_new", "id").alias("_n"))
    moved = both.where(F.col("_o") != F.col("_n"))
    return moved.select(F.col("_o").alias("customer_id")).unionByName(moved.select(F.col("_n").alias("customer_id")))


def dirty_customers(changed: Mapping[str, DataFrame], stitched: Mapping[str, DataFrame], new_map: DataFrame,
                    old_map: DataFrame, changed_products: DataFrame) -> DataFrame:
    """The dirty customers C (module docstring, sources 1-4): one row per ``customer_id``.

    ``changed`` maps each curated table to its rows in changed partitions (ids as sent, windowed);
    ``stitched`` every curated table, windowed, ``customer_id`` stitched with the new map; ``changed_products``
    the ``product_id`` of every dim_product row that differs from the previous build's.
    """
    raw_ids = _union(_ids(frame, "customer_id", "source_id", "target_id") for frame in changed.values())
    sources = [stitch(raw_ids, new_map, "id"), stitch(raw_ids, old_map, "id")]
    customers = [s.select(F.col("id").alias("customer_id")) for s in sources]
    customers.append(resolution_changes(new_map, old_map))
    orders = _union(changed[t].select("order_id") for t in ORDER_TABLES if t in changed).where("order_id IS NOT NULL")
    customers += [stitched[t].join(orders, "order_id", "left_semi").select("customer_id") for t in ORDER_TABLES]
    tickets = changed["support_tickets"].select("ticket_id").where("ticket_id IS NOT NULL")
    customers.append(stitched["support_tickets"].join(tickets, "ticket_id", "left_semi").select("customer_id"))
    customers.append(stitched["order_lines"].join(changed_products, "product_id", "left_semi").select("customer_id"))
    return _union(customers).where(F.col("customer_id").isNotNull()).distinct()


def of_customers(frame: DataFrame, customers: DataFrame | None) -> DataFrame:
    """The rows of ``frame`` whose ``customer_id`` is in ``customers`` (all rows when ``customers`` is None)."""
    return frame if customers is None else frame.join(customers, "customer_id", "left_semi")


def _with_related(frame: DataFrame, customers: DataFrame, key: str, keys: DataFrame) -> DataFrame:
    flagged = (frame.join(keys.select(key, F.lit(True).alias("_by_key")), key, "left")
               .join(customers.select("customer_id", F.lit(True).alias("_by_customer")), "customer_id", "left"))
    return flagged.where(F.col("_by_key").isNotNull() | F.col("_by_customer").isNotNull()).select(*frame.columns)


def order_scope(stitched: Mapping[str, DataFrame], customers: DataFrame | None) -> dict[str, DataFrame]:
    """``orders``, ``order_changes``, ``refunds`` and ``order_lines`` restricted to the rows of C's customers and
    every row of an ``order_id`` any of those rows names (so each order is resolved whole: its winning event, its
    changes, its refunds in order); all rows when ``customers`` is None."""
    if customers is None:
        return {t: stitched[t] for t in ORDER_TABLES}
    ids = _union(of_customers(stitched[t], customers).select("order_id") for t in ORDER_TABLES)
    ids = ids.where("order_id IS NOT NULL").distinct()
    return {t: _with_related(stitched[t], customers, "order_id", ids) for t in ORDER_TABLES}


def ticket_scope(tickets: DataFrame, customers: DataFrame | None) -> DataFrame:
    """Curated ``support_tickets`` restricted to every row of a ticket one of C's rows names (all when None)."""
    if customers is None:
        return tickets
    ids = of_customers(tickets, customers).select("ticket_id").where("ticket_id IS NOT NULL").distinct()
    return _with_related(tickets, customers, "ticket_id", ids)


def delta(old: DataFrame, new: DataFrame, key: tuple[str, ...],
          customers: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """``(upsert, gone)`` from a table's previous rows to its new rows (same columns): ``upsert`` the new rows
    that are not among the previous ones (new keys and changed rows), ``gone`` the previous rows whose ``key`` no
    new row has. With ``customers``, both sides are first restricted to their rows (a customer-grain table
    recomputed for C: its other rows are the previous ones, unchanged)."""
    old_s, new_s = of_customers(old, customers), of_customers(new, customers)
    upsert = new_s.subtract(old_s)
    gone = old_s.join(new_s.select(*key), list(key), "left_anti").select(*old.columns)
    return upsert, gone
