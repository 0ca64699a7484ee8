"""How the dashboard writes a measure's value (by its :class:`~lakehouse.core.metrics.model.Format`).

Integers with thousands separators; money with two decimals and the reporting currency's code; percentages
with two decimals (the code left to the label when a card names it); hours and decimals with two. A missing value
(NULL, NaN: e.g. a ratio over nothing) is an en dash.
"""

from __future__ import annotations

import math

from lakehouse.core.metrics.model import Format

MISSING = "\u2013"  # en dash


def format_value(value: float | int | None, fmt: Format, currency: str | None = "USD") -> str:
    """``value`` as text for a KPI card or a table cell (money without a code when ``currency`` is None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if fmt is Format.INTEGER:
        return f"{round(value):,}"
    if fmt is Format.MONEY:
        return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"
    if fmt is Format.PERCENT:
        return f"{value * 100:.2f} %"
    if fmt is Format.HOURS:
        return f"{value:,.2f} h"
    return f"{value:,.2f}"
