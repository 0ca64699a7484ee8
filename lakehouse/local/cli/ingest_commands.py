"""``lakehouse serve | keys | post``: the ingestion API on a laptop."""

from __future__ import annotations

import zlib
from pathlib import Path

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table

from lakehouse.core.config import Settings
from lakehouse.core.write_keys import WriteKeyError, WriteKeyStore
from lakehouse.local.cli.common import UserError, console, friendly_errors, load_settings, require_resources
from lakehouse.local.cli.common import progress_bar as make_progress_bar
from lakehouse.local.gateway import LocalGateway
from lakehouse.local.replay import ReplayError, api_is_up, count_events, post_files
from lambdas.ingest.app import INGEST_ROUTES

keys_app = typer.Typer(help="Create, list and revoke ingestion write keys (one source per key).",
                       no_args_is_help=True)


def require_aws(settings: Settings) -> str:
    """Attach to the emulator `lakehouse up` started (or AWS_ENDPOINT_URL) and check the resources exist."""
    return require_resources(settings, settings.names.write_keys_table, "ingestion")


def key_store(settings: Settings) -> WriteKeyStore:
    require_aws(settings)
    return WriteKeyStore(settings.names.write_keys_table, region=settings.region)


@friendly_errors
def serve(
    port: int = typer.Option(8080, min=0, max=65535, help="port to listen on (0 picks a free one)"),
    host: str = typer.Option("127.0.0.1", help="address to bind (keep it local)"),
    concurrency: int = typer.Option(4, min=1, max=64, help="function instances serving requests at once"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show the function's logs and each request"),
) -> None:
    """Run the ingestion API locally: a stand-in for API Gateway that invokes the real Lambda handler."""
    settings = load_settings()
    where = require_aws(settings)
    try:
        gateway = LocalGateway(settings, host=host, port=port, concurrency=concurrency, quiet=not verbose)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    console.print(f"ingestion API on [bold]{gateway.url}[/] (stage {settings.stage}, AWS: {where}, "
                  f"lake: {settings.lake.root_uri})")
    console.print(f"routes: POST {' '.join(INGEST_ROUTES)} · GET /health /openapi.json")
    console.print("a write key: [bold]lakehouse keys create <source>[/]  ·  stop with Ctrl-C")
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        gateway.close()


@keys_app.command("create")
@friendly_errors
def keys_create(source: str = typer.Argument(..., help="the source the key's events belong to, e.g. web")) -> None:
    """Create a write key for SOURCE; the key is shown once (only its hash is stored)."""
    settings = load_settings()
    try:
        created = key_store(settings).create(source)
    except WriteKeyError as exc:
        raise UserError(str(exc)) from None
    console.print(f"write key for source [bold]{source}[/] (id {created.info.key_id}) — shown once, store it now:")
    typer.echo(created.key)


@keys_app.command("list")
@friendly_errors
def keys_list() -> None:
    """List write keys (ids, sources, status; never the keys themselves)."""
    keys = key_store(load_settings()).list()
    if not keys:
        console.print("no write keys yet: [bold]lakehouse keys create <source>[/]")
        return
    table = Table(show_edge=False)
    for column in ("key id", "source", "created", "status"):
        table.add_column(column)
    for key in keys:
        status = f"[red]revoked {key.revoked_at or ''}[/]" if key.revoked else "[green]active[/]"
        table.add_row(key.key_id, key.source, key.created_at, status)
    console.print(table)


@keys_app.command("revoke")
@friendly_errors
def keys_revoke(key_id: str = typer.Argument(..., help="the key id shown by `lakehouse keys list`")) -> None:
    """Revoke a write key (the API stops accepting it within the key cache period)."""
    settings = load_settings()
    try:
        revoked = key_store(settings).revoke(key_id)
    except WriteKeyError as exc:
        raise UserError(str(exc)) from None
    console.print(f"revoked key {revoked.key_id} of source {revoked.source}; the API refuses it within "
                  f"{settings.ingest.write_key_cache_seconds:g} s")


def _revoke_one_off(store: WriteKeyStore, key_id: str) -> None:
    """Revoke ``post``'s one-off key; a failure (DynamoDB unreachable, say) is a warning naming the command that
    finishes it, never an error hiding the post's own outcome or error."""
    try:
        store.revoke(key_id)
    except (WriteKeyError, BotoCoreError, ClientError) as exc:
        console.print(f"[yellow]the one-off write key {key_id} could not be revoked ({exc}); it stays live until "
                      f"`lakehouse keys revoke {key_id}`[/]")


@friendly_errors
def post(
    files: list[Path] = typer.Argument(..., help="JSON-lines files (.jsonl or .jsonl.gz), one call per line"),
    url: str = typer.Option(None, help="API root URL (default: an in-process local gateway)"),
    write_key: str = typer.Option(None, envvar="LAKEHOUSE_WRITE_KEY", help="write key (or LAKEHOUSE_WRITE_KEY)"),
    source: str = typer.Option("replay", help="source of the one-off key used when posting locally without a key"),
    concurrency: int = typer.Option(2, min=1, max=32, help="requests in flight"),
) -> None:
    """Post event files to the ingestion API in Segment batches (≤ 500 events, ≤ 500 KB, gzip)."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UserError(f"not a file: {', '.join(missing)}")
    total = _count(files)  # every file read once before anything is posted (or a key created)
    settings = load_settings()
    if url is None:
        require_aws(settings)
        one_off = None
        if write_key is None:  # a key for this post only: revoked afterwards, so runs leave no live keys behind
            store = WriteKeyStore(settings.names.write_keys_table, settings.region)
            try:
                one_off = store.create(source)
            except WriteKeyError as exc:
                raise UserError(str(exc)) from None
            write_key = one_off.key
            console.print(f"posting with a one-off write key for source [bold]{source}[/] "
                          f"(id {one_off.info.key_id}, revoked when the post ends)")
        try:
            with LocalGateway(settings) as gateway:
                report = _post_with_progress(files, total, gateway.url, write_key, concurrency)
        finally:
            if one_off is not None:
                _revoke_one_off(store, one_off.info.key_id)
    else:
        if write_key is None:
            raise UserError("--write-key (or LAKEHOUSE_WRITE_KEY) is required with --url")
        if not api_is_up(url):
            raise UserError(f"no ingestion API answers at {url} (GET /health); is `lakehouse serve` running?")
        report = _post_with_progress(files, total, url, write_key, concurrency)
    table = Table(show_edge=False, show_header=False)
    for label, value in [("events read", report.events_read), ("malformed lines", report.malformed_lines),
                         ("accepted", report.accepted), ("duplicates", report.duplicates),
                         ("rejected", report.rejected), ("failed", report.failed), ("requests", report.requests),
                         ("retries", report.retries), ("seconds", f"{report.seconds:.2f}"),
                         ("events/s", f"{report.events_per_second:,.0f}")]:
        table.add_row(label, str(value))
    console.print(table)
    for message in report.errors:
        console.print(f"[yellow]{message}[/]")
    if not report.ok:
        raise typer.Exit(1)


def _count(files: list[Path]) -> int:
    """The calls in ``files`` (non-blank lines); a file that cannot be read (not gzip, truncated) is a
    :class:`UserError` naming it."""
    total = 0
    for path in files:
        try:
            total += count_events([path])
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path}: cannot be read ({exc})") from None
    return total


def _post_with_progress(files: list[Path], total: int, url: str, write_key: str, concurrency: int):
    with make_progress_bar() as bar:
        task = bar.add_task("posting events", total=total)
        try:
            return post_files(files, url, write_key, concurrency=concurrency,
                              on_progress=lambda n: bar.advance(task, n))
        except ReplayError as exc:
            raise UserError(str(exc)) from None
        except ValueError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            raise UserError(f"cannot read the files: {exc}") from None


__all__ = ["keys_app", "post", "serve"]
