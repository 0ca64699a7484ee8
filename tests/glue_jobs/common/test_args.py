"""Job arguments outside Glue (argparse) and the settings they select."""

from __future__ import annotations

from glue_jobs.common.args import job_arguments, on_glue, settings_from


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
