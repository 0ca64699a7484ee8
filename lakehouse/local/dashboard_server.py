"""The local web dashboard as a child process: start it, wait until it answers, stop it cleanly.

:class:`DashboardServer` runs ``python -m streamlit run <dashboards.app.ENTRY>`` on one host and port, with the
lakehouse settings passed down as ``LAKEHOUSE_*`` variables (:func:`settings_env`), and is a context manager::

    with DashboardServer(settings, port=0) as url:   # port 0: a free port
        ...                                          # http://127.0.0.1:<port>, answering

``lakehouse dashboard``, ``lakehouse demo --dashboard``, the browser tests and the render benchmark all use it.

Invariants: :meth:`DashboardServer.start` returns only once ``GET /_stcore/health`` answers ``ok`` (Streamlit's
health route: 200 when the runtime accepts browser sessions), and raises :class:`DashboardError` — with the
child stopped — when the warehouse does not exist yet, the port is taken, or the child exits or stays silent
before that. The child runs in its own session (process group), so a Ctrl-C in the terminal reaches only the
parent, which then stops the child: SIGTERM to its group (Streamlit shuts down on it), SIGKILL after
``STOP_TIMEOUT_SECONDS``. The child's output goes to ``<home>/run/dashboard-<port>.log``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, SecretStr

from lakehouse.core.config import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501  # Streamlit's own default
READY_TIMEOUT_SECONDS = 60.0  # Streamlit starts in ~2-5 s on 2 busy cores
STOP_TIMEOUT_SECONDS = 10.0
HEALTH_PATH = "/_stcore/health"
LOG_TAIL_LINES = 15
ENV_PREFIX = "LAKEHOUSE_"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when its parent dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``,
    prctl(2)), so a killed ``lakehouse dashboard`` never leaves Streamlit holding the port."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class DashboardError(RuntimeError):
    """The dashboard cannot start or stopped unexpectedly; the message says what to do."""


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``LAKEHOUSE_*`` variables that rebuild it in another process.

    Nested models use ``__`` (``LAKEHOUSE_REDSHIFT__HOST``), secrets their value, paths are made absolute (the
    child may run elsewhere), dates ISO 8601, booleans ``true``/``false``; unset (``None``) fields are left out.
    ``Settings()`` read from the result equals ``settings`` with absolute paths.
    """
    env: dict[str, str] = {}

    def put(prefix: str, model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name.upper()}"
            if isinstance(value, BaseModel):
                put(f"{key}__", value)
            elif value is not None:
                env[key] = _env_text(value)

    put(ENV_PREFIX, settings)
    return env


def _env_text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict | set):
        return json.dumps(list(value) if isinstance(value, set | tuple) else value)
    return str(value)


def check_warehouse(settings: Settings) -> None:
    """Raise :class:`DashboardError` when the local warehouse file does not exist yet (a Redshift target is
    checked by the dashboard's first query, which shows Redshift's own message)."""
    if settings.warehouse_target == "duckdb" and not settings.warehouse_path.is_file():
        raise DashboardError(f"no warehouse at {settings.warehouse_path} yet: run `lakehouse batch` "
                             "(or `make demo`) first")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def claim_port(host: str, port: int) -> int:
    """``port`` if a server could listen on ``host:port`` now (``0``: a free port the system picks).

    Binds the way Streamlit binds (``SO_REUSEADDR``), so a port held only by closed connections counts as free
    and one another program listens on does not. Raises :class:`DashboardError` for a taken port or an address
    this machine does not have.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DashboardError(f"port {port} on {host} is taken: another program (an earlier `lakehouse "
                                     "dashboard`?) listens there; stop it or choose another with --port") from None
            if exc.errno == errno.EACCES:
                raise DashboardError(f"port {port} on {host} needs privileges; choose one above 1023") from None
            raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        return int(sock.getsockname()[1])


def _browse_host(host: str) -> str:
    """The address a browser on this machine uses for a server listening on ``host`` (wildcards: loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def health(url: str, timeout: float = 2.0) -> str | None:
    """The body of ``GET <url>/_stcore/health`` when it answers 200, else ``None`` (proxies are bypassed)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + HEALTH_PATH, timeout=timeout) as response:
            return response.read().decode("utf-8", "replace").strip() if response.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


class DashboardServer:
    """The Streamlit dashboard in a child process (see the module docstring).

    Parameters
    ----------
    settings
        Passed to the child as ``LAKEHOUSE_*`` variables; its warehouse must exist (duckdb target).
    host, port
        Where the dashboard listens; ``port=0`` takes a free port.
    entry
        The Streamlit script (default :data:`dashboards.app.ENTRY`).
    ready_timeout_seconds
        How long :meth:`start` waits for the health route to answer ``ok``.
    """

    def __init__(self, settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 entry: Path | None = None, ready_timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.entry = entry
        self.ready_timeout_seconds = ready_timeout_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` as a browser on this machine opens it."""
        return f"http://{_browse_host(self.host)}:{self.port}"

    def command(self) -> list[str]:
        """The child's command line."""
        return [sys.executable, "-m", "streamlit", "run", str(self._entry()),
                "--server.address", self.host, "--server.port", str(self.port),
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none",  # a served app: no source watching (CPU on 2 cores)
                "--client.showErrorDetails", "false",  # an error is a message, never a traceback
                "--client.toolbarMode", "minimal"]

    def _entry(self) -> Path:
        if self.entry is not None:
            return self.entry
        from dashboards.app import ENTRY

        return ENTRY

    def start(self) -> str:
        """Start the dashboard and return its URL once it answers.

        Raises
        ------
        DashboardError
            No warehouse yet, the app script missing, the port taken, or the child exited (its log's last
            lines are in the message) or did not answer within ``ready_timeout_seconds``.
        """
        if self.process is not None:
            raise DashboardError("this dashboard is already started")
        check_warehouse(self.settings)
        entry = self._entry()
        if not entry.is_file():
            raise DashboardError(f"the dashboard app {entry} is missing (is the package installed?)")
        self.port = claim_port(self.host, self.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(settings_env(self.settings))
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.settings.run_dir / f"dashboard-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (the child writes it until stop())
        self.process = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_seconds
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise DashboardError(f"the dashboard exited with code {code} before it answered on {self.url}"
                                     f"{self._log_tail()}")
            if health(self.url, timeout=1.0) == "ok":
                return
            time.sleep(0.2)
        raise DashboardError(f"the dashboard did not answer on {self.url} within {self.ready_timeout_seconds:g} s"
                             f"{self._log_tail()}")

    def _log_tail(self) -> str:
        """The last lines of the child's log, as ``:\\n<lines>\\n(log: <path>)``, or ``''``."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        lines = self.log_path.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
        return (":\n" + "\n".join(lines) if lines else "") + f"\n(log: {self.log_path})"

    @property
    def running(self) -> bool:
        """True while the child process lives."""
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        """Block until the child exits (a Ctrl-C interrupts the wait, not the child); its exit code."""
        if self.process is None:
            raise DashboardError("the dashboard was not started")
        return self.process.wait()

    def stop(self) -> int | None:
        """Stop the child (SIGTERM to its process group, SIGKILL after ``STOP_TIMEOUT_SECONDS``); idempotent.

        Returns the child's exit code (``None`` if it was never started).
        """
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None
        return proc.returncode

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        """``sig`` to the child's own process group (its session: ``start_new_session``), i.e. to the child and
        anything it started, never to ours."""
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            os.killpg(proc.pid, sig)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the child, whatever ended the block."""
        self.stop()
