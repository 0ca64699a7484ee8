"""Each AWS artifact carries what its runtime needs and nothing of the local tooling.

Builds every artifact (or finds it up to date under build/infra/) and reads what it holds: the ingest layer, the two
Glue libraries, the Glue python-modules zip. Then runs the ingest handler on nothing but a layer, built with the same
requirements for this machine (the real one targets Python 3.14 on arm64: its binary wheels cannot load here).

That run is what fails when a core module imports something the layer lacks. Seen failing: with ``import rich``
added to lakehouse/core/contract/__init__.py (in a copy of the repository), the test of the handler stopped with
"ModuleNotFoundError: No module named 'rich'" from the layer-only interpreter;
``test_a_core_module_importing_what_the_layer_lacks_fails_the_run`` keeps that experiment in the suite.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import grimp
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from infra import build
from infra.components.ingest_function import CODE_EXCLUDES, HANDLER

SOURCES = build.Sources()
CORE = SOURCES.root / "lakehouse" / "core"
LOCAL_TOOLING = ("moto", "typer", "rich", "duckdb", "pyspark", "pandas", "pyarrow", "numpy", "sqlglot", "psutil")
#: Core modules the layer cannot import, and what they need: they serve the Glue jobs, the local tooling and the CDK
#: app (the QuickSight datasets read the warehouse DDL with sqlglot at synth time).
NOT_FOR_THE_LAYER = {"lakehouse.core.warehouse.dialect": "sqlglot", "lakehouse.core.warehouse.formats": "sqlglot",
                     "lakehouse.core.metrics.quicksight": "sqlglot"}


def _files(package: Path, prefix: str) -> set[str]:
    return {f"{prefix}/{path.relative_to(package).as_posix()}" for path in build.source_files(package)}


def _core_names() -> set[str]:
    return {"lakehouse/__init__.py"} | _files(CORE, "lakehouse/core")


# --- the ingest layer (Python 3.14, arm64) ---------------------------------------------------------------------


def test_layer_holds_the_core_and_exactly_the_ingest_requirements() -> None:
    site = build.ingest_layer() / "python"
    lakehouse = {f"lakehouse/{p.relative_to(site / 'lakehouse').as_posix()}" for p in (site / "lakehouse").rglob("*")}
    assert {name for name in lakehouse if (site / name).is_file()} == _core_names()
    assert not (site / "lakehouse" / "local").exists()
    installed = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").split("-")
        installed[build.normalise(name)] = version
    assert installed == build.constraint_pins(SOURCES.ingest_requirements)
    for name in LOCAL_TOOLING:
        assert not (site / name).exists() and not (site / f"{name}.py").exists(), name
    assert not list((site / "lakehouse").rglob("*generator*")) and not list(site.rglob("__pycache__"))
    binaries = [so.name for so in site.rglob("*.so")]
    assert binaries and all("cpython-314-aarch64" in so for so in binaries), binaries


def test_layer_stays_within_its_size_aim() -> None:
    size, _ = build.unzipped_size(build.ingest_layer())
    assert size <= build.LAYER_SIZE_AIM_MB * 1_000_000, build.describe(build.ingest_layer())


# --- the Glue libraries (--extra-py-files) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("library", "own", "other"),
    [
        (build.batch_library, "glue_jobs", ("stream", "ml")),
        (build.streaming_library, "stream", ("glue_jobs", "ml")),
        (build.ml_library, "ml", ("glue_jobs", "stream")),
    ],
)
def test_each_glue_library_holds_exactly_the_core_and_its_own_package(library, own, other) -> None:
    names = set(zipfile.ZipFile(library()).namelist())
    assert names == _core_names() | _files(SOURCES.root / own, own)
    assert {name.split("/")[0] for name in names} == {"lakehouse", own}
    assert not [n for n in names if n.startswith(("lakehouse/local/", *(f"{o}/" for o in other)))]
    assert "lakehouse/core/config.py" in names and f"{own}/__init__.py" in names


# --- the Glue python modules (--additional-python-modules) -------------------------------------------------------


def _wheel_metadata(archive: zipfile.ZipFile, wheel: str) -> str:
    with zipfile.ZipFile(io.BytesIO(archive.read(wheel))) as inner:
        (metadata,) = [n for n in inner.namelist() if n.endswith(".dist-info/METADATA")]
        return inner.read(metadata).decode()


@pytest.mark.parametrize("kind", build.GLUE_MODULE_SETS)
def test_every_glue_wheel_is_at_the_version_constraints_txt_pins(kind: str) -> None:
    pins = build.constraint_pins(SOURCES.constraints)
    wheels = zipfile.ZipFile(build.glue_python_modules(kind=kind)).namelist()
    assert wheels and all(w.endswith(".whl") for w in wheels)
    shipped = dict(build.wheel_distribution(w) for w in wheels)
    assert {name: pins.get(name) for name in shipped} == shipped
    for pin in build.pinned_requirements(SOURCES.pyproject, build.GLUE_MODULE_SETS[kind]):
        name, version = pin.split("==")
        assert shipped.get(name) == version == pins[name], pin
    assert not set(build.LEFT_TO_GLUE) & set(shipped)
    binary = [w for w in wheels if not w.endswith("-none-any.whl")]
    # CPython 3.11 extensions, or pure-Python wrappers of a platform library (lightgbm: py3-none-manylinux_x86_64)
    assert binary and all(("cp311" in w or "-py3-none-" in w) and "x86_64" in w for w in binary), binary


def test_only_the_warehouse_load_replaces_glue_sdk() -> None:
    """redshift-connector needs a newer boto3 than Glue 5.0's; the Spark jobs must keep Glue's own SDK.

    Seen failing: with one module set for every job (before the split), the streaming job's zip held boto3 1.44.5.
    """
    spark = dict(build.wheel_distribution(w) for w in zipfile.ZipFile(build.glue_python_modules()).namelist())
    assert not {"boto3", "botocore", "s3transfer", "urllib3"} & set(spark), spark
    warehouse = zipfile.ZipFile(build.glue_python_modules(kind="warehouse")).namelist()
    assert {"redshift-connector", "sqlglot"} <= {build.wheel_distribution(w)[0] for w in warehouse}


@pytest.mark.parametrize("kind", build.GLUE_MODULE_SETS)
def test_glue_wheels_install_without_an_index_on_glue(kind: str) -> None:
    """Every dependency a wheel declares (for Glue's Python and platform) is in the zip or provided by Glue."""
    environment = {
        "python_version": build.GLUE_PYTHON_VERSION.rsplit(".", 1)[0],
        "python_full_version": build.GLUE_PYTHON_VERSION,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "extra": "",
    }
    archive = zipfile.ZipFile(build.glue_python_modules(kind=kind))
    available = dict(build.wheel_distribution(w) for w in archive.namelist()) | build.LEFT_TO_GLUE
    for wheel in archive.namelist():
        metadata = _wheel_metadata(archive, wheel)
        requires_python = re.search(r"^Requires-Python: (.+)$", metadata, re.MULTILINE)
        if requires_python:
            assert build.GLUE_PYTHON_VERSION in SpecifierSet(requires_python.group(1)), wheel
        for line in re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE):
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            name = canonicalize_name(requirement.name)
            assert name in available, f"{wheel} needs {line}"
            assert requirement.specifier.contains(available[name], prereleases=True), f"{wheel} needs {line}"
    assert Marker("python_full_version >= '3.11.5'").evaluate(environment)  # soupsieve 4.1.2's floor


