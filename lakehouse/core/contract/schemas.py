"""JSON Schema files generated from the contract models (published under ``schemas/``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

from lakehouse.core.contract.envelope import CALL_MODELS, EVENT_ADAPTER, TRACK_MODELS, TrackEvent

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _schema(model: type[BaseModel] | None = None, title: str | None = None) -> dict:
    schema = model.model_json_schema(by_alias=True) if model else EVENT_ADAPTER.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if title:
        schema["title"] = title
    return schema


def _exclude_known_names(track_schema: dict) -> None:
    """A free-form track call is one whose name is *not* a modelled domain event."""
    track_schema["not"] = {"required": ["event"], "properties": {"event": {"enum": sorted(TRACK_MODELS)}}}


def build_schemas() -> dict[str, dict]:
    """File name -> JSON Schema, for the whole contract and for each call type and domain event."""
    any_call = _schema(title="Event (any call)")
    _exclude_known_names(any_call["$defs"]["TrackEvent"])
    custom = _schema(TrackEvent, "Track (any other event name)")
    _exclude_known_names(custom)
    files = {"event.schema.json": any_call, "track-custom.schema.json": custom}
    for kind, model in CALL_MODELS.items():
        files[f"{kind}.schema.json"] = _schema(model, kind.capitalize())
    for name, model in TRACK_MODELS.items():
        files[f"track-{_slug(name)}.schema.json"] = _schema(model, f"Track: {name}")
    return files


def render(schema: dict) -> str:
    """``schema`` as the published file holds it: indented JSON, sorted keys, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into ``directory`` and remove stale ones; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = build_schemas()
    for stale in directory.glob("*.schema.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, schema in files.items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written
