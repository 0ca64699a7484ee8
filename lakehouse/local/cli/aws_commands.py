"""``lakehouse up | down | status | env``: the embedded AWS emulator and its resources."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from lakehouse.local.aws.embedded import (
    DUMMY_CREDENTIALS,
    EmbeddedAwsError,
    EmulatorState,
    export_endpoint,
    journal_file,
    running_emulator,
    start_detached,
    state_file,
    stop_detached,
)
from lakehouse.local.aws.provision import Provisioned, provision
from lakehouse.local.cli.common import UserError, console, friendly_errors, load_settings


def _provision_table(report: list[Provisioned]) -> Table:
    """The provisioning report as a table (created in green, existing dimmed)."""
    table = Table(title="resources", show_edge=False)
    for column in ("kind", "name", "status", "detail"):
        table.add_column(column)
    for item in report:
        colour = "green" if item.status == "created" else "dim"
        table.add_row(item.kind, item.name, f"[{colour}]{item.status}[/]", item.detail)
    return table


@friendly_errors
def up(
    port: int = typer.Option(None, help="port for the emulator (default: LAKEHOUSE_MOTO_PORT or a free one)"),
    shards: int = typer.Option(None, help="Kinesis shards (default: LAKEHOUSE_KINESIS_SHARDS)"),
    persist: bool | None = typer.Option(
        None, help="replay the emulator's journal (<home>/run/aws-journal.jsonl) and keep journaling into it, so a "
                   "restart, even after a crash, loses nothing (default: LAKEHOUSE_MOTO_PERSIST, false; a home "
                   "with a journal keeps it until `lakehouse down --reset`)"),
) -> None:
    """Start the embedded AWS emulator (unless AWS_ENDPOINT_URL is set) and provision every resource."""
    settings = load_settings(moto_port=port, kinesis_shards=shards, moto_persist=persist)
    if persist is False and journal_file(settings.run_dir).is_file():
        raise UserError(f"{journal_file(settings.run_dir)} holds the state of an emulator started with --persist: "
                        "`lakehouse up` brings it back, `lakehouse down --reset` deletes it")
    external = os.environ.get("AWS_ENDPOINT_URL")
    if external:
        endpoint = external
        console.print(f"using AWS_ENDPOINT_URL={endpoint} (no emulator started)")
    else:
        try:
            state, started = start_detached(settings.run_dir, settings.moto_port, settings.moto_persist)
        except EmbeddedAwsError as exc:
            raise UserError(str(exc)) from None
        endpoint = state.endpoint
        export_endpoint(endpoint, settings.region)
        verb = "started" if started else "already running"
        console.print(f"embedded AWS (moto) {verb}: {endpoint} (pid {state.pid})")
    console.print(_provision_table(provision(settings)))
    console.print("other shells: [bold]eval $(lakehouse env)[/]  ·  stop with [bold]lakehouse down[/]")


@friendly_errors
def down(
    reset: bool = typer.Option(False, help="also delete the emulator's journal: the next `lakehouse up` starts "
                                           "empty"),
) -> None:
    """Stop the emulator `lakehouse up` started (only that process). Its state comes back on the next `up` only
    when it kept a journal (`up --persist` or LAKEHOUSE_MOTO_PERSIST=true); otherwise it is gone."""
    settings = load_settings()
    journaled = journal_file(settings.run_dir).is_file()
    stopped = stop_detached(settings.run_dir, reset=reset)
    if stopped:
        console.print(f"stopped embedded AWS (pid {stopped.pid}, {stopped.endpoint})")
        if not journaled:
            console.print("it kept no journal: its streams, tables and buckets are gone (`lakehouse up` starts "
                          "empty; `--persist` keeps them across restarts)")
    else:
        console.print("no embedded AWS of ours is running")
    if reset and journaled:
        console.print("its journal is deleted: the next `lakehouse up` starts empty (events on its stream that "
                      "`lakehouse archive` had not landed in the raw zone are gone with it)")


@friendly_errors
def status() -> None:
    """Show which AWS endpoint the lakehouse uses and the configured resource names."""
    settings = load_settings()
    state = running_emulator(settings.run_dir)
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or (state.endpoint if state else None)
    where = endpoint or "AWS (no endpoint override)"
    console.print(f"endpoint: [bold]{where}[/]" + (f"  (pid {state.pid})" if state else ""))
    recorded = None if state else EmulatorState.load(state_file(settings.run_dir))
    if endpoint is None and recorded is None:  # the home is relative: another directory is another home
        console.print(f"no embedded AWS was started in the home {settings.home.resolve()}: `lakehouse up` starts "
                      "one there; LAKEHOUSE_HOME names another home")
    if recorded:  # `lakehouse up` started one that is gone (killed, crashed, the machine restarted)
        journal = journal_file(settings.run_dir)
        kept = (f"with the state its journal kept ({journal.stat().st_size / 2**20:,.1f} MiB)" if journal.is_file()
                else "empty (it kept no journal: LAKEHOUSE_MOTO_PERSIST=true keeps one)")
        console.print(f"[yellow]the embedded AWS started at {recorded.endpoint} (pid {recorded.pid}) is not "
                      f"running[/]: `lakehouse up` starts it again, {kept}; `lakehouse down` forgets it")
    table = Table(show_edge=False, show_header=False)
    table.add_row("home", str(settings.home.resolve()))
    table.add_row("stage", settings.stage)
    table.add_row("region", settings.region)
    table.add_row("lake root", settings.lake.root_uri)
    for field, value in settings.names.model_dump().items():
        table.add_row(field, value)
    console.print(table)


@friendly_errors
def env() -> None:
    """Print shell exports that point other tools at the running emulator: eval $(lakehouse env)."""
    settings = load_settings()
    state = running_emulator(settings.run_dir)
    if state is None:
        raise UserError("no embedded AWS is running; start it with `lakehouse up`")
    values = {"AWS_ENDPOINT_URL": state.endpoint, "AWS_DEFAULT_REGION": settings.region, **DUMMY_CREDENTIALS}
    for key, value in values.items():
        typer.echo(f"export {key}={value}")
