"""``lakehouse dashboard``: serve the local web dashboard until Ctrl-C or SIGTERM."""

from __future__ import annotations

from pathlib import Path

import typer

from lakehouse.core.config import Settings
from lakehouse.local.cli.common import UserError, attach_running_emulator, console, friendly_errors, load_settings
from lakehouse.local.dashboard_server import DEFAULT_HOST, DEFAULT_PORT, DashboardError, DashboardServer
from lakehouse.local.signals import Stopped, stop_on_signals


def serve(settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          entry: Path | None = None) -> Stopped | None:
    """Start the dashboard, print its URL, and block until Ctrl-C / SIGTERM (then stop it: the normal end); returns
    the stop signal it ended with.

    Raises :class:`UserError` when it cannot start (no warehouse, port taken: :class:`DashboardError`) or when
    it stops by itself.
    """
    server = DashboardServer(settings, host=host, port=port, entry=entry)
    try:
        with stop_on_signals():
            with server as url:
                console.print(f"dashboard at [bold]{url}[/] (warehouse: {_warehouse(settings)}); "
                              "Ctrl-C stops it", highlight=False, soft_wrap=True)
                code = server.wait()
            raise UserError(f"the dashboard stopped by itself (exit code {code}); see {server.log_path}")
    except Stopped as stop:
        console.print("dashboard stopped")
        return stop
    except DashboardError as exc:
        raise UserError(str(exc)) from None
    return None


def _warehouse(settings: Settings) -> str:
    if settings.warehouse_target == "redshift":
        return f"Redshift {settings.redshift.host}/{settings.redshift.database}"
    return str(settings.warehouse_path)


@friendly_errors
def dashboard(
    port: int = typer.Option(DEFAULT_PORT, min=0, max=65535, help="port to listen on (0: any free port)"),
    host: str = typer.Option(DEFAULT_HOST, help="address to listen on (0.0.0.0: every interface)"),
    target: str = typer.Option(None, "--target",
                               help="warehouse: duckdb (default) or redshift (LAKEHOUSE_REDSHIFT__*)"),
    app_script: Path = typer.Option(None, "--app", hidden=True, exists=True, dir_okay=False,
                                    help="serve this Streamlit script instead (development and tests)"),
) -> None:
    """Serve the web dashboard (Streamlit) over the warehouse until Ctrl-C."""
    if target not in (None, "duckdb", "redshift"):
        raise UserError(f"unknown target {target!r}; choose duckdb or redshift")
    settings = load_settings(warehouse_target=target)
    attach_running_emulator(settings)  # the real-time page reads the live features from the emulator, when up
    serve(settings, host=host, port=port, entry=app_script)
