"""Dimensions of the star schema (pure DataFrame transforms over curated tables).

Surrogate keys are 64-bit hashes of the natural key (``xxhash64``), so a rebuild gives every member the
same key and warehouse MERGEs stay idempotent. ``dim_customer`` is SCD type 2.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.core.contract.properties import IssueType, Severity

UNKNOWN = "unknown"
END_OF_TIME = "9999-12-31 00:00:00"
#: profile attributes whose change opens a new dim_customer version
TRACKED = ("name", "email", "age", "gender", "geography", "city", "signup_date")
AGE_BANDS = ((18, 29, "18-29"), (30, 45, "30-45"), (46, 60, "46-60"))


def key_of(*columns: Column) -> Column:
    """Surrogate key: a stable 64-bit hash of the natural key."""
    return F.xxhash64(*[F.coalesce(c.cast("string"), F.lit(UNKNOWN)) for c in columns])


def date_key(day: Column) -> Column:
    """The ``dim_date`` key of a date or timestamp column: ``yyyymmdd`` as an int (2024-01-31 -> 20240131)."""
    return F.date_format(day, "yyyyMMdd").cast("int")


def age_band(age: Column) -> Column:
    """18-29, 30-45, 46-60, 60+ (older than 60); 'under 18' and 'unknown' otherwise."""
    band = F.when(age.isNull(), UNKNOWN).when(age < 18, "under 18")
    for low, high, label in AGE_BANDS:
        band = band.when(age.between(low, high), label)
    return band.otherwise("60+")


def dim_date(spark: SparkSession, first: date, last: date) -> DataFrame:
    """``dim_date``: one row per calendar day from ``first`` to ``last`` (both included); key ``date_key``.

    ``day_of_week`` is ISO (Monday 1 .. Sunday 7; Saturday and Sunday are the weekend), ``week_of_year`` the
    ISO week, ``year_month`` ``yyyy-MM``; month and day names as Spark's locale spells them (English).
    """
    days = spark.range(1).select(F.explode(F.sequence(F.lit(first), F.lit(last))).alias("full_date"))
    dow = ((F.dayofweek("full_date") + 5) % 7) + 1  # ISO: Monday 1 .. Sunday 7
    return days.select(
        date_key(F.col("full_date")).alias("date_key"), "full_date", F.year("full_date").alias("year"),
        F.quarter("full_date").alias("quarter"), F.month("full_date").alias("month"),
        F.date_format("full_date", "MMMM").alias("month_name"),
        F.date_format("full_date", "yyyy-MM").alias("year_month"),
        F.dayofmonth("full_date").alias("day_of_month"), dow.alias("day_of_week"),
        F.date_format("full_date", "EEEE").alias("day_name"), F.weekofyear("full_date").alias("week_of_year"),
        (dow >= 6).alias("is_weekend"))


def customer_versions(customers: DataFrame, events: DataFrame) -> DataFrame:
    """SCD2 versions of every customer seen in ``events`` (profile history from ``customers``).

    The rule (docs/batch.md, "SCD type 2"): a customer's profile is folded from their identify calls in the
    order (``event_ts``, ``event_id``): an attribute a call sets takes its value, one it names in
    ``traits_cleared`` (Segment: a trait set to null) becomes NULL and stays NULL until a call sets it, one it
    leaves out keeps its previous value. Calls at one instant (same ``event_ts``) are one change: their combined
    effect, so of two conflicting values at one instant the call with the greater ``event_id`` wins. An instant
    whose profile equals the previous version's opens no version (a change reverted at the same instant, an
    identify that repeats what is known); a revert at a later instant is a change. The first version starts when
    the customer was first seen (their first event or identify call), so every event finds a version.
    ``customers`` and ``events`` carry the stitched ``customer_id`` (:func:`glue_jobs.star.identity.stitch`), so
    versions are per resolved customer. The result is a function of the rows, not of their order or
    partitioning: a call arriving in a later run with an earlier time gives the versions of an in-order arrival.

    ``dim_customer``: one row per customer profile version; key ``customer_key``, a hash of ``customer_id`` and
    ``dw_start_date`` (microseconds since the epoch), unique because a customer's versions start at distinct
    instants; natural key (``customer_id``, ``version``), ``version`` counting from 1 in time order.
    Validity is the half-open interval [``dw_start_date``, ``dw_end_date``) of UTC timestamps (microseconds):
    ``dw_start_date`` is the instant the version took effect, ``dw_end_date`` the start of the next version
    (exclusive); the current version has ``dw_end_date`` 9999-12-31 00:00:00 and ``is_current``, exactly one
    per customer. A customer without identify calls (e.g. an anonymous visitor) gets one version with NULL
    attributes and 'unknown' geography and city; ``is_registered`` is true for a customer any of whose events
    carries a ``user_id``.
    """
    seen = events.groupBy("customer_id").agg(
        F.min("event_ts").alias("_first_event_ts"),
        F.max(F.col("user_id").isNotNull()).alias("is_registered"))
    cleared = (F.coalesce(F.col("traits_cleared"), F.array().cast("array<string>"))
               if "traits_cleared" in customers.columns else F.array().cast("array<string>"))
    said = customers.withColumn("_cleared", cleared).select(
        "customer_id", "event_id", "event_ts",
        *[F.when(F.col(a).isNotNull() | F.array_contains("_cleared", a), F.struct(F.col(a).alias("v")))
          .alias(a) for a in TRACKED])
    # total order of a customer's calls; the row's own content breaks a tie of two rows with one event_id
    said = said.withColumn("_content", F.to_json(F.struct(*TRACKED)))
    order = Window.partitionBy("customer_id").orderBy("event_ts", "event_id", "_content")
    so_far = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    state = said.select("customer_id", "event_id", "event_ts",
                        *[F.last(a, ignorenulls=True).over(so_far)["v"].alias(a) for a in TRACKED],
                        F.row_number().over(Window.partitionBy("customer_id", "event_ts").orderBy(
                            F.col("event_id").desc(), F.col("_content").desc())).alias("_nth_from_last"))
    instants = state.where(F.col("_nth_from_last") == 1).drop("_nth_from_last", "event_id")
    by_instant = Window.partitionBy("customer_id").orderBy("event_ts")
    profile = F.to_json(F.struct(*TRACKED))
    changes = (instants.withColumn("_profile", profile)
               .withColumn("_previous", F.lag("_profile").over(by_instant))
               .where(F.col("_previous").isNull() | (F.col("_profile") != F.col("_previous")))
               .drop("_profile", "_previous"))
    profiled = (seen.join(changes, "customer_id", "left")
                .withColumn("_first_change_ts", F.min("event_ts").over(Window.partitionBy("customer_id"))))
    first = F.col("event_ts").isNull() | (F.col("event_ts") == F.col("_first_change_ts"))
    versions = (profiled.withColumn("first_seen_ts", F.least("_first_event_ts", "_first_change_ts"))
                .withColumn("dw_start_date", F.when(first, F.col("first_seen_ts")).otherwise(F.col("event_ts"))))
    by_start = Window.partitionBy("customer_id").orderBy("dw_start_date")
    versions = (versions
                .withColumn("version", F.row_number().over(by_start))
                .withColumn("dw_end_date", F.coalesce(F.lead("dw_start_date").over(by_start),
                                                      F.to_timestamp(F.lit(END_OF_TIME)))))
    geography = F.coalesce("geography", F.lit(UNKNOWN))
    city = F.coalesce("city", F.lit(UNKNOWN))
    return versions.select(
        key_of(F.col("customer_id"), F.unix_micros("dw_start_date")).alias("customer_key"),
        "customer_id", "version", "is_registered", "name", "email", "age", age_band(F.col("age")).alias("age_band"),
        "gender", geography.alias("geography"), city.alias("city"), key_of(geography, city).alias("geography_key"),
        "signup_date", F.to_date("first_seen_ts").alias("first_seen_date"), "dw_start_date", "dw_end_date",
        (F.col("dw_end_date") == F.to_timestamp(F.lit(END_OF_TIME))).alias("is_current"))


def dim_geography(dim_customer: DataFrame) -> DataFrame:
    """``dim_geography``: one row per distinct (``geography``, ``city``) of ``dim_customer``, plus ('unknown',
    'unknown'); key ``geography_key``, the same hash ``dim_customer.geography_key`` carries."""
    unknown = dim_customer.sparkSession.createDataFrame([(UNKNOWN, UNKNOWN)], "geography string, city string")
    places = dim_customer.select("geography", "city").unionByName(unknown).distinct()
    return places.select(key_of(F.col("geography"), F.col("city")).alias("geography_key"), "geography", "city")


def with_customer_key(facts: DataFrame, dim_customer: DataFrame, at: str) -> DataFrame:
    """``facts`` plus the ``customer_key`` of the customer version valid at ``facts[at]`` (same rows).

    A left join on ``customer_id`` and ``dw_start_date <= at < dw_end_date``: versions do not overlap, so
    each row matches at most one; a row no version covers keeps a NULL ``customer_key``.
    """
    versions = dim_customer.select(F.col("customer_id").alias("_cid"), "customer_key",
                                   F.col("dw_start_date").alias("_from"), F.col("dw_end_date").alias("_to"))
    joined = facts.join(versions, (facts["customer_id"] == versions["_cid"]) & (facts[at] >= versions["_from"])
                        & (facts[at] < versions["_to"]), "left")
    return joined.drop("_cid", "_from", "_to")


def dim_product(product_events: DataFrame, order_lines: DataFrame) -> DataFrame:
    """Latest name, category and price seen for each product (views, cart events and order lines).

    ``dim_product``: one row per ``product_id``, plus the member 'unknown' (the key of a line or event naming no
    product, as :func:`key_of` hashes NULL); key ``product_key`` (a hash of ``product_id``). "Latest" is by
    event time, NULLs skipped; a product no event names a category for has the category 'unknown' (order lines
    and product events without one take this known category: :func:`category_of`); ``list_price`` is the price
    as sent, in the event's currency (not converted);
    ``first_seen_date`` the UTC date of the product's first event.
    """
    seen = product_events.select("product_id", "product_name", "category", "price", "event_ts").unionByName(
        order_lines.select("product_id", "product_name", "category", F.col("unit_price").alias("price"),
                           F.col("order_ts").alias("event_ts"))).where(F.col("product_id").isNotNull())
    unknown = seen.sparkSession.createDataFrame([(UNKNOWN, None, UNKNOWN, None, None)], seen.schema)
    seen = seen.unionByName(unknown)
    latest = Window.partitionBy("product_id").orderBy("event_ts").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing)
    products = seen.select(
        "product_id",
        F.last("product_name", ignorenulls=True).over(latest).alias("product_name"),
        F.coalesce(F.last("category", ignorenulls=True).over(latest), F.lit(UNKNOWN)).alias("category"),
        F.last("price", ignorenulls=True).over(latest).alias("list_price"),
        F.min("event_ts").over(latest).alias("first_seen_ts")).distinct()
    return products.select(key_of(F.col("product_id")).alias("product_key"), "product_id", "product_name",
                           "category", "list_price", F.to_date("first_seen_ts").alias("first_seen_date"))


def dim_offer(offers: DataFrame) -> DataFrame:
    """``dim_offer``: one row per ``offer_id`` of the curated ``offers``; key ``offer_key`` (a hash of ``offer_id``).

    Type and channel come from the offer's first 'sent' event (else its first response); a missing channel is
    'unknown'. ``first_sent_date`` is the earliest ``event_date`` of a send, NULL for an offer only seen
    in responses.
    """
    first = Window.partitionBy("offer_id").orderBy(F.col("status").desc(), "event_ts", "event_id")
    ranked = offers.withColumn("_n", F.row_number().over(first)).where("_n = 1")
    sent = offers.where(F.col("status") == "sent").groupBy("offer_id").agg(
        F.min("event_date").alias("first_sent_date"))
    return ranked.join(sent, "offer_id", "left").select(
        key_of(F.col("offer_id")).alias("offer_key"), "offer_id", "offer_type",
        F.coalesce("channel", F.lit(UNKNOWN)).alias("channel"), "first_sent_date")


def dim_support_issue(spark: SparkSession) -> DataFrame:
    """``dim_support_issue``: one row per issue type x severity of the contract's enums (``IssueType`` x
    ``Severity``), whether seen or not; key ``issue_key`` (a hash of both). ``severity_rank``: 1 = low ..
    4 = critical (the enum's order)."""
    rows = [(issue.value, severity.value, rank) for issue in IssueType
            for rank, severity in enumerate(Severity, start=1)]
    combos = spark.createDataFrame(rows, "issue_type string, severity string, severity_rank int")
    return combos.select(key_of(F.col("issue_type"), F.col("severity")).alias("issue_key"), "issue_type",
                         "severity", "severity_rank")


def dim_channel(*channel_columns: DataFrame) -> DataFrame:
    """Every channel named by the given single-column frames, plus 'unknown'.

    ``dim_channel``: one row per distinct non-NULL ``channel``; key ``channel_key`` (a hash of the name, as
    :func:`glue_jobs.star.facts.channel_key` computes it for the facts).
    """
    names = channel_columns[0]
    for more in channel_columns[1:]:
        names = names.unionByName(more)
    unknown = names.sparkSession.createDataFrame([(UNKNOWN,)], "channel string")
    distinct = names.where(F.col("channel").isNotNull()).unionByName(unknown).distinct()
    return distinct.select(key_of(F.col("channel")).alias("channel_key"), "channel")


def category_of(frame: DataFrame, dim_product: DataFrame) -> DataFrame:
    """``frame`` (with ``product_id`` and ``category``) with ``category`` filled: the row's own, else the
    category ``dim_product`` knows for its ``product_id``, else 'unknown' (e-commerce spec v2 makes ``category``
    optional; docs/batch.md, "Star schema"). Same rows and columns."""
    known = F.broadcast(dim_product.select(F.col("product_id").alias("_pid"), F.col("category").alias("_known")))
    joined = frame.join(known, frame["product_id"] == known["_pid"], "left")
    filled = F.coalesce(frame["category"], F.col("_known"), F.lit(UNKNOWN)).alias("category")
    return joined.select(*[filled if c == "category" else frame[c] for c in frame.columns])
