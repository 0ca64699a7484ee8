"""``lakehouse demo``: run the whole local pipeline on the embedded defaults."""

from __future__ import annotations

from datetime import datetime

import typer

from lakehouse.local.aws.embedded import EmbeddedAwsError
from lakehouse.local.cli.common import UserError, console, friendly_errors, load_settings
from lakehouse.local.demo import Demo, DemoError, DemoOptions
from lakehouse.local.generator import ConfigError

DEFAULTS = DemoOptions()


@friendly_errors
def demo(
    customers: int = typer.Option(DEFAULTS.customers, min=1, help="customers to simulate"),
    days: int = typer.Option(DEFAULTS.days, min=1, max=3660, help="days to simulate"),
    seed: int = typer.Option(DEFAULTS.seed, min=0, help="random seed of the data set"),
    start: datetime = typer.Option(datetime.combine(DEFAULTS.start, datetime.min.time()), formats=["%Y-%m-%d"],
                                   help="first simulated day (YYYY-MM-DD)"),
    keep_running: bool = typer.Option(True, help="leave the embedded AWS running to explore the results"),
) -> None:
    """Run the whole pipeline locally: embedded AWS, generated events, and every stage after them."""
    settings = load_settings()
    options = DemoOptions(customers=customers, days=days, seed=seed, start=start.date(), keep_running=keep_running)
    try:
        Demo(settings, options, console).run()
    except (ConfigError, EmbeddedAwsError, DemoError) as exc:
        raise UserError(str(exc)) from None
    if keep_running:
        console.print("embedded AWS is still running: explore with `lakehouse status`, stop with `lakehouse down`")
