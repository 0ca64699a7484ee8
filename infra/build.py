"""Build the deployment packages the stacks upload, without Docker, reproducibly and cached.

Each artifact carries what its runtime needs and nothing of the local tooling (``lakehouse/local``: the embedded
emulator, the CLI, the generator, the demo):

* the ingest function's **layer**: ``pip install -r lambdas/ingest/requirements.txt`` for the Lambda platform
  (manylinux wheels only) into ``<layer>/python``, plus the shared core (``lakehouse/__init__.py`` and
  ``lakehouse/core/``);
* the **Glue libraries**: zips of the shared core with ``glue_jobs`` (batch jobs), ``stream`` (the streaming
  job) or ``ml`` (the train-and-score job), passed to the Glue jobs as ``--extra-py-files``;
* the **Glue Python modules**: a zip of the wheels the Glue jobs need beyond Glue's own (pydantic, sqlglot,
  redshift-connector … at the versions pinned in pyproject.toml, every dependency at the version constraints.txt
  pins), installed by Glue from S3 with ``--additional-python-modules`` and ``--no-index``: jobs never download
  packages at run time.

:class:`Sources` is the one place that names what is packaged. Outputs live under ``build/infra/`` and are rebuilt
only when an input changes (a digest of the requirements, the target platform and every source file is kept next to
each output), so ``cdk synth`` and the tests stay fast after the first build. The pip steps are cached separately,
keyed by requirements and platform only.

Run ``python -m infra.build`` to build (or rebuild) everything explicitly; it prints each artifact's size.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import sysconfig
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
#: What the layer should stay under, unzipped (Lambda's limit is 250 MB for the function and all its layers).
LAYER_SIZE_AIM_MB = 60

# The Glue 5.0 target: Python 3.11 on x86_64 Amazon Linux 2023 (glibc 2.34). The patch release matters: pip checks
# each wheel's Requires-Python against it (soupsieve 4.1.2, a dependency of redshift-connector, needs >= 3.11.5).
# Glue's interpreter is Amazon Linux 2023's python3.11 package, patched over time; 3.11.6 is the oldest one AWS has
# shown a Glue 5.0 image run (AWS Big Data Blog, "Develop and test AWS Glue 5.0 jobs locally using a Docker
# container", 2025: pytest on 3.11.6, the pyspark shell on 3.11.11), so a wheel set resolved for it installs on both.
GLUE_PYTHON_VERSION = "3.11.6"
GLUE_PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
#: What each kind of Glue job imports beyond Glue's own modules (versions from pyproject.toml): the Spark jobs
#: (raw_to_curated, build_star, the streaming job) only what the core needs; the warehouse load also the SQL
#: transpiler and the Redshift driver; the forget job those and lz4/xxhash. redshift-connector requires a newer
#: boto3 than the one Glue 5.0 provides, so only the jobs that use it get the newer SDK; the others keep Glue's own.
#: The ML job (``ml/job.py``, pandas and LightGBM on the driver) ships the whole scientific stack at the versions
#: the tests run, numpy, pandas and pyarrow included, over Glue's own older ones (docs/decisions-infra.md, "The ML
#: job").
GLUE_MODULE_SETS: dict[str, tuple[str, ...]] = {
    "spark": ("pydantic", "pydantic-settings"),
    "warehouse": ("pydantic", "pydantic-settings", "sqlglot", "redshift-connector"),
    # the forget job: the warehouse's, and the state store's lz4 framing (lakehouse/core/lake/state_store.py)
    "erasure": ("pydantic", "pydantic-settings", "sqlglot", "redshift-connector", "lz4", "xxhash"),
    "ml": (
        "pydantic",
        "pydantic-settings",
        "numpy",
        "pandas",
        "pyarrow",
        "duckdb",
        "scikit-learn",
        "lightgbm",
        "lifetimes",
        "matplotlib",
    ),
}
#: Every package some Glue job imports beyond Glue's own modules.
GLUE_RUNTIME_PACKAGES = tuple(dict.fromkeys(p for packages in GLUE_MODULE_SETS.values() for p in packages))
#: Dependencies of those packages that Glue 5.0 already installs and the zip leaves out, with Glue's version ("Python
#: modules already provided in AWS Glue", AWS Glue Developer Guide). setuptools: redshift-connector declares it
#: without a version and reaches its pkg_resources only where importlib.metadata is missing; constraints.txt does
#: not pin it (pip freeze on Python 3.11 leaves it out), and the zip has no business replacing Glue's installer.
LEFT_TO_GLUE = {"setuptools": "59.6.0"}

# Sources copied into packages; caches and compiled files never are.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BuildError(RuntimeError):
    """A package could not be built; the message says which input and why."""


@dataclass(frozen=True)
class Target:
    """Where wheels must run: a CPython version and pip's platform tags, or (no tags) the interpreter running pip."""

    name: str
    python_version: str = ""
    platforms: tuple[str, ...] = ()
    suffix: str = ""  # of the cached outputs built for this target (``ingest-layer<suffix>``)

    def pip_options(self) -> list[str]:
        """pip's options that select the wheels for this target."""
        if not self.platforms:
            return ["--only-binary=:all:"]
        options = ["--python-version", self.python_version, "--implementation", "cp", "--only-binary=:all:"]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options

    def key(self) -> list[str]:
        """What the wheels pip picks depend on: part of the digest of every cached pip step."""
        if not self.platforms:
            return [sys.version, sysconfig.get_platform()]
        return [*self.platforms, self.python_version]


