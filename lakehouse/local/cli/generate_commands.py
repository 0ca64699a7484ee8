"""``lakehouse generate`` and ``lakehouse load-cdnow``: event data sets to replay through the pipeline."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Group
from rich.table import Table

from lakehouse.local import generator
from lakehouse.local.cli.common import UserError, console, friendly_errors, load_settings, progress_bar
from lakehouse.local.generator import ConfigError, GenerationReport, GeneratorConfig
from lakehouse.local.generator.config import MAX_CUSTOMERS, MAX_DAYS, MAX_SPEC_SCALE

DEFAULTS = GeneratorConfig()


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"  # pragma: no cover


def summary(report: GenerationReport) -> Group:
    """Events per name, then files, sizes and speed."""
    events = Table(title="events by name", show_edge=False)
    events.add_column("event")
    events.add_column("count", justify="right")
    events.add_column("share", justify="right")
    total = max(report.total_events, 1)
    for name, count in report.counts.items():
        events.add_row(name, f"{count:,}", f"{count / total:.1%}")
    totals = Table(show_edge=False, show_header=False)
    totals.add_column(style="bold")
    totals.add_column()
    rows = [
        ("written to", str(report.out_dir)),
        ("events", f"{report.total_events:,}"),
        ("customers", f"{report.customers:,}"),
        ("time span", f"{report.first_timestamp} .. {report.last_timestamp}"),
        ("files", f"{len(report.files):,} x at most {report.config['chunk_events']:,} events"),
        ("compressed", f"{_size(report.total_bytes)} ({report.bytes_per_event:,.1f} bytes/event)"),
        ("uncompressed",
         f"{_size(report.uncompressed_bytes)} ({report.uncompressed_bytes_per_event:,.1f} bytes/event)"),
        ("time", f"{report.elapsed_s:,.1f} s ({report.events_per_second:,.0f} events/s)"),
    ]
    for label, value in rows:
        totals.add_row(label, value)
    return Group(events, "", totals)


def _default_dir(leaf: str) -> Path:
    return load_settings().home / "data" / leaf


@friendly_errors
def generate(
    customers: int = typer.Option(None, min=1, max=MAX_CUSTOMERS,
                                  help=f"customers to simulate (default {DEFAULTS.customers:,})"),
    days: int = typer.Option(DEFAULTS.days, min=1, max=MAX_DAYS, help="days to simulate"),
    seed: int = typer.Option(DEFAULTS.seed, min=0, help="random seed: same seed and options, same bytes"),
    start: datetime = typer.Option(datetime.combine(DEFAULTS.start, datetime.min.time()), formats=["%Y-%m-%d"],
                                   show_default=DEFAULTS.start.isoformat(), help="first day (YYYY-MM-DD)"),
    out: Path = typer.Option(None, help="output directory (default <home>/data/generated)"),
    events: int = typer.Option(None, min=1, help="size the customer count to make about this many events"),
    chunk_events: int = typer.Option(DEFAULTS.chunk_events, min=1, help="events per output file"),
    streaming_share: float = typer.Option(DEFAULTS.streaming_share, min=0.0, max=1.0,
                                          help="share of customers using the streaming app"),
    gzip_level: int = typer.Option(DEFAULTS.gzip_level, min=0, max=9, help="gzip compression level"),
    spec_scale: float = typer.Option(DEFAULTS.spec_scale, min=0.0, max=MAX_SPEC_SCALE,
                                     help="x the rates of the Segment spec variety (screen, group, alias, journeys, "
                                          "EUR/GBP, order shapes...); 0 = page/identify/track only"),
) -> None:
    """Generate synthetic customer events (chunked gzip JSON lines, manifest.json, ground truth)."""
    if customers is not None and events is not None:
        raise UserError("give either --customers or --events, not both")
    out = out or _default_dir("generated")
    try:
        config = GeneratorConfig(seed=seed, customers=customers or DEFAULTS.customers, start=start.date(), days=days,
                                 chunk_events=chunk_events, streaming_share=streaming_share, gzip_level=gzip_level,
                                 spec_scale=spec_scale)
        if events is not None:
            with console.status("measuring events per customer on a pilot run"):
                rate = generator.events_per_customer(config)
                config = replace(config, customers=generator.customers_for_events(events, config))
            console.print(f"{events:,} events ≈ {config.customers:,} customers "
                          f"({rate:,.1f} events per customer over {days} days)")
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    with progress_bar() as progress:
        task = progress.add_task("simulating days", total=config.days)
        report = generator.generate(config, out, lambda done, total: progress.update(task, completed=done))
    console.print(summary(report))


@friendly_errors
def load_cdnow(
    out: Path = typer.Option(None, help="output directory (default <home>/data/cdnow)"),
    chunk_events: int = typer.Option(DEFAULTS.chunk_events, min=1, help="events per output file"),
) -> None:
    """Write the real CDNOW purchase log (69,659 orders, 23,570 customers) as Order Completed events."""
    out = out or _default_dir("cdnow")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    with progress_bar() as progress:
        task = progress.add_task("replaying CDNOW orders", total=None)
        try:
            report = generator.load_cdnow(out, chunk_events=chunk_events,
                               on_progress=lambda done, total: progress.update(task, completed=done, total=total))
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None
    console.print(summary(report))
