"""The ``lakehouse`` CLI: one entry point for the local runtime."""

from __future__ import annotations

import typer

from lakehouse.local.cli import (
    aws_commands,
    batch_commands,
    contract_commands,
    cost_commands,
    dashboard_commands,
    demo_command,
    forget_command,
    generate_commands,
    ingest_commands,
    ml_commands,
    rates_commands,
    stream_commands,
)

app = typer.Typer(
    name="lakehouse",
    help="Customer Lakehouse: run the whole pipeline locally, or operate it on AWS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command()(aws_commands.up)
app.command()(aws_commands.down)
app.command()(aws_commands.status)
app.command()(aws_commands.env)
app.command("schemas")(contract_commands.schemas)
app.command("validate")(contract_commands.validate)
app.command("generate")(generate_commands.generate)
app.command("load-cdnow")(generate_commands.load_cdnow)
app.command("demo")(demo_command.demo)
app.command("serve")(ingest_commands.serve)
app.command("post")(ingest_commands.post)
app.add_typer(ingest_commands.keys_app, name="keys")
app.add_typer(rates_commands.rates_app, name="rates")

app.command("batch")(batch_commands.batch)
app.command("sql")(batch_commands.sql)
app.command("dashboard")(dashboard_commands.dashboard)

app.command("stream")(stream_commands.stream)
app.command("archive")(stream_commands.archive)
app.command("customer")(stream_commands.customer)

app.add_typer(ml_commands.ml_app, name="ml")
app.command("cost")(cost_commands.cost)
app.command("forget")(forget_command.forget)

if __name__ == "__main__":
    app()
