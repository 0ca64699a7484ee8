"""Raw lines -> parsed records with a reject reason (pure DataFrame transforms, no I/O).

Raw records of ``schema_version`` 1 (track/identify/page, float amounts; already in lakes) and 2 (all six
Segment calls, exact amounts, ``category``/``previous_id``/``group_id``/``integrations``) are read alike: a
field a version lacks reads as NULL.

Amounts are never read through a double: :data:`AMOUNTS_SCHEMA` parses them from the line's own JSON text
into decimals (Jackson's exact decimal reading), because the text columns (``properties``, ``p``) are
re-serialised by Spark through doubles (``12345678.12345678`` comes back as ``1.234567812345678E7``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from glue_jobs.curated.rules import (
    PROPERTIES_SCHEMA,
    TRAITS_SCHEMA,
    contract_rules,
    event_time_reason,
    schema_version_reason,
    stripped,
)
from lakehouse.core.config import EventTimeSettings
from lakehouse.core.contract.record import RECORD_FIELDS as CONTRACT_RECORD_FIELDS
from lakehouse.core.contract.record import RECORD_SCHEMA_VERSION
from lakehouse.core.contract.validation import NUL_REASON

#: top-level fields of the canonical raw record (lakehouse.core.contract.record), all read as JSON text
RECORD_FIELDS = CONTRACT_RECORD_FIELDS
#: the record versions this job reads: 1 (before the whole Segment API) up to the current one
SCHEMA_VERSIONS = tuple(range(1, RECORD_SCHEMA_VERSION + 1))
#: an amount as read from the JSON text: exact to 18 decimal places, below 1e10 (the contract caps amounts at 1e9);
#: price x quantity stays within Spark's 38 digits, so no operation rounds before the final DECIMAL(18,4)
AMOUNT = "decimal(28,18)"
#: a product line's quantity as read (an integer in the contract, at most 10,000; ``2.0`` reads as 2)
QUANTITY = "decimal(9,0)"
#: properties read exactly (column ``pm``): the amounts of the commerce rule and every other money property
AMOUNT_FIELDS = ("total", "revenue", "subtotal", "value", "shipping", "tax", "discount", "price", "balance")
AMOUNTS_SCHEMA = ("struct<" + ", ".join(f"{name}: {AMOUNT}" for name in AMOUNT_FIELDS)
                  + f", products: array<struct<price: {AMOUNT}, unit_price: {AMOUNT}, quantity: {QUANTITY}>>>")
#: the ids Segment coerces from JSON numbers to text (JavaScript's String(number))
ID_FIELDS = ("user_id", "anonymous_id", "previous_id", "group_id")
_LINE_SCHEMA = ("struct<" + ", ".join(f"{name}: double" for name in ID_FIELDS)
                + f", properties: {AMOUNTS_SCHEMA}>")
CORRUPT = "_corrupt_record"
RECORD_SCHEMA = T.StructType([T.StructField(name, T.StringType()) for name in RECORD_FIELDS]
                             + [T.StructField(CORRUPT, T.StringType())])
RAW_KEY_PATTERN = r"(raw/source=[^/]+/dt=[^/]+/hour=[^/]+/[^/]+)$"


def raw_object_of(file_path: Column) -> Column:
    """The lake-relative key of a raw object from the full path Spark reports."""
    return F.regexp_extract(file_path, RAW_KEY_PATTERN, 1)


#: a JSON-escaped U+0000 in a raw line (``\u0000`` not itself preceded by an escaping backslash)
ESCAPED_NUL = r"(?<!\\)(?:\\\\)*\\u0000"
NUL_LINE_REASON = f"(event): a string {NUL_REASON}"


def record_reason(reason: Column, event_time: EventTimeSettings) -> Column:
    """The record-level checks around the contract's ``reason``, in both validation modes alike: a
    ``schema_version`` this job does not read comes first, then a string holding U+0000 anywhere in the line
    (the contract's :data:`~lakehouse.core.contract.validation.NUL_REASON`, for lines landed before the API
    refused it), then the contract, then the event-time rule (:func:`glue_jobs.curated.rules.event_time_reason`).
    """
    return F.coalesce(
        F.expr(schema_version_reason(SCHEMA_VERSIONS)),
        F.when(F.col("value").rlike(ESCAPED_NUL), F.lit(NUL_LINE_REASON)), reason,
        F.expr(event_time_reason(event_time.future_tolerance_seconds, event_time.earliest_event_date.isoformat())))


SKEW_NOT_CORRECTED = "skew_not_corrected"


def bounded_skew_correction(records: DataFrame, event_time: EventTimeSettings) -> DataFrame:
    """``records`` (the raw record's fields as text) with the clock-skew correction bounded as the API bounds it
    (:func:`lakehouse.core.contract.record.corrected_timestamp`): where ``|received_at - sent_at|`` exceeds
    ``event_time.max_skew_correction_seconds`` and the record's ``original_timestamp`` is believable (not more
    than ``future_tolerance_seconds`` after ``received_at``, not before ``earliest_event_date``), ``timestamp``
    becomes the ``original_timestamp`` — records landed before the API bounded the correction were moved by the
    whole difference — and the boolean column ``skew_not_corrected`` says so (false elsewhere).
    """
    gap = F.expr("abs(unix_micros(try_to_timestamp(received_at)) - unix_micros(try_to_timestamp(sent_at)))")
    original = "try_to_timestamp(original_timestamp)"
    believable = F.expr(
        f"{original} IS NOT NULL AND unix_micros({original}) - unix_micros(try_to_timestamp(received_at)) <= "
        f"{event_time.future_tolerance_seconds * 1_000_000}L AND "
        f"{original} >= TIMESTAMP '{event_time.earliest_event_date.isoformat()} 00:00:00'")
    skipped = F.coalesce((gap > F.lit(event_time.max_skew_correction_seconds * 1_000_000)) & believable,
                         F.lit(False))
    return (records.withColumn(SKEW_NOT_CORRECTED, skipped)
            .withColumn("timestamp", F.when(F.col(SKEW_NOT_CORRECTED), F.col("original_timestamp"))
                        .otherwise(F.col("timestamp"))))


def parse_lines(lines: DataFrame, validation: str = "spark", event_time: EventTimeSettings | None = None) -> DataFrame:
    """``lines`` (``raw_object``, ``value``) -> record fields, ``p``/``tr`` maps and ``reject_reason``.

    ``validation`` is ``spark`` (the contract's rules as SQL expressions) or ``python`` (``parse_event`` in
    Arrow batches). Blank lines are dropped; anything else that is not a JSON object gets the reason
    ``(line): is not a JSON object``. Valid records have a NULL ``reject_reason``. ``event_time``
    (``Settings.event_time``; its defaults when None) quarantines events whose skew-corrected time lies more
    than its tolerance after ``received_at`` or before its earliest date, with a reason on ``timestamp``:
    records landed before the API applied the rule (a 2099 event in an old raw object) are caught here. The
    clock-skew correction is bounded first (:func:`bounded_skew_correction`, column ``skew_not_corrected``).

    One row per non-blank line (no key: the same event may arrive on many lines); raises ``ValueError`` for
    another ``validation``.
    """
    event_time = event_time or EventTimeSettings()
    if validation not in ("spark", "python"):
        raise ValueError(f"validation must be 'spark' or 'python', not {validation!r}")
    lines = lines.where(F.length(F.trim("value")) > 0)
    if validation == "python":
        from glue_jobs.curated.validate_python import python_reasons

        lines = python_reasons(lines)
    record = F.from_json("value", RECORD_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    kept = ["reject_reason"] if validation == "python" else []
    parsed = bounded_skew_correction(lines.select("raw_object", "value", *kept, record.alias("r"))
                                     .select("raw_object", "value", *kept, "r.*"),
                                     event_time)
    maps = [F.from_json("properties", "map<string,string>").alias("p"),
            F.from_json("traits", "map<string,string>").alias("tr")]
    if validation == "python":
        # pydantic accepts times Spark cannot read (e.g. epoch numbers); such a record could not be partitioned
        unreadable = F.when(F.expr("try_to_timestamp(timestamp)").isNull(),
                            F.lit("timestamp: must be an ISO 8601 time"))
        reason = F.coalesce("reject_reason", unreadable)
        return parsed.select(*[c for c in parsed.columns if c != "reject_reason"], *maps,
                             record_reason(reason, event_time).alias("reject_reason"))
    # a line that is JSON but not an object (``5``, ``null``) yields an all-NULL record without a corrupt copy
    parsed = parsed.withColumn(CORRUPT, F.when(F.col(CORRUPT).isNull() & F.col("event_id").isNull()
                                               & F.col("type").isNull() & F.col("timestamp").isNull()
                                               & ~F.trim("value").startswith("{"), F.col("value"))
                               .otherwise(F.col(CORRUPT)))
    parsed = parsed.select(
        "*", *maps,
        F.from_json("properties", PROPERTIES_SCHEMA()).alias("pt"),
        F.from_json("traits", TRAITS_SCHEMA()).alias("tt"))
    rules = contract_rules()
    columns = [c for c in parsed.columns if c not in ("pt", "tt")]
    for level in derived_levels(rules.derived):
        parsed = parsed.select("*", *[F.expr(sql).alias(name) for name, sql in level])
    return parsed.select(*columns, record_reason(F.expr(rules.reject_reason()), event_time).alias("reject_reason"))


def derived_levels(derived: tuple[tuple[str, str], ...]) -> list[list[tuple[str, str]]]:
    """Derived columns grouped so each group only refers to columns of earlier groups (one select each)."""
    level: dict[str, int] = {}
    for name, sql in derived:  # in definition order: references always point backwards
        level[name] = 1 + max((level[other] for other in level if other in sql), default=-1)
    groups: list[list[tuple[str, str]]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name, sql in derived:
        groups[level[name]].append((name, sql))
    return groups


def _clean(column: str | Column) -> Column:
    value = F.expr(stripped(column)) if isinstance(column, str) else F.trim(column)
    return F.when(F.length(value) > 0, value)


def js_id(text: str, number: Column) -> Column:
    """An id as Segment's JavaScript libraries make it: a JSON number ``4243.0`` becomes ``"4243"``.

    ``number`` is the id read as a double (NULL unless the JSON held a number); integral numbers below 2**53
    print as their digits, other numbers keep the text Spark read (``42.5``); text ids stay as sent, stripped.
    Python's side of the rule: :func:`lakehouse.core.contract.numbers.js_number_text`.
    """
    integral = number.isNotNull() & (F.abs(number) < F.lit(2.0 ** 53)) & (F.floor(number) == number)
    return F.when(integral, number.cast("decimal(38,0)").cast("string")).otherwise(_clean(text))


def accepted_events(parsed: DataFrame) -> DataFrame:
    """Valid parsed records as typed event rows (still carrying the ``p``/``tr`` maps and the exact amounts
    ``pm`` for the tables).

    One row per valid line: ``event_id`` is not unique yet (:mod:`glue_jobs.curated.dedup` makes it so).
    Times are UTC timestamps; ``event_date`` is the UTC date of ``event_ts``; ``customer_id`` is ``user_id``,
    else ``anonymous_id``, as sent (identities are stitched by the star build, never here); ``page_name`` and
    ``page_category`` are a page's or a screen's; ``line_hash`` (xxhash64 of the line) breaks ties between
    copies of an event. ``pm`` holds the track properties' amounts as decimals (:data:`AMOUNTS_SCHEMA`).
    """
    valid = parsed.where(F.col("reject_reason").isNull())
    typed = F.from_json("value", _LINE_SCHEMA)
    valid = valid.select("*", typed.alias("_typed"))
    ids = {name: js_id(name, F.col("_typed")[name]) for name in ID_FIELDS}
    event_ts = F.expr("try_to_timestamp(timestamp)")
    named = F.col("type").isin("page", "screen")
    return valid.select(
        _clean("event_id").alias("event_id"),
        F.col("message_id"),
        F.col("type").alias("event_type"),
        F.when(F.col("type") == "track", F.col("event")).alias("event_name"),
        F.when(named, _clean("name")).alias("page_name"),
        F.when(named, _clean("category")).alias("page_category"),
        F.coalesce(ids["user_id"], ids["anonymous_id"]).alias("customer_id"),
        ids["user_id"].alias("user_id"),
        ids["anonymous_id"].alias("anonymous_id"),
        F.when(F.col("type") == "alias", ids["previous_id"]).alias("previous_id"),
        F.when(F.col("type") == "group", ids["group_id"]).alias("group_id"),
        event_ts.alias("event_ts"),
        F.expr("try_to_timestamp(original_timestamp)").alias("original_ts"),
        F.expr("try_to_timestamp(sent_at)").alias("sent_at"),
        F.expr("try_to_timestamp(received_at)").alias("received_at"),
        F.col("source"),
        F.col("properties"),
        F.col("traits"),
        F.col("context"),
        F.col("integrations"),
        F.expr("try_cast(schema_version AS INT)").alias("schema_version"),
        F.col("raw_object"),
        F.xxhash64("value").alias("line_hash"),
        F.coalesce(F.col("p"), F.expr("cast(map() AS map<string,string>)")).alias("p"),
        F.coalesce(F.col("tr"), F.expr("cast(map() AS map<string,string>)")).alias("tr"),
        F.when(F.col("type") == "track", F.col("_typed.properties")).alias("pm"),
        F.to_date(event_ts).alias("event_date"),
    )
