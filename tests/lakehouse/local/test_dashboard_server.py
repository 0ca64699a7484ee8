"""The dashboard's child process: settings passed down, started only when it answers, refused with a reason,
and stopped without leaving anything behind. A real Streamlit server runs a tiny script (the real app is tested
by the dashboard's browser tests)."""

from __future__ import annotations

import os
import socket
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
import psutil
import pytest

from lakehouse.core.config import EventTimeSettings, RedshiftSettings, Settings
from lakehouse.local.dashboard_server import DashboardError, DashboardServer, claim_port, health, settings_env

APP = "import streamlit as st\nst.title('tiny dashboard')\n"


@pytest.fixture
def built(tmp_path: Path) -> Settings:
    """Settings whose (tiny) warehouse exists."""
    settings = Settings(home=tmp_path / "home", stage="dashtest")
    settings.home.mkdir()
    duckdb.connect(str(settings.warehouse_path)).close()
    return settings


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_app.py"
    path.write_text(APP)
    return path


def _port_is_free(port: int) -> bool:
    try:
        claim_port("127.0.0.1", port)
        return True
    except DashboardError:
        return False


def test_settings_survive_the_trip_through_the_environment(monkeypatch, tmp_path: Path) -> None:
    settings = Settings(home=Path("rel/home"), stage="qa", warehouse_target="redshift",
                        redshift=RedshiftSettings(host="wg.example", password="p@ss", port=5440),
                        event_time=EventTimeSettings(earliest_event_date=date(2001, 2, 3)))
    env = settings_env(settings)
    assert env["LAKEHOUSE_REDSHIFT__PASSWORD"] == "p@ss" and env["LAKEHOUSE_HOME"] == str(Path("rel/home").resolve())
    assert "LAKEHOUSE_LAKE_ROOT" not in env  # unset stays unset
    for key in [k for k in os.environ if k.startswith("LAKEHOUSE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    again = Settings()
    assert again.model_dump(exclude={"home", "redshift"}) == settings.model_dump(exclude={"home", "redshift"})
    assert again.home == Path("rel/home").resolve() and again.redshift.password.get_secret_value() == "p@ss"
    assert again.redshift.model_dump(exclude={"password"}) == settings.redshift.model_dump(exclude={"password"})


def test_the_server_answers_when_started_and_is_gone_when_stopped(built: Settings, app: Path) -> None:
    server = DashboardServer(built, port=0, entry=app)
    with server as url:
        assert url == f"http://127.0.0.1:{server.port}" and health(url) == "ok"
        with urllib.request.urlopen(url, timeout=10) as page:  # the app's HTML shell
            assert page.status == 200 and b"<html" in page.read().lower()
        child = psutil.Process(server.process.pid)
        env = child.environ()
        assert env["LAKEHOUSE_HOME"] == str(built.home.resolve()) and env["LAKEHOUSE_STAGE"] == "dashtest"
        assert "--server.headless" in child.cmdline() and str(app) in child.cmdline()
        assert not _port_is_free(server.port)
    assert server.process.returncode is not None and not psutil.pid_exists(child.pid)  # stopped and reaped
    assert health(url) is None and _port_is_free(server.port)
    assert server.stop() == server.process.returncode  # stopping twice is harmless


def test_no_warehouse_yet_is_refused_with_the_command_that_builds_it(tmp_path: Path, app: Path) -> None:
    with pytest.raises(DashboardError, match=r"no warehouse at .*run `lakehouse batch` \(or `make demo`\) first"):
        DashboardServer(Settings(home=tmp_path / "empty"), port=0, entry=app).start()


def test_a_taken_port_is_refused_by_name(built: Settings, app: Path) -> None:
    """Seen failing without the check: Streamlit exited with code 1 ("Port … is not available") and the error
    only said that the dashboard exited."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DashboardError, match=f"port {port} on 127.0.0.1 is taken.*--port"):
            DashboardServer(built, port=port, entry=app).start()


def test_a_child_that_dies_early_is_reported_with_its_log(built: Settings, tmp_path: Path) -> None:
    not_python = tmp_path / "app.txt"  # streamlit runs .py files only
    not_python.write_text(APP)
    server = DashboardServer(built, port=0, entry=not_python)
    with pytest.raises(DashboardError, match=r"exited with code \d+ before it answered(.|\n)*\(log: "):
        server.start()
    assert server.process.poll() is not None


def test_a_missing_app_script_is_named(built: Settings, tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match=r"app .*nothing\.py is missing"):
        DashboardServer(built, port=0, entry=tmp_path / "nothing.py").start()
