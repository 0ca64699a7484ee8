"""The ML Glue job's entry script (ml/job.py): its arguments as Glue passes them, what it hands to the pipeline,
how it fails, and the warehouse-load job's ``--tables scores`` run that follows it in the batch chain."""

from __future__ import annotations

import inspect
import json
from datetime import date
from pathlib import Path

import pytest

import glue_jobs.load_warehouse as load_script
from lakehouse.core.config import Settings
from lakehouse.core.job_args import JobArgumentsError
from ml import job
from ml.pipeline import run_scoring
from ml.serving import SCORE_RUNS

#: What Glue 5.0 puts in sys.argv besides the job's DefaultArguments (AWS Glue Developer Guide, "Using job
#: parameters in AWS Glue jobs"): its own parameters, each with a value, one of them a value starting with "--".
GLUE_OWN = [
    "--JOB_ID", "j_0123", "--JOB_RUN_ID", "jr_4567", "--JOB_NAME", "customer-lakehouse-dev-train-and-score",
    "--TempDir", "s3://customer-lakehouse-dev-lake/state/customer-lakehouse-dev-train-and-score/",
    "--job-bookmark-option", "job-bookmark-disable", "--job-language", "python",
    "--additional-python-modules", "s3://cdk-assets/abc.zip", "--python-modules-installer-option", "--no-index",
    "--enable-metrics", "true",
]


class Recorder:
    """A stand-in for ml.pipeline.run_scoring that records its call and answers a fixed report."""

    def __init__(self) -> None:
        self.calls: list[tuple[Settings, date | None, int | None, int | None]] = []

    def __call__(self, settings, cutoff, horizon_days, churn_days) -> dict:
        self.calls.append((settings, cutoff, horizon_days, churn_days))
        return {"run_id": "r-1", "customers": 3, "cutoff": cutoff}


def test_arguments_as_glue_passes_them_among_its_own() -> None:
    argv = ["job.py", *GLUE_OWN, "--stage", "prod", "--lake_root", "s3://bucket", "--cutoff", "2026-11-30",
            "--horizon_days", "60", "--churn_days", "120"]
    arguments = job.parse_arguments(argv, glue=False)
    assert (arguments.stage, arguments.lake_root) == ("prod", "s3://bucket")
    assert (arguments.cutoff, arguments.horizon_days, arguments.churn_days) == (date(2026, 11, 30), 60, 120)
    assert arguments.settings().lake.root_uri == "s3://bucket"


def test_arguments_not_given_leave_the_pipeline_defaults() -> None:
    arguments = job.parse_arguments(["job.py", "--stage", "dev"], glue=False)
    assert (arguments.cutoff, arguments.horizon_days, arguments.churn_days) == (None, None, None)


@pytest.mark.parametrize(
    ("kind", "argv", "message"),
    [
        ("a date not in ISO form", ["--cutoff", "30/11/2026"], "--cutoff"),
        ("an empty window", ["--horizon_days", "0"], "--horizon_days"),
        ("a negative window", ["--churn_days", "-5"], "--churn_days"),
        ("an argument without its value", ["--churn_days"], "--churn_days needs a value"),
        ("a misspelt argument, off Glue", ["--horizon", "90"], "unknown arguments --horizon"),
    ],
)
def test_unusable_arguments_are_refused_by_name(kind: str, argv: list[str], message: str) -> None:
    """Seen failing: without ``ge=1`` on the windows, ``--horizon_days 0`` parsed and reached the pipeline."""
    with pytest.raises(JobArgumentsError, match=message):
        job.parse_arguments(["job.py", *argv], glue=False)


def test_on_glue_an_unknown_parameter_is_reported_not_fatal(capsys) -> None:
    """Glue may add parameters this job does not know: a run must not die of them (reported on stderr)."""
    arguments = job.parse_arguments(["job.py", "--enable-new-glue-thing", "x", "--cutoff", "2026-01-02"], glue=True)
    assert arguments.cutoff == date(2026, 1, 2)
    assert "--enable-new-glue-thing" in capsys.readouterr().err


