"""QuickSight from the metrics layer: one dataset per source table, one calculated field per measure.

What this module renders (the CDK app turns it into ``AWS::QuickSight::DataSet`` and analysis resources):

* :func:`source_dataset`: for a :class:`~lakehouse.core.metrics.model.Source`, a Redshift ``SELECT`` returning
  **one row per row of the source table** (grain and key of the table itself) with the conformed attributes
  joined on: ``dim_date`` (``full_date``, ``year_month``), the ``dim_customer`` version the row points at
  (``geography``, ``age_band``) and the source's own joins (``issue_type``, ``severity``, ``offer_type``). The
  joins are those of :mod:`lakehouse.core.metrics.sql` (same date and customer rules); they are LEFT joins except
  ``dim_date``, so no source row is lost. Column types come from the warehouse DDL (:func:`warehouse_columns`):
  BOOLEAN columns are returned as INTEGER 1/0 (NULL stays NULL) so that conditions read ``{x} = 1``; a distinct
  count over several columns gets a key column (``key__a__b``: the columns joined with ``'|'``, as in
  :func:`lakehouse.core.metrics.sql.aggregate_sql`). Personal columns (:data:`PERSONAL_COLUMNS`) are left out.
* :func:`daily_dataset`: the ratios whose two parts live on different source tables (DAU, conversion rate)
  cannot be one QuickSight field: a visual reads one dataset. This dataset holds their parts at the grain
  **one row per (day, geography, age band)** (every day of ``dim_date`` x every geography/age band pair of
  ``dim_customer``, zeros where nothing happened), computed by :func:`~lakehouse.core.metrics.sql.metric_sql`;
  QuickSight sums the parts and divides. ``days`` is the distinct count of ``full_date`` (quiet days count).
* :func:`calculated_fields`: every measure of :data:`~lakehouse.core.metrics.catalog.MEASURES` as a calculated
  field, rendered structurally by :func:`measure_expression` with QuickSight's conditional aggregations
  (``sumIf``, ``countIf``, ``distinct_countIf``, ``avgIf``: "Aggregate functions", Amazon QuickSight User
  Guide) and ratios as ``ifelse({den} > 0, {num} / {den}, NULL)``.

Periodic snapshots (``Source.snapshot``) read the latest snapshot day of the filtered period. Each snapshot
source gets a flag field ``latest__<table>`` = ``ifelse({full_date} = maxOver({full_date}, [], PRE_AGG), 1, 0)``:
a ``PRE_AGG`` window is computed after the analysis filters and before aggregation ("Using level-aware
calculations", QuickSight User Guide), so it marks the last day the date filter leaves. For a trend by month
each snapshot measure also has a ``<name>__by_month`` field whose flag is partitioned by ``{year_month}`` (the
last snapshot of each month), as ``metric_sql(..., by=("month",))`` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlglot
from sqlglot import exp

from lakehouse.core.metrics.catalog import BY_NAME, DIMENSIONS, MEASURES, base_measures
from lakehouse.core.metrics.model import Aggregation, Measure, Source
from lakehouse.core.metrics.sql import customer_join, date_join, literal, metric_sql

#: table name -> its columns in DDL order, each (name, Redshift type as sqlglot prints it, e.g. ``DECIMAL(18, 2)``)
TableColumns = Mapping[str, Sequence[tuple[str, str]]]

#: columns that identify a person beyond the pseudonymous customer_id; never sent to QuickSight
PERSONAL_COLUMNS = frozenset({"name", "email"})
#: dataset identifier of the day-grain dataset carrying the parts of cross-source ratios
DAILY = "daily_ratios"
DATE_COLUMN = "full_date"
MONTH_COLUMN = "year_month"
BY_MONTH = "__by_month"


class ColumnType(StrEnum):
    """QuickSight ``InputColumn`` types this module produces (CloudFormation ``InputColumnDataType``)."""

    STRING = "STRING"
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    DATETIME = "DATETIME"


@dataclass(frozen=True)
class Column:
    """One column of a dataset: name, QuickSight type and, for DECIMAL, sub-type ``FIXED`` or ``FLOAT``."""

    name: str
    type: ColumnType
    sub_type: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A custom-SQL dataset: its identifier in the analysis, the Redshift query and its typed columns."""

    identifier: str
    sql: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> frozenset[str]:
        """The names of the columns (what calculated fields and visuals may reference)."""
        return frozenset(c.name for c in self.columns)


