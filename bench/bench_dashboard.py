"""Dashboard render benchmark: every page's time from navigation to its last chart drawn, at 1M and 10M events.

**What is measured.** For each page of :data:`dashboards.app.pages.PAGES`, on the Streamlit app served by
:class:`~lakehouse.local.dashboard_server.DashboardServer` and driven by headless Chromium
(:func:`lakehouse.local.browser.browser_page`), the wall time from the action to the moment
:func:`~lakehouse.local.browser.wait_drawn` returns (the page's ``page-done: <title>`` marker shown and every
Plotly chart's SVG present):

* **first visit**: click the page's sidebar link from the "Real time" page (in-app navigation, one browser
  session); the page's queries are not in Streamlit's cache yet (a fresh server per repetition, so nothing is);
* **warm visit**: back to "Real time", then the same click again: every query answered from ``st.cache_data``
  (60 s TTL, the warm visit follows the first within seconds). The first visit also pays what the browser loads
  once per session on demand: Plotly's JavaScript bundle on the first page with a chart (Overview, visited
  first) and the data grid's on the first page with a table (Value); a user pays it on their first such page too;
* **cold load**: a new browser context (no session, no HTTP cache) opens the page's URL (``page.goto``, then
  ``wait_drawn``): HTML, JavaScript, the websocket session and the whole script run, with the server's query
  cache warm from the visits just before (so it is the browser-side and session cost, not the SQL);
* **SQL alone**: the page's :mod:`dashboards.queries` calls (mirrored per page in :data:`PAGE_QUERIES`, the
  calls ``dashboards/app/pages.py`` makes, under the sidebar's default filters: the whole date range) run on
  DuckDB by a runner that opens a read-only connection per query, as the app's query layer does
  (``lakehouse.core.warehouse.query.run_query``), and fetches a DataFrame; no Streamlit, no browser.

**Baselines in the same run.** "Real time" with no customer id entered runs no query: its three browser times are
the framework floor (Streamlit rerun + websocket + React render) every other page pays too. Its first visit
starts from "Overview" (the page every other page starts from is "Real time" itself). So each row reads
SQL alone vs framework floor vs total. The sidebar's own queries (date bounds, geographies, segments) run on
every page and are cached after the first; their SQL time is printed once as "sidebar choices".
Three repetitions (``--repeats``), a fresh server and browser each, medians reported; the load average
(``os.getloadavg``) before and after each size is printed and saved: these 2 cores are shared.

**The data: a demo warehouse replicated k times inside DuckDB.** A source lakehouse home (``--source-home``: a
``warehouse.duckdb`` made by ``lakehouse demo``; by default the demo is run into the work directory when none is
there, ~5 min) is scaled to each target (``--events``, default 1M and 10M) by repeating every customer
``k = ceil(target / source events)`` times, source events = rows of ``fact_customer_activity`` (one per accepted
event after deduplication) unless ``--source-events`` is given:

* every table with a ``customer_id`` or ``customer_key`` column (``dim_customer`` and the ``fact_*`` tables,
  ``fact_customer_scores`` included) gets k copies of each row: copy 0 unchanged, copy i >= 1 with
  ``<id> || '~' || i`` for the ids in :data:`REPLICATED_IDS` (customer, event, order, session, ticket) and a new
  surrogate key ``hash(customer_key, i)`` shifted into BIGINT's range (the star's keys are 64-bit hashes that span
  all of BIGINT, so ``key + i * offset`` would overflow; the same function in every table keeps the joins, and the
  check below proves the new keys unique), rows kept in the source's physical order (each row followed by its
  copies, so the clustering by load day is the source's);
* ``fact_daily_kpis`` (one row per day, no customers) keeps its rows: its additive columns are multiplied by k
  (:data:`DAILY_ADDITIVE`), its ratios (``aov``, ``conversion_rate``) kept; nothing is recomputed;
* tables without customers (``dim_date``, ``dim_product``, ``dim_offer``, ``dim_geography`` ...) are copied as
  they are; the ``mart_*`` views are re-created unchanged, so they recompute on the scaled facts;
* every table is created with the source's own DDL (``duckdb_tables().sql``) and filled by ``INSERT ... SELECT``
  with a cast to each column's source type; the result is checked: same columns and types in every table and
  view, k x the rows of each replicated table, k x its distinct customers, k x distinct ``dim_customer`` keys,
  and k x the rows whose ``customer_key`` joins ``dim_customer``.

Limits of the method: the same behaviour repeated, so every distribution (per customer, per day, per product) is
the source's and every rate and average equals the source's; distinct counts (customers, DAU, purchasers, funnel
steps) and sums scale by k exactly; the number of distinct products, days, offers and dimension values does not
grow, so group-bys have the source's group counts (a real 10M-event warehouse would have more products and
longer history); pairs in ``mart_product_affinity`` count k x the orders, so pairs under its minimum of 2 orders
in the source pass it at k >= 2. Query times are those of the row counts, not of a wider variety of values.

**Output.** Each size's Markdown table as soon as it is measured, then the table of all sizes, the slowest query
of each page (SQL alone) and ``bench/results/dashboard-<UTC timestamp>.json`` (every sample, the load average
per repetition, the three slowest queries per page with their SQL).

    python bench/bench_dashboard.py --source-home /tmp/dev/.lakehouse            # 1M and 10M
    python bench/bench_dashboard.py --source-home /tmp/dev/.lakehouse --events 1000000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from report import record

from dashboards import queries
from dashboards.app.pages import PAGES
from lakehouse.core.config import Settings
from lakehouse.core.metrics.sql import Filters
from lakehouse.local.browser import browser_page, errors_on, wait_drawn
from lakehouse.local.dashboard_server import DashboardServer

RESULTS = Path(__file__).resolve().parent / "results"
BASELINE_PAGE = "Real time"
#: ids a replica i >= 1 suffixes with "~i" (customer grain and below)
REPLICATED_IDS = ("customer_id", "event_id", "order_id", "session_id", "ticket_id")
#: *_id columns of customer tables that name something without customers: kept as they are
KEPT_IDS = ("offer_id", "product_id", "content_id", "run_id")
#: fact_daily_kpis' columns that are sums over customers (times k); the others (aov, conversion_rate) are ratios
DAILY_ADDITIVE = ("dau", "new_customers", "sessions", "orders", "purchasers", "units_sold", "revenue", "refunds",
                  "unconverted_orders")
DAILY_KEPT = ("date_key", "full_date", "aov", "conversion_rate")
TIMEOUT_MS = 180_000

Runner = Callable[[str], pd.DataFrame]


# --- scaling: the source warehouse replicated k times ---------------------------------------------------------


@dataclass(frozen=True)
class ScaleReport:
    """A scaled warehouse: where, k, events (rows of fact_customer_activity), seconds to build, rows per table."""

    path: str
    k: int
    events: int
    seconds: float
    rows: dict[str, int]


def source_events(path: Path) -> int:
    """Accepted events of a warehouse: rows of ``fact_customer_activity`` (one per event after deduplication)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return int(con.execute("SELECT COUNT(*) FROM fact_customer_activity").fetchone()[0])


