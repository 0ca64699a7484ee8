"""``lakehouse demo``: the whole local pipeline on the embedded defaults, stage by stage.

Each stage is a method that does its work, records what it made in the report, and prints a line.
The embedded AWS emulator is left running afterwards (unless asked otherwise) so the results can be
explored with the other commands; ``lakehouse down`` stops it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.spark import local_spark
from lakehouse.core.warehouse.query import run_query
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.embedded import export_endpoint, start_detached, stop_detached
from lakehouse.local.aws.provision import provision
from lakehouse.local.cli.common import progress_bar
from lakehouse.local.dashboard_server import DEFAULT_HOST, DEFAULT_PORT
from lakehouse.local.gateway import LocalGateway
from lakehouse.local.generator import GenerationReport, GeneratorConfig, generate, load_cdnow
from lakehouse.local.replay import SingleCallSample, post_files
from lakehouse.local.signals import Stopped, ignoring_stop_signals, stop_child_processes, stop_spark

STREAM_RECORDS_PER_BATCH = 100_000  # the backlog is read in a few large micro-batches
ML_WINDOW_DAYS = 30  # the demo's label windows, at most: its 180 days hold too little history for the default 90
#: the metrics a model must win on to beat its baselines (issue 13's acceptance: CLV's score is no probability)
ACCEPTANCE = {"churn": ("roc_auc", "lift_5"), "propensity": ("roc_auc", "lift_5"),
              "clv": ("spearman", "top_decile_capture")}
ML_MIN_DAYS = 90  # fewer simulated days leave too little history to train and back-test (the stage says so)
SINGLE_CALLS_PER_ROUTE = 25  # calls of each type posted alone to /v1/track, /identify, /page, /screen, /group, /alias
BEST_CUSTOMER = ("SELECT customer_id FROM fact_customer_metrics WHERE snapshot_date = "
                 "(SELECT MAX(snapshot_date) FROM fact_customer_metrics) ORDER BY clv_to_date DESC LIMIT 1")

@dataclass(frozen=True)
class Answer:
    """A business question the demo answers from the local warehouse: its ``query``, and a ``caveat`` printed under
    the table when ``caveat_when`` (a query of one count) counts 0 — the data cannot answer the question."""

    question: str
    query: str
    caveat_when: str | None = None
    caveat: str = ""


ANSWERS = (
    Answer("Where do customers churn? (top 5 geography x age band)",
           "SELECT geography, age_band, customers, churn_rate FROM mart_churn_by_geography_age "
           "WHERE customers >= 20 ORDER BY churn_rate DESC LIMIT 5",
           "SELECT COUNT(*) FROM fact_customer_metrics WHERE is_churned",
           "no customer closed an account in this data: the marts' churn is an Account Closed event (a purchase "
           "log such as CDNOW has none, nor profiles: geography 'unknown'); the models' churn, no order in the "
           "window, is in fact_customer_scores (docs/batch.md, \"Two churns, on purpose\")"),
    Answer("What sells? (top 5 products by revenue)",
           "SELECT product_id, category, units_sold, revenue, orders FROM mart_bestsellers "
           "ORDER BY revenue DESC LIMIT 5"),
    Answer("Which RFM segments hold the value?",
           "SELECT rfm_segment, customers, share_of_customers, avg_recency_days, avg_monetary "
           "FROM mart_rfm_segments ORDER BY avg_monetary DESC"),
)


def _cell(value: Any) -> str:
    """A mart value as the answers show it: floats to 3 decimals, NULL (no value to average) as a dash."""
    if value is None:
        return "-"
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


#: counted in the warehouse when the star build's report does not say (-1: the warehouse cannot say either)
WAREHOUSE_FALLBACKS = {
    "stitched_ids": "SELECT -1",  # the warehouse keeps stitched ids only: the star report is the source
    "duplicate_orders": "SELECT SUM(duplicate_events) FROM fact_order",
    "unconverted_orders": "SELECT COUNT(*) FROM fact_order WHERE NOT is_converted",
}


def headline_metrics(report: dict[str, Any]) -> dict[str, str]:
    """Per task of an evaluation report, each of its acceptance metrics (:data:`ACCEPTANCE`): LightGBM's value
    beside the best baseline's, ``{"churn_roc_auc": "0.812 vs 0.744", "churn_lift_5": "2.54 vs 2.69"}`` (a missing
    value shows as ``-``) — every metric, so a verdict of "no" shows the one it lost on. Best is the highest:
    every acceptance metric grows with quality."""
    out = {}
    for task, entry in report.get("tasks", {}).items():
        models = entry.get("models", {})
        for metric in ACCEPTANCE.get(task, ("roc_auc",)):
            baselines = [m.get(metric) for name, m in models.items()
                         if name != "LightGBM" and m.get(metric) is not None]
            model = models.get("LightGBM", {}).get(metric)
            out[f"{task}_{metric}"] = (f"{'-' if model is None else f'{model:.3f}'} vs "
                                       f"{'-' if not baselines else f'{max(baselines):.3f}'}")
    return out


def dashboard_hint(port: int = DEFAULT_PORT, home: Path | None = None, dataset: str = "generated") -> str:
    """The line that ends the demo: the command that serves the dashboard and the URL it will have (with
    ``LAKEHOUSE_HOME=home`` in front when the demo ran in a home of its own), and the demo command of the same
    ``dataset`` that serves it right after."""
    command = f"LAKEHOUSE_HOME={home} lakehouse dashboard" if home else "lakehouse dashboard"
    again = "lakehouse demo" + (f" --dataset {dataset}" if dataset != "generated" else "") + " --dashboard"
    return (f"the dashboard: run `{command}` and open http://{DEFAULT_HOST}:{port} "
            f"(or `{again}` to serve it right after the demo)")


#: what ``DemoOptions.dataset`` may name: the generator's events, or the CDNOW purchase log (69,659 orders of 23,570
#: customers, 1997-01 .. 1998-06; :func:`lakehouse.local.generator.load_cdnow`)
DATASETS = ("generated", "cdnow")


def demo_settings(settings: Settings, dataset: str) -> Settings:
    """The settings a demo of ``dataset`` runs with: the configured home for generated events, a home of its own
    under ``<home>/demo-cdnow`` (its own emulator, lake and warehouse) for CDNOW, so the two never mix. Raises
    ``DemoError`` for another dataset."""
    if dataset == "generated":
        return settings
    if dataset == "cdnow":
        return settings.model_copy(update={"home": settings.home / "demo-cdnow", "lake_root": None,
                                           "duckdb_path": None})
    raise DemoError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


class DemoError(RuntimeError):
    """A stage could not complete; the message says what is missing."""


@dataclass(frozen=True)
class DemoOptions:
    """What the demo generates (customers over ``days`` days from ``start``, ``seed``), whether the
    emulator keeps running afterwards, and whether the dashboard is served after it (by the caller)."""

    customers: int = 2_000
    days: int = 180
    seed: int = 7
    start: date = date(2025, 1, 1)
    keep_running: bool = True
    dashboard: bool = False  # the caller serves the dashboard afterwards (else the demo says how to)
    dataset: str = "generated"  # or "cdnow": the real CDNOW purchase log instead of generated events (DATASETS)


@dataclass
class StageResult:
    """One finished stage: its name, wall-clock seconds, and the facts it reports (counts, paths)."""

    name: str
    seconds: float
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoReport:
    """The finished stages in order, the emulator's endpoint, the generated data's folder and the rows of each
    star table the batch loaded into the warehouse."""

    stages: list[StageResult] = field(default_factory=list)
    endpoint: str | None = None
    data_dir: Path | None = None
    star_rows: dict[str, int] = field(default_factory=dict)  # star table -> rows in the warehouse after the load

    def facts(self, stage: str) -> dict[str, Any]:
        """The facts of the stage named ``stage``; raises ``StopIteration`` when it did not run."""
        return next(s.facts for s in self.stages if s.name == stage)


class Demo:
    """Runs the stages in order; later pipeline stages are further methods listed in ``stages``."""

    def __init__(self, settings: Settings, options: DemoOptions, console: Console):
        self.settings = settings
        self.options = options
        self.console = console
        self.report = DemoReport()
        self.generated: GenerationReport | None = None
        self.started_emulator = False  # whether this run started the emulator (a stopped run stops it then)

    @property
    def stages(self) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
        """(name, method) of every stage, in the order :meth:`run` runs them."""
        return [
            ("embedded AWS", self.start_aws),
            ("generate events" if self.options.dataset == "generated" else "load the CDNOW log", self.generate_events),
            ("ingest through the API", self.ingest_events),
            ("raw archive: stream -> raw zone", self.run_raw_archive),
            ("batch: curated, star, warehouse", self.run_batch_chain),
            ("real-time features", self.run_stream_job),
            ("ML: churn, propensity, CLV", self.run_models),
            ("answers from the warehouse", self.show_answers),
        ]

    def run(self) -> DemoReport:
        """Run every stage, print a summary and return the report.

        A failing stage's error propagates (``DemoError`` when something it needs is missing); the emulator
        is stopped either way unless ``keep_running``. Stopped by a signal (:class:`~lakehouse.local.signals.Stopped`
        inside :func:`~lakehouse.local.signals.stop_on_signals`, or Ctrl-C's ``KeyboardInterrupt``), it stops the
        emulator if this run started it, ``keep_running`` or not (one it found running is left as it was), then
        Spark and every process it started (:meth:`stop_what_it_started`), and re-raises.
        """
        stages = self.stages
        try:
            for number, (name, stage) in enumerate(stages, start=1):
                self.console.rule(f"[bold][{number}/{len(stages)}] {name}")
                started = time.perf_counter()
                facts = stage()
                result = StageResult(name, time.perf_counter() - started, facts)
                self.report.stages.append(result)
                if isinstance(facts, dict) and facts.get("skipped"):
                    self.console.print(f"[yellow]○[/] {name} skipped ({facts['skipped']}) in {result.seconds:,.1f} s")
                else:
                    self.console.print(f"[green]✓[/] {name} in {result.seconds:,.1f} s")
        except (Stopped, KeyboardInterrupt):
            self.stop_what_it_started()
            raise
        finally:
            if not self.options.keep_running:
                stop_detached(self.settings.run_dir)
        self.console.rule("[bold]summary")
        self.console.print(self.summary_table())
        if self.report.star_rows:
            self.console.print("rows per star table in the warehouse: " + ", ".join(
                f"{name} {rows:,}" for name, rows in sorted(self.report.star_rows.items())))
        if not self.options.dashboard:
            own_home = self.settings.home if self.options.dataset != "generated" else None
            self.console.print(dashboard_hint(home=own_home, dataset=self.options.dataset), soft_wrap=True)
        return self.report

    def stop_what_it_started(self) -> None:
        """After a stop signal: the emulator if this run started it, Spark, then every process this one started
        (:func:`~lakehouse.local.signals.stop_child_processes`), further stop signals ignored meanwhile."""
        with ignoring_stop_signals():
            if self.started_emulator and stop_detached(self.settings.run_dir):
                self.console.print("stopped: the embedded AWS this demo started is stopped too")
            stop_spark()
            stop_child_processes()  # Spark's JVM and its Python workers, if still there

    # --- stages ----------------------------------------------------------------------------------
    def start_aws(self) -> dict[str, Any]:
        """Start (or reuse) the detached emulator and provision every resource."""
        state, started = start_detached(self.settings.run_dir, self.settings.moto_port,
                                        self.settings.moto_persist)
        self.started_emulator = started
        export_endpoint(state.endpoint, self.settings.region)
        self.report.endpoint = state.endpoint
        resources = provision(self.settings)
        self.console.print(f"moto server {'started' if started else 'reused'} at {state.endpoint} "
                           f"(pid {state.pid}); {len(resources)} resources ready")
        for item in resources:
            if item.kind == "rate file":
                self.console.print(f"exchange rates at {self.settings.lake.uri(item.name)}: {item.status}"
                                   f"{' (' + item.detail + ')' if item.detail else ''}")
        return {"endpoint": state.endpoint, "resources": len(resources),
                "created": sum(r.status == "created" for r in resources)}

    def generate_events(self) -> dict[str, Any]:
        """Generate the data set into ``<home>/data/demo`` (CDNOW: write its orders into ``<home>/data/cdnow``)."""
        options = self.options
        if options.dataset == "cdnow":
            return self._load_cdnow()
        config = GeneratorConfig(seed=options.seed, customers=options.customers, start=options.start,
                                 days=options.days)
        out_dir = self.settings.home / "data" / "demo"
        with progress_bar(transient=True) as bar:
            task = bar.add_task("simulating days", total=options.days)
            self.generated = generate(config, out_dir,
                                      on_progress=lambda done, total: bar.update(task, completed=done))
        generated = self.generated
        self.report.data_dir = out_dir
        self.console.print(f"{generated.total_events:,} events for {generated.customers:,} customers "
                           f"({generated.first_timestamp[:10]} .. {generated.last_timestamp[:10]}) in {out_dir}")
        spec = generated.extra.get("spec", {})
        shapes = {route: generated.counts.get(route, 0) for route in ("screen", "group", "alias")}
        self.console.print(f"spec variety: {spec.get('journeys', 0)} anonymous-then-identified journeys, "
                           f"{spec.get('guest_orders', 0)} guest orders merged by alias, "
                           f"{spec.get('orders_EUR', 0)} EUR and {spec.get('orders_GBP', 0)} GBP orders, "
                           f"{spec.get('orders_reposted_retry', 0) + spec.get('orders_reposted_resend', 0)} orders "
                           f"re-posted, " + ", ".join(f"{n:,} {route}" for route, n in shapes.items()))
        return {"events": generated.total_events, "customers": generated.customers,
                "files": len(generated.files), "orders": generated.counts.get("Order Completed", 0),
                "journeys": spec.get("journeys", 0) + spec.get("guest_orders", 0),
                "non_usd_orders": spec.get("orders_EUR", 0) + spec.get("orders_GBP", 0)}

    def _load_cdnow(self) -> dict[str, Any]:
        out_dir = self.settings.home / "data" / "cdnow"
        with progress_bar(transient=True) as bar:
            task = bar.add_task("writing CDNOW orders", total=None)
            self.generated = load_cdnow(out_dir, on_progress=lambda done, total: bar.update(task, completed=done,
                                                                                            total=total))
        generated = self.generated
        self.report.data_dir = out_dir
        self.console.print(f"{generated.total_events:,} Order Completed events of {generated.customers:,} customers "
                           f"({generated.first_timestamp[:10]} .. {generated.last_timestamp[:10]}), the CDNOW log, in "
                           f"{out_dir}")
        return {"events": generated.total_events, "customers": generated.customers, "files": len(generated.files),
                "orders": generated.counts.get("Order Completed", 0)}

    def ingest_events(self) -> dict[str, Any]:
        """Post the generated files through the local API Gateway stand-in into the real Lambda handler."""
        assert self.generated is not None
        files = [self.generated.out_dir / f.name for f in self.generated.files]
        key = WriteKeyStore(self.settings.names.write_keys_table, self.settings.region).create("demo").key
        with LocalGateway(self.settings) as gateway, progress_bar(transient=True) as bar:
            task = bar.add_task("posting events", total=self.generated.total_events)
            posted = post_files(files, gateway.url, key, on_progress=lambda n: bar.advance(task, n),
                                single_calls=SingleCallSample(SINGLE_CALLS_PER_ROUTE))
            resent = gateway.resent_after_no_answer
        self.console.print(f"{posted.accepted:,} events accepted, {posted.rejected:,} rejected, "
                           f"{posted.duplicates:,} duplicates in {posted.requests:,} requests "
                           f"({posted.events_per_second:,.0f} events/s), on the stream")
        singles = ", ".join(f"/v1/{kind} {n}" for kind, n in sorted(posted.single_calls.items()))
        self.console.print(f"single-call routes: {singles or 'none'}")
        if posted.single_unrouted:
            missing = ", ".join(f"/v1/{kind}" for kind in sorted(posted.single_unrouted))
            self.console.print(f"[yellow]the API has no route {missing} (404): those calls went in batches[/]")
        if resent:
            self.console.print(f"[yellow]{resent:,} records sent to Kinesis again after a call got no answer: the "
                               "stream may hold them twice (removed by event_id)[/]")
        if not posted.ok:
            raise DemoError(f"{posted.failed:,} events could not be delivered: {posted.errors[:3]}")
        return {"accepted": posted.accepted, "rejected": posted.rejected, "requests": posted.requests,
                "resent_after_no_answer": resent,
                "single_calls": sum(posted.single_calls.values()),
                "single_routes": len(posted.single_calls), "unrouted": sum(posted.single_unrouted.values())}

    def run_raw_archive(self) -> dict[str, Any]:
        """Kinesis -> the raw archive -> the raw zone: every accepted event, one object per arrival hour per
        micro-batch (what the batch reads next)."""
        from stream.archive import run_archive

        with self.console.status("raw archive: starting Spark", spinner="dots") as status:
            report = run_archive(self.settings, local_spark("lakehouse-demo"), once=True,
                                 on_progress=lambda b: status.update(
                                     f"raw archive: batch {b.batch_id}, {b.records:,} records"))
        storage = LakeStorage(self.settings.lake, self.settings.region)
        raw_objects = sum(1 for o in storage.list("raw") if o.key.endswith(".jsonl.gz"))
        self.console.print(f"{report.archived:,} events archived in {len(report.batches):,} "
                           f"micro-batch{'es' if len(report.batches) != 1 else ''}: "
                           f"{raw_objects:,} raw object{'s' if raw_objects != 1 else ''}")
        return {"events": report.archived, "micro_batches": len(report.batches), "raw_objects": raw_objects}

    def run_batch_chain(self) -> dict[str, Any]:
        """raw -> curated Parquet (+ Glue catalog on the emulator) -> star schema -> DuckDB warehouse."""
        from lakehouse.local.batch import STEPS, curated_footprint, run_batch

        with progress_bar(transient=True) as bar:
            tasks = {step: bar.add_task(f"{step}: waiting", total=1) for step in STEPS}

            def on_progress(step: str, what: str, done: int, total: int) -> None:
                bar.update(tasks[step], description=f"{step}: {what}", completed=done, total=total)

            report = run_batch(self.settings, local_spark("lakehouse-demo"), catalog=True, on_progress=on_progress)
        curated, star, warehouse = report.curated, report.star, report.warehouse
        assert curated is not None and star is not None and warehouse is not None
        self.console.print(f"curated: {curated.accepted:,} events accepted, {curated.rejected:,} rejected, "
                           f"{curated.files_written:,} Parquet files; star: {len(star.tables)} tables; "
                           f"warehouse ({warehouse.target}): {len(warehouse.tables)} tables, "
                           f"{len(warehouse.views)} marts at {self.settings.warehouse_path}")
        self.report.star_rows = dict(warehouse.tables)
        footprint = curated_footprint(self.settings)
        self.console.print(footprint.line())
        facts = {"curated_events": curated.accepted, "quarantined": curated.rejected,
                 "curated_files": footprint.files, "events_vs_raw_gzip": f"{footprint.ratio('events'):.2f}",
                 "curated_vs_raw_gzip": f"{footprint.ratio():.2f}",
                 "star_tables": len(star.tables), "warehouse_tables": len(warehouse.tables),
                 "marts": len(warehouse.views)}
        facts.update(self._identity_and_money(star))
        self.console.print(f"identities stitched: {facts['stitched_ids']:,} ids resolve to another customer; "
                           f"duplicate orders counted once: {facts['duplicate_orders']:,}; "
                           f"unconverted amounts: {facts['unconverted_orders']:,} orders "
                           f"(reporting currency {self.settings.money.reporting_currency})")
        return facts

    def _identity_and_money(self, star: Any) -> dict[str, Any]:
        """Stitched ids, duplicate orders and unconverted orders from the star build's report, or (an older
        build without them) counted in the warehouse."""
        identity, orders, money = (getattr(star, name, None) for name in ("identity", "orders", "money"))
        facts: dict[str, Any] = {}
        if identity is not None and hasattr(identity, "stitched_ids"):
            facts["stitched_ids"] = int(identity.stitched_ids)
        if orders is not None and hasattr(orders, "duplicate_events"):
            facts["duplicate_orders"] = int(orders.duplicate_events)
        if money is not None and hasattr(money, "unconverted_orders"):
            facts["unconverted_orders"] = int(money.unconverted_orders)
        for name, sql in WAREHOUSE_FALLBACKS.items():
            if name not in facts:
                try:
                    rows = run_query(self.settings.warehouse_path, sql, limit=1).rows
                    facts[name] = int(rows[0][0]) if rows and rows[0][0] is not None else 0
                except Exception:
                    facts[name] = -1
        return facts

    def run_stream_job(self) -> dict[str, Any]:
        """Kinesis -> Spark Structured Streaming -> DynamoDB over everything on the stream, then one customer."""
        from lakehouse.local.cli.stream_commands import customer_table
        from lakehouse.local.rfm_agreement import compare_rfm
        from stream.job import run_stream

        with progress_bar(transient=True) as bar:
            task = bar.add_task("micro-batches", total=self.report.facts("ingest through the API")["accepted"])
            report = run_stream(self.settings, local_spark("lakehouse-demo"), once=True,
                                max_records=STREAM_RECORDS_PER_BATCH,
                                on_progress=lambda batch: bar.advance(task, batch.records))
        batches = int(report.totals.get("batches", 0))
        self.console.print(f"{report.events:,} events applied in {report.customers_written:,} customer item writes in "
                           f"{batches} micro-batch{'es' if batches != 1 else ''}; {report.duplicates:,} duplicates, "
                           f"{report.rejected:,} quarantined")
        best = run_query(self.settings.warehouse_path, BEST_CUSTOMER, limit=1).rows
        if best:
            # as of the warehouse's last snapshot, where the simulated days end (today is months after them)
            (last,), = run_query(self.settings.warehouse_path, "SELECT MAX(snapshot_date) FROM fact_customer_metrics",
                                 limit=1).rows
            table, note = customer_table(self.settings, best[0][0], as_of=last)
            self.console.print(table)
            self.console.print(f"[dim]{note} — look up any customer: lakehouse customer <id>[/]")
        links, merged = int(report.totals.get("links", 0)), int(report.totals.get("merged", 0))
        self.console.print(f"identity links applied live: {links:,}; anonymous / merged items folded into their "
                           f"customer: {merged:,}")
        agreement = compare_rfm(self.settings)
        colour = "green" if agreement.agree == agreement.customers else "red"
        self.console.print(f"[{colour}]live RFM = warehouse RFM for {agreement.agree:,} of {agreement.customers:,} "
                           f"customers as of {agreement.as_of}[/] (recency, frequency, monetary, scores, segment)")
        for customer_id, diff in list(agreement.differ.items())[:3]:
            self.console.print(f"[red]  {customer_id}: (warehouse, live) {diff}[/]")
        return {"records": report.records, "events": report.events, "item_writes": report.customers_written,
                "feature_items": self._feature_items(),
                "duplicates": report.duplicates, "quarantined": report.rejected, "links": links, "merged": merged,
                "rfm_customers": agreement.customers, "rfm_agree": agreement.agree}

    def _feature_items(self) -> int:
        """Items in the live features table now (a paginated ``Scan`` with ``Select=COUNT``): one per customer and
        per anonymous visitor not yet stitched."""
        pages = aws_client("dynamodb", region=self.settings.region).get_paginator("scan").paginate(
            TableName=self.settings.names.features_table, Select="COUNT")
        return sum(page["Count"] for page in pages)

    def run_models(self) -> dict[str, Any]:
        """Back-test the models against the baselines on the last ``ML_WINDOW_DAYS`` days (a sixth of the data's
        days, when shorter), then train on everything, score every customer and serve the scores (warehouse
        and the live scores table)."""
        from lakehouse.local.cli.ml_commands import summary_table
        from lakehouse.local.ml_runs import load_scores_locally, report_dir
        from ml.pipeline import evaluate, options_of, train_and_score
        from ml.source import data_bounds, open_curated

        first, last = data_bounds(open_curated(self.settings))
        assert first is not None and last is not None
        days = (last - first).days + 1
        if days < ML_MIN_DAYS:
            self.console.print(f"[yellow]{days} days hold too little history to train and back-test "
                               f"the models: run the demo with --days {ML_MIN_DAYS} or more (default 180)[/]")
            return {"skipped": f"fewer than {ML_MIN_DAYS} days"}
        window = min(ML_WINDOW_DAYS, days // 6)
        options = options_of(self.settings, window, window)
        cutoff = last + timedelta(days=1) - timedelta(days=window)
        folder = report_dir(self.settings, "demo", cutoff.isoformat())
        with self.console.status("back-testing the models") as status:
            report = evaluate(self.settings, cutoff, options, dataset=self.options.dataset, out_dir=folder,
                              progress=lambda line: status.update(f"back-test: {line}"))
        self.console.print(summary_table(report))
        self.console.print(f"[dim]report with calibration and gain charts: {folder / 'report.md'}[/]")
        with self.console.status("training and scoring") as status:
            run = train_and_score(self.settings, None, options, progress=lambda line: status.update(line))
        load_scores_locally(self.settings)
        rows = run_query(self.settings.warehouse_path, "SELECT COUNT(*) FROM fact_customer_scores WHERE cutoff_date = "
                         f"DATE '{run.cutoff.isoformat()}'", limit=1).rows[0][0]
        live = run.live
        items = int(live.get("written", 0)) + int(live.get("unchanged", 0))
        self.console.print(f"scored {run.customers:,} customers as of {run.cutoff}: fact_customer_scores in the "
                           f"warehouse and on {items:,} items of the live scores table; model versions "
                           + ", ".join(f"{t} {v}" for t, v in run.versions.items()))
        self.console.print('[dim]ask: lakehouse sql "SELECT risk_band, COUNT(*), AVG(churn_probability) FROM '
                           'fact_customer_scores GROUP BY 1"[/]')
        wins = {task: all(entry.get("beats_baselines", {}).get(metric, False) for metric in ACCEPTANCE[task])
                for task, entry in report.get("tasks", {}).items()}
        self.console.print("LightGBM beats every baseline on " + "; ".join(
            f"{task} ({' and '.join(ACCEPTANCE[task])}): {'yes' if won else 'no'}" for task, won in wins.items()))
        return {"customers_scored": run.customers, "live_items": items, "warehouse_rows": int(rows),
                **{f"{task}_beats_baselines": "yes" if won else "no" for task, won in wins.items()},
                **headline_metrics(report)}

    def show_answers(self) -> dict[str, Any]:
        """A few business questions answered by the marts, as an analyst would ask them."""
        shown = 0
        for answer in ANSWERS:
            result = run_query(self.settings.warehouse_path, answer.query, limit=10)
            table = Table(title=answer.question, show_edge=False, title_justify="left")
            for position, column in enumerate(result.columns):
                table.add_column(column, no_wrap=position == 0)  # a segment's or a country's name on one line
            for row in result.rows:
                table.add_row(*[_cell(v) for v in row])
            self.console.print(table)
            if answer.caveat_when and not run_query(self.settings.warehouse_path, answer.caveat_when,
                                                    limit=1).rows[0][0]:
                self.console.print(f"[yellow]{answer.caveat}[/]")
            shown += 1
        self.console.print("ask your own: lakehouse sql \"SELECT * FROM mart_rfm_segments\"")
        return {"questions": shown}

    # --- summary ---------------------------------------------------------------------------------
    def summary_table(self) -> Table:
        """The finished stages with their seconds and facts."""
        table = Table(show_edge=False)
        table.add_column("stage", style="bold")
        table.add_column("seconds", justify="right")
        table.add_column("what it made")
        for stage in self.report.stages:
            facts = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in stage.facts.items())
            table.add_row(stage.name, f"{stage.seconds:,.1f}", facts)
        return table
