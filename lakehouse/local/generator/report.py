"""What a run produced: the report returned to callers and the ``manifest.json`` written next to the data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.local.generator.writer import ChunkFile

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class GenerationReport:
    """Counts, files and timing of one run. The manifest holds everything here except timing."""

    out_dir: Path
    source: str  # "generator" or "cdnow"
    config: dict[str, Any]
    customers: int
    counts: dict[str, int]
    files: list[ChunkFile]
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    truth_file: str | None = None
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        """Events written, over all files."""
        return sum(f.events for f in self.files)

    @property
    def total_bytes(self) -> int:
        """Bytes written (gzip), over all files."""
        return sum(f.bytes for f in self.files)

    @property
    def uncompressed_bytes(self) -> int:
        """Bytes of JSON lines before gzip, over all files."""
        return sum(f.uncompressed_bytes for f in self.files)

    @property
    def bytes_per_event(self) -> float:
        """Gzip bytes per event (0 without events)."""
        return self.total_bytes / self.total_events if self.total_events else 0.0

    @property
    def uncompressed_bytes_per_event(self) -> float:
        """JSON bytes per event before gzip (0 without events)."""
        return self.uncompressed_bytes / self.total_events if self.total_events else 0.0

    @property
    def events_per_second(self) -> float:
        """Events per wall-clock second of the run (0 when untimed)."""
        return self.total_events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def manifest(self) -> dict[str, Any]:
        """Deterministic description of the output (no timings, no absolute paths)."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "source": self.source,
            "config": self.config,
            "seed": self.config.get("seed"),
            "customers": self.customers,
            "total_events": self.total_events,
            "total_bytes": self.total_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "counts": self.counts,
            "files": [f.to_dict() for f in self.files],
            "truth": self.truth_file,
            **self.extra,
        }

    def write_manifest(self) -> Path:
        """Write :meth:`manifest` to ``<out_dir>/manifest.json``; returns its path."""
        path = self.out_dir / MANIFEST
        path.write_text(json.dumps(self.manifest(), indent=2) + "\n", encoding="utf-8")
        return path


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of a generated data set."""
    return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
