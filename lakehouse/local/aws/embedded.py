"""The embedded AWS emulator: a moto server on 127.0.0.1, in its own process.

``lakehouse up`` starts one detached and records it in ``<home>/run/aws.json``; ``lakehouse down`` stops
exactly that process (checked by PID *and* command line) and nothing else. Tests and the demo use
:class:`EmbeddedAws`, a context manager that does the same for the lifetime of a block.

If ``AWS_ENDPOINT_URL`` already points somewhere (LocalStack, or a moto server someone else runs), no
emulator is started: that endpoint is used as it is.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from lakehouse.core.aws.clients import reset_clients

MARKER = "lakehouse.local.aws.moto_process"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class EmbeddedAwsError(RuntimeError):
    """The emulator could not be started or reached."""


@dataclass(frozen=True)
class EmulatorState:
    """What ``<run dir>/aws.json`` records of the detached emulator: PID, port, endpoint, start (epoch seconds)."""

    pid: int
    port: int
    endpoint: str
    started_at: float

    @classmethod
    def load(cls, path: Path) -> EmulatorState | None:
        """The state in ``path``, or None when it is missing or unreadable."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Write the state to ``path`` (creating its folder)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def endpoint_is_up(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto/LocalStack-like endpoint answers HTTP at all."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, just not that path (LocalStack)
    except (OSError, ValueError):
        return False


def is_our_emulator(pid: int) -> bool:
    """True only for a live process whose command line is our moto launcher."""
    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and MARKER in " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return False


def start_timeout(journal: Path | None) -> float:
    """Seconds to wait for an emulator to answer: 30, plus 1 per MB of journal it replays first (replay measured at
    ~14 MB/s: docs/architecture.md, "Embedded AWS")."""
    size = journal.stat().st_size if journal is not None and journal.is_file() else 0
    return 30.0 + size / 1e6


