"""The batch entry scripts as AWS Glue 5 runs them: Glue's argv, ``awsglue`` (the stand-in, tests/glue/stand_in),
``Job.init`` before the work and ``Job.commit`` after it; and Glue's argument resolution against ours.

Runs in both test environments; in `make test-glue` on Glue 5.0's Spark 3.5.4 and Python modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from glue_jobs import build_star, load_warehouse, raw_to_curated
from lakehouse.core.config import Settings
from lakehouse.core.job_args import RawToCuratedArguments
from tests.glue.runtime import glue_argv, glue_stand_in


def lake_arguments(settings: Settings) -> list[str]:
    return ["--lake_root", settings.lake.key(""), "--stage", settings.stage, "--region", settings.region]


SCRIPTS: list[tuple[str, Callable[[list[str]], dict[str, Any]], list[str], Callable[[dict[str, Any]], bool]]] = [
    ("raw_to_curated", raw_to_curated.main, ["--catalog", "false"],
     lambda summary: summary["skipped"] == "no new raw objects"),
    ("build_star", build_star.main, ["--force", "false"],
     lambda summary: summary["skipped"] == "curated zone, settings and rate file unchanged since the last build"),
    ("load_warehouse", load_warehouse.main, ["--target", "duckdb", "--force", "false"],
     lambda summary: summary["skipped"].startswith("duckdb already holds")),
]


@pytest.mark.parametrize(("script", "main", "own", "expected"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_each_batch_script_runs_as_a_glue_job(script: str, main: Callable[[list[str]], dict[str, Any]],
                                              own: list[str], expected: Callable[[dict[str, Any]], bool],
                                              lake_copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """With Glue's argv (run identity, bookmark option, special parameters with empty values and ``--no-index``, then
    the job's own ``--name value`` pairs) each script reads the built lake, initialises the job under Glue's
    ``--JOB_NAME`` with the options ``getResolvedOptions`` resolves, and commits once, after the work.

    Seen failing: with ``--python-modules-installer-option`` missing from the known Glue parameters, its value
    ``--no-index`` was reported as an unknown job argument.
    """
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    job_name = f"customer-lakehouse-{lake_copy.stage}-{script.replace('_', '-')}"
    with glue_stand_in(tmp_path / "glue-service") as glue:
        summary = main(glue_argv(f"{script}.py", job_name, *lake_arguments(lake_copy), *own))
        assert [name for name, _ in glue.calls if name.startswith("Job.")] == ["Job.init", "Job.commit"]
        (init,) = glue.called("Job.init")
        assert init["job_name"] == job_name
        assert init["args"]["JOB_NAME"] == job_name and init["args"]["job_bookmark_option"] == "job-bookmark-disable"
        assert init["args"]["TempDir"] == init["args"]["RedshiftTempDir"] == "s3://aws-glue-assets-1/temporary/"
        assert not glue.called("create_dynamic_frame.from_options")  # no bookmark: the manifest decides
    assert expected(summary), summary
    assert "ignored job arguments" not in capsys.readouterr().err


# --- Glue's argument resolution (awsglue.utils.getResolvedOptions) and ours (lakehouse.core.job_args) ---------

GLUE_ARGVS = {
    "as Glue 5 passes them": glue_argv("raw_to_curated.py", "job-a", "--catalog", "true", bookmark="enable"),
    "no bookmark option": ["x.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "job-b", "--catalog",
                           "true"],
    "job arguments first, option=value": ["x.py", "--catalog", "true", "--job-bookmark-option=job-bookmark-pause",
                                          "--JOB_NAME=job-c", "--TempDir", "s3://t/"],
    "values that look like options, empty values": [
        "x.py", "--python-modules-installer-option", "--upgrade", "--extra-py-files", "", "--conf", "",
        "--job-bookmark-option", "job-bookmark-enable", "--JOB_NAME", "job-d", "--catalog", "true",
        "--enable-auto-scaling", "true"],
}


@pytest.mark.parametrize("argv", GLUE_ARGVS.values(), ids=GLUE_ARGVS.keys())
def test_our_arguments_model_resolves_glues_argv_as_awsglue_does(argv: list[str], tmp_path: Path) -> None:
    """The job name and bookmark option our model reads agree with ``getResolvedOptions`` (the stand-in, written to
    awslabs/aws-glue-libs' semantics) on every argv; Glue's own parameters are neither errors nor "ignored"; the
    job's own argument is read.

    Seen failing: with the model's bookmark default changed to ``job-bookmark-enable``, the argv without a bookmark
    option disagreed with Glue's ``job-bookmark-disable``.
    """
    with glue_stand_in(tmp_path):
        from awsglue.utils import getResolvedOptions

        resolved = getResolvedOptions(argv, ["JOB_NAME"])
    ours = RawToCuratedArguments.parse(argv)
    assert (ours.job_name, ours.job_bookmark_option) == (resolved["JOB_NAME"], resolved["job_bookmark_option"])
    assert ours.ignored == () and ours.arguments.catalog is True


def test_the_stand_ins_argument_resolution_follows_awsglue(tmp_path: Path) -> None:
    """What awslabs/aws-glue-libs' ``getResolvedOptions`` does, case by case (the stand-in is the oracle above, so it
    is checked against the reference behaviour itself): requested options are required, Glue's reserved names
    cannot be requested, ``--TempDir`` mirrors into ``--RedshiftTempDir``, the old ``--continuation-option``
    spelling maps to a bookmark option, a paused bookmark takes both range options or neither.

    Seen failing: with the requested options not marked required, a missing ``--JOB_NAME`` no longer raised.
    """
    with glue_stand_in(tmp_path):
        from awsglue.utils import GlueArgumentError, getResolvedOptions

        with pytest.raises(GlueArgumentError, match="JOB_NAME"):
            getResolvedOptions(["x.py", "--stage", "dev"], ["JOB_NAME"])
        for reserved in ("job-bookmark-option", "continuation-option", "JOB_ID", "JOB_RUN_ID", "encryption-type",
                         "job-bookmark-from"):
            with pytest.raises(RuntimeError, match="reserved"):
                getResolvedOptions(["x.py"], [reserved])
        with pytest.raises(GlueArgumentError, match="invalid choice"):
            getResolvedOptions(["x.py", "--job-bookmark-option", "on"], [])
        resolved = getResolvedOptions(["x.py", "--TempDir", "s3://t/", "--unknown", "1", "--stage", "dev"],
                                      ["stage"])
        assert resolved["stage"] == "dev" and resolved["RedshiftTempDir"] == "s3://t/"
        assert resolved["job_bookmark_option"] == "job-bookmark-disable" and "unknown" not in resolved
        old = getResolvedOptions(["x.py", "--continuation-option", "continuation-readonly"], [])
        assert old["job_bookmark_option"] == "job-bookmark-pause"
        with pytest.raises(RuntimeError, match="Missing option or value for --job-bookmark-to"):
            getResolvedOptions(["x.py", "--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "jr_1"],
                               [])
        with pytest.raises(RuntimeError, match="Invalid option"):
            getResolvedOptions(["x.py", "--job-bookmark-from", "jr_1", "--job-bookmark-to", "jr_2"], [])


def test_the_scripts_are_glue_jobs_only_where_awsglue_is_importable(tmp_path: Path) -> None:
    """``on_glue()`` is true inside the stand-in's block only, so no other test takes the Glue path by accident."""
    from glue_jobs.common.runtime import on_glue

    assert not on_glue()
    with glue_stand_in(tmp_path):
        assert on_glue()
    assert not on_glue()
