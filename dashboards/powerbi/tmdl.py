"""Render the semantic model as TMDL text: the ``definition/`` folder of a Power BI Project's semantic model.

Syntax (Microsoft Learn, "Tabular Model Definition Language (TMDL)",
https://learn.microsoft.com/analysis-services/tmdl/tmdl-overview): an object is its TOM type and name
(``table fact_order``); names with anything but letters, digits and ``_`` in single quotes (a quote doubled);
children and properties indented one **tab** deeper than their parent; a default property after ``=``
(a measure's DAX, a partition's M, an expression's value); a multi-line value on the following lines, one level
deeper than the object's properties; descriptions as ``///`` lines above the object. Files: ``database.tmdl``,
``model.tmdl``, ``expressions.tmdl``, ``relationships.tmdl``, ``tables/<table>.tmdl`` (the TMDL folder
structure of the same page).

Each table is imported (``mode: import``) by an M partition that reads the Redshift table through the
``RedshiftServer``/``RedshiftDatabase``/``RedshiftSchema`` parameters with ``AmazonRedshift.Database(server,
database)`` and navigation by ``Name`` (Power Query M reference, "AmazonRedshift.Database",
https://learn.microsoft.com/powerquery-m/amazonredshift-database), keeping the model's columns only.
``lineageTag``\\ s are UUIDs derived from the object's path, so a regeneration yields the same text.
"""

from __future__ import annotations

import re
import uuid

from dashboards.powerbi import dax
from dashboards.powerbi.ddl import Column, WarehouseTable
from dashboards.powerbi.semantic import DATE_TABLE, SemanticModel
from lakehouse.core.config import RedshiftSettings
from lakehouse.core.metrics.model import Measure

TAB = "\t"
COMPATIBILITY_LEVEL = 1567  # the TMDL overview's example; Power BI semantic models support it
PARAMETERS = ("RedshiftServer", "RedshiftDatabase", "RedshiftSchema")
PLACEHOLDER_HOST = "WORKGROUP.ACCOUNT_ID.REGION.redshift-serverless.amazonaws.com"
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAMESPACE = uuid.UUID("6f1d3a52-1c1e-4c43-9b55-1d0c6b6a9e11")


def name(text: str) -> str:
    """A TMDL object name: as is when plain, else in single quotes with quotes doubled."""
    return text if _PLAIN.match(text) else "'" + text.replace("'", "''") + "'"


def lineage(path: str) -> str:
    """A stable lineageTag for the object at ``path`` (e.g. ``table/fact_order/column/order_id``)."""
    return str(uuid.uuid5(_NAMESPACE, path))


def _description(text: str, depth: int) -> list[str]:
    return [f"{TAB * depth}/// {text.strip()}"] if text.strip() else []


def default_server(settings: RedshiftSettings | None = None) -> str:
    """The ``RedshiftServer`` parameter's value: ``host:port`` (a placeholder host until you set yours)."""
    s = settings or RedshiftSettings()
    return f"{s.host or PLACEHOLDER_HOST}:{s.port}"


def expressions_tmdl(settings: RedshiftSettings | None = None) -> str:
    """``expressions.tmdl``: the three text parameters of the Redshift connection."""
    s = settings or RedshiftSettings()
    values = dict(zip(PARAMETERS, (default_server(s), s.database, s.schema_name), strict=True))
    lines: list[str] = []
    for param, value in values.items():
        quoted = '"' + value.replace('"', '""') + '"'
        lines += [f'expression {param} = {quoted} meta [IsParameterQuery=true, Type="Text", '
                  'IsParameterQueryRequired=true]',
                  f"{TAB}lineageTag: {lineage(f'expression/{param}')}", "",
                  f"{TAB}annotation PBI_ResultType = Text", ""]
    return "\n".join(lines)


def database_tmdl(database: str) -> str:
    """``database.tmdl``."""
    return f"database {name(database)}\n{TAB}compatibilityLevel: {COMPATIBILITY_LEVEL}\n"


def model_tmdl(model: SemanticModel) -> str:
    """``model.tmdl``: culture, no implicit measures (every number comes from the metrics layer), table order."""
    order = ", ".join(f'"{q}"' for q in [*PARAMETERS, *(t.name for t in model.tables)])
    lines = ["model Model", f"{TAB}culture: en-US", f"{TAB}defaultPowerBIDataSourceVersion: powerBI_V3",
             f"{TAB}discourageImplicitMeasures", f"{TAB}sourceQueryCulture: en-US", "",
             f"{TAB}annotation PBI_QueryOrder = [{order}]", ""]
    lines += [f"ref table {name(t.name)}" for t in model.tables]
    return "\n".join(lines) + "\n"