def spawn_emulator(port: int = 0, log_path: Path | None = None,
                   journal: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start a moto server in a new session; returns the process and its endpoint once it answers.

    ``journal``: replay it first and journal every change into it (:mod:`lakehouse.local.aws.journal`), so the
    state survives a restart. Raises :class:`EmbeddedAwsError` when the server exits (port taken, a journal that
    no longer replays; the log says which) or does not answer in time.
    """
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (handed to the child)
    command = [sys.executable, "-m", MARKER, "--port", str(port)]
    if journal is not None:
        command += ["--journal", str(journal)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    timeout = start_timeout(journal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            where = f"; see {log_path}" if log_path else ""
            if journal is not None and proc.returncode == 2:
                raise EmbeddedAwsError(f"the emulator's journal {journal} does not replay{where}; "
                                       "`lakehouse down --reset` deletes it and starts empty")
            raise EmbeddedAwsError(f"moto server exited with code {proc.returncode} (port {port} in use?{where})")
        if endpoint_is_up(endpoint, timeout=0.5):
            return proc, endpoint
        time.sleep(0.1)
    proc.kill()
    raise EmbeddedAwsError(f"moto server did not answer on {endpoint} within {timeout:.0f} s")


def stop_process(pid: int, timeout: float = 10.0) -> bool:
    """Stop our emulator process ``pid`` (TERM, then KILL). Returns False if it was not ours/alive."""
    if not is_our_emulator(pid):
        return False
    proc = psutil.Process(pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    return True


def export_endpoint(endpoint: str, region: str) -> dict[str, str | None]:
    """Point this process (and its children) at ``endpoint``; returns the previous values."""
    values = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, **DUMMY_CREDENTIALS}
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    reset_clients()
    return previous


def restore_env(previous: dict[str, str | None]) -> None:
    """Undo :func:`export_endpoint`: put back (or remove) the variables it replaced."""
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_clients()


class EmbeddedAws:
    """Context manager: an emulator for the block (or the endpoint already configured), env exported.

    >>> with EmbeddedAws(region="us-east-1") as aws:
    ...     aws.endpoint  # 'http://127.0.0.1:PORT'
    """

    def __init__(self, region: str = "us-east-1", port: int = 0, log_path: Path | None = None):
        self.region = region
        self.port = port
        self.log_path = log_path
        self.endpoint: str | None = None
        self.process: subprocess.Popen | None = None
        self._previous: dict[str, str | None] = {}

    @property
    def started_here(self) -> bool:
        """Whether this block started its own emulator (else it uses ``AWS_ENDPOINT_URL``)."""
        return self.process is not None

    def __enter__(self) -> EmbeddedAws:
        """Start the emulator (or adopt ``AWS_ENDPOINT_URL``) and export the endpoint; raises ``EmbeddedAwsError``."""
        existing = os.environ.get("AWS_ENDPOINT_URL")
        if existing:
            self.endpoint = existing
            self._previous = export_endpoint(existing, self.region)
            for key in DUMMY_CREDENTIALS:  # keep whatever credentials the user configured for it
                if self._previous.get(key) is not None:
                    os.environ[key] = self._previous[key]  # type: ignore[assignment]
            return self
        self.process, self.endpoint = spawn_emulator(self.port, self.log_path)
        self._previous = export_endpoint(self.endpoint, self.region)
        return self

    def __exit__(self, *exc: object) -> None:
        """Restore the environment and stop the emulator this block started (TERM, then KILL after 10 s)."""
        restore_env(self._previous)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


def state_file(run_dir: Path) -> Path:
    """``<run dir>/aws.json``, where ``lakehouse up`` records its emulator."""
    return run_dir / "aws.json"


def running_emulator(run_dir: Path) -> EmulatorState | None:
    """The emulator ``lakehouse up`` started, if it is still ours and alive."""
    state = EmulatorState.load(state_file(run_dir))
    if state and is_our_emulator(state.pid):
        return state
    return None


def journal_file(run_dir: Path) -> Path:
    """``<run dir>/aws-journal.jsonl``: every change made to the detached emulator, replayed when it restarts."""
    return run_dir / "aws-journal.jsonl"


def port_is_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound now by a server that, like the emulator's, sets SO_REUSEADDR
    (connections a killed server left in TIME_WAIT do not hold the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start_detached(run_dir: Path, port: int = 0, persist: bool = False) -> tuple[EmulatorState, bool]:
    """Start (or reuse) the detached emulator; returns its state and whether it was started now.

    ``persist``: replay ``<run dir>/aws-journal.jsonl`` and keep journaling into it, so a restarted emulator
    (stopped, or killed) comes back with everything it had acknowledged. Without a ``port``, a restart takes the
    port the last emulator had (``<run dir>/aws-port``) when it is free, so clients still pointed at it resume.
    A home whose journal exists keeps it whatever ``persist`` says (an emulator started empty beside it would make
    it stale) until :func:`stop_detached` ``reset`` deletes it. Raises :class:`EmbeddedAwsError` when it cannot
    start.
    """
    current = running_emulator(run_dir)
    if current:
        return current, False
    journal = journal_file(run_dir)
    persist = persist or journal.is_file()
    run_dir.mkdir(parents=True, exist_ok=True)
    last_port = run_dir / "aws-port"
    if not port and last_port.is_file() and last_port.read_text().strip().isdigit():
        port = int(last_port.read_text()) if port_is_free(int(last_port.read_text())) else 0
    proc, endpoint = spawn_emulator(port, run_dir / "moto.log", journal if persist else None)
    state = EmulatorState(pid=proc.pid, port=int(endpoint.rsplit(":", 1)[1]), endpoint=endpoint,
                          started_at=time.time())
    state.save(state_file(run_dir))
    last_port.write_text(str(state.port))
    return state, True


def stop_detached(run_dir: Path, reset: bool = False) -> EmulatorState | None:
    """Stop the emulator recorded in ``run_dir`` (only if it is ours); returns what was stopped.

    ``reset``: also delete its journal, so the next start begins empty.
    """
    path = state_file(run_dir)
    state = EmulatorState.load(path)
    stopped = state if state and stop_process(state.pid) else None
    path.unlink(missing_ok=True)
    if reset:
        journal_file(run_dir).unlink(missing_ok=True)
    return stopped
