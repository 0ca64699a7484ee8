"""``lakehouse batch`` (raw -> curated -> star -> warehouse) and ``lakehouse sql`` (query the local warehouse)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import typer
from botocore.exceptions import ClientError
from rich.table import Table

from lakehouse.core.spark import local_spark
from lakehouse.local.cli.common import (
    UserError,
    attach_running_emulator,
    console,
    friendly_errors,
    load_settings,
    progress_bar,
)

STEP_NAMES = ("curated", "star", "warehouse")


def _report_table(report) -> Table:
    """A :class:`BatchReport` as a (step, measure, value) table."""
    table = Table(title="batch run", show_edge=False)
    for column in ("step", "measure", "value"):
        table.add_column(column, overflow="fold")
    for step, measure, value in report.rows():
        table.add_row(step, measure, value)
    return table


@friendly_errors
def batch(
    step: list[str] = typer.Option(None, "--step", "-s",
                                   help="run only this step: curated, star or warehouse (repeatable)"),
    catalog: bool = typer.Option(None, "--catalog/--no-catalog",
                                 help="register curated tables in the Glue Data Catalog "
                                      "(default: when an AWS endpoint or emulator is running)"),
    force: bool = typer.Option(False, "--force", help="rebuild the star schema and reload even if unchanged"),
    target: str = typer.Option(None, "--target", help="warehouse target: duckdb (default) or redshift"),
) -> None:
    """Run the batch chain: new raw data -> curated Parquet -> star schema -> warehouse."""
    steps = tuple(step or STEP_NAMES)
    unknown = sorted(set(steps) - set(STEP_NAMES))
    if unknown:
        raise UserError(f"unknown step {', '.join(unknown)}; choose from {', '.join(STEP_NAMES)}")
    if target not in (None, "duckdb", "redshift"):
        raise UserError(f"unknown target {target!r}; choose duckdb or redshift")
    settings = load_settings(warehouse_target=target)
    endpoint = attach_running_emulator(settings)
    use_catalog = bool(endpoint) if catalog is None else catalog

    from lakehouse.core.warehouse import WarehouseError
    from lakehouse.local.batch import BatchStepFailed, run_batch

    with progress_bar() as bar:
        boot = bar.add_task("starting Spark", total=1)
        tasks = {name: bar.add_task(f"{name}: waiting", total=1) for name in STEP_NAMES if name in steps}
        spark = local_spark("lakehouse-batch")
        bar.update(boot, completed=1)

        def on_progress(name: str, what: str, done: int, total: int) -> None:
            bar.update(tasks[name], description=f"{name}: {what}", completed=done, total=total)

        try:
            report = run_batch(settings, spark, steps=steps, catalog=use_catalog, force=force,
                               on_progress=on_progress)
        except BatchStepFailed as exc:  # one readable line, never a JVM stack trace
            cause = exc.__cause__
            if isinstance(cause, WarehouseError):
                raise UserError(str(cause)) from None
            if isinstance(cause, ClientError):
                raise UserError(f"AWS refused a call ({cause}); is the emulator provisioned (`lakehouse up`)? "
                                "Run with --no-catalog to skip the Glue Data Catalog.") from None
            raise UserError(str(exc)) from None
        for name, task in tasks.items():
            bar.update(task, description=f"{name}: done", completed=bar.tasks[task].total)
    console.print(_report_table(report))


def _cell(value) -> str:
    if value is None:
        return "[dim]NULL[/]"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value == value else "NaN"
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


@friendly_errors
def sql(
    query: str = typer.Argument(..., help="SQL to run on the local warehouse (DuckDB dialect by default)"),
    redshift: bool = typer.Option(False, "--redshift", help="the query is in the Redshift dialect: transpile it so "
                                  "it gives Redshift's answers (7/2 = 3, TRUNC(timestamp) a date; docs/batch.md)"),
    limit: int = typer.Option(100, min=1, help="show at most this many rows"),
) -> None:
    """Query the local warehouse and print the result as a table."""
    from lakehouse.core.warehouse import WarehouseError
    from lakehouse.core.warehouse.query import run_query

    settings = load_settings()
    try:
        result = run_query(settings.warehouse_path, query, limit=limit,
                           dialect="redshift" if redshift else "duckdb")
    except WarehouseError as exc:
        raise UserError(str(exc)) from None
    if not result.columns:
        console.print("OK")
        return
    table = Table(show_edge=False)
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)
    shown = f"{len(result.rows)} row(s)" + (f" (first {limit}; more exist)" if result.truncated else "")
    console.print(f"[dim]{shown}[/]")
