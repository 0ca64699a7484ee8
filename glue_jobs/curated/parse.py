"""Raw lines -> parsed records with a reject reason (pure DataFrame transforms, no I/O)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from glue_jobs.curated.rules import PROPERTIES_SCHEMA, TRAITS_SCHEMA, contract_rules, stripped

#: top-level fields of the canonical raw record (lakehouse.core.contract.record), all read as JSON text
RECORD_FIELDS = ("event_id", "message_id", "type", "event", "name", "user_id", "anonymous_id", "customer_id",
                 "timestamp", "original_timestamp", "sent_at", "received_at", "source", "properties", "traits",
                 "context", "schema_version")
CORRUPT = "_corrupt_record"
RECORD_SCHEMA = T.StructType([T.StructField(name, T.StringType()) for name in RECORD_FIELDS]
                             + [T.StructField(CORRUPT, T.StringType())])
RAW_KEY_PATTERN = r"(raw/source=[^/]+/dt=[^/]+/hour=[^/]+/[^/]+)$"


def raw_object_of(file_path: Column) -> Column:
    """The lake-relative key of a raw object from the full path Spark reports."""
    return F.regexp_extract(file_path, RAW_KEY_PATTERN, 1)


def parse_lines(lines: DataFrame, validation: str = "spark") -> DataFrame:
    """``lines`` (``raw_object``, ``value``) -> record fields, ``p``/``tr`` maps and ``reject_reason``.

    ``validation`` is ``spark`` (the contract's rules as SQL expressions) or ``python`` (``parse_event`` in
    Arrow batches). Blank lines are dropped; anything else that is not a JSON object gets the reason
    ``(line): is not a JSON object``. Valid records have a NULL ``reject_reason``.

    One row per non-blank line (no key: the same event may arrive on many lines); raises ``ValueError`` for
    another ``validation``.
    """
    if validation not in ("spark", "python"):
        raise ValueError(f"validation must be 'spark' or 'python', not {validation!r}")
    lines = lines.where(F.length(F.trim("value")) > 0)
    if validation == "python":
        from glue_jobs.curated.validate_python import python_reasons

        lines = python_reasons(lines)
    record = F.from_json("value", RECORD_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    kept = ["reject_reason"] if validation == "python" else []
    parsed = (lines.select("raw_object", "value", *kept, record.alias("r"))
              .select("raw_object", "value", *kept, "r.*"))
    maps = [F.from_json("properties", "map<string,string>").alias("p"),
            F.from_json("traits", "map<string,string>").alias("tr")]
    if validation == "python":
        # pydantic accepts times Spark cannot read (e.g. epoch numbers); such a record could not be partitioned
        unreadable = F.when(F.expr("try_to_timestamp(timestamp)").isNull(),
                            F.lit("timestamp: must be an ISO 8601 time"))
        return parsed.select(*[c for c in parsed.columns if c != "reject_reason"], *maps,
                             F.coalesce("reject_reason", unreadable).alias("reject_reason"))
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
    return parsed.select(*columns, F.expr(rules.reject_reason()).alias("reject_reason"))


def derived_levels(derived: tuple[tuple[str, str], ...]) -> list[list[tuple[str, str]]]:
    """Derived columns grouped so each group only refers to columns of earlier groups (one select each)."""
    level: dict[str, int] = {}
    for name, sql in derived:  # in definition order: references always point backwards
        level[name] = 1 + max((level[other] for other in level if other in sql), default=-1)
    groups: list[list[tuple[str, str]]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name, sql in derived:
        groups[level[name]].append((name, sql))
    return groups


def _clean(column: str) -> Column:
    value = F.expr(stripped(column))
    return F.when(F.length(value) > 0, value)


def accepted_events(parsed: DataFrame) -> DataFrame:
    """Valid parsed records as typed event rows (still carrying the ``p``/``tr`` maps for the tables).

    One row per valid line: ``event_id`` is not unique yet (:mod:`glue_jobs.curated.dedup` makes it so).
    Times are UTC timestamps; ``event_date`` is the UTC date of ``event_ts``; ``customer_id`` is ``user_id``,
    else ``anonymous_id``; ``line_hash`` (xxhash64 of the line) breaks ties between copies of an event.
    """
    valid = parsed.where(F.col("reject_reason").isNull())
    user_id, anonymous_id = _clean("user_id"), _clean("anonymous_id")
    event_ts = F.expr("try_to_timestamp(timestamp)")
    return valid.select(
        _clean("event_id").alias("event_id"),
        F.col("message_id"),
        F.col("type").alias("event_type"),
        F.when(F.col("type") == "track", F.col("event")).alias("event_name"),
        F.when(F.col("type") == "page", _clean("name")).alias("page_name"),
        F.coalesce(user_id, anonymous_id).alias("customer_id"),
        user_id.alias("user_id"),
        anonymous_id.alias("anonymous_id"),
        event_ts.alias("event_ts"),
        F.expr("try_to_timestamp(original_timestamp)").alias("original_ts"),
        F.expr("try_to_timestamp(sent_at)").alias("sent_at"),
        F.expr("try_to_timestamp(received_at)").alias("received_at"),
        F.col("source"),
        F.col("properties"),
        F.col("traits"),
        F.col("context"),
        F.expr("try_cast(schema_version AS INT)").alias("schema_version"),
        F.col("raw_object"),
        F.xxhash64("value").alias("line_hash"),
        F.coalesce(F.col("p"), F.expr("cast(map() AS map<string,string>)")).alias("p"),
        F.coalesce(F.col("tr"), F.expr("cast(map() AS map<string,string>)")).alias("tr"),
        F.to_date(event_ts).alias("event_date"),
    )
