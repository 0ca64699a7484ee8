"""What every CLI command shares: the console, settings, and errors shown without tracebacks."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lakehouse.core.config import Settings, unknown_env
from lakehouse.core.run_lock import CheckpointBusy
from lakehouse.local.aws.embedded import EmulatorState, export_endpoint, running_emulator, state_file
from lakehouse.local.signals import Stopped, ignoring_stop_signals, stop_child_processes, stop_spark

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """A mistake the user can fix (bad option, missing input, nothing running): printed, exit code 2."""


def friendly_errors(func: F) -> F:
    """Turn :class:`UserError`, configuration errors, an AWS refusal no command expected (botocore's
    ``ClientError``) and an AWS endpoint lost mid-command (its connection and timeout errors) into a one-line
    message and exit code 2; a stop signal (:class:`~lakehouse.local.signals.Stopped`) stops Spark and the
    processes the command started, says so in one line and exits 128 + the signal's number."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (UserError, CheckpointBusy) as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")  # ids in messages are text, not markup
            raise typer.Exit(2) from None
        except ClientError as exc:  # a refusal no command expected (a bad value, a missing permission)
            err_console.print(f"[bold red]error:[/] AWS refused the request: {escape(str(exc))}")
            raise typer.Exit(2) from None
        except BotoCoreError as exc:
            endpoint = os.environ.get("AWS_ENDPOINT_URL")
            hint = (f"; is {endpoint} running? `lakehouse up` starts the embedded AWS again, with its state"
                    if endpoint else "")
            err_console.print(f"[bold red]error:[/] AWS could not be reached ({exc}){hint}; run the command again "
                              "once it is back")
            raise typer.Exit(2) from None
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            err_console.print(f"[bold red]configuration error:[/] {details}")
            raise typer.Exit(2) from None
        except Stopped as stop:  # a stop signal inside the command's stop_on_signals (or a second one)
            with ignoring_stop_signals():
                stop_spark()
                stop_child_processes()  # Spark's JVM, if the signal came while it started
            err_console.print(f"stopped by {stop}: what each step committed stays committed; run the command "
                              "again to go on")
            raise typer.Exit(stop.exit_code) from None

    return wrapper  # type: ignore[return-value]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the options the user gave (``None``: not given) taking precedence;
    warns on stderr, once a process, of each ``LAKEHOUSE_*`` variable no setting reads (a typo changes nothing)."""
    _warn_unknown_env(tuple(sorted(os.environ)))
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@functools.cache
def _warn_unknown_env(names: tuple[str, ...]) -> None:
    for name, closest in unknown_env(dict.fromkeys(names, "")).items():
        hint = f" (did you mean {closest}?)" if closest else ""
        err_console.print(f"[yellow]warning:[/] {name} is not a lakehouse setting and changes nothing{hint}")


def attach_running_emulator(settings: Settings) -> str | None:
    """Use the emulator ``lakehouse up`` started, unless ``AWS_ENDPOINT_URL`` is set already; returns the endpoint,
    or None (AWS itself) when the home has none. Raises :class:`UserError` when the home's emulator is recorded but
    not running (killed, crashed)."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    state = running_emulator(settings.run_dir)
    if state is None:
        recorded = EmulatorState.load(state_file(settings.run_dir))
        if recorded is not None:  # crashed or killed: going on would talk to AWS itself, with the shell's credentials
            raise UserError(f"the embedded AWS this home started ({recorded.endpoint}, pid {recorded.pid}) is not "
                            "running: `lakehouse up` starts it again (with its journal, if it kept one); `lakehouse "
                            "down` forgets it, and commands then use AWS")
        return None
    export_endpoint(state.endpoint, settings.region)
    return state.endpoint


def require_resources(settings: Settings, table: str, what: str) -> str:
    """Attach to the running emulator (or AWS_ENDPOINT_URL, or AWS) and check the stream and ``table`` exist.

    Returns where the commands talk to ("AWS" or the endpoint); a missing resource or an unreachable
    endpoint is a :class:`UserError` that says to run ``lakehouse up``.
    """
    from lakehouse.core.aws.clients import aws_client

    endpoint = attach_running_emulator(settings)
    where = endpoint or "AWS"
    try:
        aws_client("kinesis", region=settings.region).describe_stream_summary(StreamName=settings.names.stream)
        aws_client("dynamodb", region=settings.region).describe_table(TableName=table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UserError(f"the {what} resources of stage '{settings.stage}' (stream {settings.names.stream}, "
                            f"table {table}) do not exist on {where}; run `lakehouse up` first") from None
        raise UserError(f"{where} refused the request: {exc}") from None
    except BotoCoreError as exc:
        hint = "start the embedded AWS with `lakehouse up`" if endpoint is None else f"is {endpoint} running?"
        raise UserError(f"no AWS endpoint is reachable ({exc}); {hint}") from None
    return where


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
