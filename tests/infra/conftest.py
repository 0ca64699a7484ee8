"""Synthesize the CDK app once per session (per stage) and give tests its templates.

Synthesizing goes through jsii (a Node process) and takes seconds, so every test of ``tests/infra`` shares the
session's ``dev`` and ``prod`` assemblies. Templates are read as plain JSON; ``aws_cdk.assertions.Template``
objects are built from that JSON on demand and cached.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from infra.app import Lakehouse, create_app
from infra.build import ROOT
from infra.components import nag

# The synthesized templates must not depend on the shell: no account from a CDK CLI environment.
for _variable in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
    os.environ.pop(_variable, None)
REGION = "us-east-1"

STACK_IDS = ("Storage", "Streaming", "Ingestion", "Warehouse", "Batch", "Monitoring")


def cdk_json_context() -> dict[str, Any]:
    """The context ``cdk synth`` passes (feature flags and defaults from cdk.json)."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesized:
    """One synthesized app: its stacks, the cloud assembly directory and the recorded acknowledgements."""

    lakehouse: Lakehouse
    outdir: Path
    acknowledged: list[nag.Acknowledged]
    _templates: dict[str, Template] = field(default_factory=dict)

    def json(self, stack_id: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack_id}.template.json").read_text())

    def template(self, stack_id: str) -> Template:
        if stack_id not in self._templates:
            self._templates[stack_id] = Template.from_json(self.json(stack_id))
        return self._templates[stack_id]

    def resources(self, stack_id: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json(stack_id)["Resources"].items() if v["Type"] == resource_type}

    def all_resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        found = {}
        for stack_id in STACK_IDS:
            found.update({f"{stack_id}/{k}": v for k, v in self.resources(stack_id, resource_type).items()})
        return found

    def validation_report(self) -> dict[str, Any]:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.exists() else {"pluginReports": []}

    def render(self, value: Any, stack_id: str) -> str:
        """A CloudFormation value as a readable string: ``${Logical.Attr}``, ``${Stack:Logical.Attr}``, joins."""
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return ",".join(self.render(v, stack_id) for v in value)
        (function, argument), *_ = value.items()
        if function == "Ref":
            return "${" + argument + "}"
        if function == "Fn::GetAtt":
            return "${" + ".".join(argument) + "}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(self.render(part, stack_id) for part in parts)
        if function == "Fn::Sub":
            return argument if isinstance(argument, str) else argument[0]
        if function == "Fn::GetStackOutput":
            producer = next(s for s in self.lakehouse.stacks if s.stack_name == argument["StackName"])
            output = self.json(producer.node.id)["Outputs"][argument["OutputName"]]["Value"]
            return "${" + producer.node.id + ":" + self.render(output, producer.node.id)[2:]
        return json.dumps(value, sort_keys=True)

    def policy_statements(self, stack_id: str, policy_prefix: str) -> list[dict[str, Any]]:
        """Statements of the inline policies whose logical id starts with ``policy_prefix``, rendered."""
        statements = []
        for logical_id, policy in self.resources(stack_id, "AWS::IAM::Policy").items():
            if not logical_id.startswith(policy_prefix):
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                statements.append(
                    {
                        "effect": statement["Effect"],
                        "actions": tuple(sorted(actions)),
                        "resources": tuple(sorted(self.render(r, stack_id) for r in resources)),
                        "condition": statement.get("Condition"),
                    }
                )
        if not statements:
            raise AssertionError(f"no policy starting with {policy_prefix!r} in {stack_id}")
        return statements


def matches_grants(statements: list[dict[str, Any]], expected: dict[tuple[str, ...], list[str]]) -> None:
    """Assert the statements grant exactly ``expected``: actions → resource patterns (fnmatch), nothing else."""
    granted: dict[tuple[str, ...], list[str]] = {}
    for statement in statements:
        assert statement["effect"] == "Allow"
        granted.setdefault(statement["actions"], []).extend(statement["resources"])
    assert set(granted) == {tuple(sorted(a)) for a in expected}, f"granted actions differ: {sorted(granted)}"
    for actions, patterns in expected.items():
        resources = sorted(granted[tuple(sorted(actions))])
        assert len(resources) == len(patterns), f"{actions}: {resources}"
        for pattern in patterns:
            assert any(fnmatch.fnmatchcase(r, pattern) for r in resources), f"{actions}: {pattern} not in {resources}"


def synthesize(outdir: Path, **context: Any) -> Synthesized:
    context = {**cdk_json_context(), "region": REGION, **context}
    lakehouse = create_app(context, outdir=str(outdir))
    acknowledged = nag.recorded()
    lakehouse.app.synth()
    return Synthesized(lakehouse, outdir, acknowledged)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), stage="dev")


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), stage="prod")


@pytest.fixture(scope="session")
def grants():
    """``grants(statements, expected)``: the statements allow exactly the expected actions on those resources."""
    return matches_grants


@pytest.fixture(scope="session")
def unacknowledged_findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(rule, construct path) of every cdk-nag finding when no acknowledgement is applied (dev stage)."""
    outdir = tmp_path_factory.mktemp("cdk-nag-bare")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(outdir, stage="dev", **{nag.DISABLE_CONTEXT_KEY: "false"})
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
