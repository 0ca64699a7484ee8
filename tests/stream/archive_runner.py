"""The raw archive as a crash test's child process, killing itself (SIGKILL) at a chosen point.

``python tests/stream/archive_runner.py [--fault <step>@<batch id>]``: :func:`stream.archive.run_archive` once
(AvailableNow) on the settings of the ``LAKEHOUSE_*`` environment, printing ``batch <id> ...`` after each
micro-batch. The fault is a parameter of ``run_archive`` that only this test fixture passes.
"""

from __future__ import annotations

import argparse
import os
import signal

from lakehouse.core.config import Settings
from lakehouse.core.spark import local_spark
from stream.archive import ARCHIVE_FAULT_STEPS, Fault, run_archive


def kill_at(spec: str) -> Fault:
    """``<step>@<batch id>`` -> a fault that SIGKILLs this process at that step of that micro-batch."""
    step, _, batch = spec.partition("@")
    if step not in ARCHIVE_FAULT_STEPS or not batch.isdigit():
        raise SystemExit(f"--fault must be <step>@<batch id> with step one of {', '.join(ARCHIVE_FAULT_STEPS)}")

    def fault(at: str, batch_id: int) -> None:
        if at == step and batch_id == int(batch):
            os.kill(os.getpid(), signal.SIGKILL)

    return fault


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fault")
    args = parser.parse_args()
    report = run_archive(Settings(), local_spark("archive-runner"), once=True,
                         fault=kill_at(args.fault) if args.fault else None,
                         on_progress=lambda b: print(f"batch {b.batch_id}: {b.records} records, "
                                                     f"{len(b.objects)} objects", flush=True))
    print(f"done: {report.records} records", flush=True)


if __name__ == "__main__":
    main()
