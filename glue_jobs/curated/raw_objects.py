"""Raw objects that cannot be read: found, set aside with their reason, and their readable lines salvaged.

Spark reads a run's raw objects in one scan, gzip decoded by Hadoop's codec; one object it cannot decode (a
truncated gzip from a partial upload, bytes that are not gzip at all) fails the whole scan, and so every later
run. Checking every object in Python before Spark would decompress everything twice, so the job checks only
after Spark failed (:func:`find_unreadable`): each object of the batch is decompressed once in Python, the
unreadable ones are set aside and the scan is repeated without them. A run with no broken object pays nothing.

Set aside means: a dead-letter record ``quarantine/unreadable/<raw key>.json`` (raw object, reason, lines
salvaged, run id) and an entry in the run report (``unreadable_objects``); the object stays in the raw zone (the
system of record) and counts as processed when the run commits, so no later run retries it or fails on it.
Salvage: the complete lines before the damage (every line up to the last newline the decoder produced) are
curated like any other line — each was written whole by the API, and each still goes through validation; the
cut line after the last newline is dropped. Bytes that are not gzip salvage nothing (no guess at their format).
Text that is not UTF-8, or lines that are not JSON, do not stop a scan: their lines are rejected one by one.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

from lakehouse.core.job_state import write_json
from lakehouse.core.lake.storage import LakeStorage, StoredObject

DEAD_LETTERS = "quarantine/unreadable"
READ_CHUNK_BYTES = 1 << 20
GZIP_WBITS = 31  # zlib: a gzip header and trailer (16 + the 32 KiB window)


@dataclass
class Unreadable:
    """A raw object set aside: its key, why it cannot be read, the complete lines read before the damage."""

    raw_object: str
    reason: str
    lines: list[str] = field(default_factory=list, repr=False)
    dead_letter: str | None = None

    def as_report(self) -> dict[str, object]:
        """The run report's entry: ``raw_object``, ``reason``, ``lines_salvaged``, ``dead_letter`` (its key)."""
        return {"raw_object": self.raw_object, "reason": self.reason, "lines_salvaged": len(self.lines),
                "dead_letter": self.dead_letter}


def check_object(key: str, body: bytes) -> Unreadable | None:
    """None when ``body`` decompresses as gzip to its end; else what is wrong and the complete lines before it.

    An empty object is unreadable (a failed upload). Lines are decoded as UTF-8 with replacement characters,
    as Spark's text reader decodes them.
    """
    if not body:
        return Unreadable(key, "empty object (0 bytes): not gzip")
    out = bytearray()
    rest = body
    try:
        while rest:  # one gzip member after another (a gzip file may hold several)
            decoder = zlib.decompressobj(wbits=GZIP_WBITS)
            for start in range(0, len(rest), READ_CHUNK_BYTES):
                out += decoder.decompress(rest[start:start + READ_CHUNK_BYTES])
                if decoder.eof:
                    break
            if not decoder.eof:
                raise EOFError("compressed data ended before the end-of-stream marker")
            rest = decoder.unused_data
    except (EOFError, zlib.error) as exc:
        complete = bytes(out[: out.rfind(b"\n") + 1])  # what the decoder produced before the damage
        lines = [t for t in complete.decode("utf-8", errors="replace").split("\n") if t.strip()]
        what = "truncated gzip" if isinstance(exc, EOFError) else "not readable as gzip"
        return Unreadable(key, f"{what}: {type(exc).__name__}: {exc}", lines)
    return None


def find_unreadable(storage: LakeStorage, objects: list[StoredObject]) -> list[Unreadable]:
    """The objects of ``objects`` that do not decompress, in key order (each read once, in Python)."""
    found = []
    for obj in objects:
        try:
            body = storage.get_bytes(obj.key)
        except (OSError, ValueError) as exc:  # gone or unreadable storage: set aside too
            found.append(Unreadable(obj.key, f"cannot be read: {type(exc).__name__}: {exc}"))
            continue
        problem = check_object(obj.key, body)
        if problem is not None:
            found.append(problem)
    return found


def write_dead_letters(storage: LakeStorage, unreadable: list[Unreadable], run_id: str) -> None:
    """Write one dead-letter record per object at ``quarantine/unreadable/<raw key>.json`` (overwritten by a
    rerun of the same batch); sets each object's ``dead_letter``."""
    for item in unreadable:
        item.dead_letter = f"{DEAD_LETTERS}/{item.raw_object}.json"
        record = {**asdict(item), "lines_salvaged": len(item.lines), "run_id": run_id,
                  "set_aside_by": "raw_to_curated"}
        record.pop("lines")
        write_json(storage, item.dead_letter, record)
