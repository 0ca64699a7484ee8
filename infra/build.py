"""Build the deployment packages the stacks upload, without Docker, reproducibly and cached.

* the ingest function's **layer**: ``pip install -r lambdas/ingest/requirements.txt`` for the Lambda platform
  (manylinux wheels only) into ``<layer>/python``, plus a copy of the shared ``lakehouse`` package;
* the **Glue libraries**: zips of the ``lakehouse`` core with ``glue_jobs`` (batch jobs) or ``stream`` (the
  streaming job), passed to the Glue jobs as ``--extra-py-files``;
* the **Glue Python modules**: a zip of the wheels the Glue jobs need beyond Glue's own (pydantic, sqlglot,
  redshift-connector … at the versions pinned in pyproject.toml), installed by Glue from S3 with
  ``--additional-python-modules`` and ``--no-index``: jobs never download packages at run time.

Outputs live under ``build/infra/`` and are rebuilt only when an input changes (a digest of the requirements,
the target platform and every source file is kept next to each output), so ``cdk synth`` and the tests stay
fast after the first build. The pip steps are cached separately, keyed by requirements and platform only.

Run ``python -m infra.build`` to build (or rebuild) everything explicitly.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "infra"

# The Lambda target: one place decides runtime and CPU, and the wheels pip fetches follow from it.
# Python 3.12+ Lambda runtimes run on Amazon Linux 2023 (glibc 2.34).
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")  # Graviton

# The Glue 5.0 target: Python 3.11 on x86_64 Amazon Linux 2023 (glibc 2.34).
GLUE_PYTHON_VERSION = "3.11"
GLUE_PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
#: What the Glue jobs import beyond Glue's own modules; versions come from pyproject.toml.
GLUE_RUNTIME_PACKAGES = ("pydantic", "pydantic-settings", "sqlglot", "redshift-connector")

# Sources copied into packages; caches and compiled files never are.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BuildError(RuntimeError):
    """A package could not be built; the message says which input and why."""


@dataclass(frozen=True)
class Sources:
    """Where the code to package lives (the repository root by default)."""

    root: Path = ROOT

    @property
    def core(self) -> Path:
        return self.root / "lakehouse"

    @property
    def ingest(self) -> Path:
        return self.root / "lambdas" / "ingest"

    @property
    def ingest_requirements(self) -> Path:
        return self.ingest / "requirements.txt"

    @property
    def glue_scripts(self) -> Path:
        """Entry scripts of the batch Glue jobs (``raw_to_curated.py`` …)."""
        return self.root / "glue_jobs"

    @property
    def streaming_script(self) -> Path:
        return self.root / "stream" / "glue_job.py"

    @property
    def batch_packages(self) -> tuple[Path, ...]:
        return (self.core, self.root / "glue_jobs")

    @property
    def streaming_packages(self) -> tuple[Path, ...]:
        return (self.core, self.root / "stream")

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"


def source_files(package: Path) -> Iterator[Path]:
    """Every file of a package that belongs in a deployment package, in a stable order."""
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if path.is_file() and not (_IGNORED_PARTS & set(rel.parts)) and path.suffix not in _IGNORED_SUFFIXES:
            yield path


def digest(parts: Iterable[str | bytes | Path], base: Path | None = None) -> str:
    """SHA-256 over strings, bytes and files (path relative to ``base`` and content)."""
    sha = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            sha.update(str(part.relative_to(base) if base else part).encode())
            sha.update(part.read_bytes())
        elif isinstance(part, str):
            sha.update(part.encode())
        else:
            sha.update(part)
        sha.update(b"\0")
    return sha.hexdigest()


def _stamp(output: Path) -> Path:
    return output.with_name(output.name + ".sha256")


def _up_to_date(output: Path, wanted: str) -> bool:
    return output.exists() and _stamp(output).exists() and _stamp(output).read_text() == wanted


def _mark(output: Path, wanted: str) -> None:
    _stamp(output).write_text(wanted)


def _copy_package(package: Path, target: Path) -> None:
    for path in source_files(package):
        dest = target / package.name / path.relative_to(package)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)


def _pip(
    verb: str,
    requirements: Path,
    target: Path,
    python: str,
    platforms: Sequence[str],
    what: str,
) -> None:
    """``pip install --target`` or ``pip download --dest`` of binary wheels for another platform."""
    destination = (
        ["--target", str(target), "--no-compile", "--upgrade"] if verb == "install" else ["--dest", str(target)]
    )
    command = [
        sys.executable,
        "-m",
        "pip",
        verb,
        "--quiet",
        "--disable-pip-version-check",
        "--requirement",
        str(requirements),
        *destination,
        "--python-version",
        python,
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ]
    for platform in platforms:
        command += ["--platform", platform]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip could not {verb} {requirements} for {what}:\n{result.stderr.strip()}")


def ingest_dependencies(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """Third-party packages of the ingest function, installed for the Lambda platform (cached)."""
    requirements = sources.ingest_requirements
    if not requirements.is_file():
        raise BuildError(f"missing {requirements}: the ingest function's runtime dependencies")
    wanted = digest([requirements.read_bytes(), *LAMBDA_PIP_PLATFORMS, LAMBDA_PYTHON_VERSION])
    output = build_dir / "ingest-dependencies"
    if _up_to_date(output, wanted):
        return output
    staging = build_dir / "ingest-dependencies.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip("install", requirements, staging, LAMBDA_PYTHON_VERSION, LAMBDA_PIP_PLATFORMS, "the Lambda layer")
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    _mark(output, wanted)
    return output


def ingest_layer(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """The ingest function's layer directory (``python/`` holds dependencies and ``lakehouse``)."""
    dependencies = ingest_dependencies(sources, build_dir)
    core_files = list(source_files(sources.core))
    wanted = digest([_stamp(dependencies).read_text(), *core_files], sources.root)
    output = build_dir / "ingest-layer"
    if _up_to_date(output, wanted):
        return output
    shutil.rmtree(output, ignore_errors=True)
    site = output / "python"
    shutil.copytree(dependencies, site)
    _copy_package(sources.core, site)
    _mark(output, wanted)
    return output


