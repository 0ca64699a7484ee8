"""Render measures of the metrics layer as one SQL query over the star schema (DuckDB and Redshift alike).

:func:`metric_sql` answers "these measures, broken down by these dimensions, under these filters" with one
``SELECT``: one common table expression per source table (its base measures aggregated, grouped by the
dimensions), full-outer-joined on the dimensions, ratios computed last. The SQL keeps to what both engines
read the same way (``CASE``, ``NULLIF``, ``CAST … AS DOUBLE PRECISION``, ``FULL OUTER JOIN … USING``, ``DATE``
literals); ``tests/lakehouse/core/metrics`` runs it on DuckDB and, read as Redshift SQL through the project's dialect
layer, checks the answers are the same.

Filters:

* ``start``/``end`` (inclusive UTC days) on each source's date (``dim_date``); a periodic snapshot reads the
  last day of the period that has a snapshot (per period value when broken down by ``date`` or ``month``); a
  source that is not dated (the scoring runs) reads its latest snapshot whatever the period.
  ``fact_customer_metrics`` is a monthly snapshot (month ends, plus the batch's as-of day): a period reads its
  last month end, or the as-of day when it holds it; a period holding neither (e.g. the 2nd to the 20th of an
  earlier month) has no snapshot and no customers; broken down by ``date``, only month ends and the as-of day
  have values;
* ``geographies``: the customer's geography on the fact's ``dim_customer`` version (type 2: where the
  customer lived when the fact happened; the current version for sources without a customer key);
* ``segments``: the customer's RFM segment in the last ``fact_customer_metrics`` snapshot on or before the
  period's last day (the month end before it, unless the period ends on a month end or the as-of day).

A source without customers (``dim_date``) ignores the customer filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from lakehouse.core.metrics.catalog import DIMENSION_BY_NAME, base_measures, measure
from lakehouse.core.metrics.model import Aggregation, Dimension, Measure, Source

_PERIOD_DIMENSIONS = ("date", "month")


class MetricQueryError(ValueError):
    """A measure or dimension that does not exist, or a breakdown a measure's source cannot have."""


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters; empty tuples and ``None`` dates mean "all"."""

    start: date | None = None
    end: date | None = None
    geographies: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


def literal(value: bool | str | int | float | date) -> str:
    """A SQL literal (strings with quotes doubled)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(expression: str, values: Iterable[str]) -> str:
    return f"{expression} IN ({', '.join(literal(v) for v in values)})"


def date_join(source: Source, alias: str = "f", date_alias: str = "d") -> str:
    """The ON condition joining ``source`` (as ``alias``) to ``dim_date`` (as ``date_alias``)."""
    if source.date_is_key:
        return f"{alias}.{source.date_column} = {date_alias}.date_key"
    return f"{alias}.{source.date_column} = {date_alias}.full_date"


def customer_join(source: Source) -> str | None:
    """The LEFT JOIN of ``dim_customer c`` to ``source`` (as ``f``): its type-2 version by key, else the current
    version by id; None for a source without customers."""
    if source.customer_key_column:
        return f"LEFT JOIN dim_customer c ON f.{source.customer_key_column} = c.customer_key"
    if source.customer_id_column:
        return f"LEFT JOIN dim_customer c ON f.{source.customer_id_column} = c.customer_id AND c.is_current"
    return None


def _range(filters: Filters, alias: str) -> list[str]:
    out = []
    if filters.start:
        out.append(f"{alias}.full_date >= {literal(filters.start)}")
    if filters.end:
        out.append(f"{alias}.full_date <= {literal(filters.end)}")
    return out


def _segment_snapshot(filters: Filters) -> str:
    """The ``fact_customer_metrics`` snapshot day the segment filter reads: the last on or before ``end`` (a month
    end or the batch's as-of day: the snapshot is monthly)."""
    bound = f" WHERE sx.snapshot_date <= {literal(filters.end)}" if filters.end else ""
    return f"(SELECT MAX(sx.snapshot_date) FROM fact_customer_metrics sx{bound})"


def _condition(m: Measure) -> str | None:
    parts = []
    for column, value in m.where:
        if value is None:
            parts.append(f"f.{column} IS NOT NULL")
        elif isinstance(value, tuple):
            parts.append(_in_list(f"f.{column}", value))
        else:
            parts.append(f"f.{column} = {literal(value)}")
    return " AND ".join(parts) or None


