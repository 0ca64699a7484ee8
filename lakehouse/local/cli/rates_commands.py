"""``lakehouse rates load FILE``: put a daily exchange-rate CSV where the batch reads it (see docs/money.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from lakehouse.core.money import RateFileError, parse_rates
from lakehouse.local.cli.common import UserError, attach_running_emulator, console, friendly_errors, load_settings

rates_app = typer.Typer(help="Exchange rates into the reporting currency (rate_date,currency,rate CSV).",
                        no_args_is_help=True)


@rates_app.command("load")
@friendly_errors
def load(file: Path = typer.Argument(..., help="CSV with the header rate_date,currency,rate "
                                               "(rate = reporting-currency units per one unit of currency)")) -> None:
    """Validate FILE and store it at the lake's rate key (settings.money.rates_key), replacing the one there."""
    from lakehouse.local.aws.provision import upload_rates

    settings = load_settings()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {file}: {exc}") from None
    try:
        rows = parse_rates(text)
    except RateFileError as exc:
        raise UserError(f"{file}: {exc}; nothing was loaded") from None
    if not rows:
        raise UserError(f"{file}: the file holds no rates; nothing was loaded")
    if settings.lake.is_s3:
        attach_running_emulator(settings)
    upload_rates(settings, text)
    currencies = sorted({r.currency for r in rows})
    first, last = min(r.rate_date for r in rows), max(r.rate_date for r in rows)
    console.print(f"loaded {len(rows):,} rates ({', '.join(currencies)}; {first} .. {last}) into "
                  f"{settings.lake.uri(settings.money.rates_key)} (reporting currency "
                  f"{settings.money.reporting_currency}); the next batch run uses them")
