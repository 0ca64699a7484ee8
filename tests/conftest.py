"""Fixtures shared by the whole suite: one embedded AWS (moto server over HTTP) per session."""

from __future__ import annotations

import gzip
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.core.config import Settings
from lakehouse.local.aws.embedded import EmbeddedAws
from lakehouse.local.aws.provision import provision

#: the lake built once by the batch chain (batch, warehouse and local-runner tests), and the demo run once (the
#: demo test and the dashboard browser tests); the scheduling of ``make test``'s parallel processes
pytest_plugins = ["tests.lake_fixtures", "tests.demo_fixtures", "tests.xdist_groups"]

# Tests never read the developer's own configuration, nor a terminal size fixed for them: pytest-xdist's workers
# start with COLUMNS=80 and LINES=24, which the CLI's rich consoles would keep as a fixed width when imported (a
# test that sets COLUMNS then saw its output wrapped at 80 columns).
for _key in [k for k in os.environ if k.startswith("LAKEHOUSE_") or k in ("COLUMNS", "LINES")]:
    del os.environ[_key]


def cpu_probe_ms(lines: int = 20_000, repeat: int = 3) -> float:
    """Milliseconds one core takes to gunzip and parse ``lines`` fixed JSON lines (best of ``repeat``): the kind of
    work of the scaling bench's read floor, with the standard json module both test environments have. These
    shared cores have run the same work 1.5 times slower on one day than on another (docs/test-time.md), so a
    suite's time is comparable between runs only beside this figure."""
    payload = gzip.compress(b"\n".join(json.dumps({"messageId": str(i), "type": "track", "event": "Product Viewed",
                                                    "properties": {"price": i / 100, "sku": f"s{i % 97}"}}).encode()
                                        for i in range(lines)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for line in gzip.decompress(payload).splitlines():
            json.loads(line)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def pytest_report_header(config: pytest.Config) -> str:
    return f"cpu probe: {cpu_probe_ms():.0f} ms (20,000 JSON lines gunzipped and parsed on one core, best of 3)"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server in its own process; AWS_ENDPOINT_URL and dummy credentials exported."""
    os.environ.pop("AWS_ENDPOINT_URL", None)
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with EmbeddedAws(region="us-east-1", log_path=log) as aws:
        yield aws.endpoint  # type: ignore[misc]


def unique_stage() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a unique stage (so resource names never collide) and a private home."""
    return Settings(stage=unique_stage(), home=tmp_path / "home")


@pytest.fixture
def aws_settings(moto_endpoint: str, settings: Settings) -> Settings:
    """``settings`` whose resources exist on the session's moto server."""
    provision(settings)
    return settings


@pytest.fixture(scope="session")
def spark():
    """The one local SparkSession shared by every test that needs Spark."""
    from lakehouse.core.spark import local_spark

    session = local_spark("lakehouse-tests")
    yield session
    session.stop()
