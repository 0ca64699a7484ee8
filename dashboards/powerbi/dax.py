"""Render a measure of the metrics layer as a DAX expression, structurally from its fields.

The rules mirror :mod:`lakehouse.core.metrics.sql` (the SQL the local dashboard runs), one for one:

* ``COUNT`` -> ``COUNTROWS('t')``; ``SUM``/``AVERAGE`` -> ``SUM``/``AVERAGE('t'[c])`` (blanks ignored, as SQL
  ignores NULL); ``COUNT_DISTINCT`` of one column -> ``DISTINCTCOUNTNOBLANK('t'[c])`` (SQL's COUNT(DISTINCT)
  ignores NULL, DAX's DISTINCTCOUNT would count a blank), of several -> ``COUNTROWS(SUMMARIZE('t', 't'[a], …))``;
* ``where`` equality filters -> ``CALCULATE`` filter arguments wrapped in ``KEEPFILTERS`` (a plain boolean filter
  would *replace* a report filter on the same column; SQL ANDs its CASE condition with the report's WHERE):
  ``TRUE()``/``FALSE()``, a string literal, ``'t'[c] IN {"a", "b"}`` for a tuple (SQL ``IN``), or
  ``NOT ISBLANK('t'[c])`` for ``None`` (IS NOT NULL);
* ``divide_by`` -> ``DIVIDE(<aggregate>, n)``; a ratio -> ``DIVIDE(<numerator>, <denominator>)``, blank when the
  denominator is blank or 0 (SQL: ``/ NULLIF(den, 0)``), its numerator ``COALESCE``\\ d to 0 unless it is an
  average or a ratio (SQL: ``COALESCE(num, 0)``);
* a source whose relationship to ``dim_date`` is inactive -> ``USERELATIONSHIP`` (:mod:`.semantic`);
* a periodic snapshot (``Source.snapshot``) -> evaluated on the last day of the filter context that has a
  snapshot row: ``LASTNONBLANK('dim_date'[full_date], CALCULATE(COUNTROWS('t')))`` — per cell, so by month it
  is each month's last snapshot day, as ``_snapshot_days`` groups by the period; a snapshot that is not dated
  (``Source.dated``: the scoring runs) -> its latest snapshot in the filter context,
  ``VAR __latest = MAX('t'[cutoff_date]) RETURN CALCULATE(…, 't'[cutoff_date] = __latest)``: the variable is
  evaluated in the outer filter context (the SQL's ``MAX`` over the run dates), and a boolean filter argument
  may not hold an aggregation itself (the CALCULATE reference's restriction).

Functions: https://learn.microsoft.com/dax/ (CALCULATE, KEEPFILTERS, DISTINCTCOUNTNOBLANK, SUMMARIZE, DIVIDE,
COALESCE, LASTNONBLANK, USERELATIONSHIP).
"""

from __future__ import annotations

from dashboards.powerbi.semantic import DATE_TABLE, Relationship
from lakehouse.core.metrics.catalog import BY_NAME
from lakehouse.core.metrics.model import Aggregation, Format, Measure

#: Measure.format -> formatString (money: the reporting currency's amount, two decimals, no symbol)
FORMAT_STRINGS: dict[Format, str] = {
    Format.INTEGER: "#,0",
    Format.DECIMAL: "#,0.00",
    Format.MONEY: "#,0.00",
    Format.PERCENT: "0.00%",
    Format.HOURS: "#,0.0",
}


def table_ref(table: str) -> str:
    """``'table'`` (quotes doubled inside)."""
    return "'" + table.replace("'", "''") + "'"


def column_ref(table: str, column: str) -> str:
    """``'table'[column]`` (``]`` doubled inside)."""
    return f"{table_ref(table)}[{column.replace(']', ']]')}]"


def measure_ref(label: str) -> str:
    """``[Label]``: a reference to another measure by its DAX name (its label)."""
    return "[" + label.replace("]", "]]") + "]"