def write_zip(target: Path, files: Iterable[tuple[str, Path]]) -> None:
    """A byte-for-byte reproducible zip (entries in the given order, fixed times and permissions)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, _FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(target)


def package_entries(packages: Iterable[Path]) -> list[tuple[str, Path]]:
    """(name in the zip, file) of every file of the packages, each under its package's folder."""
    return [
        (f"{package.name}/{path.relative_to(package).as_posix()}", path)
        for package in packages
        for path in source_files(package)
    ]


def python_library(name: str, packages: tuple[Path, ...], build_dir: Path = BUILD_DIR) -> Path:
    """A zip of Python packages for a Glue job's ``--extra-py-files`` (rebuilt only when a file changes)."""
    missing = [p for p in packages if not (p / "__init__.py").is_file()]
    if missing:
        raise BuildError(f"{name} needs these packages: " + ", ".join(str(p) for p in missing))
    root = packages[0].parent
    files = [f for package in packages for f in source_files(package)]
    wanted = digest(files, root)
    output = build_dir / f"{name}.zip"
    if _up_to_date(output, wanted):
        return output
    write_zip(output, package_entries(packages))
    _mark(output, wanted)
    return output


def batch_library(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """``lakehouse`` core + ``glue_jobs``: the shared code of the batch Glue jobs."""
    return python_library("lakehouse-batch", sources.batch_packages, build_dir)


def streaming_library(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """``lakehouse`` core + ``stream``: the shared code of the streaming Glue job."""
    return python_library("lakehouse-streaming", sources.streaming_packages, build_dir)


def pinned_requirements(pyproject: Path, packages: Sequence[str]) -> list[str]:
    """``name==version`` lines for ``packages``, with the pins of pyproject.toml (any dependency list)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = [*project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    pins: dict[str, str] = {}
    for requirement in declared:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;]+)", requirement)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    missing = [p for p in packages if p not in pins]
    if missing:
        raise BuildError(f"{pyproject} pins no version of {', '.join(missing)} (needed by the Glue jobs)")
    return [f"{package}=={pins[package]}" for package in packages]


def glue_python_modules(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """A zip of the wheels (with every dependency) the Glue jobs install through ``--additional-python-modules``.

    Direct packages carry pyproject.toml's pins; their dependencies are resolved for Python 3.11.0 (constraints.txt
    pins some to releases that need a newer 3.11 patch than Glue guarantees) and the result is cached.
    """
    requirements = "\n".join(pinned_requirements(sources.pyproject, GLUE_RUNTIME_PACKAGES)) + "\n"
    wanted = digest([requirements, *GLUE_PIP_PLATFORMS, GLUE_PYTHON_VERSION])
    output = build_dir / "glue-python-modules.zip"
    if _up_to_date(output, wanted):
        return output
    staging = build_dir / "glue-wheels.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    requirements_file = staging / "requirements.txt"
    requirements_file.write_text(requirements)
    wheels = staging / "wheels"
    _pip(
        "download",
        requirements_file,
        wheels,
        GLUE_PYTHON_VERSION,
        GLUE_PIP_PLATFORMS,
        "the Glue jobs",
    )
    write_zip(output, [(wheel.name, wheel) for wheel in sorted(wheels.glob("*.whl"))])
    shutil.rmtree(staging, ignore_errors=True)
    _mark(output, wanted)
    return output


def main() -> None:
    for name, build in (
        ("ingest layer", ingest_layer),
        ("batch library", batch_library),
        ("streaming library", streaming_library),
        ("glue python modules", glue_python_modules),
    ):
        path = build()
        print(f"{name}: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
