"""Waiting on a streaming query and turning its failure into one readable error (the feature job, the raw archive).

Spark passes a micro-batch's exception on only as a stringified traceback, so each job's ``foreachBatch`` function
remembers ``(batch id, exception)`` in ``failures`` and :func:`query_error` reports the last one, chained.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def await_query(query: Any, once: bool, stop: threading.Event | None,
                make_error: Callable[[object], Exception]) -> bool:
    """Wait for ``query`` (``once``: until it ends; else until ``stop`` is set), then stop it. ``stop`` set ends a
    ``once`` query's wait too. The wait is short calls (0.25 s), so a command's signal handler setting ``stop``
    never interrupts a py4j call half-way (which makes py4j log tracebacks).

    Returns True when it stopped before its end (``stop`` set while a ``once`` query ran, or Ctrl-C's
    ``KeyboardInterrupt``: what was committed stays committed). Raises ``make_error(failure)`` when the query
    failed.
    """
    from pyspark.errors import StreamingQueryException

    try:
        try:
            while query.isActive and not (stop is not None and stop.is_set()):
                query.awaitTermination(0.25)
            if once and query.isActive:
                return True
        except KeyboardInterrupt:
            return True
        except StreamingQueryException as exc:
            raise make_error(exc) from None
        failure = query.exception()
        if failure is not None:
            raise make_error(failure)
        return False
    finally:
        if query.isActive:
            query.stop()


def query_error(error_type: type[Exception], what: str, failure: object,
                failures: list[tuple[int, BaseException]]) -> Exception:
    """``error_type`` naming the last failed micro-batch of ``failures`` (chained to its exception), else the
    query's own failure's first line; ``what`` names the job (``"the raw archive"``)."""
    if failures:
        batch_id, exc = failures[-1]
        error = error_type(f"{what} micro-batch {batch_id} failed: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error
    text = str(getattr(failure, "desc", None) or failure).strip()
    return error_type(f"{what} query failed: {text.splitlines()[0] if text else type(failure).__name__}")