def relationships_tmdl(model: SemanticModel) -> str:
    """``relationships.tmdl``: many-to-one, single direction (the defaults), inactive where :mod:`.semantic` says."""
    columns = {(t.name, c.name): c for t in model.tables for c in t.columns}
    lines: list[str] = []
    for r in model.relationships:
        lines.append(f"relationship {name(r.name)}")
        if not r.active:
            lines.append(f"{TAB}isActive: false")
        if columns[(r.from_table, r.from_column)].data_type == "dateTime":
            lines.append(f"{TAB}joinOnDateBehavior: datePartOnly")
        lines += [f"{TAB}fromColumn: {name(r.from_table)}.{name(r.from_column)}",
                  f"{TAB}toColumn: {name(r.to_table)}.{name(r.to_column)}", ""]
    return "\n".join(lines)


def _measure(table: str, m: Measure, model: SemanticModel) -> list[str]:
    link = model.date_relationship(m.source) if m.source else None
    lines = _description(m.description, 1)
    lines += [f"{TAB}measure {name(m.label)} = {dax.expression(m, link)}",
              f"{TAB * 2}formatString: {dax.FORMAT_STRINGS[m.format]}"]
    if m.tags:
        lines.append(f"{TAB * 2}displayFolder: {m.tags[0].capitalize()}")
    lines += [f"{TAB * 2}lineageTag: {lineage(f'table/{table}/measure/{m.name}')}", "",
              f"{TAB * 2}annotation MetricName = {m.name}", "",
              f"{TAB * 2}annotation Unit = {m.unit}", "",
              f"{TAB * 2}annotation Grain = {m.grain}", ""]
    return lines


def _column(table: WarehouseTable, c: Column, hidden: bool) -> list[str]:
    lines = [f"{TAB}column {name(c.name)}", f"{TAB * 2}dataType: {c.data_type}"]
    if c.data_type == "dateTime" and c.redshift_type.upper() == "DATE":
        lines.append(f"{TAB * 2}formatString: yyyy-mm-dd")
    if hidden:
        lines.append(f"{TAB * 2}isHidden")
    if table.name == DATE_TABLE and c.name == "full_date":
        lines.append(f"{TAB * 2}isKey")
    lines += [f"{TAB * 2}lineageTag: {lineage(f'table/{table.name}/column/{c.name}')}",
              f"{TAB * 2}summarizeBy: none", f"{TAB * 2}sourceColumn: {c.name}", "",
              f"{TAB * 2}annotation SummarizationSetBy = User", ""]
    if c.data_type == "dateTime" and c.redshift_type.upper() == "DATE":
        lines += [f"{TAB * 2}annotation UnderlyingDateTimeDataType = Date", ""]
    return lines


def partition_m(table: WarehouseTable) -> list[str]:
    """The partition's M: the table of the ``RedshiftSchema`` schema, with the model's columns."""
    cols = ", ".join(f'"{c.name}"' for c in table.columns)
    return ["let",
            "    Source = AmazonRedshift.Database(RedshiftServer, RedshiftDatabase),",
            "    Schema = Source{[Name = RedshiftSchema]}[Data],",
            f'    Data = Schema{{[Name = "{table.name}"]}}[Data],',
            f"    Selected = Table.SelectColumns(Data, {{{cols}}})",
            "in",
            "    Selected"]


def table_tmdl(table: WarehouseTable, model: SemanticModel) -> str:
    """``tables/<table>.tmdl``: description (the DDL's comment), measures, columns (DDL order), partition."""
    foreign = {r.from_column for r in model.relationships if r.from_table == table.name}
    lines = _description(table.comment, 0)
    lines += [f"table {name(table.name)}"]
    if table.name == DATE_TABLE:
        lines.append(f"{TAB}dataCategory: Time")
    lines += [f"{TAB}lineageTag: {lineage(f'table/{table.name}')}", ""]
    for m in model.measures.get(table.name, ()):
        lines += _measure(table.name, m, model)
    for c in table.columns:
        lines += _column(table, c, hidden=c.name in foreign and c.name.endswith("_key"))
    lines += [f"{TAB}partition {name(table.name)} = m", f"{TAB * 2}mode: import", f"{TAB * 2}source ="]
    lines += [f"{TAB * 3}{line}" for line in partition_m(table)]
    lines += ["", f"{TAB}annotation PBI_ResultType = Table", ""]
    return "\n".join(lines)


def definition_files(model: SemanticModel, database: str,
                     settings: RedshiftSettings | None = None) -> dict[str, str]:
    """Every file of the ``definition/`` folder, by path relative to it."""
    files = {"database.tmdl": database_tmdl(database), "model.tmdl": model_tmdl(model),
             "expressions.tmdl": expressions_tmdl(settings), "relationships.tmdl": relationships_tmdl(model)}
    for table in model.tables:
        files[f"tables/{table.name}.tmdl"] = table_tmdl(table, model)
    return files
