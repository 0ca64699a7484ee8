"""What the generator writes: valid Segment calls, the manifest, chunking, order and ground truth."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from pathlib import Path

from lakehouse.core.contract import IdentifyEvent, TrackEvent, parse_event
from lakehouse.local.generator import GenerationReport
from lakehouse.local.generator.events import ALL_EVENT_NAMES
from lakehouse.local.generator.signal import read_truth

USER_ID = re.compile(r"^(c\d{7}|guest-\d{8})$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_event_passes_the_contract(small_events: list[dict]) -> None:
    names = Counter()
    for payload in small_events:
        event = parse_event(payload)
        if isinstance(event, TrackEvent):
            names[payload["event"]] += 1
        elif isinstance(event, IdentifyEvent):
            names["identify"] += 1
        else:
            names[payload["type"]] += 1
    rare = {"alias", "Order Cancelled"}  # a few per thousand orders: tested on a larger run (test_spec_variety)
    assert set(ALL_EVENT_NAMES) - rare <= set(names) <= set(ALL_EVENT_NAMES)


def test_calls_look_like_what_a_source_posts(small_events: list[dict]) -> None:
    anonymous = 0
    for e in small_events:
        assert e["type"] in ("track", "identify", "page", "screen", "group", "alias")
        assert "sentAt" not in e and "receivedAt" not in e
        assert UUID4.match(e["messageId"]) and TIMESTAMP.match(e["timestamp"])
        assert e["context"]["library"] == {"name": "lakehouse-generator", "version": "1"}
        assert e["context"]["channel"] in ("web", "mobile", "tv")
        if "userId" in e:
            assert USER_ID.match(e["userId"]) if isinstance(e["userId"], str) else e["userId"] >= 10_000
        else:
            assert e["anonymousId"].startswith("anon-")
            anonymous += 1
        if e["type"] == "identify":
            assert ("traits" not in e or e["traits"] is None or e["traits"]) and "properties" not in e
        if e["type"] == "page":
            assert {"url", "path", "title"} <= set(e["properties"]) and e["name"]
    assert 0 < anonymous < 0.04 * len(small_events)
    assert len({e["messageId"] for e in small_events}) == len(small_events)


def test_manifest_describes_the_files(small_run: GenerationReport, small_events: list[dict]) -> None:
    out = small_run.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    counts = Counter(e.get("event") or e["type"] for e in small_events)
    assert manifest["counts"] == {name: counts[name] for name in ALL_EVENT_NAMES}
    assert manifest["total_events"] == len(small_events) == sum(counts.values())
    assert manifest["seed"] == 11 and manifest["config"]["customers"] == 400
    files = sorted(p.name for p in out.glob("events-*.jsonl.gz"))
    assert [f["name"] for f in manifest["files"]] == files
    assert manifest["total_bytes"] == sum((out / f).stat().st_size for f in files)
    raw = [gzip.decompress((out / f).read_bytes()) for f in files]
    assert manifest["uncompressed_bytes"] == sum(len(r) for r in raw)
    assert [f["events"] for f in manifest["files"]] == [r.count(b"\n") for r in raw]
    assert manifest["first_timestamp"] == small_events[0]["timestamp"]
    assert manifest["last_timestamp"] == small_events[-1]["timestamp"]


def test_chunks_are_full_and_in_timestamp_order(small_run: GenerationReport, small_events: list[dict]) -> None:
    chunk = small_run.config["chunk_events"]
    files = sorted(small_run.out_dir.glob("events-*.jsonl.gz"))
    assert [p.name for p in files] == [f"events-{i:05d}.jsonl.gz" for i in range(len(files))]
    assert len(files) == math.ceil(len(small_events) / chunk) > 2
    sizes = [f.events for f in small_run.files]
    assert all(n == chunk for n in sizes[:-1]) and 0 < sizes[-1] <= chunk
    stamps = [e["timestamp"] for e in small_events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2025-01-01" and stamps[-1] < "2025-05-01"  # 120 days from 2025-01-01


def test_gzip_headers_are_reproducible(small_run: GenerationReport) -> None:
    for path in small_run.out_dir.glob("events-*.jsonl.gz"):
        header = path.read_bytes()[:32]
        assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\x00\x00\x00\x00"  # mtime 0
        assert header[10:].startswith(path.name.removesuffix(".gz").encode() + b"\x00")


def test_ground_truth_covers_every_customer(small_run: GenerationReport, small_events: list[dict]) -> None:
    truth = read_truth(small_run.out_dir)
    assert [t["customer_id"] for t in truth] == [f"c{i:07d}" for i in range(400)]
    assert {t["churn_kind"] for t in truth} <= {"closed", "lapsed", "none"}
    for t in truth:
        assert (t["churn_kind"] == "none") == (t["churned"] == "0") == (t["churn_date"] == "")
        assert 18 <= int(t["age"]) <= 85 and float(t["engagement"]) > 0 and float(t["spend_scale"]) > 0
    closed = {_js(e["userId"]) for e in small_events if e.get("event") == "Account Closed"}
    assert closed == {t["user_id"] for t in truth if t["churn_kind"] == "closed"}
    users = {_js(e["userId"]) for e in small_events if "userId" in e and not str(e["userId"]).startswith("guest-")}
    signed_up = {t["user_id"] for t in truth if t["signup_date"] < "2025-05-01"}
    assert users == signed_up  # everyone who exists during the run appears, nobody else


def _js(value: str | int | float) -> str:
    """A userId as the API stores it (a JSON number printed as JavaScript does)."""
    return value if isinstance(value, str) else str(int(value))


def test_identify_at_signup_precedes_the_customers_other_events(small_events: list[dict]) -> None:
    first: dict[str, dict] = {}
    for e in small_events:
        if "userId" in e and not str(e["userId"]).startswith("guest-"):
            first.setdefault(_js(e["userId"]), e)
    assert all(e["type"] == "identify" and "signup_date" in e["traits"] for e in first.values())


def test_out_dir_is_reused_without_stale_chunks(tmp_path: Path) -> None:
    from lakehouse.local.generator import GeneratorConfig, generate

    generate(GeneratorConfig(customers=60, days=20, chunk_events=100), tmp_path)
    report = generate(GeneratorConfig(customers=60, days=20, chunk_events=100_000), tmp_path)
    assert [p.name for p in tmp_path.glob("events-*.jsonl.gz")] == ["events-00000.jsonl.gz"]
    assert len(report.files) == 1
