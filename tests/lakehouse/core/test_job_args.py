"""The one job-arguments model: the same spelling locally and on Glue, errors that name the argument."""

from __future__ import annotations

import pytest

from lakehouse.core.config import StreamSettings
from lakehouse.core.job_args import (
    GLUE_PARAMETERS,
    BuildStarArguments,
    JobArgumentsError,
    LoadWarehouseArguments,
    RawToCuratedArguments,
    StreamingJobArguments,
)

#: sys.argv as Glue builds it for a job run: its own parameters around the job's (AWS Glue Developer Guide,
#: "Using job parameters in AWS Glue jobs"; a special parameter may carry an empty value)
GLUE_ARGV = ["/tmp/raw_to_curated.py", "--JOB_ID", "j_0123", "--JOB_RUN_ID", "jr_0123", "--job-bookmark-option",
             "job-bookmark-enable", "--TempDir", "s3://lake/state/tmp/", "--enable-metrics", "",
             "--enable-continuous-cloudwatch-log", "true", "--JOB_NAME", "lakehouse-prod-raw-to-curated",
             "--stage", "prod", "--lake_root", "s3://lake", "--catalog", "true"]


def test_glue_argv_is_read_with_glue_own_parameters_set_aside() -> None:
    parsed = RawToCuratedArguments.parse(GLUE_ARGV)
    assert parsed.arguments.catalog is True and parsed.arguments.stage == "prod"
    assert parsed.job_name == "lakehouse-prod-raw-to-curated"
    assert parsed.job_bookmark_option == "job-bookmark-enable"
    assert parsed.ignored == ()
    assert parsed.arguments.settings().lake.is_s3


def test_local_argv_uses_the_same_words() -> None:
    parsed = RawToCuratedArguments.parse(["raw_to_curated.py", "--catalog", "false", "--stage", "dev"])
    assert parsed.arguments.catalog is False and parsed.job_name is None
    assert parsed.job_bookmark_option == "job-bookmark-disable"  # awsglue's default when absent


@pytest.mark.parametrize("spelling, expected", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                                ("false", False), ("0", False), ("no", False)])
def test_booleans_take_a_value(spelling: str, expected: bool) -> None:
    assert BuildStarArguments.parse(["build_star.py", "--force", spelling]).arguments.force is expected


def test_full_rebuild_and_reload_are_job_arguments() -> None:
    """``--full true`` (issue 15, item 2): build_star rebuilds from the whole curated zone, load_warehouse loads
    every table whole; off by default (incremental)."""
    assert BuildStarArguments.parse(["build_star.py", "--full", "true"]).arguments.full is True
    assert BuildStarArguments.parse(["build_star.py"]).arguments.full is False
    assert LoadWarehouseArguments.parse(["load_warehouse.py", "--full", "true"]).arguments.full is True