def literal(value: bool | str | tuple[str, ...]) -> str:
    """A DAX literal: ``TRUE()``/``FALSE()``, a string (double quotes doubled), a tuple as a table ``{"a", "b"}``."""
    if isinstance(value, tuple):
        return "{" + ", ".join(literal(v) for v in value) + "}"
    if isinstance(value, bool):
        return "TRUE()" if value else "FALSE()"
    return '"' + value.replace('"', '""') + '"'


def aggregate(m: Measure) -> str:
    """The bare aggregate of a base measure over its whole source table (no filters)."""
    if m.source is None:
        raise ValueError(f"{m.name} is a ratio: it has no aggregate of its own")
    t = m.source.table
    if m.aggregation is Aggregation.COUNT:
        return f"COUNTROWS({table_ref(t)})"
    if m.aggregation is Aggregation.COUNT_DISTINCT and isinstance(m.column, tuple):
        return f"COUNTROWS(SUMMARIZE({table_ref(t)}, {', '.join(column_ref(t, c) for c in m.column)}))"
    if not isinstance(m.column, str):
        raise ValueError(f"{m.name}: {m.aggregation} needs one column")
    func = {Aggregation.SUM: "SUM", Aggregation.AVERAGE: "AVERAGE",
            Aggregation.COUNT_DISTINCT: "DISTINCTCOUNTNOBLANK"}[m.aggregation]
    return f"{func}({column_ref(t, m.column)})"


def filters(m: Measure) -> list[str]:
    """The CALCULATE filter arguments of a base measure's ``where`` (KEEPFILTERS: intersect, never replace)."""
    assert m.source is not None
    out = []
    for column, value in m.where:
        ref = column_ref(m.source.table, column)
        if value is None:
            out.append(f"KEEPFILTERS(NOT ISBLANK({ref}))")
        else:
            out.append(f"KEEPFILTERS({ref} {'IN' if isinstance(value, tuple) else '='} {literal(value)})")
    return out


def use_relationship(r: Relationship) -> str:
    """``USERELATIONSHIP(from, to)`` for an inactive relationship."""
    return f"USERELATIONSHIP({column_ref(r.from_table, r.from_column)}, {column_ref(r.to_table, r.to_column)})"


def base_expression(m: Measure, date_link: Relationship | None = None) -> str:
    """The DAX of a base (non-ratio) measure; ``date_link`` is its source's relationship to ``dim_date``."""
    assert m.source is not None
    args = filters(m)
    activate = [use_relationship(date_link)] if date_link is not None and not date_link.active else []
    args += activate
    latest = None
    if m.source.snapshot and not m.source.dated:  # the latest snapshot the other filters leave
        latest = column_ref(m.source.table, m.source.date_column)
        args.append(f"{latest} = __latest")
    elif m.source.snapshot:
        rows = f"COUNTROWS({table_ref(m.source.table)})"
        rows = f"CALCULATE({', '.join([rows, *activate])})"
        args.append(f"LASTNONBLANK({column_ref(DATE_TABLE, 'full_date')}, {rows})")
    expr = aggregate(m)
    if args:
        expr = f"CALCULATE({', '.join([expr, *args])})"
    if m.divide_by:
        expr = f"DIVIDE({expr}, {m.divide_by})"
    if latest:  # a variable: a boolean filter may not hold an aggregation (CALCULATE's documented restriction)
        expr = f"VAR __latest = MAX({latest}) RETURN {expr}"
    return expr


def ratio_expression(m: Measure) -> str:
    """``DIVIDE(numerator, denominator)`` over the two measures' DAX names (their labels)."""
    num, den = BY_NAME[m.numerator or ""], BY_NAME[m.denominator or ""]
    top = measure_ref(num.label)
    if num.aggregation not in (Aggregation.AVERAGE, Aggregation.RATIO):
        top = f"COALESCE({top}, 0)"
    return f"DIVIDE({top}, {measure_ref(den.label)})"


def expression(m: Measure, date_link: Relationship | None = None) -> str:
    """The DAX expression of any measure of the catalogue (see the module docstring for the rules)."""
    return ratio_expression(m) if m.aggregation is Aggregation.RATIO else base_expression(m, date_link)
