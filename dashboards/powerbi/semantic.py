"""The semantic model's shape: which warehouse tables it imports, how they relate, where each measure lives.

Tables: every source table of :data:`~lakehouse.core.metrics.catalog.MEASURES`, the dimensions their
``Source.joins`` name, and the conformed dimensions ``dim_date``, ``dim_customer`` and ``dim_product``.

Relationships (many-to-one, filters flow one way, from the dimension to the table that points at it):

* a table's ``Source.date_column`` -> ``dim_date.date_key`` (an integer key) or ``dim_date.full_date`` (a DATE);
* any column named like the one-column primary key of a model *dimension* (``dim_*``: ``customer_key``,
  ``issue_key``, ``offer_key``, ``product_key``, ``date_key``) -> that key (facts never filter facts here):
  ``customer_key`` is the type-2 ``dim_customer`` version the fact points at, as :mod:`lakehouse.core.metrics.sql`
  joins it.

A relationship *from a table other tables relate to* (``dim_customer.first_seen_date`` -> ``dim_date``) is
inactive: active, it would give every fact two filter paths from ``dim_date`` (directly, and through
``dim_customer``), which Power BI rejects as ambiguous. Measures of such a source activate it with
``USERELATIONSHIP`` (:mod:`.dax`). ``fact_customer_scores`` has no ``customer_key`` (a score belongs to the
customer, not to a profile version), so it relates to ``dim_date`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dashboards.powerbi.ddl import WarehouseTable
from lakehouse.core.metrics.catalog import BY_NAME, MEASURES
from lakehouse.core.metrics.model import Aggregation, Measure, Source

DATE_TABLE = "dim_date"
#: conformed dimensions imported whether or not a measure's source names them
CONFORMED = (DATE_TABLE, "dim_customer", "dim_product")


class ModelError(ValueError):
    """The metrics layer names a table or column the warehouse DDL does not have, or a name clashes."""


@dataclass(frozen=True)
class Relationship:
    """``from_table.from_column`` (many) -> ``to_table.to_column`` (one); ``active`` False needs USERELATIONSHIP."""

    from_table: str
    from_column: str
    to_table: str
    to_column: str
    active: bool = True

    @property
    def name(self) -> str:
        """Unique in the model: a column is the many side of at most one relationship."""
        return f"{self.from_table}__{self.from_column}"


@dataclass(frozen=True)
class SemanticModel:
    """Tables (dimensions first, then facts, each sorted), relationships, and measures by home table."""

    tables: tuple[WarehouseTable, ...]
    relationships: tuple[Relationship, ...]
    measures: Mapping[str, tuple[Measure, ...]]

    def date_relationship(self, source: Source) -> Relationship | None:
        """The relationship from ``source``'s date column to ``dim_date`` (None for ``dim_date`` itself)."""
        for r in self.relationships:
            if r.from_table == source.table and r.from_column == source.date_column and r.to_table == DATE_TABLE:
                return r
        return None


def _is_dimension(table: str) -> bool:
    return table.startswith("dim_")


def home_table(m: Measure) -> str:
    """The table a measure is defined on: its source; a ratio's is its numerator's (recursively)."""
    if m.aggregation is Aggregation.RATIO:
        return home_table(BY_NAME[m.numerator or ""])
    assert m.source is not None
    return m.source.table


def _sources(measures: Iterable[Measure]) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for m in measures:
        if m.source is not None:
            if m.source.table in out and out[m.source.table] != m.source:
                raise ModelError(f"two different Source definitions for table {m.source.table}")
            out[m.source.table] = m.source
    return out


def _check_columns(measures: Iterable[Measure], tables: Mapping[str, WarehouseTable]) -> None:
    for m in measures:
        if m.source is None:
            continue
        table = tables[m.source.table]
        names = [m.source.date_column, *(c for c, _ in m.where)]
        names += list(m.column) if isinstance(m.column, tuple) else [m.column] if m.column else []
        for name in names:
            try:
                table.column(name)
            except KeyError as exc:
                raise ModelError(f"measure {m.name}: {exc.args[0]}") from None


def build_model(warehouse: Mapping[str, WarehouseTable], measures: Iterable[Measure] = MEASURES) -> SemanticModel:
    """The semantic model of ``measures`` over the ``warehouse`` tables (by name, as :func:`.ddl.read_tables`).

    Raises :class:`ModelError` when a measure's table or column is not in the DDL, when two measures share a
    label (the DAX measure name), or when a label equals a column name of its home table.
    """
    measures = tuple(measures)
    sources = _sources(measures)
    wanted = set(CONFORMED) | set(sources)
    for source in sources.values():
        wanted |= {table for table, _, _ in source.joins}
    missing = sorted(wanted - set(warehouse))
    if missing:
        raise ModelError(f"tables not in the warehouse DDL: {', '.join(missing)}")
    _check_columns(measures, warehouse)
    tables = [warehouse[n] for n in sorted(wanted, key=lambda n: (not _is_dimension(n), n))]
    keys = {t.primary_key[0]: t.name for t in tables if len(t.primary_key) == 1 and _is_dimension(t.name)}
    relationships: list[Relationship] = []
    for table in tables:
        source = sources.get(table.name)
        if source and source.dated and table.name != DATE_TABLE:
            target = "date_key" if source.date_is_key else "full_date"
            relationships.append(Relationship(table.name, source.date_column, DATE_TABLE, target))
        for column in table.columns:
            to = keys.get(column.name)
            if to and to != table.name and column.name not in {r.from_column for r in relationships
                                                                 if r.from_table == table.name}:
                relationships.append(Relationship(table.name, column.name, to, column.name))
    targets = {r.to_table for r in relationships}
    relationships = [Relationship(r.from_table, r.from_column, r.to_table, r.to_column, r.from_table not in targets)
                     for r in relationships]
    for source in sources.values():  # every join the SQL layer makes must be a relationship here
        for table, alias, on in source.joins:
            left, right = (s.strip() for s in on.split("="))
            pair = (left.removeprefix("f."), table, right.removeprefix(f"{alias}."))
            if pair not in {(r.from_column, r.to_table, r.to_column) for r in relationships
                            if r.from_table == source.table}:
                raise ModelError(f"{source.table}: join {on!r} has no relationship")
    by_home: dict[str, list[Measure]] = {}
    labels: dict[str, str] = {}
    for m in measures:
        home = home_table(m)
        if m.label.lower() in labels:
            raise ModelError(f"measures {labels[m.label.lower()]} and {m.name} share the label {m.label!r}")
        labels[m.label.lower()] = m.name
        if any(c.name.lower() == m.label.lower() for c in warehouse[home].columns):
            raise ModelError(f"measure label {m.label!r} equals a column of {home}")
        by_home.setdefault(home, []).append(m)
    return SemanticModel(tuple(tables), tuple(relationships), {k: tuple(v) for k, v in by_home.items()})
