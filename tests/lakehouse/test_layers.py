"""The layer contracts of pyproject.toml are live: each kind of forbidden import is reported by ``lint-imports``.

Each case copies the packages to a temporary directory, adds one forbidden import to one module and runs
``lint-imports`` there: it must fail and name the import. The unmodified copy must pass (so a failure is the
added line's, not the copy's), and the contract the case breaks must be the one reported broken. Seen failing:
with the ``layers`` contract removed from a copy's pyproject.toml, ``glue_jobs -> stream`` passed lint-imports,
and ``core -> stage`` was reported only through the ``infra`` contract (infra imports the core), not ``layers``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def top_level_packages() -> set[str]:
    """Folders at the repository root that are Python packages (hold an ``__init__.py``), tests excluded."""
    return {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests"}


def test_every_top_level_package_is_under_contract() -> None:
    """A new top-level package (``ml/``, ``dashboards/``) must join the contracts' root packages."""
    assert set(CONTRACTS["root_packages"]) == top_level_packages()


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("layers") / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in CONTRACTS["root_packages"]:
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def lint_imports(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(directory)}
    return subprocess.run([str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_repository_keeps_its_contracts(source_copy: Path) -> None:
    result = lint_imports(source_copy)
    assert result.returncode == 0, result.stdout + result.stderr


def contract_name(contract_id: str) -> str:
    return next(c["name"] for c in CONTRACTS["contracts"] if c["id"] == contract_id)


@pytest.mark.parametrize("module, line, reported, contract", [
    ("lakehouse/core/config.py", "import stream.records", "lakehouse.core.config -> stream.records", "layers"),
    ("lakehouse/core/lake/storage.py", "from lakehouse.local import batch",
     "lakehouse.core.lake.storage -> lakehouse.local.batch", "layers"),
    ("glue_jobs/star/job.py", "from stream import rfm", "glue_jobs.star.job -> stream.rfm", "layers"),
    ("lambdas/ingest/app.py", "import glue_jobs.curated.rules", "lambdas.ingest.app -> glue_jobs.curated.rules",
     "layers"),
    ("stream/sink.py", "from lakehouse.local.aws import embedded", "stream.sink -> lakehouse.local.aws.embedded",
     "layers"),
    ("infra/stacks/storage.py", "import lambdas.ingest.handler", "infra.stacks.storage -> lambdas.ingest.handler",
     "infra"),
    ("lakehouse/core/spark.py", "import infra.build", "lakehouse.core.spark -> infra.build", "runtime-not-infra"),
])
def test_a_forbidden_import_is_reported(source_copy: Path, tmp_path: Path, module: str, line: str,
                                        reported: str, contract: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(source_copy, copy)
    target = copy / module
    target.write_text(target.read_text() + f"\n\ndef _forbidden() -> None:\n    {line}  # hidden inside a function\n")
    result = lint_imports(copy)
    assert result.returncode != 0, result.stdout
    assert f"{contract_name(contract)} BROKEN" in result.stdout, result.stdout
    assert reported in result.stdout, result.stdout
