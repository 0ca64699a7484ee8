"""The layer contracts of pyproject.toml are live: each kind of forbidden import is reported by ``lint-imports``.

Each case copies the packages to a temporary directory, adds one forbidden import to one module and runs
``lint-imports`` there: it must fail and name the import. The unmodified copy must pass (so a failure is the
added line's, not the copy's), and the contract the case breaks must be the one reported broken. Seen failing:
with the ``layers`` contract removed from a copy's pyproject.toml, ``glue_jobs -> stream`` passed lint-imports,
and ``core -> stage`` was reported only through the ``infra`` contract (infra imports the core), not ``layers``.
"""

from __future__ import annotations

import ast
import os
import re
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


def layers() -> list[set[str]]:
    """The ``layers`` contract's layers, top first, each as the set of its modules."""
    (contract,) = [c for c in CONTRACTS["contracts"] if c["id"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


def test_every_top_level_package_is_under_contract() -> None:
    """A new top-level package (``ml/``, ``dashboards/``) must join the root packages *and* a layer.

    Seen failing: with ``ml`` added to root_packages only (and ``ml/__init__.py`` importing ``stream.rfm`` and
    ``lakehouse.local.demo``), lint-imports kept every contract; this test named ``ml`` as outside the stages.
    """
    assert set(CONTRACTS["root_packages"]) == top_level_packages()
    top, stages, core = layers()
    assert top == {"lakehouse.local"} and core == {"lakehouse.core"}
    assert stages == top_level_packages() - {"lakehouse", "infra"}, "every stage package is in the stages layer"


PRODUCTION = ("lakehouse", "lambdas", "glue_jobs", "stream", "infra")


def forbidden_for(module: str) -> tuple[str, ...]:
    """Packages ``module`` may not name (what the contracts forbid it to import)."""
    stages = layers()[1]
    if module.startswith("lakehouse.core"):
        return (*stages, "lakehouse.local", "infra")
    if module.split(".")[0] in stages:
        return (*(s for s in stages if s != module.split(".")[0]), "lakehouse.local", "infra")
    if module.startswith("infra"):
        return (*stages, "lakehouse.local")
    return ()


def module_strings(path: Path) -> list[str]:
    """String literals of a file that look like a dotted module name (docstrings left out)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+", node.value)]


def test_no_module_reaches_across_the_layers_by_name() -> None:
    """import-linter sees import statements only: ``importlib.import_module("stream.records")``, ``__import__`` or
    ``python -m glue_jobs.build_star`` in a subprocess would pass it. No production module names a module it may
    not import. Seen failing: with ``importlib.import_module("stream.records")`` added to lakehouse/core/config.py.
    """
    crossing = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            banned = forbidden_for(module)
            crossing += [f"{module}: {s!r}" for s in module_strings(path)
                         if any(s == b or s.startswith(b + ".") for b in banned)]
    assert crossing == []


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
    ("stream/stateful.py", "from lakehouse.local.aws import embedded",
     "stream.stateful -> lakehouse.local.aws.embedded", "layers"),
    ("infra/stacks/storage.py", "import lambdas.ingest.handler", "infra.stacks.storage -> lambdas.ingest.handler",
     "infra"),
    ("lakehouse/core/spark.py", "import infra.build", "lakehouse.core.spark -> infra.build", "runtime-not-infra"),
    ("glue_jobs/warehouse/load.py", "from glue_jobs.star import schema", "glue_jobs.warehouse.load -> "
                                                                         "glue_jobs.star.schema", "warehouse-loader"),
    ("glue_jobs/curated/job.py", "import glue_jobs.warehouse.plan", "glue_jobs.curated.job -> "
                                                                    "glue_jobs.warehouse.plan", "warehouse-loader"),
    ("infra/stacks/storage.py", "from lakehouse.core.aws.clients import aws_client",
     "infra.stacks.storage -> lakehouse.core.aws.clients", "infra-declarations"),
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