def _columns(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    """``{table or view: [(column, type), ...]}`` of one attached database, in column order."""
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_catalog = ? AND table_schema = 'main' ORDER BY table_name, ordinal_position",
                       [catalog]).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, []).append((column, dtype))
    return out


def _is_customer_table(columns: list[tuple[str, str]]) -> bool:
    return any(c in ("customer_id", "customer_key") for c, _ in columns)


def _replica_expression(table: str, column: str) -> str:
    """The SQL of ``column`` in replica ``r.i`` of a customer table (raises on an id column not classified)."""
    if column in REPLICATED_IDS:
        return f"CASE WHEN r.i = 0 THEN t.{column} ELSE t.{column} || '~' || CAST(r.i AS VARCHAR) END"
    if column == "customer_key":
        return (f"CASE WHEN r.i = 0 THEN t.customer_key ELSE CAST(CAST(hash(t.customer_key, r.i) AS HUGEINT) - "
                f"{2 ** 63} AS BIGINT) END")
    if column.endswith("_id") and column not in KEPT_IDS:
        raise ValueError(f"{table}.{column}: an id this benchmark does not know how to replicate; add it to "
                         "REPLICATED_IDS (one per customer copy) or KEPT_IDS (a dimension's id)")
    return f"t.{column}"


def _select_sql(table: str, columns: list[tuple[str, str]], k: int) -> str:
    """The INSERT's SELECT for one table, every column cast to its source type."""
    if _is_customer_table(columns):
        exprs = [f"CAST({_replica_expression(table, c)} AS {t}) AS {c}" for c, t in columns]
        return (f"SELECT {', '.join(exprs)} FROM src.{table} t CROSS JOIN range({k}) r(i) "
                "ORDER BY t.rowid, r.i")
    if table == "fact_daily_kpis":
        unknown = {c for c, _ in columns} - set(DAILY_ADDITIVE) - set(DAILY_KEPT)
        if unknown:
            raise ValueError(f"fact_daily_kpis: columns {sorted(unknown)} are neither additive nor kept ratios")
        exprs = [f"CAST(t.{c} * {k} AS {t}) AS {c}" if c in DAILY_ADDITIVE else f"t.{c}" for c, t in columns]
        return f"SELECT {', '.join(exprs)} FROM src.{table} t ORDER BY t.rowid"
    return f"SELECT * FROM src.{table} ORDER BY rowid"


