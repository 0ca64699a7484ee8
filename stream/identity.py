"""The identity of a checkpoint: its run id (part of every micro-batch token) and its pinned start.

Spark numbers micro-batches from 0 in each checkpoint. Tokens are ``<run>/<batch id>`` where ``run`` is
a random id stored next to Spark's files (``<checkpoint>/lakehouse-sink.json``): a restart from the same
checkpoint keeps it (a replayed batch has the same token), while a new checkpoint gets a new one (its
batch 0 can never be mistaken for the old batch 0, and events the old run applied stay duplicates).

The same file pins where the checkpoint started reading: LATEST is resolved once, to the time of the
first start, so a restart before the first micro-batch commits reads exactly the same records. It also
records the creation time of the stream it reads: a checkpoint of a stream that was deleted and created
again (an emulator restarted) points at sequence numbers that no longer mean anything, so the local job
moves it aside and starts a new one (:func:`stale_checkpoint`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage

IDENTITY_FILE = "lakehouse-sink.json"


@dataclass(frozen=True)
class CheckpointIdentity:
    """What ``<checkpoint>/lakehouse-sink.json`` records: the run id and where the checkpoint started reading."""

    run: str
    starting_position: str  # TRIM_HORIZON or AT_TIMESTAMP
    starting_timestamp: str | None  # ISO 8601, for AT_TIMESTAMP
    stream_created: str | None = None  # creation time of the stream the checkpoint reads


def checkpoint_identity(checkpoint_location: str, starting_position: str = "TRIM_HORIZON",
                        starting_timestamp: str | None = None, region: str | None = None,
                        stream_created: str | None = None) -> CheckpointIdentity:
    """The identity stored in ``checkpoint_location`` (a directory or s3:// URI), created on first use.

    ``starting_position`` / ``starting_timestamp`` apply only then; LATEST becomes AT_TIMESTAMP(now).
    Raises ``ValueError`` for AT_TIMESTAMP without a timestamp.
    """
    storage = LakeStorage(LakeLayout.from_uri(checkpoint_location), region=region)
    if storage.exists(IDENTITY_FILE):
        data = json.loads(storage.get_bytes(IDENTITY_FILE))
        return CheckpointIdentity(str(data["run"]), str(data.get("starting_position", "TRIM_HORIZON")),
                                  data.get("starting_timestamp"), data.get("stream_created"))
    if starting_position == "LATEST":
        starting_position, starting_timestamp = "AT_TIMESTAMP", datetime.now(UTC).isoformat()
    if starting_position == "AT_TIMESTAMP" and not starting_timestamp:
        raise ValueError("starting position AT_TIMESTAMP needs a starting timestamp")
    identity = CheckpointIdentity(uuid.uuid4().hex[:16], starting_position,
                                  starting_timestamp if starting_position == "AT_TIMESTAMP" else None, stream_created)
    storage.put_bytes(IDENTITY_FILE, json.dumps(identity.__dict__).encode(), content_type="application/json")
    return identity


def batch_token(run: str, batch_id: int) -> str:
    """The micro-batch token ``<run>/<batch id>`` that item writes carry (``last_batch``) and that names the
    micro-batch's forward and quarantine objects."""
    return f"{run}/{batch_id}"


def stale_checkpoint(checkpoint_dir: Path, stream_created: str) -> Path | None:
    """Move a local checkpoint of an earlier incarnation of the stream aside; returns where it went."""
    identity_file = checkpoint_dir / IDENTITY_FILE
    if not identity_file.is_file():
        return None
    recorded = json.loads(identity_file.read_text()).get("stream_created")
    if recorded is None or recorded == stream_created:
        return None
    target = checkpoint_dir.with_name(f"{checkpoint_dir.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    checkpoint_dir.rename(target)
    return target
