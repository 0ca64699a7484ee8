"""`lakehouse dashboard` as a user runs it: the URL printed, the page served, Ctrl-C / SIGTERM stopping it and its
Streamlit child, and the refusals in words. A tiny Streamlit script stands in for the app (hidden ``--app``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from lakehouse.local.dashboard_server import health


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    duckdb.connect(str(home / "warehouse.duckdb")).close()
    return home


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_app.py"
    path.write_text("import streamlit as st\nst.title('tiny dashboard')\n")
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(home), "COLUMNS": "200"})
    return env


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", "dashboard", *args], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _url_of(proc: subprocess.Popen[str]) -> str:
    line = proc.stdout.readline()  # "dashboard at http://127.0.0.1:<port> (warehouse: …); Ctrl-C stops it"
    assert line.startswith("dashboard at http://"), line + proc.stderr.read()
    return line.split()[2]


def _streamlit_children(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return [p for p in psutil.Process(proc.pid).children(recursive=True) if "streamlit" in " ".join(p.cmdline())]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "Ctrl-C", "SIGHUP"])
def test_dashboard_serves_until_stopped_and_takes_its_child_along(home: Path, app: Path, sig: signal.Signals) -> None:
    """Seen failing without the signal handler: SIGTERM ended the CLI at once and Streamlit (in its own session)
    went on serving the port as an orphan."""
    proc = _start(home, "--port", "0", "--app", str(app))
    try:
        url = _url_of(proc)
        assert url.startswith("http://127.0.0.1:") and health(url) == "ok"
        children = _streamlit_children(proc)
        assert len(children) == 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "dashboard stopped" in out and "Traceback" not in err
    psutil.wait_procs(children, timeout=5)
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    assert health(url) is None


def test_a_killed_dashboard_command_takes_its_child_along(home: Path, app: Path) -> None:
    """SIGKILL leaves no handler to run: the child is tied to its parent's death (PR_SET_PDEATHSIG). Seen failing
    without it (reviewer): Streamlit went on under PID 1 holding the port, and the next start said it was taken."""
    proc = _start(home, "--port", "0", "--app", str(app))
    try:
        url = _url_of(proc)
        children = _streamlit_children(proc)
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not [c for c in alive if c.status() != psutil.STATUS_ZOMBIE]
    assert health(url) is None


def test_dashboard_without_a_warehouse_says_how_to_build_one(tmp_path: Path, app: Path) -> None:
    proc = _start(tmp_path, "--port", "0", "--app", str(app))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "run `lakehouse batch` (or `make demo`) first" in " ".join(err.split())
    assert "Traceback" not in err


def test_dashboard_on_a_taken_port_says_so(home: Path, app: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = _start(home, "--port", str(port), "--app", str(app))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and f"port {port} on 127.0.0.1 is taken" in " ".join(err.split())
    assert time.monotonic() - started < 30  # refused before any child starts