def scale_warehouse(source: Path, target: Path, k: int) -> ScaleReport:
    """Build ``target`` (a new DuckDB file) from ``source`` with every customer repeated ``k`` times (module
    docstring, "The data"); the source is attached read-only. Raises ``ValueError`` when a column cannot be
    classified or when the result's schema or counts differ from what k copies give."""
    started = time.perf_counter()
    target.unlink(missing_ok=True)
    with duckdb.connect(str(target)) as con:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        src_cols = _columns(con, "src")
        tables = con.execute("SELECT table_name, sql FROM duckdb_tables() WHERE database_name = 'src' "
                             "AND schema_name = 'main' ORDER BY table_name").fetchall()
        views = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE database_name = 'src' "
                            "AND schema_name = 'main' AND NOT internal ORDER BY view_oid").fetchall()
        for table, ddl in tables:
            con.execute(ddl)
            con.execute(f"INSERT INTO {table} {_select_sql(table, src_cols[table], k)}")
        pending = [sql for _, sql in views]
        for _ in range(len(pending) + 1):  # views on views: retry until each one's inputs exist
            failed = []
            for sql in pending:
                try:
                    con.execute(sql)
                except duckdb.CatalogException:
                    failed.append(sql)
            if not failed:
                break
            pending = failed
        else:
            raise ValueError(f"views that could not be re-created: {pending}")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    rows = _check_scaled(source, target, k)
    events = rows["fact_customer_activity"]
    return ScaleReport(str(target), k, events, time.perf_counter() - started, rows)


