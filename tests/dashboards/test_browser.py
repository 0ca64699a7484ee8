"""The local dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) on the warehouse the
demo builds from generated data (``tests/demo_fixtures.py``).

Every page draws with no error element, its KPI cards equal hand-written SQL on the warehouse (the marts and facts,
not the metrics layer), a geography filter changes the numbers to the filtered SQL's and holds across pages, a
broken warehouse gives a readable message and no traceback. Screenshots go to ``.pytest-artifacts/dashboard/``.

Seen failing: with the page's error boundary removed (``dashboards.app.ui.page`` re-raising),
``test_a_broken_warehouse_gives_a_readable_message`` found Streamlit's exception element with the traceback;
with the KPI cards fed the unfiltered frame, ``test_a_geography_filter_changes_the_numbers_on_every_page`` saw the
unfiltered orders.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from lakehouse.local.browser import browser_page, errors_on, metrics_on, wait_drawn
from lakehouse.local.dashboard_server import DashboardServer
from tests.demo_fixtures import ARTIFACTS, DemoRun

pytestmark = pytest.mark.timeout(1200)  # the first test waits for the session's demo run

LAST = "(SELECT MAX(snapshot_date) FROM fact_customer_metrics)"
RUN = "(SELECT MAX(cutoff_date) FROM fact_customer_scores)"
#: card label -> SQL written by hand on the marts and facts (whole period, no filter)
ORACLE = {
    "Orders": "SELECT SUM(orders) FROM fact_daily_kpis",
    "Revenue (USD)": "SELECT SUM(revenue) FROM fact_daily_kpis",
    "AOV (USD)": "SELECT SUM(revenue) / (SUM(orders) - SUM(unconverted_orders)) FROM fact_daily_kpis",
    "Refunds (USD)": "SELECT SUM(refunds) FROM fact_daily_kpis",
    "DAU": "SELECT AVG(dau) FROM fact_daily_kpis",
    "Conversion rate": "SELECT SUM(purchasers) * 100.0 / SUM(dau) FROM fact_daily_kpis",
    "New customers": "SELECT SUM(new_customers) FROM fact_daily_kpis",
    "Customers": "SELECT SUM(customers) FROM mart_churn_by_geography_age",
    "Churned customers": "SELECT SUM(churned_customers) FROM mart_churn_by_geography_age",
    "Churn rate": "SELECT SUM(churned_customers) * 100.0 / SUM(customers) FROM mart_churn_by_geography_age",
    "Average CLV (USD)": f"SELECT AVG(clv_to_date) FROM fact_customer_metrics WHERE snapshot_date = {LAST}",
    "Total CLV (USD)": f"SELECT SUM(clv_to_date) FROM fact_customer_metrics WHERE snapshot_date = {LAST}",
    "Avg resolution hours": "SELECT AVG(resolution_hours) FROM fact_support_ticket WHERE is_resolved",
    "Tickets": "SELECT COUNT(*) FROM fact_support_ticket",
    "Acceptance rate": "SELECT SUM(accepted) * 100.0 / SUM(offers) FROM mart_offer_acceptance",
    "Product viewers": "SELECT COUNT(DISTINCT customer_id) FROM fact_customer_activity "
                       "WHERE event_name = 'Product Viewed'",
    "Cart adders": "SELECT COUNT(DISTINCT customer_id) FROM fact_customer_activity WHERE event_name = 'Product Added'",
    "Checkout starters": "SELECT COUNT(DISTINCT customer_id) FROM fact_customer_activity WHERE event_name IN "
                         "('Checkout Started', 'Checkout Step Viewed', 'Checkout Step Completed', "
                         "'Payment Info Entered')",
    "Purchasers": "SELECT COUNT(DISTINCT customer_id) FROM fact_order WHERE NOT is_cancelled",
    "Scored customers": f"SELECT COUNT(*) FROM fact_customer_scores WHERE cutoff_date = {RUN}",
    "Avg churn probability": f"SELECT AVG(churn_probability) * 100 FROM fact_customer_scores WHERE cutoff_date = {RUN}",
    "Avg predicted CLV (USD)": f"SELECT AVG(predicted_clv) FROM fact_customer_scores WHERE cutoff_date = {RUN}",
    "High-risk customers": f"SELECT COUNT(*) FROM fact_customer_scores WHERE cutoff_date = {RUN} "
                           "AND risk_band = 'high'",
}
#: (URL path, page title, the cards it must show)
PAGES = [
    ("", "Overview", ("Orders", "Revenue (USD)", "AOV (USD)", "Refunds (USD)", "DAU", "Conversion rate",
                      "New customers", "Customers", "Churned customers", "Churn rate", "Average CLV (USD)",
                      "Avg resolution hours", "Acceptance rate")),
    ("churn", "Churn", ("Customers", "Churned customers", "Churn rate")),
    ("value", "Value", ("Customers", "Total CLV (USD)", "Average CLV (USD)")),
    ("engagement", "Engagement", ("Product viewers", "Cart adders", "Checkout starters", "Purchasers")),
    ("products", "Products", ()),
    ("offers-support", "Offers and support", ("Acceptance rate", "Tickets", "Avg resolution hours")),
    ("models", "Models", ("Scored customers", "Avg churn probability", "Avg predicted CLV (USD)",
                          "High-risk customers")),
]


def number(text: str) -> tuple[float, float]:
    """A card's value and the half unit of its last shown digit (its rounding tolerance)."""
    cleaned = re.sub(r"[,%h\s]", "", text)
    decimals = len(cleaned.split(".")[1]) if "." in cleaned else 0
    return float(cleaned), 0.5 * 10 ** -decimals + 1e-9


