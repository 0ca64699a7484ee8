"""``lakehouse schemas`` and ``lakehouse validate``: the event contract from the command line."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import typer
from rich.markup import escape

from lakehouse.core.contract import ContractError, parse_event
from lakehouse.core.contract.schemas import SCHEMA_DIR, write_schemas
from lakehouse.local.cli.common import UserError, console, friendly_errors


@friendly_errors
def schemas(
    out: Path = typer.Option(SCHEMA_DIR, help="directory to write the JSON Schema files into"),
) -> None:
    """Export the contract's JSON Schema files (one per call type and domain event)."""
    written = write_schemas(out)
    console.print(f"wrote {len(written)} JSON Schema files to {out}")


@friendly_errors
def validate(
    path: Path = typer.Argument(..., help="a .jsonl or .jsonl.gz file of events"),
    show: int = typer.Option(10, help="how many rejected lines to print"),
) -> None:
    """Validate every line of a JSON-lines file against the contract and report the rejects."""
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    opener = gzip.open if path.suffix == ".gz" else open
    accepted = rejected = 0
    number = 0
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    parse_event(json.loads(line))
                    accepted += 1
                except (ContractError, json.JSONDecodeError) as exc:
                    rejected += 1
                    if rejected <= show:
                        console.print(f"[red]line {number}[/]: {escape(str(exc))}")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        kind = "gzip-compressed UTF-8" if opener is gzip.open else "UTF-8"
        raise UserError(f"{path}: cannot be read as {kind} JSON lines after line {number} ({exc})") from None
    console.print(f"{accepted} valid, {rejected} rejected")
    if rejected:
        raise typer.Exit(1)