def test_main_hands_settings_and_windows_to_the_pipeline_and_logs_its_report(tmp_path: Path, capsys) -> None:
    scoring = Recorder()
    argv = ["job.py", "--stage", "dev", "--lake_root", str(tmp_path / "lake"), "--cutoff", "2025-06-15",
            "--horizon_days", "14", "--churn_days", "21"]
    report = job.main(argv, scoring=scoring)
    ((settings, cutoff, horizon, churn),) = scoring.calls
    assert (settings.stage, settings.lake_root) == ("dev", str(tmp_path / "lake"))
    assert (cutoff, horizon, churn) == (date(2025, 6, 15), 14, 21)
    # the report is the last log line, as JSON (the date as ISO text)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"run_id": "r-1", "customers": 3, "cutoff": "2025-06-15"}
    assert report["run_id"] == "r-1"


def test_help_lists_the_job_arguments(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        job.main(["job.py", "--help"], scoring=Recorder())
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert all(f"--{name}" in usage for name in ("cutoff", "horizon_days", "churn_days", "lake_root"))


def test_entry_ends_a_bad_argument_with_one_line_and_status_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        job.entry(["job.py", "--cutoff", "yesterday"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("job.py: error: --cutoff")


def test_a_pipeline_failure_fails_the_run() -> None:
    """Glue marks the run FAILED only if the script raises: a failed scoring must not end with status 0."""

    def failing(*_: object) -> dict:
        raise RuntimeError("no orders before the cutoff")

    with pytest.raises(RuntimeError, match="no orders"):
        job.main(["job.py", "--stage", "dev"], scoring=failing)


# --- the warehouse-load job's LoadScores run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "called"), [(["--tables", "scores"], "load_scores"), ([], "load_warehouse"),
                          (["--tables", "star"], "load_warehouse")]
)
def test_load_job_loads_the_scores_only_when_asked(monkeypatch, tmp_path: Path, extra, called) -> None:
    """``--tables scores`` (the LoadScores state) loads the scores table, never the star build again.

    Seen failing: with the ``tables == "scores"`` branch removed from glue_jobs/load_warehouse.py, the scores run
    called load_warehouse (which skips an already loaded build) and the scores never reached the warehouse.
    """
    seen: list[tuple[str, bool]] = []

    class Report:
        def as_dict(self) -> dict:
            return {"target": "duckdb"}

    def stub(name: str):
        def load(settings: Settings, *, target: object, force: bool = False, **options: bool) -> Report:
            seen.append((name, force))
            return Report()
        return load

    monkeypatch.setattr(load_script, "load_scores", stub("load_scores"))
    monkeypatch.setattr(load_script, "load_warehouse", stub("load_warehouse"))
    monkeypatch.setattr(load_script, "target_for", lambda settings, name: object())
    load_script.main(["load_warehouse.py", "--lake_root", str(tmp_path), "--force", "true", *extra])
    assert seen == [(called, True)]


# --- with the real pipeline --------------------------------------------------------------------------------------


def test_the_real_pipeline_takes_what_the_job_hands_over(settings: Settings) -> None:
    """ml/job.py calls run_scoring(settings, cutoff, horizon_days, churn_days) positionally."""
    inspect.signature(run_scoring).bind(settings, date(2025, 6, 15), 14, 21)
    inspect.signature(run_scoring).bind(settings, None, None, None)


def test_the_job_scores_a_built_lake_with_the_real_pipeline(lake_copy: Settings, monkeypatch, capsys) -> None:
    """The whole job on the suite's built lake (May-June 2025): a scoring run for the cutoff is committed.

    The lake is the session's (tests/lake_fixtures.py, shared with the batch and warehouse tests); the cutoff leaves
    the 58 days of history two 14-day label windows need.
    """
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))  # the job's settings come from env + arguments

    argv = ["job.py", "--stage", lake_copy.stage, "--lake_root", lake_copy.lake.root_uri, "--cutoff", "2025-06-30",
            "--horizon_days", "14", "--churn_days", "14"]
    report = job.main(argv)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == json.loads(json.dumps(report, default=str))
    records = sorted(Path(lake_copy.lake.key(SCORE_RUNS)).glob("*.json"))
    assert [json.loads(r.read_text())["cutoff_date"] for r in records] == ["2025-06-30"]
