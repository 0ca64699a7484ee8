"""The batch chain run locally (the same steps Step Functions runs on AWS): raw -> curated -> star ->
warehouse, each step skipped when its input did not change."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.report import CuratedReport
from glue_jobs.curated.tables import ALL_TABLES
from glue_jobs.star.job import StarReport, run_build_star
from glue_jobs.warehouse.load import LoadReport, load_warehouse
from lakehouse.core.config import Settings
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.run_lock import batch_lock, checkpoint_lock

STEPS = ("curated", "star", "warehouse")
Progress = Callable[[str, str, int, int], None]  # (step, what, done, total)
_JVM_NOISE = ("An error occurred while calling", "at ", "...")
#: a path or URI of more than :data:`_PATH_TAIL` folders (``file:/tmp/…/curated/events/event_date=D/part-0.parquet``)
_LONG_PATH = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?/+(?:[^\s/;,'\"]+/){4,}[^\s/;,'\"]*")
_PATH_TAIL = 4


class BatchStepFailed(RuntimeError):
    """A step of the batch chain failed: ``step``, and ``reason``, one readable line (never a JVM stack trace).

    The step's own run record was not written, so the next ``lakehouse batch`` repeats it; the original
    exception is the ``__cause__``.
    """

    def __init__(self, step: str, reason: str):
        self.step, self.reason = step, reason
        super().__init__(f"the {step} step failed: {reason} — nothing of this step was committed; fix the cause "
                         f"and run `lakehouse batch --step {step}` (or the whole chain) again")


def one_line(exc: BaseException, limit: int = 400) -> str:
    """``exc`` as one line: its type and first meaningful message line, plus the deepest ``Caused by:`` of a
    Java exception (Py4J's text holds the whole JVM stack trace; its frames and Py4J's preamble are dropped)."""
    lines = [t.strip().removeprefix(": ").strip() for t in str(exc).splitlines()]
    lines = [t for t in lines if t and not t.startswith(_JVM_NOISE)]
    causes = [t.removeprefix("Caused by:").strip() for t in lines if t.startswith("Caused by:")]
    head = next((t for t in lines if not t.startswith("Caused by:")), "") or type(exc).__name__
    parts = [f"{type(exc).__name__}: {head}"] + ([f"caused by {causes[-1]}"] if causes else [])
    share = limit // len(parts)
    return "; ".join(_clip(_short_paths(" ".join(p.split())), share) for p in parts)


def _short_paths(text: str) -> str:
    """``text`` with each long path cut to its last folders (``…/curated/events/event_date=D/part-0.parquet``): a
    lake's prefix (a temporary folder, an S3 bucket) would otherwise push what is wrong with the file past the
    clip."""
    return _LONG_PATH.sub(lambda m: "…/" + "/".join(m.group(0).rstrip("/").split("/")[-_PATH_TAIL:]), text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class CuratedFootprint:
    """The curated zone against the raw zone it came from (issue 15: files sized for scanning, a compact events
    table): ``tables`` maps each curated table to (files, bytes) of its current partition versions;
    ``raw_gzip_bytes`` is the size of every raw ``.jsonl.gz`` object."""

    raw_gzip_bytes: int
    tables: dict[str, tuple[int, int]]

    @property
    def files(self) -> int:
        """Parquet files over all curated tables (one per table and partition unless a partition is large)."""
        return sum(files for files, _ in self.tables.values())

    @property
    def bytes(self) -> int:
        """Bytes of :attr:`files`."""
        return sum(size for _, size in self.tables.values())

    def ratio(self, table: str | None = None) -> float:
        """Curated bytes (of ``table``, default all tables) / raw gzip bytes; 0.0 without raw objects."""
        size = self.bytes if table is None else self.tables.get(table, (0, 0))[1]
        return size / self.raw_gzip_bytes if self.raw_gzip_bytes else 0.0

    def line(self) -> str:
        """One line for a report: file count, partitions, and the two byte ratios."""
        used = sum(1 for files, _ in self.tables.values() if files)
        return (f"curated zone: {self.files:,} Parquet files in {used} tables; events table {self.ratio('events'):.2f}"
                f" x the raw gzip ({self.tables.get('events', (0, 0))[1]:,} / {self.raw_gzip_bytes:,} B), all curated "
                f"tables {self.ratio():.2f} x ({self.bytes:,} B)")


def curated_footprint(settings: Settings) -> CuratedFootprint:
    """Count the curated zone's current files and bytes, table by table, and the raw zone's gzip bytes."""
    storage = LakeStorage(settings.lake, region=settings.region)
    raw = sum(o.size for o in storage.list("raw") if o.key.endswith(".jsonl.gz"))
    found: dict[str, tuple[int, int]] = {}
    for table in ALL_TABLES:
        rel = storage.layout.curated_table(table)
        files = lake_tables.files(storage, lake_tables.current(storage, rel))
        found[table] = (len(files), sum(f.size for f in files))
    return CuratedFootprint(raw, found)


@dataclass
class BatchReport:
    """What ``run_batch`` did: one report per step that ran (None: not run) and the wall-clock ``seconds``."""

    curated: CuratedReport | None = None
    star: StarReport | None = None
    warehouse: LoadReport | None = None
    seconds: float = 0.0

    def rows(self) -> list[tuple[str, str, str]]:
        """(step, measure, value) lines for a human-readable report."""
        out: list[tuple[str, str, str]] = []
        if self.curated is not None:
            c = self.curated
            if c.skipped:
                out.append(("curated", "skipped", c.skipped))
            else:
                out += [("curated", "raw objects", f"{c.raw_objects:,}"),
                        ("curated", "records read", f"{c.records_read:,}"),
                        ("curated", "accepted", f"{c.accepted:,}"),
                        ("curated", "rejected", f"{c.rejected:,}")]
                out += [("curated", f"  rejected: {rule}", f"{n:,}") for rule, n in sorted(c.rejected_by_rule.items())]
                if c.suppressed:
                    out.append(("curated", "suppressed (people erased)", f"{c.suppressed:,}"))
                out += [("curated", "duplicates in batch", f"{c.duplicates_in_batch:,}"),
                        ("curated", "duplicates of earlier runs", f"{c.duplicates_of_earlier_runs:,}"),
                        ("curated", "new events", f"{c.new_events:,}"),
                        ("curated", "late events", f"{c.late_events:,}"),
                        ("curated", "files / bytes written", f"{c.files_written:,} / {c.bytes_written:,}"),
                        ("curated", "quarantine objects", f"{len(c.quarantine_objects):,}"),
                        ("curated", "clock-skew corrections not applied", f"{c.skew_corrections_not_applied:,}"),
                        ("curated", "unreadable raw objects set aside", f"{len(c.unreadable_objects):,}")]
                out += [("curated", f"  set aside: {u['raw_object']}",
                         f"{u['reason']}; {u['lines_salvaged']:,} line(s) salvaged; see {u['dead_letter']}")
                        for u in c.unreadable_objects]
                if c.catalog_tables:
                    out.append(("curated", "catalog tables / new partitions",
                                f"{c.catalog_tables} / {c.catalog_partitions_added}"))
                out.append(("curated", "seconds", f"{c.seconds:.1f}"))
        if self.star is not None:
            s = self.star
            if s.skipped:
                out.append(("star", "skipped", s.skipped))
            else:
                out.append(("star", "as of", s.as_of or ""))
                out.append(("star", "build", f"incremental, {s.dirty_customers:,} dirty customers"
                            if s.mode == "incremental" else f"full ({s.full_reason})" if s.full_reason else "full"))
                out += [("star", f"events left out: {why}", f"{n:,}") for why, n in s.excluded_events.items() if n]
                out.append(("star", "identities stitched / conflicts",
                            f"{s.identity.stitched_ids:,} / {s.identity.conflicts:,}"))
                o = s.orders
                out.append(("star", "orders / duplicates / updated / cancelled",
                            f"{o.orders:,} / {o.duplicate_events:,} / {o.updated:,} / {o.cancelled:,}"))
                out.append(("star", "refunds netted / capped / unknown order",
                            f"{o.refunds_netted:,} / {o.refunds_capped:,} / {o.refunds_unknown_order:,}"))
                m = s.money
                out.append(("star", f"orders unconverted into {m.reporting_currency}", f"{m.unconverted_orders:,}"))
                out += [("star", f"  unconverted: {currency}", f"{v['orders']:,} orders, {v['amount']} {currency}")
                        for currency, v in sorted(m.unconverted.items())]
                out += [("star", name, f"{t.rows:,} rows, {t.files} file(s), {t.bytes:,} B")
                        for name, t in s.tables.items()]
                out.append(("star", "seconds", f"{s.seconds:.1f}"))
        if self.warehouse is not None:
            w = self.warehouse
            if w.skipped:
                out.append((f"warehouse ({w.target})", "skipped", w.skipped))
            else:
                out.append((f"warehouse ({w.target})", "tables / views loaded", f"{len(w.tables)} / {len(w.views)}"))
                out.append((f"warehouse ({w.target})", "load", "the build's deltas" if w.mode == "delta"
                            else "every table whole"))
                out.append((f"warehouse ({w.target})", "seconds", f"{w.seconds:.1f}"))
        return out


def run_batch(settings: Settings, spark: SparkSession, *, steps: Sequence[str] = STEPS, catalog: bool = False,
              force: bool = False, full: bool = False, on_progress: Progress | None = None) -> BatchReport:
    """Run the chosen steps in order; a step whose input is unchanged is skipped and writes nothing.

    Raises :class:`BatchStepFailed` (one readable line) when a step fails, ``ValueError`` for unknown steps,
    ``CheckpointBusy`` while another batch run or an erasure (``lakehouse forget``) holds the lake.
    """
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown batch steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    started = time.monotonic()
    report = BatchReport()

    def relay(step: str):
        return (lambda what, done, total: on_progress(step, what, done, total)) if on_progress else None

    runners = {
        "curated": lambda: setattr(report, "curated", run_raw_to_curated(spark, settings, catalog=catalog,
                                                                           on_progress=relay("curated"))),
        "star": lambda: setattr(report, "star", run_build_star(spark, settings, force=force, full=full,
                                                               on_progress=relay("star"))),
        "warehouse": lambda: setattr(report, "warehouse", load_warehouse(settings, force=force, full=full,
                                                                         on_progress=relay("warehouse"))),
    }
    with checkpoint_lock(batch_lock(settings.lake), "a batch run or an erasure"):  # `lakehouse forget` waits for none
        for step in (s for s in STEPS if s in steps):
            try:
                runners[step]()
            except Exception as exc:  # any failure, Spark's included, ends as one readable line
                raise BatchStepFailed(step, one_line(exc)) from exc
    report.seconds = time.monotonic() - started
    return report