def aggregate_sql(m: Measure) -> str:
    """The SQL aggregate of a base measure over alias ``f`` (e.g. ``SUM(CASE WHEN f.x = FALSE THEN f.y END)``)."""
    cond = _condition(m)
    if m.aggregation is Aggregation.COUNT:
        inner = "1"
    elif isinstance(m.column, tuple):
        inner = " || '|' || ".join(f"CAST(f.{c} AS VARCHAR(1024))" for c in m.column)
    else:
        inner = f"f.{m.column}"
    value = f"CASE WHEN {cond} THEN {inner} END" if cond else inner
    func = {Aggregation.SUM: "SUM", Aggregation.COUNT: "COUNT", Aggregation.AVERAGE: "AVG"}.get(m.aggregation)
    if m.aggregation is Aggregation.COUNT_DISTINCT:
        sql = f"COUNT(DISTINCT {value})"
    elif m.aggregation is Aggregation.COUNT and not cond:
        sql = "COUNT(*)"
    elif m.aggregation is Aggregation.AVERAGE:
        sql = f"AVG(CAST({value} AS DOUBLE PRECISION))"
    elif func:
        sql = f"{func}({value})"
    else:
        raise MetricQueryError(f"{m.name} is a ratio: it has no aggregate of its own")
    if m.divide_by:
        sql = f"CAST({sql} AS DOUBLE PRECISION) / {m.divide_by}"
    return sql


def _dimensions(names: Sequence[str], sources: Sequence[Source]) -> list[Dimension]:
    out = []
    for name in names:
        if name not in DIMENSION_BY_NAME:
            raise MetricQueryError(f"no dimension {name!r}; known: {', '.join(sorted(DIMENSION_BY_NAME))}")
        dim = DIMENSION_BY_NAME[name]
        for source in sources:
            if dim.tables and source.table not in dim.tables:
                raise MetricQueryError(f"{source.table} cannot be broken down by {name} "
                                       f"(only {', '.join(dim.tables)})")
            if dim.needs == "d" and not source.dated:
                raise MetricQueryError(f"{source.table} is not dated: it cannot be broken down by {name}")
            if dim.needs == "c" and customer_join(source) is None:
                raise MetricQueryError(f"{source.table} has no customer: it cannot be broken down by {name}")
        out.append(dim)
    return out


def _snapshot_days(source: Source, filters: Filters, by: Sequence[str]) -> str:
    """``f.<date> IN (…)``: the last snapshot day of the period (of each period value of a date breakdown); the
    latest snapshot of a source that is not dated. For the monthly ``fact_customer_metrics`` that is the period's
    last month end or the as-of day; a period (or a day of a breakdown) without one has no row."""
    if not source.dated:
        return f"f.{source.date_column} = (SELECT MAX(x.{source.date_column}) FROM {source.table} x)"
    period = [DIMENSION_BY_NAME[b].expression.replace("d.", "dx.") for b in by if b in _PERIOD_DIMENSIONS]
    where = _range(filters, "dx")
    sql = (f"SELECT MAX(x.{source.date_column}) FROM {source.table} x JOIN dim_date dx ON "
           f"{date_join(source, 'x', 'dx')}")
    if where:
        sql += " WHERE " + " AND ".join(where)
    if period:
        sql += " GROUP BY " + ", ".join(period)
    return f"f.{source.date_column} IN ({sql})"


def _from_where(source: Source, dims: list[Dimension], filters: Filters, by: Sequence[str]) -> tuple[str, list[str]]:
    """``FROM <source> f <joins>`` and the WHERE conditions of the filters, for one source."""
    joins = [f"JOIN dim_date d ON {date_join(source)}"] if source.dated else []
    needs_customer = any(d.needs == "c" for d in dims) or bool(filters.geographies)
    join_customer = customer_join(source)
    if needs_customer and join_customer:
        joins.append(join_customer)
    for table, alias, on in source.joins:
        if any(d.needs == alias for d in dims):
            joins.append(f"JOIN {table} {alias} ON {on}")
    where = _range(filters, "d") if source.dated else []
    if source.snapshot:
        where.append(_snapshot_days(source, filters, by))
    if source.customer_id_column:
        if filters.geographies:
            where.append(_in_list("c.geography", filters.geographies))
        if filters.segments:
            where.append(f"f.{source.customer_id_column} IN (SELECT s.customer_id FROM fact_customer_metrics s "
                         f"WHERE s.snapshot_date = {_segment_snapshot(filters)} AND "
                         f"{_in_list('s.rfm_segment', filters.segments)})")
    return " ".join([f"FROM {source.table} f", *joins]), where