# --- what the Glue jobs import at run time -----------------------------------------------------------------------

#: What Glue 5.0 itself provides that the jobs import: its runtime (awsglue, Spark 3.5.4) and, from "Python modules
#: already provided in AWS Glue" (AWS Glue Developer Guide), boto3/botocore (1.34.131), pyarrow (17.0.0) and pandas
#: (2.2.2: the streaming job's keyed state runs ``applyInPandasWithState``, as make test-glue does on these versions).
GLUE_PROVIDED = {"awsglue", "pyspark", "py4j", "boto3", "botocore", "pyarrow", "pandas"}
#: Imports the Glue jobs make only off Glue, and the modules that make them (unless the job's module set has them).
OFF_GLUE_ONLY = {"duckdb": {"glue_jobs.warehouse.load"}}  # the local warehouse target; on Glue --target redshift
#: entry script -> the module set its job gets (infra/stacks/batch.py, infra/stacks/streaming.py)
GLUE_ENTRY_POINTS = {"glue_jobs.raw_to_curated": "spark", "glue_jobs.build_star": "spark",
                     "glue_jobs.load_warehouse": "warehouse", "stream.glue_job": "spark", "ml.job": "ml"}
#: entry script's package -> the library its job gets
GLUE_LIBRARIES = {"glue_jobs": build.batch_library, "stream": build.streaming_library, "ml": build.ml_library}


def _top_level_names(archive: zipfile.ZipFile) -> set[str]:
    names = set()
    for wheel in archive.namelist():
        with zipfile.ZipFile(io.BytesIO(archive.read(wheel))) as inner:
            for entry in inner.namelist():
                top = entry.split("/")[0]
                if not top.endswith((".dist-info", ".data", ".pth")):
                    names.add(top.removesuffix(".py"))
    return names


def test_glue_jobs_import_only_what_their_artifacts_or_glue_provide() -> None:
    graph = grimp.build_graph("lakehouse", "glue_jobs", "stream", "ml", include_external_packages=True)
    for entry, kind in GLUE_ENTRY_POINTS.items():
        modules = _top_level_names(zipfile.ZipFile(build.glue_python_modules(kind=kind)))
        reached, todo = set(), [entry]
        while todo:
            module = todo.pop()
            if module not in reached:
                reached.add(module)
                todo.extend(graph.find_modules_directly_imported_by(module))
        library_zip = GLUE_LIBRARIES[entry.split(".")[0]]()
        library = {name.split("/")[0] for name in zipfile.ZipFile(library_zip).namelist()}
        assert not [m for m in reached if m.startswith("lakehouse.local")], entry
        outside = {m.split(".")[0] for m in reached} - library - set(sys.stdlib_module_names) - {"__future__"}
        assert outside - modules - GLUE_PROVIDED - set(OFF_GLUE_ONLY) == set(), entry
        for package, importers in OFF_GLUE_ONLY.items():
            if package not in modules:  # the ML job ships duckdb: it may import it anywhere
                assert graph.find_modules_that_directly_import(package) & reached <= importers, (entry, package)


