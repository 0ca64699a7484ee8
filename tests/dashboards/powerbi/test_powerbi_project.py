"""The committed Power BI project: fresh, consistent with the warehouse DDL, complete against the metrics layer.

The TMDL is read back with regular expressions over the text (not the generator's data structures), and the DDL
through the warehouse loader's own parser (``glue_jobs.warehouse.sql_files``), so neither side checks itself.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dashboards.powerbi.build import PROJECT_DIR, differences, main, project_files
from dashboards.powerbi.ddl import DDL_DIRS
from dashboards.powerbi.semantic import ModelError
from glue_jobs.warehouse.sql_files import TableSpec, score_tables, star_tables
from lakehouse.core.metrics.catalog import MEASURES

MODEL = PROJECT_DIR / "CustomerLakehouse.SemanticModel"
DEFINITION = MODEL / "definition"
#: Redshift type (first word) -> the Tabular dataTypes that hold it without loss (TOM DataType enumeration)
COMPATIBLE = {
    "BIGINT": {"int64"}, "INTEGER": {"int64"}, "INT": {"int64"}, "SMALLINT": {"int64"},
    "DOUBLE": {"double"}, "REAL": {"double"}, "BOOLEAN": {"boolean"},
    "DATE": {"dateTime"}, "TIMESTAMP": {"dateTime"}, "VARCHAR": {"string"}, "CHAR": {"string"},
}

#: unique columns besides primary keys: dim_date has one row per calendar day (glue_jobs/sql/ddl/dim_date.sql)
UNIQUE = {"dim_date.full_date"}


def compatible(redshift_type: str) -> set[str]:
    t = redshift_type.upper()
    if t.startswith("DECIMAL"):
        scale = int(re.findall(r"\d+", t)[1])
        return {"decimal", "double"} if scale <= 4 else {"double"}
    return COMPATIBLE[re.split(r"[ (]", t)[0]]


@dataclass
class TmdlTable:
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # name -> dataType
    measures: dict[str, str] = field(default_factory=dict)  # DAX name -> expression
    metric_names: list[str] = field(default_factory=list)
    m_source: str = ""


def _unquote(name: str) -> str:
    return name[1:-1].replace("''", "'") if name.startswith("'") else name


def read_tmdl_tables(definition: Path) -> dict[str, TmdlTable]:
    out = {}
    for path in sorted((definition / "tables").glob("*.tmdl")):
        text = path.read_text(encoding="utf-8")
        table = TmdlTable(_unquote(re.search(r"^table (.+)$", text, re.M).group(1)))
        for col, dtype in re.findall(r"^\tcolumn (.+)\n\t\tdataType: (\w+)$", text, re.M):
            table.columns[_unquote(col)] = dtype
        for mname, expr in re.findall(r"^\tmeasure ('(?:[^']|'')+'|\w+) = (.+)$", text, re.M):
            table.measures[_unquote(mname)] = expr
        table.metric_names = re.findall(r"^\t\tannotation MetricName = (\w+)$", text, re.M)
        table.m_source = text.split("source =", 1)[1] if "source =" in text else ""
        out[table.name] = table
    return out


def read_relationships(definition: Path) -> list[dict[str, str]]:
    text = (definition / "relationships.tmdl").read_text(encoding="utf-8")
    rels = []
    for block in re.split(r"\n(?=relationship )", text.strip()):
        rel = dict(re.findall(r"^\t(\w+): (.+)$", block, re.M))
        rel["name"] = block.splitlines()[0].removeprefix("relationship ")
        rels.append(rel)
    return rels


def ddl_tables() -> dict[str, TableSpec]:
    return {**star_tables(), **score_tables()}


def problems(definition: Path, ddl: dict[str, TableSpec]) -> list[str]:
    """Every table, column, type, partition and relationship end of the TMDL that the DDL does not back."""
    out = []
    tables = read_tmdl_tables(definition)
    for t in tables.values():
        if t.name not in ddl:
            out.append(f"table {t.name} is not in the DDL")
            continue
        types = dict(ddl[t.name].columns)
        for col, dtype in t.columns.items():
            if col not in types:
                out.append(f"{t.name}.{col} is not in the DDL")
            elif dtype not in compatible(types[col]):
                out.append(f"{t.name}.{col}: {dtype} cannot hold {types[col]}")
        if f'[Name = "{t.name}"]' not in t.m_source:
            out.append(f"{t.name}: the partition does not read table {t.name}")
        selected = re.search(r"Table\.SelectColumns\(Data, \{(.*)\}\)", t.m_source)
        if not selected or set(re.findall(r'"(\w+)"', selected.group(1))) != set(t.columns):
            out.append(f"{t.name}: the partition's columns are not the table's columns")
    for rel in read_relationships(definition):
        for end in ("fromColumn", "toColumn"):
            table, column = rel[end].split(".")
            if table not in ddl or column not in dict(ddl[table].columns):
                out.append(f"relationship {rel['name']}: {rel[end]} is not in the DDL")
            elif table not in tables or column not in tables[table].columns:
                out.append(f"relationship {rel['name']}: {rel[end]} is not in the model")
        to_table, to_column = rel["toColumn"].split(".")
        if to_table in ddl and ddl[to_table].primary_key != (to_column,) and rel["toColumn"] not in UNIQUE:
            out.append(f"relationship {rel['name']}: {rel['toColumn']} is not a unique key (one side)")
        (ft, fc), (tt, tc) = rel["fromColumn"].split("."), rel["toColumn"].split(".")
        if fc in tables.get(ft, TmdlTable("")).columns and tc in tables.get(tt, TmdlTable("")).columns \
                and tables[ft].columns[fc] != tables[tt].columns[tc]:
            out.append(f"relationship {rel['name']}: the two ends have different data types")
    return out


def test_committed_project_equals_a_fresh_generation() -> None:
    assert differences(project_files(), PROJECT_DIR) == [], "run `python -m dashboards.powerbi.build`"


def test_check_mode_reports_a_hand_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fault test: with `differences` replaced by a names-only comparison, `--check` returned 0 (seen)."""
    out = tmp_path / "project"
    assert main(["--out", str(out)]) == 0
    tmdl = out / "CustomerLakehouse.SemanticModel/definition/tables/fact_order.tmdl"
    tmdl.write_text(tmdl.read_text().replace("FALSE()", "TRUE()", 1))
    assert main(["--out", str(out), "--check"]) == 1
    assert "fact_order.tmdl" in capsys.readouterr().out


