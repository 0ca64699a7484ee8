"""`lakehouse cost` as a user runs it: the bill per component for a stage and rate, overrides as `cdk deploy -c`
takes them, a clear error for a bad override, and the generated cost document."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from infra.cost import Workload, bill
from lakehouse.local.cli.main import app

runner = CliRunner()


def total(output: str) -> tuple[float, float]:
    match = re.search(r"total\s*│\s*([\d,.]+)\s*│\s*([\d,.]+)", output)
    assert match, output
    return float(match[1].replace(",", "")), float(match[2].replace(",", ""))


def test_the_bill_of_prod_at_a_thousand_events_a_second() -> None:
    result = runner.invoke(app, ["cost", "--rate", "1000"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for component in ("API Gateway (REST API)", "WAF", "Lambda (ingest)", "Kinesis Data Streams", "S3", "DynamoDB",
                      "Glue streaming job", "Glue batch jobs", "Redshift Serverless", "CloudWatch"):
        assert component in result.output
    expected = bill("prod", Workload(1000))
    assert total(result.output) == (round(expected.total, 2), round(expected.per_million, 4))


def test_an_override_changes_the_profile_priced() -> None:
    """-c kinesis_mode=provisioned prices shards, not on-demand GB; more events per request cost less."""
    base = total(runner.invoke(app, ["cost", "--rate", "100"], env={"COLUMNS": "200"}).output)
    provisioned = runner.invoke(app, ["cost", "--rate", "100", "-c", "kinesis_mode=provisioned"],
                                env={"COLUMNS": "200"})
    assert provisioned.exit_code == 0 and "shard" in provisioned.output
    batched = total(runner.invoke(app, ["cost", "--rate", "100", "--events-per-request", "100"],
                                  env={"COLUMNS": "200"}).output)
    assert batched[1] < base[1]


def test_a_bad_override_is_refused_naming_it() -> None:
    for args, message in ((["-c", "kinesis_mode=fast"], "kinesis_mode"), (["-c", "waf"], "expected KEY=VALUE"),
                          (["-c", "streaming_workers=two"], "streaming_workers"),
                          # seen before: an unknown key was ignored, the default profile priced as if it applied
                          (["-c", "kinesis_shards=4"], "kinesis_shards: not a profile field; the fields are")):
        result = runner.invoke(app, ["cost", *args])
        assert result.exit_code != 0 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_markdown_prints_the_cost_document() -> None:
    result = runner.invoke(app, ["cost", "--markdown"])
    assert result.exit_code == 0 and result.output.startswith("# Cost model")
    assert "| **$ per million events** |" in result.output


def test_a_stage_other_than_prod_says_it_is_priced_as_dev() -> None:
    """Seen before: `--stage nope` printed "nope at 1,000 events/s" with dev's bill, not saying so (a review)."""
    result = runner.invoke(app, ["cost", "--stage", "staging"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "staging (the dev profile: every stage but prod has it)" in result.output
    assert total(result.output) == total(runner.invoke(app, ["cost", "--stage", "dev"], env={"COLUMNS": "200"}).output)


def test_an_infinite_or_impossible_workload_is_refused_naming_the_option() -> None:
    """Seen failing before the upper bounds: ``--rate inf`` passed ``min=0.001`` and ended in an OverflowError
    traceback (infra/cost.py, ``math.ceil`` of an infinite object size)."""
    for args, option in ((["--rate", "inf"], "--rate"), (["--rate", "1e12"], "--rate"),
                         (["--events-per-request", "inf"], "--events-per-request"),
                         (["--events-per-request", "2501"], "--events-per-request"),
                         (["--event-kb", "inf"], "--event-kb"), (["--event-kb", "33"], "--event-kb")):
        result = runner.invoke(app, ["cost", *args], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output, \
            (args, result.output)
    assert runner.invoke(app, ["cost", "--rate", "1000000", "--events-per-request", "2500", "--event-kb", "32"],
                         env={"COLUMNS": "200"}).exit_code == 0
