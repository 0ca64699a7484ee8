"""Job arguments outside Glue (argparse) and the settings they select."""

from __future__ import annotations

from glue_jobs.common.args import REDSHIFT_ARGUMENTS, job_arguments, on_glue, settings_from


def test_arguments_are_read_with_argparse_off_glue(tmp_path) -> None:
    assert not on_glue()
    args = job_arguments(["job.py", "--stage", "prod", "--lake_root", str(tmp_path), "--force", "--unknown", "x"],
                         ["stage", "lake_root", "region"], flags=["force"])
    assert args == {"stage": "prod", "lake_root": str(tmp_path), "region": None, "force": True}
    settings = settings_from(args)
    assert settings.stage == "prod" and settings.lake.base == str(tmp_path.resolve())


def test_defaults_apply_when_an_argument_is_absent() -> None:
    args = job_arguments(["job.py"], ["target"], defaults={"target": "duckdb"}, flags=["force"])
    assert args == {"target": "duckdb", "force": False}


def test_redshift_connection_comes_from_job_parameters(monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT__DATABASE", "from_env")
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT__USER", "loader")
    argv = ["load_warehouse.py", "--target", "redshift", "--redshift_host", "wg.example.internal",
            "--redshift_port", "5440", "--redshift_workgroup", "lakehouse-prod-wg",
            "--redshift_secret_arn", "arn:aws:secretsmanager:eu-west-1:1:secret:admin",
            "--redshift_copy_role_arn", "arn:aws:iam::1:role/copy", "--redshift_schema_name", "marts"]
    args = job_arguments(argv, ["target", *REDSHIFT_ARGUMENTS])
    redshift = settings_from(args).redshift
    assert (redshift.host, redshift.port, redshift.workgroup) == ("wg.example.internal", 5440, "lakehouse-prod-wg")
    assert redshift.secret_arn.endswith(":secret:admin") and redshift.copy_role_arn.endswith("role/copy")
    assert redshift.schema_name == "marts"
    assert redshift.database == "from_env" and redshift.user == "loader"  # not given: the environment's value


def test_a_bad_redshift_parameter_names_the_field() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="port"):
        settings_from({"redshift_port": "not-a-port"})