def _check_scaled(source: Path, target: Path, k: int) -> dict[str, int]:
    """Raise ``ValueError`` unless every table and view of ``target`` has the source's columns and types, and each
    customer table k x the source's rows and distinct customers; return the rows per table."""
    with duckdb.connect(str(target), read_only=True) as con:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        before, after = _columns(con, "src"), _columns(con, _catalog(con))
        if before != after:
            diff = {t: (before.get(t), after.get(t)) for t in set(before) | set(after) if before.get(t) != after.get(t)}
            raise ValueError(f"the scaled warehouse's schema differs from the source's: {diff}")
        base = [t for t, in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'")
                .fetchall()]
        rows = {}
        for table in sorted(base):
            n_src = con.execute(f"SELECT COUNT(*) FROM src.{table}").fetchone()[0]
            n = con.execute(f"SELECT COUNT(*) FROM main.{table}").fetchone()[0]
            rows[table] = int(n)
            if not _is_customer_table(before[table]):
                if n != n_src:
                    raise ValueError(f"{table}: {n} rows, the source has {n_src}")
                continue
            if n != k * n_src:
                raise ValueError(f"{table}: {n} rows, expected {k} x {n_src}")
            if any(c == "customer_key" for c, _ in before[table]):
                joined = ("SELECT COUNT(*) FROM {db}.{t} f WHERE f.customer_key IN (SELECT customer_key FROM "
                          "{db}.dim_customer)")
                j_src = con.execute(joined.format(db="src", t=table)).fetchone()[0]
                j = con.execute(joined.format(db="main", t=table)).fetchone()[0]
                if j != k * j_src:
                    raise ValueError(f"{table}: {j} rows join dim_customer by key, expected {k} x {j_src}")
            if any(c == "customer_id" for c, _ in before[table]):
                d_src = con.execute(f"SELECT COUNT(DISTINCT customer_id) FROM src.{table}").fetchone()[0]
                d = con.execute(f"SELECT COUNT(DISTINCT customer_id) FROM main.{table}").fetchone()[0]
                if d != k * d_src:
                    raise ValueError(f"{table}: {d} distinct customers, expected {k} x {d_src}")
        keys = "SELECT COUNT(DISTINCT customer_key) FROM {db}.dim_customer"
        if con.execute(keys.format(db="main")).fetchone()[0] != k * con.execute(keys.format(db="src")).fetchone()[0]:
            raise ValueError("dim_customer: the new customer keys are not unique")
    return rows


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_database()").fetchone()[0])


# --- SQL alone: the page's query functions on DuckDB, no Streamlit ----------------------------------------------


def _models_queries(run: Runner, filters: Filters) -> None:
    run("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'fact_customer_scores'")
    queries.models(run, filters)


#: per page title, the dashboards.queries calls its render function in dashboards/app/pages.py makes
PAGE_QUERIES: dict[str, Callable[[Runner, Filters], Any]] = {
    "Overview": queries.overview,
    "Churn": lambda run, f: (queries.churn(run, f),
                             queries.metric_frame(run, ("customers", "churned_customers", "churn_rate"), f)),
    "Value": lambda run, f: (queries.value(run, f),
                             queries.metric_frame(run, ("customers", "total_clv", "average_clv"), f)),
    "Engagement": queries.engagement,
    "Products": queries.products,
    "Offers and support": lambda run, f: (queries.offers_support(run, f), queries.metric_frame(
        run, ("acceptance_rate", "tickets", "avg_resolution_hours"), f)),
    "Models": _models_queries,
    BASELINE_PAGE: lambda run, f: None,
}
SIDEBAR = "sidebar choices"


def _sidebar_queries(run: Runner, filters: Filters) -> None:
    queries.date_bounds(run)
    queries.geographies(run)
    queries.segments(run)


class TimedRunner:
    """A :data:`Runner` on a DuckDB file: one read-only connection per query (as the app's query layer opens
    them), the answer fetched as a DataFrame; every query's seconds kept in ``times`` (SQL text -> seconds)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.times: dict[str, float] = {}

    def __call__(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` on a fresh read-only connection; its answer as a DataFrame."""
        started = time.perf_counter()
        with duckdb.connect(str(self.path), read_only=True) as con:
            frame = con.execute(sql).df()
        self.times[sql] = self.times.get(sql, 0.0) + time.perf_counter() - started
        return frame


def default_filters(path: Path) -> Filters:
    """The sidebar's filters on a first visit: the warehouse's whole date range, no geography, no segment."""
    bounds = queries.date_bounds(TimedRunner(path))
    return Filters(start=bounds[0], end=bounds[1]) if bounds else Filters()


