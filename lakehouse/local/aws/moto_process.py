"""Entry point of the embedded emulator process: ``python -m lakehouse.local.aws.moto_process --port N``.

Runs a moto server bound to 127.0.0.1 only, until SIGTERM/SIGINT, with the fixes in
:mod:`lakehouse.local.aws.moto_patches` applied. With ``--journal PATH`` it first replays the journal of an
earlier run (:mod:`lakehouse.local.aws.journal`), then journals every state-changing request, so a restart —
even after a SIGKILL — comes back with every acknowledged change.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from lakehouse.local.aws import moto_patches
from lakehouse.local.aws.journal import JournaledApp, replay


def main(argv: list[str] | None = None) -> None:
    """Serve moto (patched) on 127.0.0.1:``--port`` until SIGTERM or SIGINT; exits 2 when the journal is unreadable
    or a line that succeeded before fails on replay (the state would not be what was acknowledged)."""
    parser = argparse.ArgumentParser(description="Run the embedded AWS emulator (moto) on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--journal", type=Path, help="replay this journal, then append every change to it")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    moto_patches.apply()
    app = DomainDispatcherApplication(create_backend_app)
    if args.journal:
        started = time.perf_counter()
        try:
            count, problems = replay(app, args.journal)
        except ValueError as exc:  # a torn line before the last: the journal cannot be trusted
            print(f"journal replay failed: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        print(f"replayed {count:,} journaled requests from {args.journal} in {time.perf_counter() - started:.1f} s",
              flush=True)
        if problems:
            print("journal replay failed:\n  " + "\n  ".join(problems[:20]), file=sys.stderr, flush=True)
            sys.exit(2)
        app = JournaledApp(app, args.journal)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"moto server listening on http://127.0.0.1:{args.port}", flush=True)
    stop.wait()
    server.shutdown()
    thread.join()


if __name__ == "__main__":
    main()