def sql_value(path: Path, sql: str) -> float:
    with duckdb.connect(str(path), read_only=True) as con:
        return float(con.execute(sql).fetchone()[0])


@pytest.fixture(scope="module")
def browser(demo_run: DemoRun):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with DashboardServer(demo_run.settings, port=0) as url, browser_page() as page:
        yield url, page


@pytest.mark.parametrize(("path", "title", "cards"), PAGES, ids=[p[1] for p in PAGES])
def test_every_page_draws_and_shows_the_warehouse_numbers(browser, demo_run: DemoRun, path, title, cards):
    url, page = browser
    page.goto(f"{url}/{path}")
    wait_drawn(page, title)
    page.screenshot(path=str(ARTIFACTS / f"{path or 'overview'}.png"), full_page=True)
    assert errors_on(page) == []
    assert "Traceback" not in page.inner_text("body")
    shown = metrics_on(page)
    assert set(cards) <= set(shown), f"{title}: cards {sorted(shown)}"
    for label in cards:
        value, tolerance = number(shown[label])
        expected = sql_value(demo_run.settings.warehouse_path, ORACLE[label])
        assert value == pytest.approx(expected, abs=tolerance), f"{title}: {label} shows {shown[label]}"
    if title != "Products":
        assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1


def test_a_geography_filter_changes_the_numbers_on_every_page(browser, demo_run: DemoRun):
    url, page = browser
    path = demo_run.settings.warehouse_path
    with duckdb.connect(str(path), read_only=True) as con:
        geo = con.execute("SELECT geography FROM dim_customer WHERE is_current AND is_registered GROUP BY 1 "
                          "ORDER BY COUNT(*) DESC, 1 LIMIT 1").fetchone()[0]
    page.goto(url)
    wait_drawn(page, "Overview")
    before = metrics_on(page)
    page.locator('[data-testid="stMultiSelect"]').first.click()
    page.keyboard.type(geo)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_function("(before) => { const v = [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
                           "; return v.length && v[0].innerText.trim() !== before }", arg=before["Orders"],
                           timeout=60_000)
    wait_drawn(page, "Overview")
    after = metrics_on(page)
    page.screenshot(path=str(ARTIFACTS / "overview-filtered.png"), full_page=True)
    quoted = geo.replace("'", "''")
    orders = sql_value(path, "SELECT COUNT(*) FROM fact_order o JOIN dim_customer c ON c.customer_key = o.customer_key "
                             f"WHERE NOT o.is_cancelled AND c.geography = '{quoted}'")
    revenue = sql_value(path, "SELECT COALESCE(SUM(o.order_value_rc), 0) FROM fact_order o JOIN dim_customer c ON "
                              f"c.customer_key = o.customer_key WHERE NOT o.is_cancelled AND c.geography = '{quoted}'")
    customers = sql_value(path, "SELECT COUNT(*) FROM fact_customer_metrics m JOIN dim_customer c ON c.customer_key = "
                                f"m.customer_key WHERE m.snapshot_date = {LAST} AND c.geography = '{quoted}'")
    assert number(after["Orders"])[0] == orders < number(before["Orders"])[0]
    assert number(after["Revenue (USD)"])[0] == pytest.approx(revenue, abs=0.005)
    assert number(after["Customers"])[0] == customers < number(before["Customers"])[0]
    # the filter holds on the next page (in-app navigation keeps the session's filters)
    page.get_by_role("link", name="Churn").click()
    wait_drawn(page, "Churn")
    assert number(metrics_on(page)["Customers"])[0] == customers
    assert errors_on(page) == []


def test_the_real_time_page_shows_a_customers_live_item(demo_run: DemoRun):
    seen = demo_run.realtime
    item = demo_run.live_scores[seen["customer_id"]]
    assert seen["errors"] == []
    assert seen["cards"]["orders"] == str(item["features"]["orders"])
    assert seen["cards"]["segment"] == str(item["features"]["segment"])
    churn = float(item["scores"]["churn_probability"])
    assert seen["cards"]["churn probability"] == f"{churn * 100:.2f} %"
    assert seen["cards"]["risk band"] == item["scores"]["risk_band"]
    assert all(reason in seen["text"] for reason in item["scores"]["reasons"])
    assert "Traceback" not in seen["text"]


def test_a_broken_warehouse_gives_a_readable_message(browser, demo_run: DemoRun, tmp_path: Path):
    """A warehouse without ``fact_order``: the Overview says which table is missing, the other pages still draw."""
    broken = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.settings.warehouse_path, broken)
    with duckdb.connect(str(broken)) as con:
        for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
            con.execute(f"DROP VIEW {view}")  # the marts read fact_order
        con.execute("DROP TABLE fact_order")
    settings = demo_run.settings.model_copy(update={"duckdb_path": broken})
    page = browser[1]
    with DashboardServer(settings, port=0) as url:
        page.goto(url)
        wait_drawn(page, "Overview")
        errors = errors_on(page)
        assert len(errors) == 1 and "fact_order" in errors[0] and "does not exist" in errors[0]
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Traceback" not in page.inner_text("body")
        page.get_by_role("link", name="Offers and support").click()
        wait_drawn(page, "Offers and support")
        assert errors_on(page) == []
