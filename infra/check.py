"""Check a synthesized cloud assembly: cfn-lint on every template, and no unacknowledged cdk-nag error.

``python -m infra.check [cdk.out]`` exits non-zero when cfn-lint reports an error (warnings are printed) or
when the assembly's validation report holds an unacknowledged error-severity violation.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    """One finding of the offline checks: which tool and rule, how severe, where (file:line or construct path)."""

    source: str  # "cfn-lint" or the validation plugin's name
    rule: str
    severity: str  # "error", "warning", "informational"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper():7} {self.source} {self.rule} {self.where}: {self.message}"


def templates(assembly: Path) -> list[Path]:
    """The CloudFormation templates of a synthesized assembly; ``FileNotFoundError`` when there are none."""
    found = sorted(assembly.glob("*.template.json"))
    if not found:
        raise FileNotFoundError(f"no templates in {assembly}: run the synth first (make synth)")
    return found


def stack_regions(assembly: Path) -> dict[str, str]:
    """Template file name → the region its stack deploys to (from manifest.json)."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    regions: dict[str, str] = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            template = artifact["properties"]["templateFile"]
            region = artifact.get("environment", "aws://unknown-account/unknown-region").rsplit("/", 1)[-1]
            regions[template] = region if region != "unknown-region" else "us-east-1"
    return regions


def lint(assembly: Path) -> list[Finding]:
    """cfn-lint findings of every template in the assembly (all severities)."""
    from cfnlint.api import ManualArgs, lint_file

    regions = stack_regions(assembly)
    findings = []
    for template in templates(assembly):
        region = regions.get(template.name, "us-east-1")
        for match in lint_file(template, config=ManualArgs(regions=[region])):
            findings.append(
                Finding(
                    "cfn-lint",
                    match.rule.id,
                    match.rule.severity.lower(),
                    f"{template.name}:{match.linenumber}",
                    match.message,
                )
            )
    return findings


def validation_violations(assembly: Path) -> list[Finding]:
    """Unacknowledged violations in the assembly's policy validation report (cdk-nag, CloudFormation rules)."""
    report_file = assembly / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    findings = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings.append(
                    Finding(
                        plugin["pluginName"],
                        violation["ruleName"],
                        violation.get("severity", "error").lower(),
                        construct["constructPath"],
                        violation.get("description", ""),
                    )
                )
    return findings


def main(argv: list[str] | None = None) -> int:
    """Check the assembly in ``argv[0]`` (default ``cdk.out``), print every finding; exit status 1 on any error."""
    args = sys.argv[1:] if argv is None else argv
    assembly = Path(args[0] if args else "cdk.out")
    count = len(templates(assembly))
    findings = [*validation_violations(assembly), *lint(assembly)]
    for finding in findings:
        print(finding)
    errors = [f for f in findings if f.severity == "error"]
    print(f"checked {count} templates: {len(errors)} errors, {len(findings) - len(errors)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
