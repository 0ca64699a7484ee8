"""The streaming job as a crash test's child process, killing itself (SIGKILL) at a chosen point.

``python tests/stream/crash_runner.py [--once] [--fault <step>@<batch id>]``: the local job on the settings of
the ``LAKEHOUSE_*`` environment, printing ``batch <id> ...`` after each micro-batch. The fault is a parameter of
:func:`stream.job.run_stream` that only this test fixture passes; production code reads no fault from anywhere.
"""

from __future__ import annotations

import argparse
import os
import signal

from lakehouse.core.config import Settings
from lakehouse.core.spark import local_spark
from stream.job import run_stream
from stream.microbatch import FAULT_STEPS, Fault


def kill_at(spec: str) -> Fault:
    """``<step>@<batch id>`` -> a fault that SIGKILLs this process at that step of that micro-batch."""
    step, _, batch = spec.partition("@")
    if step not in FAULT_STEPS or not batch.isdigit():
        raise SystemExit(f"--fault must be <step>@<batch id> with step one of {', '.join(FAULT_STEPS)}")

    def fault(at: str, batch_id: int) -> None:
        if at == step and batch_id == int(batch):
            os.kill(os.getpid(), signal.SIGKILL)

    return fault


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--fault")
    args = parser.parse_args()
    report = run_stream(Settings(), local_spark("crash-runner"), once=args.once,
                        fault=kill_at(args.fault) if args.fault else None,
                        on_progress=lambda r: print(f"batch {r.batch_id}: {r.records} records", flush=True))
    print(f"done: {report.records} records", flush=True)


if __name__ == "__main__":
    main()
