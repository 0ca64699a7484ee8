"""The Dashboards stack (QuickSight as code): absent by default, and with ``-c quicksight=true`` a data source on
the warehouse, one dataset per metrics-layer source, an analysis and dashboard whose every reference resolves.

No QuickSight exists here: the checks are the synthesized template against the CloudFormation resource schemas
(cfn-lint and CDK's own template validation), cdk-nag, and the references between the definition's visuals,
calculated fields and dataset columns. One extra synth (flag on, ~50 s); the flag-off app is the session's ``dev``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.check import lint, validation_violations
from infra.config import quicksight_from_context
from infra.stacks.dashboards import VPC_CONNECTION_ACTIONS
from lakehouse.core.metrics import quicksight as qs
from lakehouse.core.metrics.catalog import MEASURES
from tests.infra.conftest import STACK_IDS, Synthesized, synthesize

PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:group/default/analysts"
SQL_DIR = Path(__file__).resolve().parents[2] / "glue_jobs" / "sql"


@pytest.fixture(scope="module")
def on(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk-quicksight"), stage="dev", quicksight="true", quicksightPrincipal=PRINCIPAL
    )


def _resources(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.resources("Dashboards", resource_type)


def _definition(synth: Synthesized, resource_type: str) -> dict[str, Any]:
    (resource,) = _resources(synth, resource_type).values()
    return resource["Properties"]["Definition"]


def _walk(value: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a JSON document."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                found.append(v)
            found += _walk(v, key)
    elif isinstance(value, list):
        for v in value:
            found += _walk(v, key)
    return found


def unresolved_references(definition: dict[str, Any], columns: dict[str, set[str]]) -> list[str]:
    """Every ``Column`` a visual or filter names, and every ``{field}`` a calculated field reads, that is neither
    a column of the dataset it names nor a calculated field of that dataset; undeclared datasets too."""
    declared = {d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]}
    fields: dict[str, set[str]] = {}
    for f in definition["CalculatedFields"]:
        fields.setdefault(f["DataSetIdentifier"], set()).add(f["Name"])
    problems = []
    for column in _walk(definition, "Column"):
        dataset, name = column["DataSetIdentifier"], column["ColumnName"]
        if dataset not in declared or name not in columns.get(dataset, set()) | fields.get(dataset, set()):
            problems.append(f"{dataset}.{name}")
    for f in definition["CalculatedFields"]:
        dataset = f["DataSetIdentifier"]
        for ref in re.findall(r"\{([^}]+)\}", f["Expression"]):
            if ref not in columns.get(dataset, set()) | fields.get(dataset, set()):
                problems.append(f"{f['Name']} -> {dataset}.{ref}")
    return problems


def _dataset_columns(synth: Synthesized) -> dict[str, set[str]]:
    out = {}
    for resource in _resources(synth, "AWS::QuickSight::DataSet").values():
        (table,) = resource["Properties"]["PhysicalTableMap"].values()
        sql = table["CustomSql"]
        out[sql["Name"]] = {c["Name"] for c in sql["Columns"]}
    return out


# --- off by default -------------------------------------------------------------------------------------------


def test_with_quicksight_off_the_app_has_no_quicksight_resource(dev) -> None:
    assert dev.lakehouse.dashboards is None
    assert [s.node.id for s in dev.lakehouse.stacks] == list(STACK_IDS)
    assert not (dev.outdir / "Dashboards.template.json").exists()
    for path in dev.outdir.glob("*.template.json"):
        types = {r["Type"] for r in json.loads(path.read_text())["Resources"].values()}
        assert not {t for t in types if t.startswith("AWS::QuickSight::")}, path.name


def test_turning_quicksight_on_changes_no_resource_of_the_other_stacks(dev, on) -> None:
    """The Dashboards stack only reads the warehouse (cross-stack outputs); every other resource is identical."""
    assert [s.node.id for s in on.lakehouse.stacks] == [*STACK_IDS, "Dashboards"]
    for stack_id in STACK_IDS:
        assert on.json(stack_id)["Resources"] == dev.json(stack_id)["Resources"], stack_id


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"quicksight": "true"}, "quicksightPrincipal"),
        ({"quicksight": "true", "quicksightPrincipal": "arn:aws:iam::123456789012:user/bob"}, "QuickSight user"),
        ({"quicksight": "maybe"}, "'quicksight': expected true or false"),
    ],
)
def test_quicksight_needs_a_quicksight_principal(context: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quicksight_from_context(context)


def test_quicksight_is_off_unless_asked_for() -> None:
    assert quicksight_from_context({}).enabled is False
    assert quicksight_from_context({"quicksight": "false", "quicksightPrincipal": "x"}).enabled is False
    options = quicksight_from_context({"quicksight": True, "quicksightPrincipal": PRINCIPAL})
    assert (options.enabled, options.principal_arn) == (True, PRINCIPAL)


# --- on: what it builds ---------------------------------------------------------------------------------------


def test_one_direct_query_dataset_per_source_table_with_the_generated_sql(on) -> None:
    expected = {d.identifier: d for d in qs.datasets(qs.warehouse_columns(SQL_DIR))}
    found = {}
    for resource in _resources(on, "AWS::QuickSight::DataSet").values():
        props = resource["Properties"]
        assert props["ImportMode"] == "DIRECT_QUERY"
        (table,) = props["PhysicalTableMap"].values()
        found[table["CustomSql"]["Name"]] = table["CustomSql"]
    assert set(found) == {m.source.table for m in MEASURES if m.source} | {qs.DAILY}
    for name, sql in found.items():
        assert sql["SqlQuery"] == expected[name].sql
        assert [(c["Name"], c["Type"]) for c in sql["Columns"]] == [
            (c.name, c.type.value) for c in expected[name].columns
        ]


def test_every_catalogue_measure_is_a_calculated_field_of_the_analysis(on) -> None:
    fields = {f["Name"]: f for f in _definition(on, "AWS::QuickSight::Analysis")["CalculatedFields"]}
    for measure in MEASURES:
        field = qs.measure_field(measure.name)
        assert field.name in fields, measure.name
        assert fields[field.name]["Expression"] == field.expression
        assert fields[field.name]["DataSetIdentifier"] == field.dataset


def test_every_column_a_visual_filter_or_field_names_exists_in_its_dataset(on) -> None:
    columns = _dataset_columns(on)
    analysis = _definition(on, "AWS::QuickSight::Analysis")
    assert unresolved_references(analysis, columns) == []
    assert _definition(on, "AWS::QuickSight::Dashboard") == analysis
    assert len(analysis["Sheets"]) == 7
    kpis = {v["KPIVisual"]["VisualId"] for s in analysis["Sheets"] for v in s["Visuals"] if "KPIVisual" in v}
    assert len(kpis) >= len([m for m in MEASURES if "overview" in m.tags])


def test_a_visual_naming_a_missing_column_is_reported() -> None:
    """Fault: a visual on a column its dataset lacks (a renamed DDL column) fails only in QuickSight, at render.
    Seen failing: with the check reduced to "the dataset is declared", this bogus column passed."""
    definition = {
        "DataSetIdentifierDeclarations": [{"Identifier": "fact_order", "DataSetArn": "arn"}],
        "CalculatedFields": [{"DataSetIdentifier": "fact_order", "Name": "orders", "Expression": "count({nope})"}],
        "Sheets": [{"Visuals": [{"KPIVisual": {"Column": {"DataSetIdentifier": "fact_order", "ColumnName": "gone"}}}]}],
    }
    assert unresolved_references(definition, {"fact_order": {"full_date"}}) == [
        "fact_order.gone",
        "orders -> fact_order.nope",
    ]


def test_the_data_source_reaches_the_private_workgroup_over_ssl_through_a_vpc_connection(on) -> None:
    (source,) = _resources(on, "AWS::QuickSight::DataSource").values()
    props = source["Properties"]
    assert props["Type"] == "REDSHIFT" and props["SslProperties"] == {"DisableSsl": False}
    redshift = props["DataSourceParameters"]["RedshiftParameters"]
    assert re.fullmatch(
        r"\$\{Warehouse:RedshiftWorkgroup[0-9A-F]{8}\.Workgroup\.Endpoint\.Address\}",
        on.render(redshift["Host"], "Dashboards"),
    )
    assert redshift["Port"] == 5439 and redshift["Database"] == on.lakehouse.deployment.settings.redshift.database
    (vpc_id,) = _resources(on, "AWS::QuickSight::VPCConnection")
    assert props["VpcConnectionProperties"]["VpcConnectionArn"] == {"Fn::GetAtt": [vpc_id, "Arn"]}
    secret = json.dumps(props["Credentials"]["CredentialPair"])
    assert "resolve:secretsmanager" in secret and "AdminSecret" in secret
    (connection,) = _resources(on, "AWS::QuickSight::VPCConnection").values()
    assert len(connection["Properties"]["SubnetIds"]) == 3


def test_only_the_quicksight_security_group_may_reach_the_workgroup_sql_port(on) -> None:
    ingress = [r["Properties"] for r in _resources(on, "AWS::EC2::SecurityGroupIngress").values()]
    into_workgroup = [p for p in ingress if "RedshiftSecurityGroup" in json.dumps(p["GroupId"])]
    assert len(into_workgroup) == 1
    rule = into_workgroup[0]
    assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (5439, 5439, "tcp")
    assert "CidrIp" not in rule and rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("SecurityGroup")


def test_every_quicksight_resource_is_owned_by_the_configured_principal(on) -> None:
    for resource_type in ("DataSource", "DataSet", "Analysis", "Dashboard"):
        for resource in _resources(on, f"AWS::QuickSight::{resource_type}").values():
            permissions = resource["Properties"]["Permissions"]
            assert [p["Principal"] for p in permissions] == [PRINCIPAL], resource_type


def test_the_flag_on_app_passes_cfn_lint_and_cdk_nag(on) -> None:
    findings = lint(on.outdir)
    assert not [f for f in findings if f.severity == "error"], findings
    assert {f.rule for f in findings} <= {"W3005", "W3010"}, findings
    assert not [f for f in validation_violations(on.outdir) if f.severity == "error"]


def test_the_vpc_role_wildcard_is_acknowledged_for_what_has_no_resource_arn_only(on, grants) -> None:
    """The one acknowledgement of the stack covers EC2 network-interface actions on ``*`` and nothing else."""
    ours = [a for a in on.acknowledged if a.path.startswith("Dashboards/")]
    assert [(a.path, a.rule) for a in ours] == [("Dashboards/VpcConnectionRole", "AwsSolutions-IAM5[Resource::*]")]
    statements = on.policy_statements("Dashboards", "VpcConnectionRole")
    grants(statements, {VPC_CONNECTION_ACTIONS: ["*"]})