@dataclass
class SqlTimes:
    """SQL-alone seconds per page (one sample per repetition) and each query's median seconds per page."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    queries: dict[str, dict[str, float]] = field(default_factory=dict)


def time_sql(path: Path, filters: Filters, repeats: int) -> SqlTimes:
    """Run every page's queries ``repeats`` times (pages in turn within a repetition)."""
    if set(PAGE_QUERIES) != {title for title, _ in PAGES}:
        raise ValueError(f"PAGE_QUERIES {sorted(PAGE_QUERIES)} no longer match the app's pages "
                         f"{sorted(t for t, _ in PAGES)}: mirror dashboards/app/pages.py")
    out = SqlTimes()
    per_query: dict[str, dict[str, list[float]]] = {}
    calls = {SIDEBAR: _sidebar_queries, **PAGE_QUERIES}
    for _ in range(repeats):
        for title, call in calls.items():
            runner = TimedRunner(path)
            started = time.perf_counter()
            call(runner, filters)
            out.samples.setdefault(title, []).append(time.perf_counter() - started)
            for sql, seconds in runner.times.items():
                per_query.setdefault(title, {}).setdefault(sql, []).append(seconds)
    out.queries = {t: {sql: statistics.median(s) for sql, s in q.items()} for t, q in per_query.items()}
    return out


# --- the browser: in-app navigation and cold loads -------------------------------------------------------------


class PageError(RuntimeError):
    """A page showed an error element instead of its charts: its time would mean nothing."""


def url_path(title: str) -> str:
    """The page's URL path as main.py registers it ("/" for the first page)."""
    render = dict(PAGES)[title]
    return "/" if render is PAGES[0][1] else "/" + render.__name__.replace("_", "-")


_SCRIPT_MS = re.compile(r"page-done: .* · (\d+) ms")


def _drawn(page: Any, title: str) -> float:
    """Wait for ``title`` drawn; raise :class:`PageError` if it shows an error; the app's own script time (s)."""
    wait_drawn(page, title, TIMEOUT_MS)
    errors = errors_on(page)
    if errors:
        raise PageError(f"{title}: {errors}")
    marker = page.get_by_text(f"page-done: {title} ").inner_text()
    found = _SCRIPT_MS.search(marker)
    return int(found.group(1)) / 1000 if found else math.nan


def navigate(page: Any, title: str) -> tuple[float, float]:
    """Click the sidebar link of ``title``; (seconds until drawn, the app's script seconds)."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    started = time.perf_counter()
    link.click()
    script = _drawn(page, title)
    elapsed = time.perf_counter() - started
    time.sleep(0.3)  # let the old page's elements go before the next action (not timed)
    return elapsed, script


def cold_load(browser: Any, url: str, title: str) -> float:
    """A new browser context opens the page's URL; seconds until drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        started = time.perf_counter()
        page.goto(url + url_path(title))
        _drawn(page, title)
        return time.perf_counter() - started
    finally:
        page.close()


@dataclass
class BrowserTimes:
    """Seconds per page: in-app first visit, warm visit, cold load, the app's script time on the first visit
    (one sample per repetition), and the server's first page load of each repetition (sidebar queries uncached)."""

    first: dict[str, list[float]] = field(default_factory=dict)
    warm: dict[str, list[float]] = field(default_factory=dict)
    cold: dict[str, list[float]] = field(default_factory=dict)
    script: dict[str, list[float]] = field(default_factory=dict)
    server_first_load: list[float] = field(default_factory=list)
    load_1min: list[float] = field(default_factory=list)  # os.getloadavg()[0] as each repetition starts


