"""``lakehouse forget CUSTOMER_ID``: erase a person everywhere the local lakehouse keeps data (docs/erasure.md)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from lakehouse.local.cli.common import UserError, attach_running_emulator, console, friendly_errors, load_settings


def record_table(document: dict) -> Table:
    """One row per store the erasure touched, with its counts."""
    table = Table(title=f"erasure {document['erasure_id']}", show_edge=False, title_justify="left")
    table.add_column("store")
    table.add_column("what went", justify="left")
    for store, counts in sorted(document["stores"].items()):
        table.add_row(store, ", ".join(f"{name.replace('_', ' ')} {value:,}" for name, value in counts.items()))
    return table


@friendly_errors
def forget(
    customer_id: str = typer.Argument(..., help="the customer's id (user id, or any id stitched to them)"),
    requested_by: str = typer.Option(..., "--requested-by",
                                     help="who asked: a ticket or an operator (kept in the erasure record; "
                                          "never the person's own details)"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation (the erasure cannot be undone)"),
) -> None:
    """Erase CUSTOMER_ID's person (every id stitched to them, their e-mail hashes) from the raw zone, quarantine,
    curated zone, star builds, streaming state, warehouse, DynamoDB items and scores; keep their ids out of later
    batches, streams and replays; write an erasure record without personal data."""
    from lakehouse.local.forget import assess_forget
    from lakehouse.local.forget import forget as run_forget

    settings = load_settings()
    if not customer_id.strip():
        raise UserError("give the id of the customer to forget")
    if not requested_by.strip():
        raise UserError("--requested-by: say who asked for the erasure (a ticket or an operator, not the person)")
    try:  # checked before asking: confirming the erasure of a product's id, then being refused, helps nobody
        target = assess_forget(settings, customer_id)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if target.erased_before:
        console.print(f"{escape(repr(customer_id))} was erased before, and no record holds it as a person's id "
                      "since: nothing to rewrite (records merely mentioning it are other people's)")
    elif not yes and not typer.confirm(f"erase customer {customer_id!r} ({len(target.subject.ids)} id(s) stitched to "
                                       f"them) from {settings.home}? this cannot be undone"):
        raise typer.Exit(1)
    endpoint = attach_running_emulator(settings)
    try:
        record = run_forget(settings, customer_id, requested_by, dynamodb=endpoint is not None,
                            on_progress=lambda step: console.print(f"[dim]{step}[/]"))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    document = record.document()
    console.print(record_table(document))
    if not any(count for counts in document["stores"].values() for count in counts.values()):
        console.print(f"[yellow]nothing of {escape(repr(customer_id))} was found[/] (a typo? a person erased "
                      "before?); the id is on the suppression list all the same: their records will be dropped")
    if endpoint is None:
        console.print("DynamoDB: no embedded AWS is running (its tables live in its memory: nothing kept)")
    for store, why in document["not_erased"].items():
        console.print(f"[yellow]not erased[/] {store}: {why}")
    console.print(f"erasure record: {settings.lake.uri(record.key())}")
