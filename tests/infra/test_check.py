import json
from pathlib import Path

import pytest

from infra import check


def _assembly(tmp_path: Path, template: dict, report: dict | None = None) -> Path:
    (tmp_path / "Bad.template.json").write_text(json.dumps(template))
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "Bad": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://unknown-account/eu-west-1",
                        "properties": {"templateFile": "Bad.template.json"},
                    }
                }
            }
        )
    )
    if report is not None:
        (tmp_path / "validation-report.json").write_text(json.dumps(report))
    return tmp_path


def test_the_synthesized_app_passes(dev, capsys) -> None:
    assert check.main([str(dev.outdir)]) == 0
    assert "checked 6 templates: 0 errors" in capsys.readouterr().out


def test_a_template_error_fails_the_check(tmp_path: Path, capsys) -> None:
    assembly = _assembly(
        tmp_path, {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}
    )
    assert check.stack_regions(assembly) == {"Bad.template.json": "eu-west-1"}
    assert check.main([str(assembly)]) == 1
    out = capsys.readouterr().out
    assert "ERROR   cfn-lint" in out and "Bad.template.json" in out and "1 errors" in out


def test_an_unacknowledged_nag_error_fails_the_check(tmp_path: Path, capsys) -> None:
    report = {
        "pluginReports": [
            {
                "pluginName": "AwsSolutions",
                "violations": [
                    {
                        "ruleName": "AwsSolutions-S10",
                        "severity": "error",
                        "description": "no TLS",
                        "violatingConstructs": [{"constructPath": "Storage/Lake/Bucket/Resource"}],
                    }
                ],
            }
        ]
    }
    assembly = _assembly(tmp_path, {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}, report)
    assert check.main([str(assembly)]) == 1
    assert "AwsSolutions-S10 Storage/Lake/Bucket/Resource" in capsys.readouterr().out


def test_an_empty_assembly_says_to_synthesize_first(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make synth"):
        check.main([str(tmp_path)])
