"""``lakehouse demo``: run the whole local pipeline on the embedded defaults (then, if asked, serve the dashboard)."""

from __future__ import annotations

import signal
from datetime import datetime

import typer

from lakehouse.local.aws.embedded import EmbeddedAwsError, stop_detached
from lakehouse.local.cli.common import UserError, console, err_console, friendly_errors, load_settings
from lakehouse.local.cli.dashboard_commands import serve
from lakehouse.local.dashboard_server import DEFAULT_PORT
from lakehouse.local.demo import Demo, DemoError, DemoOptions, demo_settings
from lakehouse.local.generator import ConfigError
from lakehouse.local.signals import Stopped, stop_on_signals

DEFAULTS = DemoOptions()


@friendly_errors
def demo(
    customers: int = typer.Option(DEFAULTS.customers, min=1, help="customers to simulate"),
    days: int = typer.Option(DEFAULTS.days, min=1, max=3660, help="days to simulate"),
    seed: int = typer.Option(DEFAULTS.seed, min=0, help="random seed of the data set"),
    start: datetime = typer.Option(datetime.combine(DEFAULTS.start, datetime.min.time()), formats=["%Y-%m-%d"],
                                   show_default=DEFAULTS.start.isoformat(), help="first simulated day (YYYY-MM-DD)"),
    keep_running: bool = typer.Option(True, help="leave the embedded AWS running to explore the results"),
    dashboard: bool = typer.Option(False, "--dashboard/--no-dashboard",
                                   help="serve the web dashboard after the demo until Ctrl-C (default: print the "
                                        "command that serves it, so the demo ends by itself)"),
    dashboard_port: int = typer.Option(DEFAULT_PORT, min=0, max=65535, help="the dashboard's port (--dashboard)"),
    dataset: str = typer.Option(DEFAULTS.dataset, help="generated (the generator's events: --customers, --days, "
                                "--seed, --start) or cdnow (the real CDNOW purchase log, in <home>/demo-cdnow)"),
) -> None:
    """Run the whole pipeline locally: embedded AWS, generated events (or the CDNOW log), and every stage after
    them."""
    try:
        settings = demo_settings(load_settings(), dataset)
    except DemoError as exc:
        raise UserError(str(exc)) from None
    # the dashboard's real-time page reads the emulator: it runs while the dashboard does, and stops after it
    # unless --keep-running
    options = DemoOptions(customers=customers, days=days, seed=seed, start=start.date(),
                          keep_running=keep_running or dashboard, dashboard=dashboard, dataset=dataset)
    runner = Demo(settings, options, console)
    try:
        with stop_on_signals():  # SIGTERM, SIGINT, SIGHUP: the demo stops what it started (Demo.run)
            runner.run()
        if dashboard:
            stop = serve(settings, port=dashboard_port)
            if stop is not None and stop.signum != signal.SIGINT:  # Ctrl-C is how serving ends; others kill
                runner.stop_what_it_started()
                raise stop
    except (ConfigError, EmbeddedAwsError, DemoError) as exc:
        raise UserError(str(exc)) from None
    except Stopped as stop:
        err_console.print(f"demo stopped by {stop}")
        raise typer.Exit(stop.exit_code) from None
    finally:
        if dashboard and not keep_running:
            stop_detached(settings.run_dir)
    if keep_running:
        prefix = f"LAKEHOUSE_HOME={settings.home} " if dataset != DEFAULTS.dataset else ""
        console.print(f"embedded AWS is still running: explore with `{prefix}lakehouse status`, stop with "
                      f"`{prefix}lakehouse down`", soft_wrap=True)