def time_browser(settings: Settings, repeats: int) -> BrowserTimes:
    """Per repetition: a fresh server and browser; land on the baseline page, then for each page first visit,
    baseline, warm visit, baseline, cold load; the baseline page last (from and back to the first page)."""
    out = BrowserTimes()
    titles = [t for t, _ in PAGES if t != BASELINE_PAGE]
    for _ in range(repeats):
        out.load_1min.append(os.getloadavg()[0])
        with DashboardServer(settings, port=0) as url, browser_page() as page:
            started = time.perf_counter()
            page.goto(url + url_path(BASELINE_PAGE))
            _drawn(page, BASELINE_PAGE)
            out.server_first_load.append(time.perf_counter() - started)
            browser = page.context.browser
            for title in titles:
                first, script = navigate(page, title)
                navigate(page, BASELINE_PAGE)
                warm, _ = navigate(page, title)
                navigate(page, BASELINE_PAGE)
                _add(out, title, first, warm, cold_load(browser, url, title), script)
            navigate(page, titles[0])
            first, script = navigate(page, BASELINE_PAGE)
            navigate(page, titles[0])
            warm, _ = navigate(page, BASELINE_PAGE)
            _add(out, BASELINE_PAGE, first, warm, cold_load(browser, url, BASELINE_PAGE), script)
    return out


def _add(out: BrowserTimes, title: str, first: float, warm: float, cold: float, script: float) -> None:
    for series, value in ((out.first, first), (out.warm, warm), (out.cold, cold), (out.script, script)):
        series.setdefault(title, []).append(value)


# --- one size, the report ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def bench_size(source: Path, reports: Path | None, work: Path, target: int, events: int, repeats: int
               ) -> dict[str, Any]:
    """Scale, time the SQL, time the browser, for one target size; the size's results (JSON-ready)."""
    k = max(1, math.ceil(target / events))
    home = work / f"scaled-{target}"
    home.mkdir(parents=True, exist_ok=True)
    if reports is not None and reports.is_dir():
        shutil.copytree(reports, home / "reports", dirs_exist_ok=True)  # the Models page's back-test table
    print(f"\n== {target:,} events: k = {k} copies of {events:,} source events", flush=True)
    load_before = os.getloadavg()
    scaled = scale_warehouse(source, home / "warehouse.duckdb", k)
    print(f"scaled warehouse: {scaled.events:,} events, {scaled.rows['dim_customer']:,} dim_customer rows, "
          f"{scaled.rows['fact_customer_metrics']:,} fact_customer_metrics rows, "
          f"{Path(scaled.path).stat().st_size / 1e6:,.0f} MB, built in {scaled.seconds:.0f} s", flush=True)
    path = Path(scaled.path)
    filters = default_filters(path)
    sql = time_sql(path, filters, repeats)
    print("SQL alone timed; the browser runs ...", flush=True)
    browser = time_browser(Settings(home=home, duckdb_path=path), repeats)
    load_after = os.getloadavg()
    pages: dict[str, dict[str, float]] = {}
    for title, _ in PAGES:
        pages[title] = {"first_visit_s": _median(browser.first[title]), "warm_visit_s": _median(browser.warm[title]),
                        "cold_load_s": _median(browser.cold[title]), "sql_alone_s": _median(sql.samples[title]),
                        "script_first_s": _median(browser.script[title])}
    slowest = {title: sorted(q.items(), key=lambda item: -item[1])[:3] for title, q in sql.queries.items()}
    result = {"target_events": target, "k": k, "scaled": asdict(scaled), "filters": {"start": str(filters.start),
            "end": str(filters.end)}, "load_before": load_before, "load_after": load_after, "pages": pages,
            "sidebar_sql_s": _median(sql.samples[SIDEBAR]), "server_first_load_s": _median(browser.server_first_load),
            "samples": {"first": browser.first, "warm": browser.warm, "cold": browser.cold, "script": browser.script,
                        "sql": sql.samples, "server_first_load": browser.server_first_load,
                        "load_1min_per_repeat": browser.load_1min},
            "slowest_queries": {t: [{"seconds": s, "sql": q} for q, s in items] for t, items in slowest.items()}}
    print(f"{markdown([result])}\nload average (1 min) as each repetition started: {browser.load_1min}", flush=True)
    return result