@pytest.mark.parametrize("argv, message", [
    (["build_star.py", "--force"], "--force needs a value (booleans too: --force true)"),
    (["build_star.py", "--force", "--stage", "dev"], "--force needs a value"),
    (["build_star.py", "--force", "maybe"], "--force: Input should be a valid boolean"),
    (["load_warehouse.py", "--redshift_port", "x"], "--redshift_port: Input should be a valid integer"),
    (["load_warehouse.py", "--target", "postgres"], "--target: Input should be 'duckdb' or 'redshift'"),
    (["raw_to_curated.py", "--job-bookmark-option", "job-bookmark-maybe"], "--job-bookmark-option"),
])
def test_a_bad_argument_is_an_error_naming_it(argv: list[str], message: str) -> None:
    with pytest.raises(JobArgumentsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        type_for(argv[0]).parse(argv)


def type_for(script: str):
    return {"build_star.py": BuildStarArguments, "load_warehouse.py": LoadWarehouseArguments,
            "raw_to_curated.py": RawToCuratedArguments}[script]


def test_an_argument_no_job_reads_is_reported_not_used() -> None:
    parsed = BuildStarArguments.parse(["build_star.py", "--forc", "true", "--catalog", "true"])
    assert parsed.ignored == ("--forc", "--catalog") and parsed.arguments.force is False


def test_redshift_connection_comes_from_job_parameters(monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT__DATABASE", "from_env")
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT__USER", "loader")
    argv = ["load_warehouse.py", "--target", "redshift", "--redshift_host", "wg.example.internal",
            "--redshift_port", "5440", "--redshift_workgroup", "lakehouse-prod-wg",
            "--redshift_secret_arn", "arn:aws:secretsmanager:eu-west-1:1:secret:admin",
            "--redshift_copy_role_arn", "arn:aws:iam::1:role/copy", "--redshift_schema_name", "marts"]
    args = LoadWarehouseArguments.parse(argv).arguments
    redshift = args.settings().redshift
    assert args.target == "redshift"
    assert (redshift.host, redshift.port, redshift.workgroup) == ("wg.example.internal", 5440, "lakehouse-prod-wg")
    assert redshift.secret_arn.endswith(":secret:admin") and redshift.copy_role_arn.endswith("role/copy")
    assert redshift.schema_name == "marts"
    assert redshift.database == "from_env" and redshift.user == "loader"  # not given: the environment's value


def test_stream_tuning_arrives_as_job_parameters() -> None:
    """On Glue no LAKEHOUSE_STREAM__* variable exists: every tuning value must come as a parameter."""
    tuned = StreamSettings(trigger_seconds=5, max_records_per_trigger=40_000, writer_threads=8)
    from lakehouse.core.config import Settings

    glue = StreamingJobArguments.from_settings(Settings(stage="prod", stream=tuned), stream_arn="arn:s").to_glue()
    parsed = StreamingJobArguments.parse(["glue_job.py", *[x for kv in glue.items() for x in kv]])
    stream = parsed.arguments.settings().stream
    assert stream == tuned and parsed.arguments.stream_arn == "arn:s" and parsed.ignored == ()


def test_every_stream_setting_has_its_argument() -> None:
    """A new StreamSettings field without its ``--stream_*`` argument would never reach the Glue job."""
    assert {f"stream_{name}" for name in StreamSettings.model_fields} == {
        name for name in StreamingJobArguments.names() if name.startswith("stream_") and name != "stream_arn"}


def test_a_tuning_value_out_of_range_names_its_argument() -> None:
    args = StreamingJobArguments.parse(["glue_job.py", "--stream_trigger_seconds", "5000"]).arguments
    with pytest.raises(JobArgumentsError, match="--stream_trigger_seconds: Input should be less than or equal"):
        args.settings()


def test_to_glue_holds_only_what_was_given() -> None:
    assert BuildStarArguments(stage="prod").to_glue() == {"--stage": "prod"}
    assert RawToCuratedArguments(catalog=True).to_glue() == {"--catalog": "true"}


def test_no_job_argument_collides_with_a_glue_parameter() -> None:
    for model in (RawToCuratedArguments, BuildStarArguments, LoadWarehouseArguments, StreamingJobArguments):
        assert not set(model.names()) & GLUE_PARAMETERS


def test_a_glue_parameter_whose_value_starts_with_dashes_is_not_taken_for_an_argument() -> None:
    argv = ["load_warehouse.py", "--python-modules-installer-option", "--no-index", "--enable-metrics", "",
            "--enable-spark-ui", "--force", "true"]
    parsed = LoadWarehouseArguments.parse(argv)
    assert parsed.ignored == () and parsed.arguments.force is True


def test_every_batch_setting_reaches_a_glue_job_that_reads_it() -> None:
    """A BatchSettings field no batch job model carries would keep its default on Glue, whatever was deployed."""
    from lakehouse.core.config import BatchSettings

    carried = {name.removeprefix("batch_") for model in (RawToCuratedArguments, BuildStarArguments)
               for name in model.names() if name.startswith("batch_")}
    assert carried == set(BatchSettings.model_fields)


def test_from_settings_carries_deploy_time_tuning_and_given_values_win() -> None:
    from lakehouse.core.config import BatchSettings, Settings

    settings = Settings(stage="prod", batch=BatchSettings(session_gap_minutes=45, rfm_window_days=180))
    star = BuildStarArguments.from_settings(settings, lake_root="s3://lake", force=True)
    parsed = BuildStarArguments.parse(["build_star.py", *[x for kv in star.to_glue().items() for x in kv]])
    assert parsed.arguments.settings().batch == settings.batch and parsed.arguments.force is True
    curated = RawToCuratedArguments.from_settings(settings, batch_session_gap_minutes=20)
    assert curated.settings().batch.session_gap_minutes == 20 and curated.settings().stage == "prod"
