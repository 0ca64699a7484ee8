"""raw -> curated, the I/O around the pure transforms: one incremental, idempotent run.

1. find raw objects no committed run has processed: the landing-log records of the last days
   (``raw/_landed/dt=…/``, :func:`pending_landings`) minus the manifest in ``state/`` — never a listing of the
   whole raw prefix (on Glue with job bookmarks enabled, the bookmark decides instead);
2. parse and validate every line against the contract; rejects go to the report and to quarantine; a raw
   object Spark cannot read is set aside with its reason and its readable lines salvaged
   (:mod:`glue_jobs.curated.raw_objects`);
3. keep one row per event id in the batch, and drop ids an earlier run already curated, whatever their date
   (the event id index, :mod:`glue_jobs.curated.event_index`);
4. rewrite each touched ``event_date`` partition of every curated table as dedup(existing + new), into a new
   version folder, then switch the table's manifest to it (:mod:`glue_jobs.curated.writer`);
5. recompute sessions around the touched dates; append the run's new ids to the event id index; register
   tables/partitions in the Glue Data Catalog (locations switched to the new versions);
6. commit: write the run record (which is what marks the raw objects processed, unreadable ones included);
7. vacuum: delete partition versions replaced (or orphaned) longer than the retention ago
   (:mod:`glue_jobs.curated.vacuum`).

A crash before step 6 leaves no record, so the next run takes the same raw objects again and, because
every write in step 4-5 is an idempotent partition rewrite or an append the next run ignores for its own raw
objects, converges to the same tables. A crash at any point leaves every table as it was before or after its
manifest switch, never half a partition (tests/glue_jobs/curated/test_partition_commits.py kills runs to check).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from glue_jobs.common.cache import BATCH_CACHE
from glue_jobs.common.catalog import register_table
from glue_jobs.common.progress import Progress, Steps
from glue_jobs.curated.dedup import dedup_batch, drop_already_curated
from glue_jobs.curated.event_index import append_ids, compact, curated_ids, ensure_index
from glue_jobs.curated.parse import SKEW_NOT_CORRECTED, accepted_events, parse_lines, raw_object_of
from glue_jobs.curated.raw_objects import Unreadable, find_unreadable, write_dead_letters
from glue_jobs.curated.report import CuratedReport, TableWrite
from glue_jobs.curated.sessions import sessionize
from glue_jobs.curated.tables import EVENT_TABLES, EVENTS_READ_SCHEMA, PARTITION, SESSIONS, upgrade_events
from glue_jobs.curated.vacuum import vacuum
from glue_jobs.curated.writer import (
    ZSTD_LEVEL,
    cluster_by_partition,
    merge_partitions,
    partition_counts_of,
    read_partitions,
    session_conf,
    write_tasks,
)
from lakehouse.core.config import Settings
from lakehouse.core.erasure import ID_FIELDS, SUPPRESSED_JSON_PATHS, Suppression, load_suppression
from lakehouse.core.job_state import commit_run, new_run_id, processed_landing_logs, processed_raw_objects
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.raw import LANDED, RAW_SUFFIX, encode_lines, landing_log_day, landing_logs
from lakehouse.core.lake.storage import LakeStorage, StoredObject


def configure(spark: SparkSession, storage: LakeStorage) -> None:
    """Session settings the batch jobs rely on: UTC; a JSON object's key sent twice keeps its last value, as
    ``json.loads`` (the API's parser) does — Spark's default fails the whole job with ``DUPLICATED_MAP_KEY``
    when it builds a map of such an object; and serial listing of local paths (a Spark job to list a few
    hundred local files costs more than it saves; on S3 the parallel listing stays)."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
    if not storage.layout.is_s3:
        spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")


#: days before the newest landing-log record a committed run took that the next run reads again (a writer whose
#: record is dated a little earlier than the batch's clock, a record written around midnight)
LANDING_LOOKBACK_DAYS = 1


@dataclass(frozen=True)
class Pending:
    """What the next run takes: raw objects no committed run processed (by key), the landing-log records naming
    them (committed with the run, so they are not read again)."""

    objects: list[StoredObject]
    landing_logs: list[str]


def pending_landings(storage: LakeStorage, lookback_days: int = LANDING_LOOKBACK_DAYS) -> Pending:
    """The landing-log records not taken by a committed run and the raw objects they name that no run processed.

    Reads ``raw/_landed/dt=D/`` for D from ``lookback_days`` before the newest record a committed run took (all of
    ``raw/_landed`` before the first such run) to tomorrow (UTC): one listing per day and one small GET per new
    record, whatever the size of the raw zone. An object named by two records (a micro-batch replayed across
    midnight) is taken once. Raises ``ValueError`` for an unreadable record (its message says what to do).
    """
    taken = processed_landing_logs(storage)
    since = max((landing_log_day(k) for k in taken), default=None)
    logs = [log for log in landing_logs(storage, None if since is None else since - timedelta(days=lookback_days))
            if log.key not in taken]
    done = processed_raw_objects(storage)
    objects: dict[str, StoredObject] = {}
    for log in logs:
        for obj in log.objects:
            if obj.key not in done and obj.key.endswith(RAW_SUFFIX):
                objects[obj.key] = StoredObject(obj.key, obj.bytes)
    return Pending(sorted(objects.values(), key=lambda o: o.key), [log.key for log in logs])


def pending_raw_objects(storage: LakeStorage) -> list[StoredObject]:
    """Raw objects that no committed run has processed yet, by key (:func:`pending_landings`)."""
    return pending_landings(storage).objects


def unlogged_raw_objects(storage: LakeStorage) -> list[StoredObject]:
    """Raw objects no landing log names and no committed run processed: one listing of the whole raw prefix.

    For a lake written before the landing log existed (the API wrote one object per request then) and for
    objects copied into ``raw/`` by hand: pass their keys to :func:`lakehouse.core.lake.raw.land_objects` once,
    and the next run takes them (no command does it for you yet).
    """
    named = {o.key for log in landing_logs(storage) for o in log.objects}
    done = processed_raw_objects(storage)
    return [o for o in storage.list("raw") if o.key.endswith(RAW_SUFFIX) and not o.key.startswith(LANDED + "/")
            and o.key not in named and o.key not in done]


def read_raw_lines(spark: SparkSession, storage: LakeStorage, objects: list[StoredObject]) -> DataFrame:
    """``raw_object``, ``value`` for every line of the given gzip JSON-lines objects."""
    paths = [storage.layout.uri(o.key) for o in objects]
    return spark.read.text(paths).select(raw_object_of(F.col("_metadata.file_path")).alias("raw_object"), "value")


def _quarantine_key(raw_object: str) -> str:
    """``raw/source=s/dt=D/hour=H/x.jsonl.gz`` -> ``quarantine/dt=D/hour=H/curated-x.jsonl.gz`` (stable)."""
    parts = raw_object.split("/")
    if len(parts) == 5 and parts[0] == "raw":
        return f"quarantine/{parts[2]}/{parts[3]}/curated-{parts[1].removeprefix('source=')}-{parts[4]}"
    return f"quarantine/unknown/curated-{raw_object.replace('/', '_')}"


def quarantine_rejects(storage: LakeStorage, parsed: DataFrame, run_id: str) -> list[str]:
    """Write rejected lines, with their reason, next to the ingestion's quarantine (one object per raw object)."""
    rejects = (parsed.where(F.col("reject_reason").isNotNull() & (F.col("reject_reason") != SUPPRESSED))
               .select("raw_object", "value", "reject_reason").orderBy("raw_object"))
    by_object: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rejects.toLocalIterator():
        by_object[row["raw_object"]].append({
            "reason": row["reject_reason"], "line": row["value"], "raw_object": row["raw_object"],
            "rejected_by": "raw_to_curated", "run_id": run_id})
    written = []
    for raw_object, records in sorted(by_object.items()):
        key = _quarantine_key(raw_object)
        storage.put_bytes(key, encode_lines(records), content_type="application/x-ndjson", content_encoding="gzip")
        written.append(key)
    return written


def _days_around(dates: set[date], before: int, after: int) -> set[date]:
    return {d + timedelta(days=k) for d in dates for k in range(-before, after + 1)}


#: the ``reject_reason`` of a record of an erased person: counted as suppressed, neither curated nor quarantined
SUPPRESSED = "(suppressed): the person was erased"


def suppress(parsed: DataFrame, suppression: Suppression) -> DataFrame:
    """``parsed`` with :data:`SUPPRESSED` as the reason of every line whose ids or e-mail hashes are on the
    suppression list (its digest, :meth:`lakehouse.core.erasure.Suppression.digest`, computed in SQL): the ids as
    parsed, and every field of :data:`lakehouse.core.erasure.SUPPRESSED_JSON_PATHS` in the line as landed;
    unchanged for an empty list."""
    if not suppression.digests:
        return parsed
    digests = sorted(suppression.digests)
    values = [F.col(name).cast("string") for name in ID_FIELDS if name in parsed.columns]
    values += [F.get_json_object("value", path) for path in SUPPRESSED_JSON_PATHS]
    hit = F.lit(False)
    for value in values:
        digest = F.sha2(F.concat(F.lit(f"{suppression.salt}:"), value), 256)
        hit = hit | F.coalesce(digest.isin(*digests), F.lit(False))
    return parsed.withColumn("reject_reason", F.when(hit, F.lit(SUPPRESSED)).otherwise(F.col("reject_reason")))


def _parse_counted(lines: DataFrame, settings: Settings,
                   suppression: Suppression | None = None) -> tuple[DataFrame, list[Row]]:
    """The parsed lines (persisted) and their counts per (``reject_reason``, ``skew_not_corrected``); lines of
    erased people (``suppression``) carry :data:`SUPPRESSED`."""
    parsed = suppress(parse_lines(lines, settings.batch.validation, settings.event_time),
                      suppression or Suppression("")).persist(BATCH_CACHE)
    try:
        return parsed, parsed.groupBy("reject_reason", SKEW_NOT_CORRECTED).count().collect()
    except Exception:
        parsed.unpersist()
        raise


#: how many times its size on disk a raw object's lines take once read: gzip JSON lines compress about ten-fold
#: (measured on a raw object of the 30M-event scaling lake: 5.2 MB of gzip, 50.5 MB of lines, 665 bytes a line)
RAW_EXPANSION = 10
MAX_PARTITION_BYTES = "spark.sql.files.maxPartitionBytes"


def raw_split_bytes(spark: SparkSession) -> int:
    """The bytes on disk of raw objects packed into one Spark task: the session's ``maxPartitionBytes`` (128 MB by
    default) over :data:`RAW_EXPANSION`. Spark packs a file scan's tasks by bytes on disk, so
    without it a task read ~14 raw objects of the 30M-event lake (~1M lines, ~0.7 GB): the dedup's sort of such a
    task spilled more runs than a 4 GiB heap could merge (docs/scaling.md, "30M")."""
    return max(1, _bytes(spark.conf.get(MAX_PARTITION_BYTES, "128m")) // RAW_EXPANSION)


def _bytes(text: str) -> int:
    """Spark's byte string (``134217728b``, ``128m``, ``1g``) as bytes."""
    text = text.strip().lower().removesuffix("b")
    scale = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}.get(text[-1:], 1)
    return int(text.rstrip("kmgt")) * scale


def parse_objects(spark: SparkSession, storage: LakeStorage, settings: Settings, objects: list[StoredObject],
                  suppression: Suppression | None = None) -> tuple[DataFrame, list[Row], list[Unreadable]]:
    """Parse every line of ``objects``: (parsed lines, counts as :func:`_parse_counted`, objects set aside). The
    read packs :func:`raw_split_bytes` of objects into a task (the parsed lines are persisted in those tasks).

    When Spark fails to read the batch, each object is checked in Python (:func:`find_unreadable`); the ones
    that do not decompress are set aside, their complete lines salvaged, and the batch read again without them.
    A failure with no unreadable object is raised as it came.
    """
    with session_conf(spark, {MAX_PARTITION_BYTES: str(raw_split_bytes(spark))}):
        return _parse_objects(spark, storage, settings, objects, suppression)


def _parse_objects(spark: SparkSession, storage: LakeStorage, settings: Settings, objects: list[StoredObject],
                   suppression: Suppression | None) -> tuple[DataFrame, list[Row], list[Unreadable]]:
    try:
        parsed, counts = _parse_counted(read_raw_lines(spark, storage, objects), settings, suppression)
        return parsed, counts, []
    except Exception:  # which object broke the scan is only known by reading each one
        unreadable = find_unreadable(storage, objects)
        if not unreadable:
            raise
    broken = {u.raw_object for u in unreadable}
    readable = [o for o in objects if o.key not in broken]
    schema = "raw_object string, value string"
    lines = read_raw_lines(spark, storage, readable) if readable else spark.createDataFrame([], schema)
    salvaged = [(u.raw_object, text) for u in unreadable for text in u.lines]
    if salvaged:
        lines = lines.unionByName(spark.createDataFrame(salvaged, schema))
    parsed, counts = _parse_counted(lines, settings, suppression)
    return parsed, counts, unreadable


#: the curated ``events`` columns sessions are computed from (:func:`glue_jobs.curated.sessions.sessionize`)
SESSION_INPUT = ("customer_id", "event_id", "event_ts", "event_type", "event_name", "context_channel", "source")


def _sessions(spark: SparkSession, storage: LakeStorage, settings: Settings, dates: set[date],
              run_id: str, written: DataFrame | None = None) -> tuple[TableWrite, StructType]:
    """Recompute sessions starting on a touched date or the day before, from the curated events around them.

    ``written``: the whole new content of the ``events`` partitions of ``dates`` (what this run wrote there, when
    those partitions were all new); those dates are then taken from it instead of being read back, and only the
    other dates of the window are read.
    """
    table_rel = storage.layout.curated_table("events")
    state = lake_tables.current(storage, table_rel)
    window = sorted(d.isoformat() for d in _days_around(dates, 2, 1) if d.isoformat() in state.partitions)
    rewrite = sorted(d.isoformat() for d in _days_around(dates, 1, 0))
    touched = {d.isoformat() for d in dates} if written is not None else set()
    on_disk = [d for d in window if d not in touched]
    parts = [written.select(*SESSION_INPUT)] if written is not None else []
    if on_disk:
        read = upgrade_events(read_partitions(spark, storage, table_rel, on_disk, schema=EVENTS_READ_SCHEMA,
                                              state=state))  # old and new events files alike
        parts.append(read.select(*SESSION_INPUT))
    events = parts[0]
    for part in parts[1:]:
        events = events.unionByName(part)
    sessions = sessionize(events, settings.batch.session_gap_minutes).where(
        F.col(PARTITION).isin(*[date.fromisoformat(d) for d in rewrite]))
    written_sessions = merge_partitions(spark, storage, SESSIONS, sessions, keys=["session_id"], order=[],
                                        run_id=run_id, target_file_rows=settings.batch.target_file_rows,
                                        replace=True, replace_dates=rewrite, sort_by=["customer_id", "session_start"],
                                        options=_parquet_options(settings))
    return written_sessions, sessions.schema


def run_raw_to_curated(spark: SparkSession, settings: Settings, *, lines: DataFrame | None = None,
                       raw_objects: list[StoredObject] | None = None, catalog: bool = False,
                       on_progress: Progress | None = None, now: datetime | None = None) -> CuratedReport:
    """Curate every raw object not processed yet; returns the run report (``skipped`` when there was none).

    ``lines``/``raw_objects`` let a caller supply the batch (Glue job bookmarks); by default the landing log and
    the lake's manifest decide (:func:`pending_landings`). ``catalog`` registers tables and partitions in the Glue
    Data Catalog.
    """
    started = time.monotonic()
    storage = LakeStorage(settings.lake, region=settings.region)
    configure(spark, storage)
    steps = ["read raw objects", "validate", "deduplicate", *[t.name for t in EVENT_TABLES], SESSIONS,
             "event id index", "catalog", "commit", "vacuum"]
    progress = Steps(steps, on_progress)
    step = progress.start

    report = CuratedReport()
    step("read raw objects")
    objects: list[StoredObject] | None = None
    logs: list[str] = []
    if lines is None:
        if raw_objects is not None:
            objects = raw_objects
        else:
            pending = pending_landings(storage)
            objects, logs = pending.objects, pending.landing_logs
        if not objects:
            report.skipped = "no new raw objects"
            report.seconds = time.monotonic() - started
            return report
        keys = [o.key for o in objects]
        report.raw_bytes = sum(o.size for o in objects)
    else:
        keys = sorted(r[0] for r in lines.select("raw_object").distinct().collect())
        if not keys:
            report.skipped = "no new raw objects"
            return report
    run_id = new_run_id(now)
    report.run_id, report.raw_objects = run_id, len(keys)

    step("validate")
    suppression = load_suppression(storage)
    if objects is not None:
        parsed, tallies, unreadable = parse_objects(spark, storage, settings, objects, suppression)
        write_dead_letters(storage, unreadable, run_id)
        report.unreadable_objects = [u.as_report() for u in unreadable]
    else:  # lines from the caller (Glue job bookmarks): a read failure is the caller's
        parsed, tallies = _parse_counted(lines, settings, suppression)
    for reason, skew_not_corrected, count in tallies:
        report.records_read += count
        if reason == SUPPRESSED:
            report.suppressed += count
        elif reason is None:
            report.accepted += count
            report.skew_corrections_not_applied += count if skew_not_corrected else 0
        else:
            report.rejected += count
            report.rejected_by_rule[reason] = report.rejected_by_rule.get(reason, 0) + count
    report.quarantine_objects = quarantine_rejects(storage, parsed, run_id) if report.rejected else []

    step("deduplicate")
    batch = dedup_batch(accepted_events(parsed)).persist(BATCH_CACHE)
    per_date = {r[0]: r[1] for r in batch.groupBy(PARTITION).count().collect()}
    parsed.unpersist()
    report.duplicates_in_batch = report.accepted - sum(per_date.values())
    pending = spark.createDataFrame([(k,) for k in keys], "raw_object string")
    report.event_ids_backfilled = ensure_index(spark, storage, storage.layout.curated_table("events"))
    known = curated_ids(spark, storage, batch, pending) if per_date else None
    if known is not None:
        # the ids found are collected (at most the batch's own ids): the batch's plan then holds a small local
        # relation instead of the index scan, which Spark 3.5 (Glue 5) ran out of heap planning in later writes
        seen = batch.select("event_id").join(known, "event_id", "left_semi").distinct().collect()
        known = spark.createDataFrame([(r[0],) for r in seen], "event_id string") if seen else None
    new = drop_already_curated(batch, F.broadcast(known)) if known is not None else batch
    # each event date in one Spark partition: every table is written from it without a shuffle of its own (one
    # file per date); sorted by event name, the cached batches of other events are skipped when a table filters
    tasks = write_tasks(sum(per_date.values()), len(per_date), spark.sparkContext.defaultParallelism,
                        settings.batch.write_task_rows)
    new = cluster_by_partition(new, tasks) \
        .sortWithinPartitions("event_type", "event_name").persist(BATCH_CACHE)
    built = {table.name: table.build(new) for table in EVENT_TABLES}
    late = F.when(F.col(PARTITION) < F.to_date("received_at"), 1).otherwise(0)
    counts = partition_counts_of(built, extra={"events": ("late", late)})
    report.new_events = sum(counts["events"].values())
    report.late_events = sum(counts.get("events:late", {}).values())
    report.duplicates_of_earlier_runs = sum(per_date.values()) - report.new_events
    new_dates = {date.fromisoformat(d) for d in counts["events"]}
    batch.unpersist()

    # the events partitions this run writes are all new: sessions take them from the batch, not from the files
    events_before = lake_tables.current(storage, storage.layout.curated_table("events"))
    events_fresh = not set(events_before.partitions) & set(counts["events"])
    schemas = {}
    for table in EVENT_TABLES:
        step(table.name)
        rows = built[table.name]
        if not counts[table.name]:
            continue
        schemas[table.name] = rows.schema
        report.tables[table.name] = merge_partitions(
            spark, storage, table.name, rows, keys=table.keys, order=["received_at", "raw_object"], run_id=run_id,
            target_file_rows=settings.batch.target_file_rows, sort_by=_sort_order(rows), counts=counts[table.name],
            clustered=True, options=_parquet_options(settings))
    step(SESSIONS)
    if new_dates:
        report.tables[SESSIONS], schemas[SESSIONS] = _sessions(
            spark, storage, settings, new_dates, run_id, written=built["events"] if events_fresh else None)

    step("event id index")
    if report.new_events:
        append_ids(storage, new, run_id)
        report.event_index_buckets_compacted = len(compact(spark, storage, run_id, region=settings.region))

    step("catalog")
    if catalog:
        for name, write in report.tables.items():
            if not write.partitions or schemas.get(name) is None:
                continue
            state = lake_tables.current(storage, storage.layout.curated_table(name))
            locations = {d: storage.layout.uri(state.dir_rel(d)) for d in write.partitions if d in state.partitions}
            removed = {r.partition for r in state.retired if r.partition not in state.partitions}
            update = register_table(settings.names.glue_database, name, storage.layout.uri(
                storage.layout.curated_table(name)), schemas[name], PARTITION, locations, settings.region,
                removed=removed)
            report.catalog_tables += 1
            report.catalog_partitions_added += update.partitions_added

    step("commit")
    report.seconds = time.monotonic() - started
    commit_run(storage, run_id, keys, report.as_dict(), landing_logs=logs)
    new.unpersist()
    step("vacuum")
    retention = timedelta(days=settings.batch.partition_version_retention_days)
    vacuum(storage, [t.name for t in EVENT_TABLES] + [SESSIONS], retention, run_id, region=settings.region)
    progress.finish()
    return report


def _parquet_options(settings: Settings) -> dict[str, str]:
    """Parquet options of this run's writes beyond :data:`glue_jobs.curated.writer.PARQUET_OPTIONS`: the ZSTD
    level of ``settings.batch.zstd_level``."""
    return {ZSTD_LEVEL: str(settings.batch.zstd_level)}


def _sort_order(rows: DataFrame) -> list[str]:
    """Rows sorted by kind of event then time inside each partition file: the smallest files measured
    (docs/batch.md, "Curated footprint"). Time order makes consecutive timestamps close, so their deltas pack in
    ~3.5 B/row instead of 4.7 when sorted by customer; the kind columns and the keys each kind carries (``extra``,
    ``product_id``) then come in long runs. Customers are no longer grouped: a lookup by customer reads the
    partition's whole ``customer_id`` column (2.3 B/row)."""
    time_column = next((c for c in rows.columns if c.endswith("_ts")), None)
    return [c for c in ("event_type", "event_name", time_column) if c and c in rows.columns]