def _source_cte(source: Source, parts: list[Measure], dims: list[Dimension], filters: Filters,
                by: Sequence[str]) -> str:
    """The source's measures aggregated by the dimensions (one row per dimension value)."""
    origin, where = _from_where(source, dims, filters, by)
    columns = [f"{d.expression} AS {d.name}" for d in dims] + [f"{aggregate_sql(m)} AS {m.name}" for m in parts]
    sql = f"SELECT {', '.join(columns)} {origin}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if dims:
        sql += " GROUP BY " + ", ".join(d.expression for d in dims)
    return sql


def _distinct_tuple_cte(source: Source, m: Measure, dims: list[Dimension], filters: Filters,
                        by: Sequence[str]) -> str:
    """A distinct count over several columns as ``COUNT(*)`` of ``SELECT DISTINCT`` rows: the same number as
    ``COUNT(DISTINCT a || '|' || b)`` without building a string per row (measured 1.7x faster on DuckDB at 10M
    activity rows; both engines read it)."""
    origin, where = _from_where(source, dims, filters, by)
    cond = _condition(m)
    where = where + ([cond] if cond else []) + [f"f.{c} IS NOT NULL" for c in m.column or ()]
    inner = [f"{d.expression} AS {d.name}" for d in dims] + [f"f.{c} AS k{i}" for i, c in enumerate(m.column or ())]
    sql = f"SELECT DISTINCT {', '.join(inner)} {origin}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    names = [d.name for d in dims]
    outer = f"SELECT {', '.join([*names, f'COUNT(*) AS {m.name}'])} FROM ({sql}) t"
    return outer + (" GROUP BY " + ", ".join(names) if names else "")


def _value_sql(name: str) -> str:
    m = measure(name)
    if m.aggregation is Aggregation.RATIO:
        numerator, denominator = _value_sql(m.numerator or ""), _value_sql(m.denominator or "")
        return f"CAST({numerator} AS DOUBLE PRECISION) / NULLIF({denominator}, 0)"
    if m.aggregation is Aggregation.AVERAGE:
        return m.name
    return f"COALESCE({m.name}, 0)"  # a period or group without rows counts 0, as the marts' quiet days do


def metric_sql(measures: Sequence[str], by: Sequence[str] = (), filters: Filters = Filters()) -> str:
    """One SELECT: the dimensions ``by`` (in order), then each of ``measures``; one row per dimension value.

    Raises :class:`MetricQueryError` for an unknown measure or dimension, or a dimension a measure's source
    does not have (e.g. ``issue_type`` for revenue).
    """
    if not measures:
        raise MetricQueryError("name at least one measure")
    try:
        parts: list[Measure] = []
        for name in measures:
            for b in base_measures(name):
                if b not in parts:
                    parts.append(b)
    except KeyError as exc:
        raise MetricQueryError(exc.args[0]) from None
    sources: dict[str, tuple[Source, list[Measure]]] = {}
    for m in parts:
        assert m.source is not None
        sources.setdefault(m.source.table, (m.source, []))[1].append(m)
    ctes: list[tuple[str, str]] = []
    for source, members in sources.values():
        dims = _dimensions(by, [source])
        tuples = [m for m in members if m.aggregation is Aggregation.COUNT_DISTINCT and isinstance(m.column, tuple)]
        plain = [m for m in members if m not in tuples]
        if plain:
            ctes.append((f"m{len(ctes)}", _source_cte(source, plain, dims, filters, by)))
        for m in tuples:
            ctes.append((f"m{len(ctes)}", _distinct_tuple_cte(source, m, dims, filters, by)))
    body = ctes[0][0]
    for name, _ in ctes[1:]:
        body += f" FULL OUTER JOIN {name} USING ({', '.join(by)})" if by else f" CROSS JOIN {name}"
    select = list(by) + [f"{_value_sql(name)} AS {name}" for name in measures]
    sql = "WITH " + ", ".join(f"{name} AS ({cte})" for name, cte in ctes)
    sql += f" SELECT {', '.join(select)} FROM {body}"
    if by:
        sql += " ORDER BY " + ", ".join(by)
    return sql