LAMBDA = Target(
    f"the Lambda layer (Python {LAMBDA_PYTHON_VERSION}, arm64)", LAMBDA_PYTHON_VERSION, LAMBDA_PIP_PLATFORMS
)
GLUE = Target(f"the Glue jobs (Python {GLUE_PYTHON_VERSION}, x86_64)", GLUE_PYTHON_VERSION, GLUE_PIP_PLATFORMS)
#: This interpreter: a layer for it can be imported here (tests/infra/test_artifacts.py runs the handler on one).
HOST = Target("this machine", suffix="-host")


@dataclass(frozen=True)
class Sources:
    """Where the code to package lives (the repository root by default), and which part of it each artifact ships."""

    root: Path = ROOT

    @property
    def core(self) -> tuple[Path, ...]:
        """The part of ``lakehouse`` every AWS artifact ships: ``lakehouse/__init__.py`` and ``lakehouse/core/``.

        Never ``lakehouse/local`` (emulator, gateway, generator, local runners, demo, CLI): it is local tooling.
        """
        package = self.root / "lakehouse"
        return (package / "__init__.py", package / "core")

    @property
    def ingest(self) -> Path:
        """The ingest function's folder: its code asset (``handler.handler``)."""
        return self.root / "lambdas" / "ingest"

    @property
    def ingest_requirements(self) -> Path:
        """The ingest function's third-party dependencies, pinned (they go into its layer)."""
        return self.ingest / "requirements.txt"

    @property
    def glue_scripts(self) -> Path:
        """Entry scripts of the batch Glue jobs (``raw_to_curated.py`` …)."""
        return self.root / "glue_jobs"

    @property
    def streaming_script(self) -> Path:
        """Entry script of the streaming Glue job."""
        return self.root / "stream" / "glue_job.py"

    @property
    def ml_script(self) -> Path:
        """Entry script of the ML (train, evaluate, score) Glue job."""
        return self.root / "ml" / "job.py"

    @property
    def batch_packages(self) -> tuple[Path, ...]:
        """What the batch jobs' library holds: the core and ``glue_jobs``."""
        return (*self.core, self.root / "glue_jobs")

    @property
    def streaming_packages(self) -> tuple[Path, ...]:
        """What the streaming job's library holds: the core and ``stream``."""
        return (*self.core, self.root / "stream")

    @property
    def ml_packages(self) -> tuple[Path, ...]:
        """What the ML job's library holds: the core and ``ml``."""
        return (*self.core, self.root / "ml")

    @property
    def pyproject(self) -> Path:
        """pyproject.toml: the pins of the packages the Glue jobs install."""
        return self.root / "pyproject.toml"

    @property
    def constraints(self) -> Path:
        """constraints.txt: the pins of every dependency the Glue jobs install."""
        return self.root / "constraints.txt"


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


def import_root(path: Path) -> Path:
    """The folder Python imports ``path`` from (the nearest ancestor that is not a package): zip names start there."""
    parent = path.parent
    while (parent / "__init__.py").is_file():
        parent = parent.parent
    return parent


def package_entries(packages: Iterable[Path]) -> list[tuple[str, Path]]:
    """(name in the package, file) of every file of ``packages``, named by import path.

    An item is a package folder (all its files), or a single file such as ``lakehouse/__init__.py``; a sub-package
    (``lakehouse/core``) keeps its parents in its name and needs their ``__init__.py`` among the items.
    """
    packages = tuple(packages)
    entries: list[tuple[str, Path]] = []
    missing = [str(p) for p in packages if not (p.is_file() or (p / "__init__.py").is_file())]
    if missing:
        raise BuildError("missing packages: " + ", ".join(missing))
    for item in packages:
        root = import_root(item)
        files = [item] if item.is_file() else source_files(item)
        entries += [(path.relative_to(root).as_posix(), path) for path in files]
    names = {name for name, _ in entries}
    for item in packages:
        root = import_root(item)
        parent = item if item.is_dir() else item.parent
        for package in (parent, *parent.parents):
            if package == root:
                break
            init = (package / "__init__.py").relative_to(root).as_posix()
            if init not in names:
                raise BuildError(f"{item} is packaged without its parent package's {init}")
    return entries


