"""``lakehouse cost``: the monthly AWS bill and $ per million events of a stage at a steady rate (infra/cost.py)."""

from __future__ import annotations

import typer
from rich.table import Table

from lakehouse.core.contract.limits import MAX_BATCH_EVENTS, MAX_EVENT_BYTES
from lakehouse.local.cli.common import UserError, console, friendly_errors

#: the highest steady rate priced, events/s: a thousand times the prod profile's sizing point
MAX_RATE = 1_000_000.0


@friendly_errors
def cost(
    # bounded above too: infinity passes a lower bound, and the bill of an infinite rate is an overflow
    rate: float = typer.Option(1000.0, "--rate", min=0.001, max=MAX_RATE,
                               help=f"events per second, steady all month (at most {MAX_RATE:,.0f})"),
    events_per_request: float = typer.Option(10.0, "--events-per-request", min=1.0, max=MAX_BATCH_EVENTS,
                                             help="events per HTTP request (client batching; the API takes at most "
                                                  f"{MAX_BATCH_EVENTS:,})"),
    event_kb: float = typer.Option(1.0, "--event-kb", min=0.01, max=MAX_EVENT_BYTES / 1024,
                                   help=f"KB of JSON per event (the API takes at most {MAX_EVENT_BYTES // 1024})"),
    stage: str = typer.Option("prod", "--stage", help="the stage whose profile is priced (prod, or dev for any "
                                                      "other name)"),
    context: list[str] = typer.Option([], "--context", "-c", metavar="KEY=VALUE",
                                      help="a profile field as `cdk deploy -c` sets it, e.g. -c kinesis_mode="
                                           "provisioned (repeatable)"),
    markdown: bool = typer.Option(False, "--markdown", help="print docs/cost-model.md (10, 100 and 1,000 ev/s for "
                                                            "both profiles) instead"),
) -> None:
    """Price a month of STAGE at RATE events/s from list prices and the CDK app's stage profile, per component."""
    from dataclasses import fields

    from infra.config import StageProfile, profile_for
    from infra.cost import Workload, bill
    from infra.cost_doc import document

    if markdown:
        print(document(), end="")
        return
    overrides = {}
    for item in context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--context {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value.strip()
    known = sorted(f.name for f in fields(StageProfile))
    if unknown := sorted(set(overrides) - set(known)):
        raise UserError(f"--context {', '.join(unknown)}: not a profile field; the fields are {', '.join(known)}")
    try:
        profile = profile_for(stage, overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    result = bill(stage, Workload(rate, events_per_request, event_kb), profile=profile)
    events_m = result.workload.events / 1e6
    named = stage if stage in ("prod", "dev") else f"{stage} (the dev profile: every stage but prod has it)"
    table = Table(title=f"{named} at {rate:,g} events/s ({events_m:,.1f} M events a month, "
                        f"{events_per_request:g} per request)")
    table.add_column("component")
    table.add_column("$ / month", justify="right")
    table.add_column("$ / M events", justify="right")
    table.add_column("basis", overflow="fold")
    for line in result.lines:
        table.add_row(line.component, f"{line.usd:,.2f}", f"{line.usd / events_m:,.4f}", line.basis)
    table.add_row("[bold]total", f"[bold]{result.total:,.2f}", f"[bold]{result.per_million:,.4f}", "")
    console.print(table)
    console.print("List prices (infra/cost.py PRICES, us-east-1); an estimate of the design as built, "
                  "not a measurement: docs/cost-model.md states the assumptions.")
