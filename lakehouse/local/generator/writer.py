"""Chunked, reproducible gzip JSON-lines files: ``events-00000.jsonl.gz``, ``events-00001.jsonl.gz``, ...

Reproducible: the gzip header carries mtime 0 and the chunk's own name, so the same lines give the
same bytes on every machine.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson

PREFIX = "events"


@dataclass(frozen=True)
class ChunkFile:
    """One written chunk: file name, events (lines), gzip bytes on disk and bytes before gzip."""

    name: str
    events: int
    bytes: int
    uncompressed_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The chunk as the manifest lists it."""
        return asdict(self)


def chunk_name(index: int, prefix: str = PREFIX) -> str:
    """``<prefix>-NNNNN.jsonl.gz`` for chunk number ``index``."""
    return f"{prefix}-{index:05d}.jsonl.gz"


def clear_chunks(out_dir: Path, prefix: str = PREFIX) -> None:
    """Remove chunk files of an earlier run (only files named like ours)."""
    for stale in out_dir.glob(f"{prefix}-[0-9][0-9][0-9][0-9][0-9]*.jsonl.gz"):
        stale.unlink()


def open_gzip(path: Path, level: int) -> tuple[BinaryIO, gzip.GzipFile]:
    """A gzip writer with a reproducible header (mtime 0, fixed file name)."""
    raw = path.open("wb")
    return raw, gzip.GzipFile(filename=path.name, mode="wb", compresslevel=level, fileobj=raw, mtime=0)


class ChunkWriter:
    """Writes lines to numbered gzip files of at most ``chunk_events`` lines each."""

    def __init__(self, out_dir: Path, chunk_events: int, level: int = 6, prefix: str = PREFIX):
        self.out_dir = out_dir
        self.chunk_events = chunk_events
        self.level = level
        self.prefix = prefix
        self.files: list[ChunkFile] = []
        self._raw: BinaryIO | None = None
        self._gz: gzip.GzipFile | None = None
        self._events = 0
        self._bytes = 0
        out_dir.mkdir(parents=True, exist_ok=True)
        clear_chunks(out_dir, prefix)

    def write(self, records: Sequence[Any]) -> None:
        """Append ``records`` (JSON-serialisable) as JSON lines, encoding one at a time.

        Encoded lines are not collected: orjson allocates ~4 KiB per result, so holding a batch of
        encoded lines would cost far more memory than the lines themselves.
        """
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        start = 0
        while start < len(records):
            if self._gz is None or self._events == self.chunk_events:
                self._roll()
            take = min(len(records) - start, self.chunk_events - self._events)
            buffer = bytearray()
            for record in records[start:start + take]:
                buffer += dumps(record, option=newline)
            assert self._gz is not None
            self._gz.write(buffer)
            self._events += take
            self._bytes += len(buffer)
            start += take

    def _roll(self) -> None:
        self._finish()
        path = self.out_dir / chunk_name(len(self.files), self.prefix)
        self._raw, self._gz = open_gzip(path, self.level)

    def _finish(self) -> None:
        if self._gz is None or self._raw is None:
            return
        self._gz.close()
        self._raw.close()
        name = Path(self._raw.name).name
        self.files.append(ChunkFile(name, self._events, (self.out_dir / name).stat().st_size, self._bytes))
        self._gz = self._raw = None
        self._events = self._bytes = 0

    def close(self) -> list[ChunkFile]:
        """Finish the open chunk; returns every chunk written."""
        self._finish()
        return self.files

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
