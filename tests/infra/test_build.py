import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from infra import build


def _package(root: Path, name: str, files: dict[str, str]) -> Path:
    package = root / name
    for rel, text in {"__init__.py": "", **files}.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(text)
    return package


def test_library_zip_is_reproducible_sorted_and_free_of_caches(tmp_path: Path) -> None:
    core = _package(
        tmp_path / "src", "core", {"b.py": "B = 2", "a/x.sql": "select 1", "__pycache__/a.cpython-311.pyc": ""}
    )
    jobs = _package(tmp_path / "src", "jobs", {"run.py": "import core", "old.pyc": ""})
    first = build.python_library("lib", (core, jobs), tmp_path / "one")
    second = build.python_library("lib", (core, jobs), tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names == ["core/__init__.py", "core/a/x.sql", "core/b.py", "jobs/__init__.py", "jobs/run.py"]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zipfile.ZipFile(first).infolist())


def test_library_is_rebuilt_only_when_a_source_changes(tmp_path: Path) -> None:
    core = _package(tmp_path / "src", "core", {"b.py": "B = 2"})
    out = tmp_path / "out"
    zipped = build.python_library("lib", (core,), out)
    built_at = zipped.stat().st_mtime_ns
    assert build.python_library("lib", (core,), out).stat().st_mtime_ns == built_at
    (core / "b.py").write_text("B = 3")
    rebuilt = build.python_library("lib", (core,), out)
    assert zipfile.ZipFile(rebuilt).read("core/b.py") == b"B = 3"


def test_a_missing_package_is_named(tmp_path: Path) -> None:
    core = _package(tmp_path, "core", {})
    with pytest.raises(build.BuildError, match="stream"):
        build.python_library("lib", (core, tmp_path / "stream"), tmp_path / "out")


def test_missing_ingest_requirements_are_named(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match=r"requirements\.txt"):
        build.ingest_dependencies(build.Sources(tmp_path), tmp_path / "out")


def test_glue_requirements_take_their_pins_from_pyproject(tmp_path: Path) -> None:
    pins = build.pinned_requirements(build.Sources().pyproject, build.GLUE_RUNTIME_PACKAGES)
    text = build.Sources().pyproject.read_text()
    assert [p.split("==")[0] for p in pins] == list(build.GLUE_RUNTIME_PACKAGES)
    assert all(f'"{pin}"' in text for pin in pins)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["pydantic==2.0.0", "sqlglot>=1"]\n')
    with pytest.raises(build.BuildError, match="sqlglot"):
        build.pinned_requirements(pyproject, ("pydantic", "sqlglot"))


def test_a_sub_package_is_named_by_import_path_and_needs_its_parent(tmp_path: Path) -> None:
    top = _package(tmp_path / "src", "top", {"core/__init__.py": "", "core/a.py": "A = 1", "local/cli.py": ""})
    zipped = build.python_library("lib", (top / "__init__.py", top / "core"), tmp_path / "out")
    assert zipfile.ZipFile(zipped).namelist() == ["top/__init__.py", "top/core/__init__.py", "top/core/a.py"]
    with pytest.raises(build.BuildError, match=r"top/__init__\.py"):
        build.python_library("lib", (top / "core",), tmp_path / "out")


def test_the_shared_core_is_lakehouse_init_and_core_only() -> None:
    sources = build.Sources()
    names = {name for name, _ in build.package_entries(sources.core)}
    assert "lakehouse/__init__.py" in names and "lakehouse/core/config.py" in names
    assert {name.split("/")[1] for name in names} == {"__init__.py", "core"}
    assert sources.batch_packages[-1].name == "glue_jobs" and sources.streaming_packages[-1].name == "stream"


def test_wheels_constraints_do_not_pin_are_found(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("Pydantic_Core==2.50.4\nsoupsieve==4.1.2  # note\nx>=1\n")
    pins = build.constraint_pins(tmp_path / "constraints.txt")
    assert pins == {"pydantic-core": "2.50.4", "soupsieve": "4.1.2"}
    wheels = [
        "pydantic_core-2.50.4-cp311-cp311-manylinux2014_x86_64.whl",
        "soupsieve-2.10-py3-none-any.whl",
        "setuptools-84.2.1-py3-none-any.whl",
    ]
    assert build.wheel_distribution(wheels[0]) == ("pydantic-core", "2.50.4")
    assert build.unpinned_wheels(wheels, pins) == wheels[1:]


def test_missing_constraints_are_named(tmp_path: Path) -> None:
    shutil.copyfile(build.Sources().pyproject, tmp_path / "pyproject.toml")
    with pytest.raises(build.BuildError, match=r"constraints\.txt"):
        build.glue_python_modules(build.Sources(tmp_path), tmp_path / "out")


def test_targets_select_wheels_for_their_platform_and_python() -> None:
    glue = build.GLUE.pip_options()
    assert glue[:2] == ["--python-version", build.GLUE_PYTHON_VERSION] and "manylinux2014_x86_64" in glue
    assert build.GLUE_PYTHON_VERSION.count(".") == 2  # a patch release: pip checks Requires-Python against it
    assert "--platform" not in build.HOST.pip_options() and sys.version in build.HOST.key()
    assert build.LAMBDA.suffix == "" and build.HOST.suffix == "-host"


def test_sizes_are_measured_unzipped(tmp_path: Path) -> None:
    folder = _package(tmp_path, "pkg", {"a.py": "x" * 1000})
    assert build.unzipped_size(folder) == (1000, 2)
    zipped = build.python_library("lib", (folder,), tmp_path / "out")
    assert build.unzipped_size(zipped) == (1000, 2)
    assert "1 kB unzipped, 2 files" in build.describe(zipped)
