"""Stopping a long command cleanly: SIGTERM, SIGINT and SIGHUP raised as :class:`Stopped` inside a block, so the
command's ``finally`` blocks stop what it started (the default SIGTERM ends the process at once, running none), or,
for a streaming command, setting its stop event (:func:`setting_on_signals`)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import psutil

#: the signals a user or a supervisor stops a command with (SIGHUP: the terminal closed)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal arrived: ``signum`` is its number. A ``BaseException``, as ``KeyboardInterrupt`` is, so no
    ``except Exception`` on the way (a stage retrying an error, a Spark read falling back) takes it for a failure."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block :data:`STOP_SIGNALS` raise :class:`Stopped`; the previous handlers come back afterwards."""

    def raise_stopped(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def setting_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """Inside the block the first of :data:`STOP_SIGNALS` sets ``stop`` and nothing else: a streaming command's wait
    (``stream.query.await_query``) sees it between two short py4j calls and stops its query cleanly — an
    exception raised inside a py4j call makes py4j log tracebacks. A second signal raises :class:`Stopped` (the
    user insists). Yields the signals received, in order; the previous handlers come back afterwards."""
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            raise Stopped(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_child_processes(grace_seconds: float = 5.0) -> list[int]:
    """SIGTERM every process this one started (children and theirs), SIGKILL those still running after
    ``grace_seconds``; returns their pids.

    For a command stopped by a signal: Spark's JVM exits by itself when this process's pipe to it closes, except
    when the signal came while it was starting — it then outlives us, serving py4j to nobody (seen with
    ``lakehouse demo`` stopped in its first second of Spark: the JVM was still running minutes later).
    """
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_seconds)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=grace_seconds)
    return [child.pid for child in children]


@contextmanager
def ignoring_stop_signals() -> Iterator[None]:
    """Inside the block :data:`STOP_SIGNALS` are ignored (a second Ctrl-C must not cut a clean-up short); the
    previous handlers come back afterwards."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_spark(timeout_seconds: float = 10.0) -> None:
    """Stop this process's SparkContext, if one runs, giving up after ``timeout_seconds`` (a context interrupted in
    the middle of a call may not answer). Stopped first, its Python side closes its sockets itself: killing the
    JVM under a live context makes PySpark's accumulator server print an ``EOFError`` traceback."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        return
    stopper = threading.Thread(target=context.stop, name="stop-spark", daemon=True)
    stopper.start()
    stopper.join(timeout_seconds)
