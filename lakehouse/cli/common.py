"""What every CLI command shares: the console, settings, and errors shown without tracebacks."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lakehouse.aws.embedded import export_endpoint, running_emulator
from lakehouse.config import Settings

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """A mistake the user can fix (bad option, missing input, nothing running): printed, exit code 2."""


def friendly_errors(func: F) -> F:
    """Turn :class:`UserError` and configuration errors into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            err_console.print(f"[bold red]configuration error:[/] {details}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def load_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def attach_running_emulator(settings: Settings) -> str | None:
    """Use the emulator ``lakehouse up`` started, unless ``AWS_ENDPOINT_URL`` is set already."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    state = running_emulator(settings.run_dir)
    if state is None:
        return None
    export_endpoint(state.endpoint, settings.region)
    return state.endpoint


def progress_bar(transient: bool = False) -> Progress:
    """The progress bar every long command uses."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )
