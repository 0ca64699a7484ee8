"""Where everything lives in the lake: one root URI, fixed zone prefixes, Hive-style partitions.

Layout (identical under ``s3://bucket`` and a local directory)::

    raw/source=<source>/dt=YYYY-MM-DD/hour=HH/<uuid>.jsonl.gz
    quarantine/dt=YYYY-MM-DD/hour=HH/<uuid>.jsonl.gz
    curated/<table>/event_date=YYYY-MM-DD/
    warehouse/<table>/
    artifacts/models/<model>/<version>/
    checkpoints/<job>/
    state/<job>/
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

#: top-level prefixes of the lake; ``reference`` holds files users supply (the exchange-rate CSV)
ZONES = ("raw", "quarantine", "curated", "warehouse", "artifacts", "checkpoints", "state", "reference")


@dataclass(frozen=True)
class LakeLayout:
    """A lake root (``s3://bucket/prefix`` or a local directory) and the paths below it."""

    scheme: str  # "s3" or "file"
    bucket: str  # S3 bucket; empty for local lakes
    base: str  # key prefix (S3, no leading slash) or absolute directory (local)

    @classmethod
    def from_uri(cls, uri: str) -> LakeLayout:
        """The layout of ``s3://bucket[/prefix]``, ``file://dir`` or a plain path (made absolute).

        Raises ``ValueError`` for an ``s3://`` URI without a bucket.
        """
        if uri.startswith("s3://"):
            parsed = urlparse(uri)
            if not parsed.netloc:
                raise ValueError(f"lake root {uri!r} names no bucket")
            return cls("s3", parsed.netloc, parsed.path.strip("/"))
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        return cls("file", "", str(Path(path).resolve()))

    @property
    def is_s3(self) -> bool:
        """Whether the lake is on S3 (else a local directory)."""
        return self.scheme == "s3"

    @property
    def root_uri(self) -> str:
        """The root as a URI, ``s3://bucket/prefix`` or ``file:///abs/dir``."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self.base}".rstrip("/")
        return f"file://{self.base}"

    def key(self, *parts: str) -> str:
        """Object key (S3) or absolute path (local) of a location below the root."""
        rel = "/".join(p.strip("/") for p in parts if p)
        if self.is_s3:
            return f"{self.base}/{rel}".lstrip("/") if self.base else rel
        return f"{self.base}/{rel}" if rel else self.base

    def uri(self, *parts: str) -> str:
        """Full URI (``s3://…`` or ``file://…``) of a location below the root, as Spark wants it."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self.key(*parts)}"
        return f"file://{self.key(*parts)}"

    def path(self, *parts: str) -> str:
        """Location as a plain string: ``s3://…`` on S3, a filesystem path locally."""
        return self.uri(*parts) if self.is_s3 else self.key(*parts)

    # --- zone helpers -------------------------------------------------------------------------
    @staticmethod
    def raw_object(source: str, at: datetime, name: str) -> str:
        """``raw/source=<source>/dt=YYYY-MM-DD/hour=HH/<name>.jsonl.gz`` (``at`` should be UTC)."""
        return f"raw/source={source}/dt={at:%Y-%m-%d}/hour={at:%H}/{name}.jsonl.gz"

    @staticmethod
    def quarantine_object(at: datetime, name: str) -> str:
        """``quarantine/dt=YYYY-MM-DD/hour=HH/<name>.jsonl.gz`` (``at`` should be UTC)."""
        return f"quarantine/dt={at:%Y-%m-%d}/hour={at:%H}/{name}.jsonl.gz"

    @staticmethod
    def curated_table(table: str) -> str:
        """``curated/<table>``, the folder of a curated table's ``event_date=`` partitions."""
        return f"curated/{table}"

    @staticmethod
    def warehouse_table(table: str) -> str:
        """``warehouse/<table>``, the folder of a star table's Parquet files."""
        return f"warehouse/{table}"

    @staticmethod
    def model_artifact(model: str, version: str) -> str:
        """``artifacts/models/<model>/<version>``."""
        return f"artifacts/models/{model}/{version}"
