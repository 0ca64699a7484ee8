"""``lakehouse batch`` (raw -> curated -> star -> warehouse) and ``lakehouse sql`` (query the warehouse)."""

from __future__ import annotations

import base64
import csv
import json
import math
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TextIO

import typer
from botocore.exceptions import ClientError
from rich.table import Table
from rich.text import Text

from lakehouse.core.spark import local_spark
from lakehouse.local.cli.common import (
    UserError,
    attach_running_emulator,
    console,
    err_console,
    friendly_errors,
    load_settings,
    progress_bar,
)
from lakehouse.local.signals import stop_on_signals

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
    full: bool = typer.Option(False, "--full", help="rebuild the whole star schema from the curated zone and reload "
                              "every warehouse table (not incrementally)"),
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

    with stop_on_signals(), progress_bar() as bar:  # a stop signal: Spark stopped, one line, exit 128 + n
        boot = bar.add_task("starting Spark", total=1)
        tasks = {name: bar.add_task(f"{name}: waiting", total=1) for name in STEP_NAMES if name in steps}
        spark = local_spark("lakehouse-batch")
        bar.update(boot, completed=1)

        def on_progress(name: str, what: str, done: int, total: int) -> None:
            bar.update(tasks[name], description=f"{name}: {what}", completed=done, total=total)

        try:
            report = run_batch(settings, spark, steps=steps, catalog=use_catalog, force=force, full=full,
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
    if report.curated is not None and report.curated.skipped and endpoint:
        console.print("events posted to the API reach the raw zone through the raw archive: "
                      "`lakehouse archive --once` lands what is on the stream")


def _cell(value) -> str | Text:
    """A warehouse value as the table shows it; text as data (``Text``: no markup, no ``:emoji:`` codes)."""
    if value is None:
        return "[dim]NULL[/]"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value == value else "NaN"
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return Text(str(value))


def _duration(value: timedelta) -> str:
    """An ISO 8601 duration: ``P<days>DT<seconds>S`` (``-P…`` when negative), seconds with their microseconds."""
    sign, value = ("-", -value) if value < timedelta(0) else ("", value)
    seconds = value.seconds + value.microseconds / 1_000_000
    return f"{sign}P{value.days}DT{seconds:g}S"


def _plain(value) -> str | None:
    """A value as text for csv and json: ``None`` for NULL; dates, times and intervals in ISO 8601; DECIMAL with
    every digit and no exponent; floats as Python's shortest round-trip text; booleans ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple | dict):
        return _json_value(value)
    return str(value)


def _json_value(value) -> str:
    """One JSON value: numbers stay numbers (a DECIMAL keeps its exact digits, NaN/infinity become ``null``),
    lists and structs nest, everything else is the string :func:`_plain` gives."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_json_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(_plain(value), ensure_ascii=False)


def write_csv(result, out: TextIO) -> None:
    """RFC 4180 CSV (the csv module's defaults: CRLF line ends, quotes where needed): a header, then one line
    per row; NULL is an empty field, as is an empty string (JSON keeps the two apart)."""
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_plain(v) for v in row])  # the csv module writes None as an empty field


def write_json(result, out: TextIO) -> None:
    """A JSON array with one object per row (``{column: value}``, in column order), one object a line."""
    lines = ["{" + ", ".join(f"{json.dumps(c, ensure_ascii=False)}: {_json_value(v)}"
                             for c, v in zip(result.columns, row, strict=True)) + "}" for row in result.rows]
    out.write("[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n")


FORMATS = ("table", "csv", "json")
TABLE_ROWS = 100  # rows a table shows unless --limit says otherwise (csv and json write every row)


@friendly_errors
def sql(
    query: str = typer.Argument(..., help="SQL to run on the warehouse (DuckDB dialect by default)"),
    redshift: bool = typer.Option(False, "--redshift", help="the query is in the Redshift dialect: transpile it so "
                                  "it gives Redshift's answers (7/2 = 3, TRUNC(timestamp) a date; docs/batch.md)"),
    limit: int = typer.Option(None, min=1, help=f"at most this many rows (default: {TABLE_ROWS} for a table, "
                              "every row for csv and json)"),
    output: str = typer.Option("table", "--format", "-f", help="table (for people), csv (RFC 4180, NULL empty) "
                               "or json (an array of objects): csv and json print nothing else on stdout"),
    target: str = typer.Option(None, "--target", help="warehouse: duckdb (default) or redshift "
                               "(LAKEHOUSE_REDSHIFT__*; the SQL is sent as written)"),
) -> None:
    """Query the warehouse and print the result as a table, CSV or JSON."""
    from lakehouse.core.warehouse import WarehouseError
    from lakehouse.core.warehouse.query import run_warehouse_query

    if output not in FORMATS:
        raise UserError(f"unknown format {output!r}; choose table, csv or json")
    if target not in (None, "duckdb", "redshift"):
        raise UserError(f"unknown target {target!r}; choose duckdb or redshift")
    settings = load_settings(warehouse_target=target)
    if settings.warehouse_target == "redshift":
        attach_running_emulator(settings)  # a secret_arn may live on the embedded Secrets Manager
    rows = limit or (TABLE_ROWS if output == "table" else None)
    try:
        result = run_warehouse_query(settings, query, limit=rows, dialect="redshift" if redshift else "duckdb")
    except WarehouseError as exc:
        raise UserError(str(exc)) from None
    more = f"first {rows} rows shown; more exist (raise --limit)"
    if output != "table":
        (write_csv if output == "csv" else write_json)(result, sys.stdout)
        sys.stdout.flush()
        if result.truncated:
            err_console.print(f"[yellow]note:[/] {more}")
        return
    if not result.columns:
        console.print("OK")
        return
    table = Table(show_edge=False)
    for column in result.columns:
        table.add_column(Text(column), overflow="fold")
    for row in result.rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)
    shown = f"{len(result.rows)} row(s)" + (f" ({more})" if result.truncated else "")
    console.print(f"[dim]{shown}[/]")
