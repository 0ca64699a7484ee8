"""Entry point of the embedded emulator process: ``python -m lakehouse.local.aws.moto_process --port N``.

Runs a moto server bound to 127.0.0.1 only, until SIGTERM/SIGINT, with the fixes in
:mod:`lakehouse.local.aws.moto_patches` applied.
"""

from __future__ import annotations

import argparse
import signal
import threading

from moto.server import ThreadedMotoServer

from lakehouse.local.aws import moto_patches


def main(argv: list[str] | None = None) -> None:
    """Serve moto (patched) on 127.0.0.1:``--port`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="Run the embedded AWS emulator (moto) on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    moto_patches.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"moto server listening on http://127.0.0.1:{args.port}", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
