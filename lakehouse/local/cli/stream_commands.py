"""``lakehouse stream`` (the real-time feature job), ``lakehouse archive`` (the raw archive: the stream into the raw
zone) and ``lakehouse customer <id>`` (a customer's live features)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from lakehouse.core.config import Settings
from lakehouse.core.spark import local_spark
from lakehouse.local.cli.common import UserError, console, friendly_errors, load_settings, require_resources
from lakehouse.local.signals import setting_on_signals

if TYPE_CHECKING:
    from collections.abc import Callable

    from stream.features import CustomerFeatures

POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
TIME_DEPENDENT = ("recency_days", "orders_90d", "revenue_90d", "views_7d", "carts_7d", "frequency", "monetary",
                  "r_score", "f_score", "m_score", "segment")


def _require(settings: Settings) -> None:
    """The stream and the feature table must exist (``lakehouse up`` provisions them locally)."""
    require_resources(settings, settings.names.features_table, "streaming")


def _summary_table(report) -> Table:
    table = Table(title="stream run", show_edge=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    units = {"records_per_second": "records/s", "batch_seconds_p50": "s", "batch_seconds_p95": "s",
             "freshness_p50_ms": "ms", "freshness_p95_ms": "ms", "max_lag_ms": "ms", "seconds": "s"}
    for key, value in report.summary().items():
        shown = "-" if value is None else f"{value:,}"
        table.add_row(key.replace("_", " "), f"{shown} {units.get(key, '')}".strip())
    return table


@friendly_errors
def stream(
    once: bool = typer.Option(False, "--once", help="process what is on the stream now, then stop"),
    trigger_seconds: float = typer.Option(None, "--trigger-seconds", min=0,
                                          help="micro-batch interval (default: settings, 1 s)"),
    max_records: int = typer.Option(None, "--max-records", min=1, help="records per micro-batch, at most"),
    starting_position: str = typer.Option(None, "--starting-position",
                                          help="for a new checkpoint: TRIM_HORIZON, LATEST or AT_TIMESTAMP"),
    starting_timestamp: str = typer.Option(None, "--starting-timestamp", help="ISO 8601 time, for AT_TIMESTAMP"),
) -> None:
    """Run the real-time feature job: Kinesis -> Spark -> DynamoDB (Ctrl-C stops it cleanly)."""
    if starting_position is not None and starting_position.upper() not in POSITIONS:
        raise UserError(f"--starting-position must be one of {', '.join(POSITIONS)}")
    settings = load_settings()
    overrides: dict[str, Any] = {}
    if starting_position:
        overrides["starting_position"] = starting_position.upper()
    if starting_timestamp:
        overrides["starting_timestamp"] = starting_timestamp
    if overrides.get("starting_position") == "AT_TIMESTAMP" and not starting_timestamp:
        raise UserError("--starting-position AT_TIMESTAMP needs --starting-timestamp")
    settings = settings.model_copy(update={"stream": settings.stream.model_copy(update=overrides)})
    _require(settings)

    from stream.job import StreamJobError, run_stream

    stop = threading.Event()  # set by Ctrl-C, SIGTERM or SIGHUP: the query stops between two micro-batch waits
    totals = {"batches": 0, "records": 0, "events": 0, "rejected": 0, "duplicates": 0}
    with setting_on_signals(stop) as received, console.status("starting Spark", spinner="dots") as status:
        spark = local_spark("lakehouse-stream")
        status.update("waiting for the first micro-batch")

        def on_progress(result) -> None:
            totals["batches"] += 1
            for key in ("records", "events", "rejected", "duplicates"):
                totals[key] += getattr(result, key)
            lag = f"{result.lag_ms / 1000:,.1f} s" if result.lag_ms is not None else "-"
            status.update(f"batch {result.batch_id}: {totals['records']:,} records, {totals['events']:,} events "
                          f"applied, {totals['rejected']:,} quarantined, {totals['duplicates']:,} duplicates "
                          f"| last batch {result.seconds:,.2f} s, lag {lag}")
            if not once:
                console.print(f"batch {result.batch_id}: {result.records:,} records -> {result.written:,} customers "
                              f"in {result.seconds:,.2f} s (lag {lag})")

        try:
            report = run_stream(settings, spark, once=once, trigger_seconds=trigger_seconds, max_records=max_records,
                                on_progress=on_progress, stop=stop)
        except StreamJobError as exc:
            raise UserError(f"{exc} (a new run resumes from the checkpoint)") from None
    if report.replaced_checkpoint:
        console.print(f"[yellow]the stream was created anew: its old checkpoint was moved to "
                      f"{report.replaced_checkpoint}[/]")
    _say_stopped(report.interrupted, received)
    console.print(_summary_table(report))
    _exit_for(received)


@friendly_errors
def archive(
    once: bool = typer.Option(False, "--once", help="archive what is on the stream now, then stop"),
    buffer_seconds: float = typer.Option(None, "--buffer-seconds", min=0,
                                         help="micro-batch interval (default: settings, 300 s)"),
    max_records: int = typer.Option(None, "--max-records", min=1, help="records per micro-batch, at most"),
) -> None:
    """Run the raw archive: Kinesis -> Spark -> the raw zone, one object per arrival hour per micro-batch.

    The ingestion API acknowledges events once Kinesis holds them; this lands them in the raw zone (the batch
    job's input). Ctrl-C stops it cleanly; a restart resumes from its checkpoint without duplicates.
    """
    settings = load_settings()
    _require(settings)

    from stream.archive import ArchiveJobError, run_archive

    stop = threading.Event()  # set by Ctrl-C, SIGTERM or SIGHUP: the query stops between two micro-batch waits
    with setting_on_signals(stop) as received, console.status("starting Spark", spinner="dots") as status:
        spark = local_spark("lakehouse-archive")
        status.update("waiting for the first micro-batch")

        def on_progress(result) -> None:
            message = (f"batch {result.batch_id}: {result.records:,} records -> {len(result.objects):,} raw objects "
                       f"({result.bytes:,} bytes) in {result.seconds:,.2f} s"
                       + (f"; {result.suppressed:,} of erased people dropped" if result.suppressed else ""))
            status.update(message)
            if not once:
                console.print(message)

        try:
            report = run_archive(settings, spark, once=once, buffer_seconds=buffer_seconds, max_records=max_records,
                                 on_progress=on_progress, stop=stop)
        except ArchiveJobError as exc:
            raise UserError(f"{exc} (a new run resumes from the checkpoint)") from None
    _say_stopped(report.interrupted, received)
    table = Table(title="raw archive run", show_edge=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in report.summary().items():
        table.add_row(key, f"{value:,}")
    console.print(table)
    _exit_for(received)


def _say_stopped(interrupted: bool, received: list[int]) -> None:
    """Say that the query stopped before its end, and by which signal."""
    if received:
        console.print(f"stopped by {signal.Signals(received[0]).name}: what was committed stays committed; a new "
                      "run resumes from the checkpoint")
    elif interrupted:
        console.print("stopped")


def _exit_for(received: list[int]) -> None:
    """A command ended by a stop signal exits as the shell expects (128 + the signal's number: 130 for Ctrl-C)."""
    if received:
        raise typer.Exit(128 + received[0])


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value:,}" if value == value.to_integral_value() else f"{value:,.2f}"
    return str(value)


@friendly_errors
def customer(
    customer_id: str = typer.Argument(..., help="the customer (user id or anonymous id)"),
    as_of: str = typer.Option(None, "--as-of", metavar="YYYY-MM-DD",
                              help="derive the windows, RFM and segment as of this UTC day (default: today)"),
    as_json: bool = typer.Option(False, "--json", help="print the stored item and, under \"derived\", the "
                                 "features derived as of today (or --as-of) as JSON"),
) -> None:
    """Print a customer's live features: as stored by the stream, and derived as of today (or --as-of)."""
    if not customer_id.strip():
        raise UserError("give a customer id (a user id or an anonymous id)")
    day = _day(as_of) if as_of is not None else None
    settings = load_settings()
    _require(settings)
    item = stored_item(settings, customer_id)
    if as_json:
        console.print_json(json.dumps(customer_document(settings, item, day), default=str))
        return
    table, note = customer_table(settings, customer_id, item, as_of=day)
    console.print(table)
    console.print(f"[dim]{note}[/]")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of must be a day like 2025-06-30, got {text!r}") from None


def customer_document(settings: Settings, item: dict[str, Any], as_of: date | None = None) -> dict[str, Any]:
    """What ``lakehouse customer <id> --json`` prints: the stored item, plus for a customer's item (not a merged
    id's) ``derived``: the time-dependent features as of ``as_of`` (default: :func:`default_as_of`) --
    ``recency_days``, ``frequency``, ``monetary``, ``r_score``/``f_score``/``m_score`` (None without an order in
    the window), ``segment``, the 90/7-day windows, ``as_of`` (ISO day), ``breakpoints_as_of`` (the day of the
    RFM breakpoints used, or 'default') and ``rfm_window_days``. Money stays ``Decimal`` (printed as strings, like
    the stored item's)."""
    from stream.items import features_map, is_customer

    if not is_customer(item):
        return dict(item)
    day = as_of or default_as_of(item)
    derived = customer_features(settings, item, day)
    values = features_map(derived)
    return {**item, "derived": {"as_of": day.isoformat(), **{name: values.get(name) for name in TIME_DEPENDENT},
                                "breakpoints_as_of": derived.breakpoints_as_of,
                                "rfm_window_days": derived.rfm_window_days}}


def default_as_of(item: dict[str, Any]) -> date:
    """Today (UTC), or the day of the customer's last event when that is later."""
    from stream.items import state_from_item

    last_seen = state_from_item(item).last_seen_at
    return max(datetime.now(UTC).date(), last_seen.date() if last_seen else date.min)


def customer_features(settings: Settings, item: dict[str, Any], as_of: date) -> CustomerFeatures:
    """The features of a stored customer item derived at read time as of ``as_of`` (what ``lakehouse customer``
    shows), with the lake's rates and the RFM breakpoints the batch scored ``as_of`` with when its last build
    covered that day (``state/rfm_breakpoints_history.json``), else the latest published ones (a day after the
    last build's as-of day), else the stream's defaults before the first build.

    The same definition as the batch's ``fact_customer_metrics`` of that day (docs/rfm.md), as long as the day's
    window lies inside the orders the item holds (``retention_days`` ending on its last event's day).
    ``ValueError`` for an item merged into another customer's.
    """
    return derivation(settings, as_of)(item)


def derivation(settings: Settings, as_of: date) -> Callable[[dict[str, Any]], CustomerFeatures]:
    """:func:`customer_features` for many items as of one day: the rates and breakpoints are read once."""
    from lakehouse.core.rfm_breakpoints import breakpoints_of_day, load_breakpoints
    from stream.features import FeatureConfig
    from stream.items import features_as_of
    from stream.reference import load_rates, no_rates
    from stream.rfm import DEFAULT_BREAKPOINTS

    money = settings.money
    rates = load_rates(settings) or no_rates(money.reporting_currency, money.max_rate_age_days)
    breakpoints = breakpoints_of_day(settings, as_of) or load_breakpoints(settings) or DEFAULT_BREAKPOINTS
    config = FeatureConfig(retention_days=settings.stream.retention_days)
    return lambda item: features_as_of(item, breakpoints, config, as_of, rates)


def stored_item(settings: Settings, customer_id: str) -> dict[str, Any]:
    """The customer's item in the feature table, as Python values, with the ML stage's ``scores`` from the scores
    table when the customer has them (``ml/serving.py``); UserError when there is no feature item."""
    from boto3.dynamodb.types import TypeDeserializer

    from lakehouse.core.aws.clients import aws_client

    answer = aws_client("dynamodb", region=settings.region).get_item(
        TableName=settings.names.features_table, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True)
    if "Item" not in answer:
        from lakehouse.core.erasure import load_suppression
        from lakehouse.core.lake.storage import LakeStorage

        if load_suppression(LakeStorage(settings.lake, region=settings.region)).covers(customer_id):
            raise UserError(f"customer {customer_id!r} was erased (`lakehouse forget`): the lakehouse keeps nothing "
                            "of them")
        raise UserError(f"no live features for customer {customer_id!r} yet (is `lakehouse stream` running?)")
    from ml.serving import read_live_scores

    deserializer = TypeDeserializer()
    item = {k: deserializer.deserialize(v) for k, v in answer["Item"].items()}
    scores = None if item.get("merged_into") else read_live_scores(settings, customer_id)
    if scores is not None:
        item["scores"] = scores
    return item


def customer_table(settings: Settings, customer_id: str, item: dict[str, Any] | None = None,
                   as_of: date | None = None) -> tuple[Table, str]:
    """A customer's live features as stored and derived as of ``as_of`` (default: today, or the day of the
    customer's last event when that is later), and a note on their provenance."""
    from stream.items import features_map

    item = item if item is not None else stored_item(settings, customer_id)
    if item.get("merged_into"):
        table = Table(title=f"customer {customer_id}", show_edge=False)
        table.add_column("identity")
        when = item.get("merged_at") or item.get("updated_at", "")
        table.add_row(f"merged into {item['merged_into']} (identity stitching), {when}")
        return table, f"look up {item['merged_into']} for the features"
    stored = item.get("features", {})
    heading = f"derived as of {as_of.isoformat()}" if as_of else ""
    if as_of is None:
        as_of = default_as_of(item)
        heading = f"derived as of today ({as_of.isoformat()})"
    derived = customer_features(settings, item, as_of)
    now = features_map(derived)
    table = Table(title=f"customer {customer_id}", show_edge=False)
    table.add_column("feature")
    table.add_column(f"stored, at last event ({stored.get('as_of', '-')})", justify="right")
    table.add_column(heading, justify="right")
    for name in ("last_seen_at", "first_order_at", "last_order_at", "orders", "order_total", "revenue", "refunds",
                 "avg_order_value", "orders_90d", "revenue_90d", "views_7d", "carts_7d", "open_tickets",
                 "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment",
                 "cancelled_orders", "duplicate_orders", "unconverted_orders", "merged_ids"):
        later = _value(now.get(name)) if name in TIME_DEPENDENT else ""
        table.add_row(name.replace("_", " "), _value(stored.get(name)), later)
    scores = item.get("scores") or {}
    if scores:  # the ML scoring run's map (ml/serving.py), as of its cutoff
        table.add_section()
        for name in ("churn_probability", "purchase_probability", "predicted_clv", "risk_band"):
            table.add_row(name.replace("_", " "), _value(scores.get(name)), f"scored as of {scores.get('cutoff', '-')}")
        for number, reason in enumerate(scores.get("reasons") or [], start=1):
            table.add_row(f"reason {number}", str(reason), "")
    note = (f"updated {item.get('updated_at', '-')} by micro-batch {item.get('last_batch', '-')}; "
            f"RFM breakpoints: {derived.breakpoints_as_of} (window {derived.rfm_window_days} days; "
            f"segments: docs/rfm.md); money in {derived.reporting_currency}")
    return table, note