def markdown(sizes: list[dict[str, Any]]) -> str:
    """The table of medians: page x size; the baseline page and the sidebar's queries marked."""
    lines = ["| page | events | first visit s | warm visit s | cold load s | SQL alone s | app script (first) s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        events = f"{size['scaled']['events'] / 1e6:.2f}M"
        for title, row in size["pages"].items():
            name = f"{title} (baseline: no query)" if title == BASELINE_PAGE else title
            lines.append(f"| {name} | {events} | {row['first_visit_s']:.2f} | {row['warm_visit_s']:.2f} | "
                         f"{row['cold_load_s']:.2f} | {row['sql_alone_s']:.3f} | {row['script_first_s']:.2f} |")
        lines.append(f"| {SIDEBAR} (every page, cached after the first) | {events} | | | "
                     f"{size['server_first_load_s']:.2f} (server's first load) | {size['sidebar_sql_s']:.3f} | |")
    return "\n".join(lines)


def ensure_source(home: Path) -> Path:
    """``<home>/warehouse.duckdb``, running ``lakehouse demo`` into ``home`` first when there is none."""
    warehouse = home / "warehouse.duckdb"
    if not warehouse.is_file():
        print(f"no warehouse in {home}: running `lakehouse demo --no-keep-running` into it (~5 min) ...", flush=True)
        home.mkdir(parents=True, exist_ok=True)
        cli = Path(sys.executable).with_name("lakehouse")
        subprocess.run([str(cli), "demo", "--no-keep-running", "--no-dashboard"], check=True,
                       env={**os.environ, "LAKEHOUSE_HOME": str(home)})
    return warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-home", type=Path, help="a lakehouse home with warehouse.duckdb (default: "
                        "<work>/source, the demo run into it when empty)")
    parser.add_argument("--source-events", type=int, help="events of the source (default: rows of "
                        "fact_customer_activity)")
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000], help="target sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, help="work directory, kept (default: a temp dir, removed)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    work.mkdir(parents=True, exist_ok=True)
    source_home = args.source_home or work / "source"
    original = ensure_source(source_home)
    source = work / "source.duckdb"
    shutil.copyfile(original, source)  # never opened in place: a running demo may hold it
    events = args.source_events or source_events(source)
    print(f"dashboard benchmark: source {original} ({events:,} events), DuckDB {duckdb.__version__}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()}", flush=True)
    sizes = []
    try:
        for target in args.events:
            sizes.append(bench_size(source, source_home / "reports", work, target, events, args.repeats))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown(sizes)
    print(f"\nmedians of {args.repeats}; load average before/after each size: "
          + "; ".join(f"{s['scaled']['events']:,}: {s['load_before']} -> {s['load_after']}" for s in sizes))
    print(table)
    for size in sizes:
        print(f"\nslowest queries at {size['scaled']['events']:,} events (median s):")
        for title, items in size["slowest_queries"].items():
            for item in items[:1]:
                print(f"  {title:<20} {item['seconds']:7.3f}  {item['sql'][:150]}")
    for size in sizes:
        floor = size["pages"][BASELINE_PAGE]["first_visit_s"]
        for title, page in size["pages"].items():
            if title != BASELINE_PAGE:
                record("dashboard", f"{title}: first visit, median of {args.repeats} (SQL alone "
                                    f"{page['sql_alone_s']:.2f} s)", page["first_visit_s"], "s",
                       size=f"{size['scaled']['events']:,} events", baseline=f"{BASELINE_PAGE}, no query",
                       baseline_value=floor)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"dashboard-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"source": str(original), "source_events": events, "repeats": args.repeats,
                               "cores": os.cpu_count(), "duckdb": duckdb.__version__, "sizes": sizes,
                               "table": table}, indent=2, default=str))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
