"""The dashboard's pages: each draws the frames of :mod:`dashboards.queries` under the sidebar's filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.app.ui import chart, kpi_row, page, run, settings, table_exists
from dashboards.formatting import MISSING, format_value
from lakehouse.core.metrics.catalog import measure
from lakehouse.core.metrics.sql import Filters


def _currency() -> str:
    return settings().money.reporting_currency


def _labels(*names: str) -> dict[str, str]:
    return {n: measure(n).label for n in names}


def overview(filters: Filters) -> None:
    """The KPIs of the period and their trend."""
    with page("Overview", "Every number is a measure of the metrics layer (lakehouse/core/metrics/catalog.py); "
              "hover a card for its definition."):
        kpis, trend = queries.overview(run, filters)
        kpi_row(kpis.iloc[0].to_dict() if len(kpis) else {}, queries.OVERVIEW, _currency())
        grain = queries.trend_grain(filters)
        left, right = st.columns(2)
        for index, name in enumerate(queries.TREND):
            target = left if index % 2 == 0 else right
            with target:
                chart(px.line(trend, x=grain, y=name, markers=grain == "month", labels=_labels(name),
                              title=f"{measure(name).label} by {grain}"))


def churn(filters: Filters) -> None:
    """Churn by geography and age band, by support issue type and severity, and over time."""
    with page("Churn", "Churn = an Account Closed event (explicit, final), in the fact_customer_metrics snapshot of "
              "the period's last day; registered customers."):
        frames = queries.churn(run, filters)
        geo = frames["geography_age"]
        kpis = queries.metric_frame(run, ("customers", "churned_customers", "churn_rate"), filters)
        kpi_row(kpis.iloc[0].to_dict() if len(kpis) else {}, ("customers", "churned_customers", "churn_rate"),
                _currency(), per_row=3)
        chart(px.density_heatmap(geo, x="age_band", y="geography", z="churn_rate", histfunc="sum",
                                 text_auto=".1%", title="Churn rate by geography and age band",
                                 labels={"churn_rate": "churn rate", "age_band": "age band"}))
        support = frames["support"]
        chart(px.bar(support, x="issue_type", y="churn_rate", color="severity", barmode="group",
                     hover_data=["customers", "churned_customers"],
                     title="Churn rate of customers with a ticket, by issue type and severity"))
        trend = frames["trend"]
        grain = queries.trend_grain(filters)
        chart(px.line(trend, x=grain, y="churn_rate", markers=True, title=f"Churn rate by {grain} (snapshot of each "
                      f"{grain}'s last day)"))


def value(filters: Filters) -> None:
    """CLV distribution, RFM segments (sizes, value) and the recency-monetary scatter."""
    with page("Value", "CLV here is historical net value to date (revenue - refunds); the predicted CLV is on the "
              "Models page."):
        frames = queries.value(run, filters)
        kpis = queries.metric_frame(run, ("customers", "total_clv", "average_clv"), filters)
        kpi_row(kpis.iloc[0].to_dict() if len(kpis) else {}, ("customers", "total_clv", "average_clv"), _currency(),
                per_row=3)
        customers = frames["customers"]
        left, right = st.columns(2)
        with left:
            chart(px.histogram(customers, x="clv_to_date", nbins=40, title="CLV distribution (sample of customers)",
                               labels={"clv_to_date": f"CLV to date ({_currency()})"}))
        with right:
            segments = frames["segments"].sort_values("customers", ascending=False)
            chart(px.bar(segments, x="rfm_segment", y="customers", hover_data=["average_clv", "total_clv"],
                         title="RFM segments: customers", labels={"rfm_segment": "RFM segment"}))
        chart(px.scatter(customers.dropna(subset=["recency_days"]), x="recency_days", y="monetary",
                         color="rfm_segment", opacity=0.6, title="Recency vs monetary (customers with an order)",
                         labels={"recency_days": "recency (days)", "monetary": f"monetary ({_currency()})"}))
        segment_table = frames["segments"].rename(columns=_labels("customers", "total_clv", "average_clv"))
        st.dataframe(segment_table, hide_index=True)


def engagement(filters: Filters) -> None:
    """The conversion funnel, activeness segments and content taste."""
    with page("Engagement", "Funnel steps count distinct customers (anonymous visitors included) over the period, "
              "each step independently."):
        frames = queries.engagement(run, filters)
        funnel = frames["funnel"]
        kpi_row(funnel.iloc[0].to_dict() if len(funnel) else {}, queries.FUNNEL, _currency())
        steps = pd.DataFrame({"step": [measure(n).label for n in queries.FUNNEL],
                              "customers": [float(funnel.iloc[0][n]) if len(funnel) else 0 for n in queries.FUNNEL]})
        left, right = st.columns(2)
        with left:
            chart(px.funnel(steps, x="customers", y="step", title="Conversion funnel"))
        with right:
            chart(px.bar(frames["activeness"], x="year_month", y="customers", color="activeness_segment",
                         title="Activeness segments by month (registered customers with an active day)",
                         labels={"year_month": "month"}))
        left, right = st.columns(2)
        with left:
            chart(px.bar(frames["watched"], x="category", y="watch_hours", title="Most watched categories (hours)"))
        with right:
            chart(px.bar(frames["taste"], x="customer_months", y="taste", orientation="h",
                         title="Taste combinations (two most-watched categories of a customer's month)"))


def products(filters: Filters) -> None:
    """Bestsellers, the revenue trend and the products bought together."""
    with page("Products"):
        frames = queries.products(run, filters)
        chart(px.bar(frames["bestsellers"], x="product_revenue", y="product", color="category", orientation="h",
                     hover_data=["units_sold"], title="Bestsellers by product revenue",
                     labels=_labels("product_revenue")))
        trend = frames["trend"]
        chart(px.line(trend, x="date", y=["revenue", "revenue_7d_avg"], title="Revenue by day and its 7-day mean"))
        st.subheader("Bought together (all orders; the filters do not apply)")
        st.dataframe(frames["affinity"], hide_index=True)


def offers_support(filters: Filters) -> None:
    """Acceptance by offer type and resolution time by issue."""
    with page("Offers and support"):
        frames = queries.offers_support(run, filters)
        totals = queries.metric_frame(run, ("acceptance_rate", "tickets", "avg_resolution_hours"), filters)
        kpi_row(totals.iloc[0].to_dict() if len(totals) else {}, ("acceptance_rate", "tickets",
                                                                   "avg_resolution_hours"), _currency(), per_row=3)
        left, right = st.columns(2)
        with left:
            chart(px.bar(frames["offers"], x="offer_type", y="acceptance_rate", hover_data=["offers",
                                                                                          "accepted_offers"],
                         title="Acceptance rate by offer type"))
        with right:
            chart(px.bar(frames["support"], x="issue_type", y="avg_resolution_hours", color="severity",
                         barmode="group", title="Resolution time by issue type and severity (hours)"))


def _latest_report(home: Path) -> dict[str, Any] | None:
    """The newest evaluation report under ``<home>/reports/ml`` (``lakehouse ml evaluate``, the demo)."""
    reports = sorted((home / "reports" / "ml").glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text()) if reports else None


def _report_table(report: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for task, entry in report.get("tasks", {}).items():
        for model, metrics in entry.get("models", {}).items():
            rows.append({"task": task, "model": model, **{k: v for k, v in metrics.items() if v is not None}})
    return pd.DataFrame(rows)


def models(filters: Filters) -> None:
    """At-risk customers with their reasons, propensity deciles and the model-vs-baseline metrics."""
    with page("Models", "Scores of the latest scoring run (fact_customer_scores): the geography and segment "
              "filters apply, the date range does not."):
        if not table_exists("fact_customer_scores"):
            st.info("No scores yet: run `lakehouse ml score` (or `make demo`) to score the customers.")
            return
        frames = queries.models(run, filters)
        summary = frames["summary"]
        names = ("scored_customers", "average_churn_probability", "average_predicted_clv", "high_risk_customers")
        kpi_row(summary.iloc[0].to_dict() if len(summary) else {}, names, _currency())
        if summary.empty or not summary.iloc[0]["scored_customers"]:
            st.info("No scores yet: run `lakehouse ml score` (or `make demo`) to score the customers.")
            return
        st.subheader("Customers most at risk of churning")
        st.dataframe(frames["at_risk"], hide_index=True)
        chart(px.bar(frames["deciles"], x="decile", y="mean_probability", hover_data=["customers",
                                                                                      "mean_predicted_clv"],
                     title="Purchase propensity by decile (1 = most likely)"))
        report = _latest_report(settings().home)
        st.subheader("Model vs baselines (latest back-test)")
        if report is None:
            st.info("No back-test report yet: run `lakehouse ml evaluate`.")
        else:
            st.caption(f"{report.get('dataset')} data, cutoff {report.get('cutoff')}, horizon "
                       f"{report.get('horizon_days')} days")
            st.dataframe(_report_table(report), hide_index=True)


def realtime(filters: Filters) -> None:
    """A customer's live features, read from the DynamoDB feature table."""
    with page("Real time", "A customer's item in the DynamoDB feature table, as the streaming job last wrote it."):
        customer_id = st.text_input("Customer id (user id or anonymous id)", key="customer_id")
        if not customer_id:
            st.info("Enter a customer id, e.g. one from the Models page.")
            return
        from boto3.dynamodb.types import TypeDeserializer
        from botocore.exceptions import BotoCoreError, ClientError

        from lakehouse.core.aws.clients import aws_client

        cfg = settings()
        try:
            answer = aws_client("dynamodb", region=cfg.region).get_item(
                TableName=cfg.names.features_table, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            st.warning(f"The feature table cannot be read ({type(exc).__name__}: {exc}); is the embedded AWS "
                       "running (`lakehouse aws start`)?")
            return
        if "Item" not in answer:
            st.warning(f"No live features for {customer_id!r}.")
            return
        item = {k: TypeDeserializer().deserialize(v) for k, v in answer["Item"].items()}
        features = item.get("features") or {}
        st.caption(f"updated {item.get('updated_at', '-')}, features as of {features.get('as_of', '-')}")
        shown = {k: features.get(k) for k in ("orders", "revenue", "refunds", "avg_order_value", "recency_days",
                                              "frequency", "monetary", "segment", "orders_90d", "views_7d")}
        currency = _currency()
        cards = st.columns(4)
        for index, (name, raw) in enumerate(shown.items()):
            text = MISSING if raw is None else (format_value(float(raw), measure("revenue").format, currency)
                                            if name in ("revenue", "refunds", "avg_order_value", "monetary")
                                            else str(raw))
            cards[index % 4].metric(name.replace("_", " "), text)
        scores = item.get("scores") or {}
        if scores:
            st.subheader(f"Scores (scoring run with cutoff {scores.get('cutoff', '-')})")
            cards = st.columns(4)
            for column, (name, fmt) in zip(cards, (("churn_probability", measure("churn_rate").format),
                                                   ("purchase_probability", measure("churn_rate").format),
                                                   ("predicted_clv", measure("revenue").format),
                                                   ("risk_band", None)), strict=True):
                raw = scores.get(name)
                text = MISSING if raw is None else (str(raw) if fmt is None else format_value(float(raw), fmt,
                                                                                                 currency))
                column.metric(name.replace("_", " "), text)
            for reason in scores.get("reasons") or []:
                st.markdown(f"- {reason}")
        with st.expander("The stored item"):
            st.json(json.loads(json.dumps(item, default=str)))


PAGES = (("Overview", overview), ("Churn", churn), ("Value", value), ("Engagement", engagement),
         ("Products", products), ("Offers and support", offers_support), ("Models", models),
         ("Real time", realtime))
