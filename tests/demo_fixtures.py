"""The demo run once per session, shared by the demo's own test, the dashboard's browser tests and the erasure
tests.

The demo (150 customers over 100 days: enough for its ML stage) runs with three extra stages while its embedded
AWS is still up: one reads the live DynamoDB items that carry scores, one opens the dashboard's Real time page in
headless Chromium for one of those customers, one forgets a customer and replays the source's events through the
whole chain (:func:`forget_and_replay`, the demo's home put back as it was after). Everything the later tests read
persists in the demo's home (the warehouse file, the lake, the back-test report); the emulator is stopped by the
demo itself, as a user sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the Glue test environment loads this plugin too, and has neither rich nor the local tooling
    from rich.console import Console

    from lakehouse.core.config import Settings
    from lakehouse.local.demo import DemoReport

#: where the browser tests leave their screenshots (gitignored): test artifacts, not committed
ARTIFACTS = Path(__file__).resolve().parents[1] / ".pytest-artifacts" / "dashboard"


def live_scores(settings: Settings) -> dict[str, dict]:
    """Every item of the live scores table, each with its customer's feature item's attributes when there is one
    (``features`` absent otherwise); read while the emulator runs."""
    from boto3.dynamodb.types import TypeDeserializer

    from lakehouse.core.aws.clients import aws_client

    client = aws_client("dynamodb", region=settings.region)

    def scan(table: str) -> dict[str, dict]:
        found, start = {}, None
        while True:
            page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
            for raw in page["Items"]:
                item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
                found[item["customer_id"]] = item
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    features = scan(settings.names.features_table)
    return {cid: {**features.get(cid, {}), **item} for cid, item in scan(settings.names.scores_table).items()}


def reading_demo(settings: Settings, options: Any, console: Console) -> Any:
    """The demo plus two last stages that read the live items and the Real time page while the emulator runs."""
    from lakehouse.local.demo import Demo

    class ReadingDemo(Demo):
        live_scores: dict[str, dict]
        realtime: dict[str, Any]
        forgotten: dict[str, Any]

        @property
        def stages(self):
            return [*super().stages, ("read live scores", self._read), ("browse the real-time page", self._browse),
                    ("forget a customer, then replay", self._forget)]

        def _read(self) -> dict:
            self.live_scores = live_scores(self.settings)
            return {}

        def _browse(self) -> dict:
            from lakehouse.local.browser import browser_page, errors_on, metrics_on, wait_drawn
            from lakehouse.local.dashboard_server import DashboardServer

            customer_id = next(cid for cid, item in sorted(self.live_scores.items())  # a buyer, scored for churn
                               if item["scores"].get("churn_probability") is not None
                               and item.get("features", {}).get("orders"))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            with DashboardServer(self.settings, port=0) as url, browser_page() as page:
                page.goto(f"{url}/realtime")
                wait_drawn(page, "Real time")
                field_box = page.get_by_label("Customer id (user id or anonymous id)")
                field_box.fill(customer_id)
                field_box.press("Enter")
                page.get_by_text("The stored item").wait_for(timeout=60_000)
                wait_drawn(page, "Real time")
                # the cards of this customer, all drawn and not stale (seen once in CI: the dict missed "orders")
                page.wait_for_function(
                    "() => !document.querySelector('[data-stale=\"true\"]') && [...document.querySelectorAll("
                    "'[data-testid=\"stMetricLabel\"]')].some(e => e.innerText.trim() === 'orders')",
                    timeout=60_000)
                page.screenshot(path=str(ARTIFACTS / "realtime.png"), full_page=True)
                self.realtime = {"customer_id": customer_id, "cards": metrics_on(page), "errors": errors_on(page),
                                 "text": page.inner_text("body")}
            return {}

        def _forget(self) -> dict:
            self.forgotten = forget_and_replay(self.settings, self.generated)
            return {}

    return ReadingDemo(settings, options, console)


def scan_items(settings: Settings) -> dict[str, dict[str, dict]]:
    """Every item of the live features and scores tables, by table and customer id (read while the emulator runs)."""
    from boto3.dynamodb.types import TypeDeserializer

    from lakehouse.core.aws.clients import aws_client

    client = aws_client("dynamodb", region=settings.region)
    found: dict[str, dict[str, dict]] = {}
    for table in (settings.names.features_table, settings.names.scores_table):
        found[table], start = {}, None
        while True:
            page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
            for raw in page["Items"]:
                item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
                found[table][item["customer_id"]] = item
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return found


def plaintext_email(files: list[Path], ids: set[str]) -> str:
    """An e-mail address one of ``ids`` sent in an identify's traits (as the source sent it, before the API hashed
    it). Raises ``LookupError`` when none did."""
    import gzip

    from lakehouse.core.erasure import emails_in

    for path in files:
        data = path.read_bytes()
        for line in (gzip.decompress(data) if path.suffix == ".gz" else data).decode().splitlines():
            call = json.loads(line)
            for one in call.get("batch", [call]):
                if one.get("userId") in ids and (emails := list(emails_in(one))):
                    return emails[0]
    raise LookupError("none of the ids sent an e-mail address")


def forget_and_replay(settings: Settings, generated: Any) -> dict[str, Any]:
    """Forget a scored buyer with stitched ids, then post every generated event again (the source replaying its
    history, the person's included), archive, stream and batch them. Runs on the demo's home itself (a streaming
    checkpoint names its files by absolute path: a copy elsewhere cannot run the stream), saved beforehand and put
    back after: the demo's home keeps its numbers for the other tests, the erased one moves to
    ``<home>/../forget-home``. Returns what the erasure tests read."""
    import shutil

    import duckdb
    import pyarrow.parquet as pq

    from lakehouse.core.spark import local_spark
    from lakehouse.core.write_keys import WriteKeyStore
    from lakehouse.local.batch import run_batch
    from lakehouse.local.forget import forget
    from lakehouse.local.gateway import LocalGateway
    from lakehouse.local.replay import post_files
    from stream.archive import run_archive
    from stream.job import run_stream

    home = settings.home
    saved, erased = home.parent / "home-before-forget", home.parent / "forget-home"
    shutil.copytree(home, saved)
    maps = [pq.read_table(p).to_pylist()
            for p in sorted((home / "lake/state/build_star/identity_map").rglob("*.parquet"))]
    stitched = {row["resolved_id"] for rows in maps for row in rows if row["id"] != row["resolved_id"]}
    before = scan_items(settings)
    scored = before[settings.names.scores_table]
    person = sorted(c for c in stitched if c in scored and before[settings.names.features_table].get(c, {}))[0]
    ids = {person} | {row["id"] for rows in maps for row in rows if row["resolved_id"] == person}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        emails = {r[0] for r in con.execute("SELECT DISTINCT email FROM dim_customer WHERE customer_id = ? AND "
                                            "email IS NOT NULL", [person]).fetchall()}
        # their name, when no one else has it: not an identifier, but on their records only
        names = {r[0] for r in con.execute("SELECT name FROM dim_customer WHERE name IS NOT NULL GROUP BY name "
                                           "HAVING count(DISTINCT customer_id) = 1 AND any_value(customer_id) = ?",
                                           [person]).fetchall()}
    try:
        record = forget(settings, person, "erasure-test-ticket")
        after = scan_items(settings)
        files = [generated.out_dir / f.name for f in generated.files]
        # and a sign-up under a new user id with their e-mail address: the hash is theirs, whatever the id
        newcomer = home.parent / "newcomer.jsonl"
        newcomer.write_text(json.dumps({"type": "identify", "userId": f"{person}-again", "messageId": "newcomer-1",
                                        "timestamp": "2025-06-30T12:00:00Z",
                                        "traits": {"email": plaintext_email(files, ids)}}) + "\n")
        files.append(newcomer)
        key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("replay").key
        with LocalGateway(settings) as gateway:
            posted = post_files(files, gateway.url, key)
            resent = gateway.resent_after_no_answer
        spark = local_spark("lakehouse-demo")
        archived = run_archive(settings, spark, once=True)
        streamed = run_stream(settings, spark, once=True)
        batch = run_batch(settings, spark)
        replayed = scan_items(settings)
        new_events = curated_by_run(settings, batch.curated.run_id) if batch.curated else []
    finally:
        home.rename(erased)
        saved.rename(home)
    return {"settings": settings.model_copy(update={"home": erased}), "person": person, "ids": ids,
            "emails": emails, "names": names, "record": record.document(), "before": before, "after": after,
            "replayed": replayed, "posted": posted.accepted, "resent": resent, "archived": archived.archived,
            "archive_read": archived.records, "archive_suppressed": archived.suppressed, "streamed": streamed.events,
            "stream_suppressed": streamed.suppressed, "stream_records": streamed.records,
            "curated": batch.curated, "new_events": new_events}


def curated_by_run(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    """The curated events (id, type, name, ids, dates, raw object) whose ids the curated run ``run_id`` indexed as
    new (``state/raw_to_curated/event_ids``): what an assertion on a run's new events shows when it fails."""
    import duckdb

    lake = settings.lake.path("")
    with duckdb.connect() as con:
        columns = ("event_id", "event_type", "event_name", "user_id", "anonymous_id", "previous_id", "customer_id",
                   "event_ts", "received_at", "raw_object")
        return [dict(zip(columns, row, strict=True)) for row in con.execute(
            f"SELECT {', '.join('e.' + c for c in columns)} "
            f"FROM read_parquet('{lake}/curated/events/**/*.parquet', hive_partitioning = true) e "
            f"JOIN read_parquet('{lake}/state/raw_to_curated/event_ids/**/*.parquet', hive_partitioning = true) i "
            "USING (event_id) WHERE i.run_id = ?", [run_id]).fetchall()]


@dataclass
class DemoRun:
    settings: Settings
    report: DemoReport
    console: Console
    live_scores: dict[str, dict] = field(default_factory=dict)
    realtime: dict[str, Any] = field(default_factory=dict)
    forgotten: dict[str, Any] = field(default_factory=dict)
    stream_batches: list[dict[str, Any]] = field(default_factory=list)  # each micro-batch's counts, for messages


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``lakehouse demo`` on a small data set with its own embedded AWS (the session's endpoint hidden from it)."""
    from rich.console import Console

    from lakehouse.core.aws.clients import reset_clients
    from lakehouse.core.config import Settings
    from lakehouse.local.demo import DemoOptions

    settings = Settings(home=tmp_path_factory.mktemp("demo") / "home", stage="demotest")
    console = Console(record=True, width=120)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(key, "testing")
        reset_clients()
        import stream.job

        reports: list[Any] = []
        run_stream = stream.job.run_stream

        def kept(*args: Any, **kwargs: Any) -> Any:  # the demo's stream run, whose micro-batches a failure shows
            reports.append(run_stream(*args, **kwargs))
            return reports[-1]

        patch.setattr(stream.job, "run_stream", kept)
        # 100 days: the ML stage needs 90 (history before its back-test window and the window itself)
        demo = reading_demo(settings, DemoOptions(customers=150, days=100, keep_running=False), console)
        report = demo.run()
    reset_clients()
    batches = [{k: v for k, v in vars(b).items() if k != "freshness_ms" and v} for r in reports[:1] for b in r.batches]
    return DemoRun(settings, report, console, demo.live_scores, demo.realtime, demo.forgotten, batches)