# --- the ingest handler on nothing but a layer -------------------------------------------------------------------

# Runs with `python -I -S -B`: no site-packages, no PYTHON* variables, no bytecode written. sys.path becomes what
# Lambda gives the function: the code root (/var/task) first, then the layer's python/ (/opt/python), then stdlib.
RUN_ON_LAYER = """
import importlib, json, pkgutil, sys
code_root, *layer = sys.argv[1:-1]
module_name, function_name = sys.argv[-1].rsplit(".", 1)
sys.path[:0] = [code_root, *layer]
handler = getattr(importlib.import_module(module_name), function_name)
class Context:
    function_name = "ingest"; memory_limit_in_mb = 512; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:ingest"
    def get_remaining_time_in_millis(self): return 29000
event = {"resource": "/{proxy+}", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "1.2.3.4"}}}
health = handler(event, Context())
import lakehouse.core
unimportable = {}
for info in pkgutil.walk_packages(lakehouse.core.__path__, "lakehouse.core."):
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as exc:
        unimportable[info.name] = exc.name
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
print(json.dumps({"health": health, "unimportable": unimportable, "modules": sorted(sys.modules), "files": files}))
"""


@pytest.fixture(scope="module")
def host_layer() -> Path:
    """The ingest layer for this interpreter (cached under build/infra/ingest-layer-host like the other pip steps)."""
    return build.ingest_layer(target=build.HOST) / "python"


def _code_root(tmp_path: Path) -> Path:
    """The function's code asset as CDK stages it: the folder minus CODE_EXCLUDES."""
    code_root = tmp_path / "task"
    shutil.copytree(SOURCES.ingest, code_root, ignore=shutil.ignore_patterns(*CODE_EXCLUDES))
    return code_root


def _run_on_layer(tmp_path: Path, *layer: Path) -> subprocess.CompletedProcess:
    env = {
        "HOME": str(tmp_path),
        "LAKEHOUSE_STAGE": "prod",
        "LAKEHOUSE_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAKEHOUSE_LAKE_ROOT": "s3://some-bucket",
        "LAKEHOUSE_HOME": str(tmp_path / "home"),
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-I",
        "-S",
        "-B",
        "-c",
        RUN_ON_LAYER,
        str(_code_root(tmp_path)),
        *map(str, layer),
        HANDLER,
    ]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_the_handler_runs_on_nothing_but_the_layer(tmp_path: Path, host_layer: Path) -> None:
    result = _run_on_layer(tmp_path, host_layer)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["health"]["statusCode"] == 200 and json.loads(out["health"]["body"])["status"] == "ok"
    assert out["unimportable"] == NOT_FOR_THE_LAYER
    loaded = {name.split(".")[0] for name in out["modules"]}
    assert not loaded & {*LOCAL_TOOLING, "lambdas", "site"}
    assert not [m for m in out["modules"] if m.startswith("lakehouse.local")]
    stdlib = Path(os.__file__).parent
    outside = [
        f
        for f in out["files"]
        if not Path(f).is_relative_to(stdlib) and not f.startswith((str(host_layer), str(tmp_path / "task")))
    ]
    assert outside == []
    assert not [f for f in out["files"] if "site-packages" in f]


def test_a_core_module_importing_what_the_layer_lacks_fails_the_run(tmp_path: Path, host_layer: Path) -> None:
    """The experiment of the module docstring on a copy: the copy shadows the layer's core (it comes first)."""
    shadow = tmp_path / "shadow"
    for name, path in build.package_entries(SOURCES.core):
        (shadow / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, shadow / name)
    contract = shadow / "lakehouse" / "core" / "contract" / "__init__.py"
    contract.write_text("import rich\n" + contract.read_text())
    result = _run_on_layer(tmp_path, shadow, host_layer)
    assert result.returncode != 0
    assert "No module named 'rich'" in result.stderr


# --- python -m infra.build ---------------------------------------------------------------------------------------


def test_build_main_prints_each_artifact_and_its_size(capsys) -> None:
    build.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ingest layer",
        "batch library",
        "streaming library",
        "ml library",
        "glue python modules (spark jobs)",
        "glue python modules (warehouse load)",
        "glue python modules (forget job)",
        "glue python modules (ml job)",
    ]
    assert re.fullmatch(
        r"ingest layer: build/infra/ingest-layer \([\d.]+ MB unzipped, \d+ files\); aim <= 60 MB", lines[0]
    ), lines[0]
    assert all(re.search(r"\(.+ zipped, .+ unzipped, \d+ files\)$", line) for line in lines[1:]), lines
