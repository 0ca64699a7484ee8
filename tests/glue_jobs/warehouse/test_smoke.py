"""The Redshift smoke script, offline: its arguments, its settings and the plan it would send (never AWS here)."""

from __future__ import annotations

import json

import pytest

from glue_jobs.warehouse import grammar, smoke
from glue_jobs.warehouse.sql_files import star_tables, views
from lakehouse.core.config import RedshiftSettings, Settings

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
ARGS = ["--workgroup", "wg-smoke", "--database", "analytics_db", "--copy-role-arn", ROLE,
        "--lake-root", "s3://acme-lake/lakehouse", "--region", "eu-west-1"]


def test_arguments_override_settings_and_load_a_schema_of_its_own(tmp_path) -> None:
    options = smoke.parse_args(ARGS)
    assert options.schema == "lakehouse_smoke" and not options.dry_run and not options.drop_schema
    base = Settings(home=tmp_path, redshift=RedshiftSettings(workgroup="prod-wg", copy_role_arn="arn:other"))
    settings = smoke.smoke_settings(options, base)
    rs = settings.redshift
    assert (rs.workgroup, rs.database, rs.copy_role_arn, rs.schema_name) == (
        "wg-smoke", "analytics_db", ROLE, "lakehouse_smoke")
    assert settings.lake.is_s3 and settings.region == "eu-west-1" and settings.warehouse_target == "redshift"


def test_settings_fill_what_the_arguments_leave_out(tmp_path) -> None:
    base = Settings(home=tmp_path, lake_root="s3://b/l", redshift=RedshiftSettings(workgroup="wg", copy_role_arn=ROLE))
    settings = smoke.smoke_settings(smoke.parse_args(["--schema", "smoke_2"]), base)
    assert (settings.redshift.workgroup, settings.redshift.schema_name, settings.lake_root) == ("wg", "smoke_2",
                                                                                                "s3://b/l")


def test_the_production_schema_is_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        smoke.parse_args([*ARGS, "--schema", "lakehouse"])
    assert exited.value.code == 2


def test_the_plan_follows_redshift_grammar_and_checks_every_table_and_view(tmp_path) -> None:
    settings = smoke.smoke_settings(smoke.parse_args(ARGS), Settings(home=tmp_path))
    statements = smoke.plan(settings)
    for _, sql in statements:
        assert grammar.violations(sql) == []
    checks = [sql for step, sql in statements if step == "check"]
    assert len(checks) == len(star_tables()) + len(views())
    assert "SELECT COUNT(*) FROM lakehouse_smoke.fact_order" in checks
    assert statements[0] == ("tables", "CREATE SCHEMA IF NOT EXISTS lakehouse_smoke")
    assert statements[-1] == ("cleanup", "DROP SCHEMA IF EXISTS lakehouse_smoke CASCADE")


def test_dry_run_prints_the_plan_without_connecting(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    assert smoke.main([*ARGS, "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert any(s["sql"].startswith("MERGE INTO lakehouse_smoke.fact_order USING stage_fact_order AS s")
               for s in printed)


def test_a_missing_copy_role_is_one_line_and_status_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN", raising=False)
    assert smoke.main(["--lake-root", "s3://b/l", "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith("smoke: error: set LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN")
