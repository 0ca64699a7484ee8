"""Records the job cannot use go to the lake's quarantine zone, with what is wrong with them.

One gzip JSON-lines object per micro-batch with rejects, at
``quarantine/dt=YYYY-MM-DD/hour=HH/stream-<run>-<batch id>.jsonl.gz`` (partitioned by the earliest
reject's arrival on the stream). The key depends only on the micro-batch, so a replayed batch rewrites
the same object instead of adding a second one. Line format (as the ingestion API's quarantine)::

    {"received_at", "source": "kinesis:<stream>", "request_id": "<run>/<batch id>", "index",
     "errors": [{"field", "reason"}], "payload": <the JSON value, or the text when it is not JSON>,
     "shard_id", "sequence_number"}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from lakehouse.core.contract.record import iso
from lakehouse.core.lake.raw import encode_lines, quarantine_object_key
from lakehouse.core.lake.storage import LakeStorage
from stream.records import Rejected


def quarantine_lines(rejected: Sequence[Rejected], stream_name: str, token: str) -> list[dict]:
    """One quarantine line per reject, in the format of the module docstring (``index``: position in ``rejected``)."""
    lines = []
    for index, reject in enumerate(rejected):
        try:
            payload = json.loads(reject.text, parse_constant=_no_constants)
        except ValueError:
            payload = reject.text
        lines.append({"received_at": iso(reject.record.arrival), "source": f"kinesis:{stream_name}",
                      "request_id": token, "index": index, "errors": [p.as_dict() for p in reject.problems],
                      "payload": payload, "shard_id": reject.record.shard_id,
                      "sequence_number": reject.record.sequence_number})
    return lines


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def quarantine_key(rejected: Sequence[Rejected], run: str, batch_id: int) -> str:
    """The micro-batch's quarantine object key, dated by the earliest arrival (now when none is known)."""
    arrivals = [r.record.arrival for r in rejected if r.record.arrival is not None]
    at = min(arrivals).astimezone(UTC) if arrivals else datetime.now(UTC)
    return quarantine_object_key(at, f"stream-{run}-{batch_id:010d}")


def write_quarantine(storage: LakeStorage, rejected: Sequence[Rejected], stream_name: str, run: str,
                     batch_id: int, token: str) -> str | None:
    """Store the rejects of one micro-batch; returns the object's key (None when there are none)."""
    if not rejected:
        return None
    key = quarantine_key(rejected, run, batch_id)
    storage.put_bytes(key, encode_lines(quarantine_lines(rejected, stream_name, token)),
                      content_type="application/gzip")
    return key
