"""The Glue jobs' DefaultArguments, as synthesized, parsed by the very models their entry scripts parse.

A name the stack passes that no script reads, a value a script cannot parse, or a script whose model is not the
one the stack built from, fails here: the stacks and the scripts cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.build import ROOT
from lakehouse.core.job_args import (
    GLUE_PARAMETERS,
    BuildStarArguments,
    ForgetArguments,
    JobArguments,
    LoadWarehouseArguments,
    RawToCuratedArguments,
    StreamingJobArguments,
)
from ml.job import TrainAndScoreArguments

#: entry script -> the model it parses (each script names its model; checked below)
SCRIPTS: dict[str, type[JobArguments]] = {
    "glue_jobs/raw_to_curated.py": RawToCuratedArguments,
    "glue_jobs/build_star.py": BuildStarArguments,
    "glue_jobs/load_warehouse.py": LoadWarehouseArguments,
    "glue_jobs/forget.py": ForgetArguments,
    "stream/glue_job.py": StreamingJobArguments,
    "ml/job.py": TrainAndScoreArguments,
}


def glue_jobs(synth) -> list[tuple[str, dict]]:
    """(stack id, job properties) of every Glue job of the app."""
    return [(stack, props["Properties"]) for stack in ("Batch", "Streaming")
            for props in synth.resources(stack, "AWS::Glue::Job").values()]


def script_of(synth, stack: str, props: dict) -> str:
    """The repository path of the job's script, found by content (the asset key is a hash of it)."""
    location = synth.render(props["Command"]["ScriptLocation"], stack)
    digest = location.rsplit("/", 1)[-1].removesuffix(".py")
    asset = next(synth.outdir.glob(f"asset.{digest}*"))
    content = (asset.read_bytes() if asset.is_file() else next(asset.glob("*.py")).read_bytes())
    (path,) = [p for p in SCRIPTS if (ROOT / p).read_bytes() == content]
    return path


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_job_argument_is_one_its_script_reads(stage: str, request) -> None:
    synth = request.getfixturevalue(stage)
    seen = set()
    for stack, props in glue_jobs(synth):
        script = script_of(synth, stack, props)
        seen.add(script)
        model = SCRIPTS[script]
        args = {k: synth.render(v, stack) for k, v in props["DefaultArguments"].items()}
        argv = [script, "--JOB_NAME", props["Name"], *[x for kv in args.items() for x in kv]]
        parsed = model.parse(argv)
        assert parsed.ignored == (), f"{props['Name']}: {script} reads no {parsed.ignored}"
        ours = {k for k in args if k.removeprefix("--") not in GLUE_PARAMETERS}
        assert ours == set(parsed.arguments.to_glue()) | {f"--{n}" for n in parsed.arguments.model_fields_set}
        assert parsed.arguments.settings().stage == stage
    assert seen == set(SCRIPTS)


@pytest.mark.parametrize("script, model", SCRIPTS.items())
def test_each_script_parses_its_model(script: str, model: type[JobArguments]) -> None:
    assert f"{model.__name__}" in Path(ROOT / script).read_text()