@dataclass(frozen=True)
class CalculatedField:
    """A calculated field of the analysis: name, the dataset it belongs to, its expression.

    ``measure`` names the catalogue measure it renders (``None`` for a helper such as a snapshot flag);
    ``by_month`` marks the monthly-snapshot variant meant for trends by month.
    """

    name: str
    dataset: str
    expression: str
    measure: str | None = None
    by_month: bool = False


# --- the warehouse DDL, read as data ---------------------------------------------------------------------------


def parse_ddl(sql: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Table name and (column, Redshift type) pairs of one ``CREATE TABLE`` statement (Redshift dialect).

    Raises ``ValueError`` for any other statement.
    """
    tree = sqlglot.parse_one(sql.strip().rstrip(";"), read="redshift")
    if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
        raise ValueError(f"not a CREATE TABLE statement: {sql.strip()[:80]}")
    schema = tree.this
    columns = tuple(
        (c.name, c.args["kind"].sql("redshift")) for c in schema.expressions if isinstance(c, exp.ColumnDef)
    )
    return schema.this.name, columns


def warehouse_columns(sql_dir: Path) -> dict[str, tuple[tuple[str, str], ...]]:
    """Every table of ``<sql_dir>/ddl/*.sql`` and ``<sql_dir>/scores/*.sql`` (``glue_jobs/sql``) by name."""
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for folder in ("ddl", "scores"):
        for path in sorted((sql_dir / folder).glob("*.sql")):
            name, columns = parse_ddl(path.read_text(encoding="utf-8"))
            found[name] = columns
    if not found:
        raise FileNotFoundError(f"no CREATE TABLE files under {sql_dir}/ddl")
    return found


def column_type(redshift_type: str) -> tuple[ColumnType, str | None]:
    """The QuickSight type (and DECIMAL sub-type) of a Redshift column type; BOOLEAN reads as INTEGER 1/0.

    Raises ``ValueError`` for a type this mapping does not know (add it here rather than guess).
    """
    t = redshift_type.upper().replace(" ", "")
    if t.startswith(("VARCHAR", "CHAR", "NVARCHAR", "TEXT", "BPCHAR")):
        return ColumnType.STRING, None
    if t in ("SMALLINT", "INT", "INTEGER", "BIGINT", "INT2", "INT4", "INT8", "BOOLEAN", "BOOL"):
        return ColumnType.INTEGER, None
    if t.startswith(("DECIMAL", "NUMERIC")):
        return ColumnType.DECIMAL, "FIXED"
    if t in ("DOUBLEPRECISION", "DOUBLE", "FLOAT", "FLOAT4", "FLOAT8", "REAL"):
        return ColumnType.DECIMAL, "FLOAT"
    if t.startswith(("DATE", "TIMESTAMP")):
        return ColumnType.DATETIME, None
    raise ValueError(f"no QuickSight type for the Redshift type {redshift_type!r}")


def _is_boolean(redshift_type: str) -> bool:
    return redshift_type.upper() in ("BOOLEAN", "BOOL")


# --- datasets -----------------------------------------------------------------------------------------------------


def _dimension_columns(alias: str) -> list[str]:
    """Columns of the joined table ``alias`` that the catalogue's dimensions read (``c`` -> geography, age_band)."""
    return [d.expression.split(".", 1)[1] for d in DIMENSIONS if d.needs == alias]


def _tuple_key(columns: Sequence[str]) -> str:
    return "key__" + "__".join(columns)


def _typed(columns: TableColumns, table: str) -> dict[str, str]:
    if table not in columns:
        raise KeyError(f"no DDL for table {table!r}; known: {', '.join(sorted(columns))}")
    return dict(columns[table])


def source_dataset(source: Source, columns: TableColumns) -> Dataset:
    """The custom-SQL dataset of one source table (grain: one row per source row; see the module docstring).

    Raises ``KeyError`` when the DDL lacks a table the source needs, ``ValueError`` when a joined attribute
    would shadow a different column of the source.
    """
    own = _typed(columns, source.table)
    joined: list[tuple[str, str, str]] = []  # (alias, column, redshift type)
    joins = []
    if source.dated:  # a source that is not dated has no calendar: the date filter leaves it alone
        joins.append(f"JOIN dim_date d ON {date_join(source)}")
        joined += [("d", c, _typed(columns, "dim_date")[c]) for c in _dimension_columns("d")]
    join_customer = customer_join(source)
    if join_customer:
        joins.append(join_customer)  # a LEFT JOIN
        joined += [("c", c, _typed(columns, "dim_customer")[c]) for c in _dimension_columns("c")]
    for table, alias, on in source.joins:
        joins.append(f"LEFT JOIN {table} {alias} ON {on}")
        joined += [(alias, c, _typed(columns, table)[c]) for c in _dimension_columns(alias)]
    tables = {"d": "dim_date", "c": "dim_customer", **{alias: table for table, alias, _ in source.joins}}
    shadowed = {name for _, name, _ in joined}
    for alias, name, _ in joined:
        if name in own and tables[alias] != source.table:
            raise ValueError(f"{source.table}.{name} would be shadowed by {tables[alias]}.{name}")
    select: list[str] = []
    out: list[Column] = []
    for name, redshift_type in own.items():
        if name in PERSONAL_COLUMNS or name in shadowed:  # shadowed only by the same row of the same table
            continue
        if _is_boolean(redshift_type):
            select.append(f"CASE WHEN f.{name} THEN 1 WHEN NOT f.{name} THEN 0 END AS {name}")
        else:
            select.append(f"f.{name}")
        out.append(Column(name, *column_type(redshift_type)))
    for alias, name, redshift_type in joined:
        select.append(f"{alias}.{name}")
        out.append(Column(name, *column_type(redshift_type)))
    for m in _measures_of(source):
        if isinstance(m.column, tuple) and _tuple_key(m.column) not in {c.name for c in out}:
            key = " || '|' || ".join(f"CAST(f.{c} AS VARCHAR(1024))" for c in m.column)
            select.append(f"{key} AS {_tuple_key(m.column)}")
            out.append(Column(_tuple_key(m.column), ColumnType.STRING))
    sql = f"SELECT {', '.join(select)} FROM {source.table} f " + " ".join(joins)
    return Dataset(source.table, sql, tuple(out))


def sources() -> list[Source]:
    """The distinct source tables of the catalogue, in catalogue order (one dataset each)."""
    found: dict[str, Source] = {}
    for m in MEASURES:
        if m.source is not None:
            if m.source.table in found and found[m.source.table] != m.source:
                raise ValueError(f"two different sources on table {m.source.table}")
            found.setdefault(m.source.table, m.source)
    return list(found.values())


def _measures_of(source: Source) -> list[Measure]:
    return [m for m in MEASURES if m.source is not None and m.source.table == source.table]


def cross_source_ratios() -> list[Measure]:
    """Ratios whose base measures live on more than one source table (rendered on :func:`daily_dataset`)."""
    return [
        m
        for m in MEASURES
        if m.aggregation is Aggregation.RATIO and len({b.source.table for b in base_measures(m.name) if b.source}) > 1
    ]


def _calendar_part(m: Measure) -> bool:
    """A part counted from the calendar itself (``days``: rows of dim_date), not from a customer fact."""
    return m.source is not None and m.source.table == "dim_date" and m.aggregation is Aggregation.COUNT


def _daily_parts() -> list[Measure]:
    parts: list[Measure] = []
    for ratio in cross_source_ratios():
        for b in base_measures(ratio.name):
            if b not in parts:
                parts.append(b)
    for b in parts:
        if not _calendar_part(b) and b.aggregation not in (
            Aggregation.SUM,
            Aggregation.COUNT,
            Aggregation.COUNT_DISTINCT,
        ):
            raise ValueError(f"{b.name}: only additive parts can be summed from the daily dataset")
        if b.source is not None and b.source.snapshot:
            raise ValueError(f"{b.name}: a snapshot measure is not additive over days")
    return parts


def daily_dataset(columns: TableColumns) -> Dataset:
    """One row per (day, geography, age band) with the parts of :func:`cross_source_ratios` (zero when none).

    The parts come from :func:`~lakehouse.core.metrics.sql.metric_sql` by ``("date", "geography", "age_band")``
    over the whole warehouse (the analysis filters them); the grid of every day x every geography/age band pair
    keeps quiet days, so ``days`` = distinct ``full_date`` counts them and a geography filter keeps them too.
    Counts of distinct (customer, day) pairs are additive over days; over geographies they are as long as a
    customer has one ``dim_customer`` version per day (a version change within a day counts the pair twice).
    """
    parts = [p for p in _daily_parts() if not _calendar_part(p)]
    date_types = _typed(columns, "dim_date")
    customer_types = _typed(columns, "dim_customer")
    inner = sqlglot.parse_one(
        metric_sql([p.name for p in parts], by=("date", "geography", "age_band")), read="redshift"
    )
    inner.set("order", None)  # order is meaningless inside a derived table
    values = [f"COALESCE(p.{p.name}, 0) AS {p.name}" for p in parts]
    sql = (
        f"SELECT d.{DATE_COLUMN}, d.{MONTH_COLUMN}, g.geography, g.age_band, {', '.join(values)} "
        "FROM dim_date d CROSS JOIN (SELECT DISTINCT geography, age_band FROM dim_customer) g "
        f"LEFT JOIN ({inner.sql('redshift')}) p "
        f"ON p.date = d.{DATE_COLUMN} AND p.geography = g.geography AND p.age_band = g.age_band"
    )
    out = (
        Column(DATE_COLUMN, *column_type(date_types[DATE_COLUMN])),
        Column(MONTH_COLUMN, *column_type(date_types[MONTH_COLUMN])),
        Column("geography", *column_type(customer_types["geography"])),
        Column("age_band", *column_type(customer_types["age_band"])),
        *(Column(p.name, ColumnType.INTEGER) for p in parts),
    )
    return Dataset(DAILY, sql, out)


def datasets(columns: TableColumns) -> list[Dataset]:
    """Every dataset of the analysis: one per source table (catalogue order), then :func:`daily_dataset`."""
    out = [source_dataset(s, columns) for s in sources()]
    if cross_source_ratios():
        out.append(daily_dataset(columns))
    return out


# --- expressions ----------------------------------------------------------------------------------------------


def field(name: str) -> str:
    """A field reference: ``{name}``."""
    return "{" + name + "}"


def _value(value: bool | str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"  # booleans arrive as INTEGER 1/0 (see source_dataset)
    return literal(str(value))


def _filter(column: str, value: bool | str | tuple[str, ...] | None) -> str:
    if value is None:
        return f"isNotNull({field(column)})"
    if isinstance(value, tuple):  # one of the values
        return "(" + " OR ".join(f"{field(column)} = {_value(v)}" for v in value) + ")"
    return f"{field(column)} = {_value(value)}"


def condition(m: Measure, extra: Iterable[str] = ()) -> str | None:
    """The ``AND`` of the measure's filters (and ``extra`` conditions), or ``None`` when there is none.

    ``(column, None)`` renders ``isNotNull({column})``; a tuple of values ``({column} = 'a' OR {column} = 'b')``.
    """
    parts = [_filter(c, v) for c, v in m.where]
    parts += list(extra)
    return " AND ".join(parts) or None


def latest_flag_name(source: Source, by_month: bool = False) -> str:
    """Name of the snapshot flag field of ``source`` (1 on the last snapshot day of the period / of each month)."""
    return f"latest__{source.table}" + (BY_MONTH if by_month else "")


def latest_flag_expression(by_month: bool = False, source: Source | None = None) -> str:
    """1 on the rows of the latest ``full_date`` the filters leave (per ``year_month`` when ``by_month``), else 0;
    for a source that is not dated, the rows of its latest ``date_column`` value (no month: it has no calendar)."""
    if source is not None and not source.dated:
        own = field(source.date_column)
        return f"ifelse({own} = maxOver({own}, [], PRE_AGG), 1, 0)"
    partition = f"[{field(MONTH_COLUMN)}]" if by_month else "[]"
    return f"ifelse({field(DATE_COLUMN)} = maxOver({field(DATE_COLUMN)}, {partition}, PRE_AGG), 1, 0)"


def measure_expression(m: Measure, *, by_month: bool = False) -> str:
    """The QuickSight expression of a base measure over its source dataset, or of a same-dataset ratio.

    Examples (hand-checked against the QuickSight function reference): a filtered sum renders as
    ``sumIf({order_value_rc}, {is_cancelled} = 0)``; a ratio as
    ``ifelse({converted_orders} > 0, {revenue} / {converted_orders}, NULL)``. Raises ``ValueError`` for a ratio
    whose parts are on different sources (see :func:`daily_dataset`).
    """
    if m.aggregation is Aggregation.RATIO:
        if m in cross_source_ratios():
            raise ValueError(f"{m.name}: its parts are on different sources; it is a field of {DAILY}")
        num, den = m.numerator or "", m.denominator or ""
        num_ref, den_ref = field(_field_name(num, by_month)), field(_field_name(den, by_month))
        return f"ifelse({den_ref} > 0, {num_ref} / {den_ref}, NULL)"
    assert m.source is not None
    extra = [f"{field(latest_flag_name(m.source, by_month))} = 1"] if m.source.snapshot else []
    cond = condition(m, extra)
    if m.aggregation is Aggregation.COUNT:
        # never NULL: every row of a dated source joins dim_date; a source that is not dated has its own
        target = field(DATE_COLUMN if m.source.dated else m.source.date_column)
    elif isinstance(m.column, tuple):
        target = field(_tuple_key(m.column))
    else:
        target = field(m.column or "")
    func = {
        Aggregation.SUM: "sum",
        Aggregation.COUNT: "count",
        Aggregation.COUNT_DISTINCT: "distinct_count",
        Aggregation.AVERAGE: "avg",
    }[m.aggregation]
    text = f"{func}If({target}, {cond})" if cond else f"{func}({target})"
    if m.divide_by:
        text = f"{text} / {m.divide_by}"
    return text


def _field_name(measure_name: str, by_month: bool) -> str:
    return measure_name + (BY_MONTH if by_month and _is_snapshot(measure_name) else "")


def _is_snapshot(measure_name: str) -> bool:
    return any(b.source is not None and b.source.snapshot for b in base_measures(measure_name))


def _dataset_of(m: Measure) -> str:
    if m.aggregation is Aggregation.RATIO:
        if m in cross_source_ratios():
            return DAILY
        return _dataset_of(BY_NAME[base_measures(m.name)[0].name])
    assert m.source is not None
    return m.source.table


def _daily_fields() -> list[CalculatedField]:
    out: list[CalculatedField] = []
    for part in _daily_parts():
        expression = f"distinct_count({field(DATE_COLUMN)})" if _calendar_part(part) else f"sum({field(part.name)})"
        out.append(CalculatedField(daily_field_name(part.name), DAILY, expression))
    for ratio in cross_source_ratios():
        num, den = field(daily_field_name(ratio.numerator or "")), field(daily_field_name(ratio.denominator or ""))
        out.append(CalculatedField(ratio.name, DAILY, f"ifelse({den} > 0, {num} / {den}, NULL)", ratio.name))
    return out


def daily_field_name(part: str) -> str:
    """Name of a cross-source ratio's part as a field of the daily dataset (``days__daily``)."""
    return f"{part}__daily"


def calculated_fields() -> list[CalculatedField]:
    """Every calculated field of the analysis: snapshot flags, one field per catalogue measure (plus the
    ``__by_month`` variant of snapshot measures), and the daily dataset's parts. Names are unique."""
    out: list[CalculatedField] = []
    for source in sources():
        if source.snapshot:
            for by_month in (False, True):
                out.append(
                    CalculatedField(latest_flag_name(source, by_month), source.table,
                                    latest_flag_expression(by_month, source))
                )
    crossing = cross_source_ratios()
    for m in MEASURES:
        if m in crossing:
            continue
        dataset = _dataset_of(m)
        out.append(CalculatedField(m.name, dataset, measure_expression(m), m.name))
        if _is_snapshot(m.name):
            out.append(
                CalculatedField(m.name + BY_MONTH, dataset, measure_expression(m, by_month=True), m.name, by_month=True)
            )
    out += _daily_fields()
    names = [f.name for f in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"calculated field names must be unique: {duplicates}")
    return out


def measure_field(name: str, *, by_month: bool = False) -> CalculatedField:
    """The calculated field a visual shows for the catalogue measure ``name`` (its monthly variant for trends)."""
    wanted = _field_name(name, by_month)
    for f in calculated_fields():
        if f.name == wanted:
            return f
    raise KeyError(f"no calculated field for measure {name!r}")
