"""Data sets shared by the generator tests: a small one (every event validated) and a >= 1M-event one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.local.generator import GenerationReport, GeneratorConfig, generate
from lakehouse.local.generator.signal import Activity, gather, read_events, read_truth

SMALL = GeneratorConfig(seed=11, customers=400, days=120, chunk_events=7_000)
#: about 1.06 million events; its statistics are asserted in test_realism.py
BIG = GeneratorConfig(seed=7, customers=7_000, days=365)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate(SMALL, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def small_events(small_run: GenerationReport) -> list[dict]:
    return list(read_events(small_run.out_dir))


@dataclass(frozen=True)
class BigRun:
    out_dir: Path
    manifest: dict
    max_rss_bytes: int
    cpu_s: float
    wall_s: float


#: runs argv[1:] as its only child and prints that child's exit code, peak RSS (KiB) and CPU seconds
LAUNCHER = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'code': code, 'maxrss_kib': usage.ru_maxrss, 'cpu_s': usage.ru_utime + usage.ru_stime}))\n"
)
GENERATE = (
    "import sys\nfrom pathlib import Path\n"
    "from lakehouse.local.generator import GeneratorConfig, generate\n"
    f"generate(GeneratorConfig(seed={BIG.seed}, customers={BIG.customers}, days={BIG.days}), Path(sys.argv[1]))\n"
)


@pytest.fixture(scope="session")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> BigRun:
    """Generate BIG in a child process and measure that child's peak RSS.

    The generator runs under a small launcher process that reads RUSAGE_CHILDREN. Measuring from the
    test process itself would be wrong twice: its RUSAGE_CHILDREN covers every child the suite has
    reaped, and Linux records the spawning process's RSS (here: the test process, hundreds of MiB)
    as the peak of a freshly exec'd child. The launcher is small, so what it reports is the generator.
    """
    out = tmp_path_factory.mktemp("big")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-c", GENERATE, str(out)],
                            capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["code"] == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    return BigRun(out, manifest, measured["maxrss_kib"] * 1024, measured["cpu_s"], wall)


@pytest.fixture(scope="session")
def big_activity(big_run: BigRun) -> Activity:
    return gather(read_events(big_run.out_dir))


@pytest.fixture(scope="session")
def big_truth(big_run: BigRun) -> list[dict[str, str]]:
    return read_truth(big_run.out_dir)
