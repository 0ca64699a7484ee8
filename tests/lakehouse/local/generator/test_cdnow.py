"""The CDNOW purchase log replayed as Order Completed calls."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from lakehouse.core.contract import parse_event
from lakehouse.local.generator import CDNOW_CUSTOMERS, CDNOW_ORDERS, GenerationReport, load_cdnow
from lakehouse.local.generator.cdnow import Purchase, cdnow_event, cdnow_text, parse_cdnow
from lakehouse.local.generator.signal import read_events


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationReport, list[dict]]:
    report = load_cdnow(tmp_path_factory.mktemp("cdnow"), chunk_events=30_000)
    return report, list(read_events(report.out_dir))


def test_every_purchase_becomes_one_valid_order(cdnow) -> None:
    _, events = cdnow
    assert len(events) == CDNOW_ORDERS == 69_659
    assert len({e["userId"] for e in events}) == CDNOW_CUSTOMERS == 23_570
    assert len({e["properties"]["order_id"] for e in events}) == len({e["messageId"] for e in events}) == 69_659
    for e in events:
        parse_event(e)
        assert e["event"] == "Order Completed" and e["userId"].startswith("cdnow-")
        item = e["properties"]["products"]
        assert len(item) == 1 and item[0]["category"] == "music" and item[0]["quantity"] >= 1
        assert round(item[0]["quantity"] * item[0]["unit_price"], 2) == e["properties"]["total"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0].startswith("1997-01-01T12:00") and stamps[-1].startswith("1998-06-30T12:00")


def test_manifest_and_chunks(cdnow) -> None:
    report, events = cdnow
    manifest = json.loads((report.out_dir / "manifest.json").read_text())
    assert manifest["source"] == "cdnow" and manifest["customers"] == 23_570
    assert manifest["counts"] == {"Order Completed": 69_659} and manifest["total_events"] == 69_659
    assert [f["events"] for f in manifest["files"]] == [30_000, 30_000, 9_659]
    assert sorted(p.name for p in report.out_dir.glob("events-*.jsonl.gz")) == [f["name"] for f in manifest["files"]]
    zero = [e for e in events if e["properties"]["total"] == 0]
    assert len(zero) == manifest["zero_value_orders"] == 80


def test_totals_match_the_source_file() -> None:
    purchases = parse_cdnow(cdnow_text())
    assert len(purchases) == 69_659
    assert round(sum(p.dollars for p in purchases), 2) == 2_500_315.63
    assert sum(p.cds for p in purchases) == 167_881


def test_mapping_is_deterministic_and_handles_zero_quantities() -> None:
    p = Purchase(7, "00042", date(1997, 3, 5), 0, 12.5, "00042 19970305 0 12.50")
    e = cdnow_event(p, 2)
    assert e == cdnow_event(p, 2)
    assert e["userId"] == "cdnow-00042" and e["timestamp"] == "1997-03-05T12:00:02.000Z"
    assert e["properties"]["order_id"] == "cdnow-o00007"
    assert e["properties"]["products"][0] == {"product_id": "cdnow-cd", "category": "music", "quantity": 1,
                                              "unit_price": 12.5}
    parse_event(e)


def test_rewrites_the_same_bytes(tmp_path: Path, cdnow) -> None:
    report, _ = cdnow
    again = load_cdnow(tmp_path, chunk_events=30_000)
    for f in again.files:
        assert (tmp_path / f.name).read_bytes() == (report.out_dir / f.name).read_bytes()
