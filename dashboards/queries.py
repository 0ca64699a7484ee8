"""What each dashboard page asks the warehouse: SQL built from the metrics layer, run by a :data:`Runner`.

Every function takes the runner and the page :class:`~lakehouse.core.metrics.sql.Filters` and returns a pandas
DataFrame (grain in its docstring). Measures come from :func:`lakehouse.core.metrics.sql.metric_sql`, so the
dashboard shows the numbers the Power BI and QuickSight definitions compute; the few questions the metrics layer
cannot express (churn among customers with a ticket type, the taste combinations, the product affinity) read the
marts directly and say which filters they honour (:data:`UNFILTERED`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd

from lakehouse.core.metrics.catalog import MEASURES
from lakehouse.core.metrics.sql import Filters, literal, metric_sql

#: runs one SELECT on the warehouse and returns its rows (columns named as the SELECT names them)
Runner = Callable[[str], pd.DataFrame]

#: the overview's KPIs, in display order (the measures tagged "overview" in the catalogue)
OVERVIEW = tuple(m.name for m in MEASURES if "overview" in m.tags)
#: the trend charts of the overview
TREND = ("revenue", "orders", "dau", "conversion_rate", "new_customers", "churn_rate")
FUNNEL = ("viewers", "cart_adders", "checkout_starters", "purchasers")
#: views read as the marts computed them, over all days and customers: the page says so beside them
UNFILTERED = ("mart_product_affinity",)


def metric_frame(run: Runner, measures: Sequence[str], filters: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """The measures broken down by ``by`` (one row per combination present), numeric columns as floats."""
    frame = run(metric_sql(measures, by, filters))
    for name in measures:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def date_bounds(run: Runner) -> tuple[date, date] | None:
    """The first and last day of ``dim_date`` (the days the warehouse covers); None when it is empty."""
    frame = run("SELECT MIN(full_date) AS first_day, MAX(full_date) AS last_day FROM dim_date")
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return pd.Timestamp(frame.iloc[0, 0]).date(), pd.Timestamp(frame.iloc[0, 1]).date()


def geographies(run: Runner) -> list[str]:
    """Every geography a ``dim_customer`` version carries (``unknown`` included), sorted: choosing them all
    is the same as choosing none."""
    return run("SELECT DISTINCT geography FROM dim_customer ORDER BY geography")["geography"].tolist()


def segments(run: Runner) -> list[str]:
    """Every RFM segment present in ``fact_customer_metrics``' latest snapshot, sorted."""
    return run("SELECT DISTINCT rfm_segment FROM fact_customer_metrics WHERE snapshot_date = "
               "(SELECT MAX(snapshot_date) FROM fact_customer_metrics) ORDER BY rfm_segment")["rfm_segment"].tolist()


def trend_grain(filters: Filters) -> str:
    """``date`` for periods up to 92 days, else ``month``."""
    if filters.start and filters.end and (filters.end - filters.start).days <= 92:
        return "date"
    return "month"


