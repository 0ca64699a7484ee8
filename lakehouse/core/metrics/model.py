"""The metrics layer's vocabulary: source tables, measures and dimensions over the star schema.

A :class:`Measure` is defined once, structurally (an aggregation of a column of one star table, optionally
under equality filters, or a ratio of two measures), so that every front end renders the *same* definition in
its own language: SQL for the local dashboard and the QuickSight datasets (:mod:`lakehouse.core.metrics.sql`),
DAX for the Power BI model, QuickSight's calculated-field syntax (:mod:`lakehouse.core.metrics.quicksight`).
Free-form SQL is deliberately not allowed: a string of SQL cannot be translated to DAX faithfully.

The catalogue itself is :mod:`lakehouse.core.metrics.catalog`; the rules each measure follows (what counts,
what is left out) are those of ``docs/measures.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Aggregation(StrEnum):
    """How a base measure aggregates its column over the rows that pass its filters."""

    SUM = "sum"
    COUNT = "count"  # rows
    COUNT_DISTINCT = "count_distinct"  # distinct values of one column, or of a tuple of columns
    AVERAGE = "average"
    RATIO = "ratio"  # numerator measure / denominator measure (NULL when the denominator is 0 or NULL)


class Format(StrEnum):
    """How a front end shows a measure's value."""

    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"  # the reporting currency (LAKEHOUSE_MONEY__REPORTING_CURRENCY), two decimals
    PERCENT = "percent"  # a ratio in [0, 1] shown as a percentage
    HOURS = "hours"


@dataclass(frozen=True)
class Source:
    """A star table a measure aggregates, and how its rows reach the conformed dimensions.

    ``date_column`` joins ``dim_date`` (an integer ``date_key`` or a ``DATE`` compared with ``full_date``);
    ``customer_key_column`` joins the ``dim_customer`` version the row points at (the customer's attributes
    *at the time of the fact*, as Kimball's type-2 dimension reads); a source without a customer key but with a
    ``customer_id`` joins the customer's current version. ``snapshot`` marks a periodic snapshot: its measures
    are not additive over time, so a period reads the snapshot of its last day that has one. A source that is
    not ``dated`` never joins ``dim_date`` (the date filter leaves it alone, it has no date breakdown): its
    ``date_column`` only orders its snapshots, and it reads the latest one — a scoring run, whose cutoff is the
    day *after* the data it saw, so it falls outside the calendar the warehouse covers.
    """

    table: str
    date_column: str
    date_is_key: bool = True
    customer_key_column: str | None = "customer_key"
    customer_id_column: str | None = "customer_id"
    snapshot: bool = False
    dated: bool = True
    joins: tuple[tuple[str, str, str], ...] = ()  # (dimension table, alias, ON condition over f and the alias)


@dataclass(frozen=True)
class Measure:
    """One KPI or measure, defined once.

    ``column`` is a column of the source (a tuple for a distinct count over several columns); ``where`` holds
    ``(column, value)`` filters: ``value`` a bool or a string (equality), a tuple of strings (one of them), or
    ``None`` (IS NOT NULL);
    ``divide_by`` divides the aggregate (3600: seconds to hours). A ratio names its ``numerator`` and
    ``denominator`` measures and has no source of its own.
    """

    name: str
    label: str
    description: str
    aggregation: Aggregation
    format: Format
    unit: str
    source: Source | None = None
    column: str | tuple[str, ...] | None = None
    where: tuple[tuple[str, bool | str | tuple[str, ...] | None], ...] = ()
    divide_by: int | None = None
    numerator: str | None = None
    denominator: str | None = None
    grain: str = "the filtered period"
    tags: tuple[str, ...] = field(default=())

    @property
    def currency(self) -> bool:
        """True when the value is money in the reporting currency."""
        return self.format is Format.MONEY


@dataclass(frozen=True)
class Dimension:
    """An attribute a measure can be broken down by: ``expression`` over the aliases the query joins.

    Aliases: ``f`` the measure's source, ``d`` ``dim_date``, ``c`` ``dim_customer`` (the version of
    :class:`Source`), and the aliases of a source's own ``joins``. ``tables`` limits it to the sources that
    have the attribute (empty: every source that joins ``needs``).
    """

    name: str
    label: str
    expression: str
    needs: str  # "d" (dim_date), "c" (dim_customer) or "f" (a column of the source itself) or a join alias
    tables: tuple[str, ...] = ()
