"""`lakehouse demo` end to end on a small data set (the session's run, ``tests/demo_fixtures.py``): every stage
runs and reports what it made."""

import psutil
import pytest

from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.warehouse.query import run_query
from lakehouse.local.aws.embedded import state_file
from lakehouse.local.demo import SINGLE_CALLS_PER_ROUTE
from lakehouse.local.sample_data import read_calls
from tests.demo_fixtures import DemoRun


@pytest.mark.timeout(1200)  # every stage, the ML stage included: ~4 min alone on 2 cores, twice that when shared
def test_demo_runs_every_stage_and_cleans_up(demo_run: DemoRun) -> None:
    settings, report, console, scores = demo_run.settings, demo_run.report, demo_run.console, demo_run.live_scores
    home = settings.home

    assert [s.name for s in report.stages][:-3] == ["embedded AWS", "generate events", "ingest through the API",
                                               "raw archive: stream -> raw zone",
                                               "batch: curated, star, warehouse", "real-time features",
                                               "ML: churn, propensity, CLV", "answers from the warehouse"]
    aws = report.facts("embedded AWS")
    assert aws["resources"] == 7 and aws["created"] == 7  # 6 AWS resources and the shipped rate file
    generated = report.facts("generate events")
    assert generated["customers"] == 150 and generated["events"] > 1_000 and generated["orders"] > 0
    assert len(list((home / "data" / "demo").glob("events-*.jsonl.gz"))) == generated["files"]

    ingested = report.facts("ingest through the API")
    assert ingested["accepted"] == generated["events"] and ingested["rejected"] == 0
    # the raw archive landed every accepted event in a few large objects: one per arrival hour per micro-batch
    archived = report.facts("raw archive: stream -> raw zone")
    live = report.facts("real-time features")
    # delivery into the stream is at least once (docs/ingestion.md): a PutRecords call outliving the sink's 4 s read
    # timeout on a loaded runner is sent again, so the stream and the raw zone may hold a copy (seen in CI on the
    # replay tests); the stream job reads the same records the archive lands and counts each copy as a duplicate;
    # the function counts the records it sent again, which bounds the copies
    assert archived["events"] == live["records"] == ingested["accepted"] + live["duplicates"]
    assert live["duplicates"] <= ingested["resent_after_no_answer"]
    raw = [o.key for o in LakeStorage(settings.lake).list("raw") if o.key.endswith(".jsonl.gz")]
    hours = {key.rsplit("/", 1)[0] for key in raw}
    assert len(raw) == archived["raw_objects"] <= len(hours) * archived["micro_batches"] < ingested["requests"]
    # a sample of every call type in the data went through its own single-call route (and none hit a 404)
    calls = list(read_calls(home / "data" / "demo"))
    types = {c["type"] for c in calls}
    assert {"track", "identify", "page", "screen", "group"} <= types
    assert ingested["single_routes"] == len(types) and ingested["unrouted"] == 0
    assert ingested["single_calls"] == sum(min(SINGLE_CALLS_PER_ROUTE, sum(c["type"] == t for c in calls))
                                           for t in types)

    batch = report.facts("batch: curated, star, warehouse")
    assert batch["curated_events"] == ingested["accepted"] and batch["quarantined"] == 0
    assert batch["marts"] >= 12 and batch["warehouse_tables"] >= 15
    logins = [c for c in calls if c["type"] in ("identify", "alias") and ("anonymousId" in c or "previousId" in c)]
    assert logins and batch["stitched_ids"] >= 1  # anonymous journeys (and guest accounts) were stitched
    assert batch["unconverted_orders"] == 0  # the shipped rates cover every EUR / GBP order
    assert live["events"] == ingested["accepted"] and live["quarantined"] == 0, (  # each accepted event counted once
        live, demo_run.stream_batches)  # seen once in CI (6,873 of 6,874, not reproduced): the batches say where
    # items, not writes: one per customer and per anonymous visitor never stitched (a customer's item is written
    # again by each micro-batch bringing their events: the writes outnumbered the items 4,455 to 2,713 in a review)
    visitors = {c.get("userId") or c.get("anonymousId") for c in read_calls(home / "data" / "demo")}
    assert 0 < live["feature_items"] <= min(len(visitors), live["item_writes"])
    # one RFM definition: every customer's live RFM, derived as of the warehouse's snapshot day, equals the mart's
    # (tests/stream/test_rfm_agreement.py says how the two disagreed before the shared rule table)
    assert live["rfm_customers"] > 100 and live["rfm_agree"] == live["rfm_customers"]
    assert report.facts("answers from the warehouse")["questions"] == 3

    # the scores are in the warehouse (one row per registered customer) and in the live scores table
    ml = report.facts("ML: churn, propensity, CLV")
    rows = run_query(settings.warehouse_path, "SELECT COUNT(*), COUNT(DISTINCT customer_id), MAX(cutoff_date), "
                     "MIN(purchase_probability), MAX(purchase_probability), COUNT(risk_band) "
                     "FROM fact_customer_scores", limit=1).rows[0]
    assert rows[0] == ml["customers_scored"] == ml["warehouse_rows"] == rows[1] > 100
    assert 0 <= rows[3] <= rows[4] <= 1 and rows[5] > 0
    assert ml["live_items"] == len(scores) > 100
    assert all(item["scores"]["cutoff"] == rows[2].isoformat() for item in scores.values())
    assert {item["scores"]["run_id"] for item in scores.values()} == {
        run_query(settings.warehouse_path, "SELECT MAX(run_id) FROM fact_customer_scores", limit=1).rows[0][0]}

    # rows per star table: the summary's numbers are the warehouse's
    assert len(report.star_rows) >= 10 and report.star_rows["dim_customer"] >= generated["customers"]
    for table, count in report.star_rows.items():
        assert run_query(settings.warehouse_path, f"SELECT COUNT(*) FROM {table}", limit=1).rows[0][0] == count, table

    text = " ".join(console.export_text().split())  # the console wraps long lines
    assert "rows per star table in the warehouse: " + ", ".join(
        f"{t} {n:,}" for t, n in sorted(report.star_rows.items())) in text
    assert "summary" in text and f"{generated['events']:,}" in text
    assert "identities stitched" in text and "unconverted amounts: 0 orders" in text
    assert "live RFM = warehouse RFM" in text and "look up any customer" in text and "segment" in text
    assert "model vs baselines" in text and "BG/NBD" in text and "fact_customer_scores" in text
    assert "Where do customers churn?" in text and "Which RFM segments hold the value?" in text
    assert text.rstrip().endswith("(or `lakehouse demo --dashboard` to serve it right after the demo)")
    assert "run `lakehouse dashboard` and open http://127.0.0.1:8501" in text  # the demo ends with the URL
    assert not state_file(settings.run_dir).exists()
    port = report.endpoint.rsplit(":", 1)[1]
    assert not any("lakehouse.local.aws.moto_process" in " ".join(p.info["cmdline"] or []) and
                   f" --port {port} " in " ".join(p.info["cmdline"] or []) + " "
                   for p in psutil.process_iter(["cmdline"]))