def _pip(
    verb: str,
    requirements: Path,
    destination: Path,
    target: Target,
    constraints: Path | None = None,
) -> None:
    """``pip install --target`` or ``pip download --dest`` of binary wheels for ``target``."""
    where = (
        ["--target", str(destination), "--no-compile", "--upgrade"]
        if verb == "install"
        else ["--dest", str(destination)]
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
        *(["--constraint", str(constraints)] if constraints else []),
        *where,
        *target.pip_options(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip could not {verb} {requirements} for {target.name}:\n{result.stderr.strip()}")


def ingest_dependencies(sources: Sources = Sources(), build_dir: Path = BUILD_DIR, target: Target = LAMBDA) -> Path:
    """Third-party packages of the ingest function, installed for ``target`` (cached)."""
    requirements = sources.ingest_requirements
    if not requirements.is_file():
        raise BuildError(f"missing {requirements}: the ingest function's runtime dependencies")
    wanted = digest([requirements.read_bytes(), *target.key()])
    output = build_dir / f"ingest-dependencies{target.suffix}"
    if _up_to_date(output, wanted):
        return output
    staging = build_dir / f"ingest-dependencies{target.suffix}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip("install", requirements, staging, target)
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    _mark(output, wanted)
    return output


def ingest_layer(sources: Sources = Sources(), build_dir: Path = BUILD_DIR, target: Target = LAMBDA) -> Path:
    """The ingest function's layer directory: ``python/`` holds its dependencies and the core (cached).

    ``target=HOST`` builds the same layer for this interpreter (``ingest-layer-host``), which can be imported here.
    """
    dependencies = ingest_dependencies(sources, build_dir, target)
    entries = package_entries(sources.core)
    sources_parts = (part for name, path in entries for part in (name, path.read_bytes()))
    wanted = digest([_stamp(dependencies).read_text(), *sources_parts])
    output = build_dir / f"ingest-layer{target.suffix}"
    if _up_to_date(output, wanted):
        return output
    shutil.rmtree(output, ignore_errors=True)
    site = output / "python"
    shutil.copytree(dependencies, site)
    for name, path in entries:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, site / name)
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


def python_library(name: str, packages: tuple[Path, ...], build_dir: Path = BUILD_DIR) -> Path:
    """A zip of Python packages for a Glue job's ``--extra-py-files`` (rebuilt only when a file changes).

    ``packages`` are package folders or single modules (see :func:`package_entries`).
    """
    try:
        entries = package_entries(packages)
    except BuildError as exc:
        raise BuildError(f"{name}: {exc}") from None
    wanted = digest(part for entry, path in entries for part in (entry, path.read_bytes()))
    output = build_dir / f"{name}.zip"
    if _up_to_date(output, wanted):
        return output
    write_zip(output, entries)
    _mark(output, wanted)
    return output


def batch_library(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """The core + ``glue_jobs``: the shared code of the batch Glue jobs."""
    return python_library("lakehouse-batch", sources.batch_packages, build_dir)


def streaming_library(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """The core + ``stream``: the shared code of the streaming Glue job."""
    return python_library("lakehouse-streaming", sources.streaming_packages, build_dir)


def ml_library(sources: Sources = Sources(), build_dir: Path = BUILD_DIR) -> Path:
    """The core + ``ml``: the shared code of the ML Glue job."""
    return python_library("lakehouse-ml", sources.ml_packages, build_dir)


def normalise(name: str) -> str:
    """A distribution's name as PyPI compares names (PEP 503: ``Redshift_Connector`` is ``redshift-connector``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: Iterable[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", requirement)
        if match:
            pins[normalise(match.group(1))] = match.group(3)
    return pins


def constraint_pins(constraints: Path) -> dict[str, str]:
    """Every ``name==version`` of a constraints file, by normalised name."""
    return _pins(constraints.read_text().splitlines())


def pinned_requirements(pyproject: Path, packages: Sequence[str]) -> list[str]:
    """``name==version`` lines for ``packages``, with the pins of pyproject.toml (any dependency list)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = [*project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    pins = _pins(declared)
    missing = [p for p in packages if p not in pins]
    if missing:
        raise BuildError(f"{pyproject} pins no version of {', '.join(missing)} (needed by the Glue jobs)")
    return [f"{package}=={pins[package]}" for package in packages]


def wheel_distribution(wheel: str) -> tuple[str, str]:
    """(normalised name, version) from a wheel's file name (``pydantic_core-2.50.4-cp311-….whl``)."""
    name, version = Path(wheel).name.split("-")[:2]
    return normalise(name), version


def unpinned_wheels(wheels: Iterable[str], pins: dict[str, str]) -> list[str]:
    """The wheels whose distribution ``pins`` does not pin at exactly their version."""
    return [w for w in wheels if pins.get(wheel_distribution(w)[0]) != wheel_distribution(w)[1]]


def glue_python_modules(sources: Sources = Sources(), build_dir: Path = BUILD_DIR, kind: str = "spark") -> Path:
    """A zip of the wheels (with every dependency) a kind of Glue job installs through ``--additional-python-modules``.

    ``kind`` is a key of :data:`GLUE_MODULE_SETS`. The direct packages carry pyproject.toml's pins, every dependency
    the pin of constraints.txt; the set is resolved for Glue's Python (:data:`GLUE_PYTHON_VERSION`) and cached.
    Dependencies Glue provides itself (:data:`LEFT_TO_GLUE`) are left out; any other wheel constraints.txt does not
    pin fails the build (:class:`BuildError`), as does an unknown ``kind``.
    """
    if kind not in GLUE_MODULE_SETS:
        raise BuildError(f"no Glue module set {kind!r}; choose from {', '.join(GLUE_MODULE_SETS)}")
    requirements = "\n".join(pinned_requirements(sources.pyproject, GLUE_MODULE_SETS[kind])) + "\n"
    if not sources.constraints.is_file():
        raise BuildError(f"missing {sources.constraints}: the pins of the Glue jobs' dependencies")
    constraints = sources.constraints.read_bytes()
    left_to_glue = sorted(f"{name}=={version}" for name, version in LEFT_TO_GLUE.items())
    wanted = digest([requirements, constraints, *GLUE.key(), *left_to_glue])
    output = build_dir / f"glue-python-modules-{kind}.zip"
    if _up_to_date(output, wanted):
        return output
    staging = build_dir / f"glue-wheels-{kind}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    requirements_file = staging / "requirements.txt"
    requirements_file.write_text(requirements)
    wheels = staging / "wheels"
    _pip("download", requirements_file, wheels, GLUE, constraints=sources.constraints)
    shipped = [w for w in sorted(wheels.glob("*.whl")) if wheel_distribution(w.name)[0] not in LEFT_TO_GLUE]
    unpinned = unpinned_wheels([w.name for w in shipped], constraint_pins(sources.constraints))
    if unpinned:
        raise BuildError(
            f"{sources.constraints} pins no version of these Glue dependencies: {', '.join(unpinned)} "
            "(pin them there, or add them to LEFT_TO_GLUE if Glue 5.0 provides them)"
        )
    write_zip(output, [(wheel.name, wheel) for wheel in shipped])
    shutil.rmtree(staging, ignore_errors=True)
    _mark(output, wanted)
    return output


def unzipped_size(path: Path) -> tuple[int, int]:
    """(bytes, files) of a folder's files or of a zip's entries once extracted."""
    if path.is_dir():
        files = [f for f in path.rglob("*") if f.is_file()]
        return sum(f.stat().st_size for f in files), len(files)
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        return sum(i.file_size for i in infos), len(infos)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def describe(path: Path) -> str:
    """The artifact's place and size: unzipped (and zipped, for a zip)."""
    size, files = unzipped_size(path)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    zipped = f"{_mb(path.stat().st_size)} zipped, " if path.is_file() else ""
    return f"{where} ({zipped}{_mb(size)} unzipped, {files} files)"


def main() -> None:
    """Build every artifact (or find it up to date) and print where it is and how big."""
    for name, build in (
        ("ingest layer", ingest_layer),
        ("batch library", batch_library),
        ("streaming library", streaming_library),
        ("ml library", ml_library),
        ("glue python modules (spark jobs)", glue_python_modules),
        ("glue python modules (warehouse load)", lambda: glue_python_modules(kind="warehouse")),
        ("glue python modules (forget job)", lambda: glue_python_modules(kind="erasure")),
        ("glue python modules (ml job)", lambda: glue_python_modules(kind="ml")),
    ):
        path = build()
        aim = f"; aim <= {LAYER_SIZE_AIM_MB} MB" if build is ingest_layer else ""
        print(f"{name}: {describe(path)}{aim}")


if __name__ == "__main__":
    main()