def test_every_table_column_type_and_relationship_is_in_the_ddl() -> None:
    assert problems(DEFINITION, ddl_tables()) == []


def test_a_renamed_ddl_column_is_caught() -> None:
    """Fault test: fact_order.customer_key renamed in the DDL is reported as a column and as a relationship end;
    with the relationship-end loop removed from `problems`, the second assertion failed (seen)."""
    ddl = ddl_tables()
    spec = ddl["fact_order"]
    renamed = tuple(("buyer_key" if n == "customer_key" else n, t) for n, t in spec.columns)
    ddl["fact_order"] = TableSpec(spec.name, spec.ddl, renamed, spec.primary_key)
    found = problems(DEFINITION, ddl)
    assert "fact_order.customer_key is not in the DDL" in found
    assert any("fact_order.customer_key" in p and p.startswith("relationship") for p in found)


def test_a_renamed_measure_column_stops_the_generator(tmp_path: Path) -> None:
    """Fault test: a DDL without fact_order.order_value_rc (a measure's column) must not generate a model; with
    `semantic._check_columns` disabled the generator wrote it anyway (DID NOT RAISE, seen)."""
    dirs = []
    for src in DDL_DIRS:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        dirs.append(dst)
    ddl = tmp_path / "ddl" / "fact_order.sql"
    ddl.write_text(ddl.read_text().replace("order_value_rc ", "order_value_rc2 "))
    with pytest.raises(ModelError, match="order_value_rc"):
        project_files(ddl_dirs=dirs)


def test_a_changed_type_is_caught() -> None:
    ddl = ddl_tables()
    spec = ddl["fact_refund"]
    retyped = tuple((n, "VARCHAR(16)" if n == "refund_amount_rc" else t) for n, t in spec.columns)
    ddl["fact_refund"] = TableSpec(spec.name, spec.ddl, retyped, spec.primary_key)
    assert problems(DEFINITION, ddl) == ["fact_refund.refund_amount_rc: decimal cannot hold VARCHAR(16)"]


def test_every_catalogue_measure_has_its_dax_measure_and_no_other() -> None:
    tables = read_tmdl_tables(DEFINITION)
    named = [n for t in tables.values() for n in t.metric_names]
    assert sorted(named) == sorted(m.name for m in MEASURES)
    labels = {m.label: m for m in MEASURES}
    dax_names = {n for t in tables.values() for n in t.measures}
    assert dax_names == set(labels)
    for t in tables.values():
        for name, expr in t.measures.items():
            for ref in re.findall(r"(?<!')\[([^\]]+)\]", re.sub(r"'[^']*'\[[^\]]*\]", "", expr)):
                assert ref in dax_names, f"{name} refers to unknown measure [{ref}]"
            source = labels[name].source
            if source is not None:
                assert t.name == source.table, f"{name} should live on {source.table}"
                assert f"'{source.table}'" in expr


def test_date_links_follow_the_metrics_layer() -> None:
    rels = {(r["fromColumn"], r["toColumn"]): r.get("isActive", "true") for r in read_relationships(DEFINITION)}
    for m in MEASURES:
        if m.source is None or m.source.table == "dim_date":
            continue
        to = "dim_date.date_key" if m.source.date_is_key else "dim_date.full_date"
        linked = (f"{m.source.table}.{m.source.date_column}", to) in rels
        assert linked == m.source.dated, m.name  # a source that is not dated has no calendar to follow
    assert rels[("dim_customer.first_seen_date", "dim_date.full_date")] == "false"
    assert all(active == "true" for (src, _), active in rels.items() if not src.startswith("dim_"))
    assert rels[("fact_order.customer_key", "dim_customer.customer_key")] == "true"


def test_tmdl_indents_with_tabs_only() -> None:
    for path in DEFINITION.rglob("*.tmdl"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not line.startswith(" "), f"{path.name}:{number} indents with spaces"
            assert re.match(r"^\t*(\S|    )", line) or not line, f"{path.name}:{number}"


def test_project_files_have_the_documented_shapes() -> None:
    pbip = json.loads((PROJECT_DIR / "CustomerLakehouse.pbip").read_text())
    assert pbip["artifacts"] == [{"report": {"path": "CustomerLakehouse.Report"}}]
    assert float(json.loads((MODEL / "definition.pbism").read_text())["version"]) >= 4.0
    pbir = json.loads((PROJECT_DIR / "CustomerLakehouse.Report/definition.pbir").read_text())
    target = (PROJECT_DIR / "CustomerLakehouse.Report" / pbir["datasetReference"]["byPath"]["path"]).resolve()
    assert target == MODEL.resolve()
    pbids = json.loads((PROJECT_DIR / "CustomerLakehouse.pbids").read_text())
    assert pbids["version"] == "0.1" and len(pbids["connections"]) == 1
    assert set(pbids["connections"][0]["details"]["address"]) == {"server", "database"}
    expressions = (DEFINITION / "expressions.tmdl").read_text()
    assert 'expression RedshiftSchema = "lakehouse" meta [IsParameterQuery=true' in expressions