def overview(run: Runner, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row of :data:`OVERVIEW` KPIs over the period, :data:`TREND` per :func:`trend_grain` period)."""
    grain = trend_grain(filters)
    return metric_frame(run, OVERVIEW, filters), metric_frame(run, TREND, filters, (grain,))


def _customer_filter(filters: Filters, id_column: str, key_column: str | None) -> list[str]:
    """WHERE conditions for the geography (type-2 version by key, else current) and segment filters."""
    out = []
    if filters.geographies:
        geos = ", ".join(literal(g) for g in filters.geographies)
        if key_column:
            out.append(f"{key_column} IN (SELECT customer_key FROM dim_customer WHERE geography IN ({geos}))")
        else:
            out.append(f"{id_column} IN (SELECT customer_id FROM dim_customer WHERE is_current AND geography IN "
                       f"({geos}))")
    if filters.segments:
        bound = f" WHERE snapshot_date <= {literal(filters.end)}" if filters.end else ""
        segs = ", ".join(literal(s) for s in filters.segments)
        out.append(f"{id_column} IN (SELECT customer_id FROM fact_customer_metrics WHERE snapshot_date = "
                   f"(SELECT MAX(snapshot_date) FROM fact_customer_metrics{bound}) AND rfm_segment IN ({segs}))")
    return out


def _snapshot_day(filters: Filters) -> str:
    """The snapshot of the period's last day that has one (as the metrics layer's snapshot measures read): a month
    end or the batch's as-of day, ``fact_customer_metrics`` being a monthly snapshot; NULL (no rows) for a period
    that holds neither."""
    where = []
    if filters.start:
        where.append(f"snapshot_date >= {literal(filters.start)}")
    if filters.end:
        where.append(f"snapshot_date <= {literal(filters.end)}")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return f"(SELECT MAX(snapshot_date) FROM fact_customer_metrics{clause})"


def churn(run: Runner, filters: Filters) -> dict[str, pd.DataFrame]:
    """Churn pages' frames: ``geography_age`` (geography x age band), ``trend`` (per month: the snapshot of its
    last month end, or of the as-of day in the current month) and ``support``
    (issue type x severity: customers of the snapshot with a ticket of that kind opened in the period, and how
    many of them churned)."""
    measures = ("customers", "churned_customers", "churn_rate")
    conditions = [f"m.snapshot_date = {_snapshot_day(filters)}"]
    conditions += _customer_filter(filters, "m.customer_id", "m.customer_key")
    opened = []
    if filters.start:
        opened.append(f"t.opened_ts >= {literal(filters.start)}")
    if filters.end:
        opened.append(f"CAST(t.opened_ts AS DATE) <= {literal(filters.end)}")
    support = run(
        "SELECT i.issue_type, i.severity, COUNT(DISTINCT m.customer_id) AS customers, "
        "COUNT(DISTINCT CASE WHEN m.is_churned THEN m.customer_id END) AS churned_customers "
        "FROM fact_support_ticket t JOIN dim_support_issue i ON t.issue_key = i.issue_key "
        "JOIN fact_customer_metrics m ON m.customer_id = t.customer_id "
        f"WHERE {' AND '.join(conditions + opened)} GROUP BY i.issue_type, i.severity, i.severity_rank "
        "ORDER BY i.issue_type, i.severity_rank")
    support["churn_rate"] = support["churned_customers"] / support["customers"].where(support["customers"] > 0)
    return {"geography_age": metric_frame(run, measures, filters, ("geography", "age_band")),
            "trend": metric_frame(run, measures, filters, ("month",)),  # the customer snapshot is monthly
            "support": support}


#: customers the Value page draws at most (a sample chosen by a hash of the id beyond it)
VALUE_SAMPLE = 3000


def value(run: Runner, filters: Filters, sample: int = VALUE_SAMPLE) -> dict[str, pd.DataFrame]:
    """Value page: ``segments`` (RFM segment: customers, total and average CLV), ``customers`` (one row per
    customer of the snapshot, at most ``sample`` chosen by a hash of the id: clv_to_date, recency_days, monetary,
    rfm_segment) for the distribution and the recency-monetary scatter."""
    conditions = [f"snapshot_date = {_snapshot_day(filters)}",
                  *_customer_filter(filters, "customer_id", "customer_key")]
    customers = run(f"SELECT customer_id, clv_to_date, recency_days, monetary, rfm_segment FROM fact_customer_metrics "
                    f"WHERE {' AND '.join(conditions)} ORDER BY MD5(customer_id) LIMIT {int(sample)}")
    for column in ("clv_to_date", "recency_days", "monetary"):
        customers[column] = pd.to_numeric(customers[column], errors="coerce").astype("float64")
    return {"segments": metric_frame(run, ("customers", "total_clv", "average_clv"), filters, ("rfm_segment",)),
            "customers": customers}


def engagement(run: Runner, filters: Filters) -> dict[str, pd.DataFrame]:
    """Engagement page: ``funnel`` (one row: distinct customers per step over the period), ``activeness``
    (month x activeness segment: customers), ``watched`` (category: watch hours) and ``taste`` (the two
    most-watched categories of a customer's month: customer-months)."""
    months = []
    if filters.start:
        months.append(f"year_month >= '{filters.start:%Y-%m}'")
    if filters.end:
        months.append(f"year_month <= '{filters.end:%Y-%m}'")
    where = " AND ".join(months + _customer_filter(filters, "customer_id", None)) or "TRUE"
    # one pass over the view (it recomputes on every read): customer-months by month, segment and taste
    months = run(f"SELECT year_month, activeness_segment, taste, COUNT(*) AS customers FROM mart_customer_activeness "
                 f"WHERE {where} GROUP BY year_month, activeness_segment, taste")
    months["customers"] = pd.to_numeric(months["customers"])
    activeness = (months.groupby(["year_month", "activeness_segment"], as_index=False)["customers"].sum()
                  .sort_values(["year_month", "activeness_segment"], ignore_index=True))
    taste = (months.dropna(subset=["taste"]).groupby("taste", as_index=False)["customers"].sum()
             .rename(columns={"customers": "customer_months"})
             .sort_values(["customer_months", "taste"], ascending=[False, True], ignore_index=True).head(15))
    watched = metric_frame(run, ("watch_hours",), filters, ("category",)).sort_values("watch_hours", ascending=False)
    return {"funnel": metric_frame(run, FUNNEL, filters), "activeness": activeness, "watched": watched,
            "taste": taste}


def products(run: Runner, filters: Filters, top: int = 15) -> dict[str, pd.DataFrame]:
    """Products page: ``bestsellers`` (top products by revenue in the period: units, product revenue),
    ``trend`` (per day: revenue, orders, and their trailing 7-day means), ``affinity`` (the top pairs of
    ``mart_product_affinity`` by lift: all orders, unfiltered)."""
    best = metric_frame(run, ("units_sold", "product_revenue"), filters, ("product", "category"))
    best = best.sort_values(["product_revenue", "units_sold", "product"], ascending=[False, False, True]).head(top)
    if len(best):
        ids = ", ".join(literal(p) for p in best["product"])
        names = run(f"SELECT product_id, MAX(product_name) AS product_name FROM dim_product WHERE product_id IN "
                    f"({ids}) GROUP BY product_id")
        best = best.merge(names, left_on="product", right_on="product_id", how="left").drop(columns="product_id")
        best["product"] = best["product_name"].fillna(best["product"])
    trend = metric_frame(run, ("revenue", "orders"), filters, ("date",))
    trend = _every_day(run, trend, filters)
    trend["revenue_7d_avg"] = trend["revenue"].rolling(7, min_periods=1).mean()  # 7 calendar days: one row each
    # one row per unordered pair (lift and the pair's orders are symmetric; the confidence shown is A -> B)
    affinity = run("SELECT COALESCE(antecedent_name, antecedent_product_id) AS product_a, "
                   "COALESCE(consequent_name, consequent_product_id) AS product_b, pair_orders, confidence, lift "
                   "FROM mart_product_affinity WHERE antecedent_product_id < consequent_product_id "
                   f"ORDER BY lift DESC, pair_orders DESC, product_a, product_b LIMIT {int(top)}")
    return {"bestsellers": best, "trend": trend, "affinity": affinity}


def _every_day(run: Runner, frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """``frame`` (one row per ``date`` with data) on every calendar day of the period, days without data as 0."""
    bounds = date_bounds(run)
    if bounds is None:
        return frame
    first, last = filters.start or bounds[0], filters.end or bounds[1]
    days = pd.DataFrame({"date": pd.date_range(first, last, freq="D").date})
    frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.date) if len(frame) else frame
    out = days.merge(frame, on="date", how="left")
    numeric = [c for c in out.columns if c != "date"]
    out[numeric] = out[numeric].fillna(0.0)
    return out


def offers_support(run: Runner, filters: Filters) -> dict[str, pd.DataFrame]:
    """Offers and support page: ``offers`` (offer type: offers, accepted, acceptance rate) and ``support``
    (issue type x severity: tickets, average resolution hours, average satisfaction)."""
    return {"offers": metric_frame(run, ("offers", "accepted_offers", "acceptance_rate"), filters, ("offer_type",)),
            "support": metric_frame(run, ("tickets", "avg_resolution_hours", "avg_satisfaction"), filters,
                                    ("issue_type", "severity"))}


def models(run: Runner, filters: Filters, top: int = 25) -> dict[str, pd.DataFrame]:
    """Models page, from the latest scoring run (``fact_customer_scores``; the date range does not apply):
    ``summary`` (one row: scored customers, mean churn probability and predicted CLV, high-risk customers),
    ``at_risk`` (the ``top`` customers by churn probability with their three reasons), ``deciles`` (purchase
    propensity decile 1 = highest: customers, mean probability, mean predicted CLV)."""
    run_day = "(SELECT MAX(cutoff_date) FROM fact_customer_scores)"
    where = " AND ".join([f"s.cutoff_date = {run_day}", *_customer_filter(filters, "s.customer_id", None)])
    summary = metric_frame(run, ("scored_customers", "average_churn_probability", "average_predicted_clv",
                                 "high_risk_customers"), filters)
    at_risk = run("SELECT s.customer_id, c.geography, s.churn_probability, s.risk_band, s.predicted_clv, s.reason_1, "
                  "s.reason_2, s.reason_3 FROM fact_customer_scores s LEFT JOIN dim_customer c ON c.customer_id = "
                  f"s.customer_id AND c.is_current WHERE {where} AND s.churn_probability IS NOT NULL "
                  f"ORDER BY s.churn_probability DESC, s.customer_id LIMIT {int(top)}")
    deciles = run("SELECT decile, COUNT(*) AS customers, AVG(purchase_probability) AS mean_probability, "
                  "AVG(CAST(predicted_clv AS DOUBLE PRECISION)) AS mean_predicted_clv FROM (SELECT "
                  "s.purchase_probability, s.predicted_clv, NTILE(10) OVER (ORDER BY s.purchase_probability DESC, "
                  f"s.customer_id) AS decile FROM fact_customer_scores s WHERE {where}) x GROUP BY decile "
                  "ORDER BY decile")
    return {"summary": summary, "at_risk": at_risk, "deciles": deciles}
