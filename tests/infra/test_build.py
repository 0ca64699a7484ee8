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


def test_glue_python_modules_hold_every_pinned_package_as_wheels_for_glue() -> None:
    modules = build.glue_python_modules()
    wheels = zipfile.ZipFile(modules).namelist()
    assert all(name.endswith(".whl") for name in wheels)
    for pin in build.pinned_requirements(build.Sources().pyproject, build.GLUE_RUNTIME_PACKAGES):
        name, version = pin.split("==")
        assert any(w.startswith(f"{name.replace('-', '_')}-{version}-") for w in wheels), pin
    binary = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert binary and all("cp311" in w and "x86_64" in w for w in binary), binary


def test_ingest_layer_holds_the_core_package_and_arm64_wheels() -> None:
    site = build.ingest_layer() / "python"
    assert (site / "lakehouse" / "core" / "config.py").is_file()
    assert not list((site / "lakehouse").rglob("__pycache__"))
    assert any("aarch64" in so.name for so in (site / "pydantic_core").glob("*.so"))
