"""The dashboard's pages: each draws the frames of :mod:`dashboards.queries` under the sidebar's filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import queries
from dashboards.app.ui import chart, kpi_row, page, run, settings, table_exists
from dashboards.formatting import MISSING, format_value
from lakehouse.core.metrics.catalog import measure
from lakehouse.core.metrics.sql import Filters


def _currency() -> str:
    return settings().money.reporting_currency


#: axis and legend names of the frames' non-measure columns
COLUMN_LABELS = {"date": "day", "month": "month", "year_month": "month", "age_band": "age band",
                 "geography": "geography", "issue_type": "issue type", "severity": "severity",
                 "offer_type": "offer type", "rfm_segment": "RFM segment", "activeness_segment": "activeness segment",
                 "customer_months": "customer-months", "category": "category", "product": "product",
                 "revenue_7d_avg": "7-day mean", "mean_probability": "mean purchase probability",
                 "mean_predicted_clv": "mean predicted CLV", "decile": "decile", "taste": "taste",
                 "variable": "", "value": ""}
#: one order and one colour per severity on every page (dim_support_issue.severity_rank order)
SEVERITY = {"low": "#9ecae1", "medium": "#4292c6", "high": "#f16913", "critical": "#a50f15"}
SEVERITY_ORDER = {"severity": list(SEVERITY)}


def _labels(*names: str) -> dict[str, str]:
    """Axis names: every measure by its label, the frames' other columns by :data:`COLUMN_LABELS`."""
    return {**COLUMN_LABELS, **{n: measure(n).label for n in names}}


def _months(figure, grain: str):
    """Months (``YYYY-MM``) as categories on the x axis, not as dates a day before each month."""
    return figure.update_xaxes(type="category") if grain == "month" else figure


def _percent_axis(figure, axis: str = "y"):
    """Show a ratio axis as percentages (the cards show them so)."""
    (figure.update_yaxes if axis == "y" else figure.update_xaxes)(tickformat=".0%")
    return figure


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
                figure = px.line(trend, x=grain, y=name, markers=True, labels=_labels(name),
                                 title=f"{measure(name).label} by {COLUMN_LABELS[grain]}")
                chart(_months(_percent_axis(figure) if measure(name).format.value == "percent" else figure, grain))


def churn(filters: Filters) -> None:
    """Churn by geography and age band, by support issue type and severity, and over time."""
    with page("Churn", "Churn = an Account Closed event (explicit, final), in the fact_customer_metrics snapshot of "
              "the period's last day; registered customers."):
        frames = queries.churn(run, filters)
        geo = frames["geography_age"]
        kpis = queries.metric_frame(run, ("customers", "churned_customers", "churn_rate"), filters)
        kpi_row(kpis.iloc[0].to_dict() if len(kpis) else {}, ("customers", "churned_customers", "churn_rate"),
                _currency(), per_row=3)
        rates = geo.pivot(index="geography", columns="age_band", values="churn_rate")
        sizes = geo.pivot(index="geography", columns="age_band", values="customers").reindex_like(rates)
        cells = [[f"{r:.1%}<br>n={n:,.0f}" if pd.notna(r) else "" for r, n in zip(rr, nn, strict=True)]
                 for rr, nn in zip(rates.to_numpy(), sizes.to_numpy(), strict=True)]
        heat = go.Figure(go.Heatmap(z=rates.to_numpy(), x=list(rates.columns), y=list(rates.index), text=cells,
                                    texttemplate="%{text}", colorscale="Reds", hoverongaps=False,
                                    colorbar={"title": {"text": "churn rate"}, "tickformat": ".0%"}))
        heat.update_layout(title="Churn rate by geography and age band (n = customers in the cell)",
                           xaxis_title="age band", yaxis_title="geography")
        chart(heat)
        support = frames["support"]
        chart(_percent_axis(px.bar(support, x="issue_type", y="churn_rate", color="severity", barmode="group",
                                   category_orders=SEVERITY_ORDER, color_discrete_map=SEVERITY,
                                   hover_data=["customers", "churned_customers"], labels=_labels("churn_rate"),
                                   title="Churn rate of customers with a ticket, by issue type and severity")))
        trend = frames["trend"]
        grain = "month"  # fact_customer_metrics is a monthly snapshot (month ends + the as-of day)
        chart(_months(_percent_axis(px.line(trend, x=grain, y="churn_rate", markers=True, labels=_labels("churn_rate"),
                                            title="Churn rate by month (month-end snapshot; this month: as of "
                                                  "the last batch day)")),
                      grain))


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
            sampled = " (a sample)" if len(customers) >= queries.VALUE_SAMPLE else ""
            histogram = px.histogram(customers, x="clv_to_date", nbins=40,
                                     title=f"CLV distribution of customers{sampled}",
                                     labels={"clv_to_date": f"CLV to date ({_currency()})"})
            chart(histogram.update_yaxes(title="customers"))
        with right:
            segments = frames["segments"].sort_values("customers", ascending=False)
            chart(px.bar(segments, x="rfm_segment", y="customers", hover_data=["average_clv", "total_clv"],
                         title="RFM segments: customers", labels=_labels("customers", "average_clv", "total_clv")))
        chart(px.scatter(customers.dropna(subset=["recency_days"]), x="recency_days", y="monetary",
                         color="rfm_segment", opacity=0.6, title="Recency vs monetary (customers with an order)",
                         labels={**_labels(), "recency_days": "recency (days)",
                                 "monetary": f"monetary ({_currency()})"}))
        currency = _currency()
        table = frames["segments"].sort_values("total_clv", ascending=False)
        st.dataframe(pd.DataFrame({
            "RFM segment": table.rfm_segment,
            "Customers": [format_value(v, measure("customers").format) for v in table.customers],
            f"Total CLV ({currency})": [format_value(v, measure("total_clv").format, None) for v in table.total_clv],
            f"Average CLV ({currency})": [format_value(v, measure("average_clv").format, None)
                                          for v in table.average_clv]}), hide_index=True)


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
            chart(_months(px.bar(frames["activeness"], x="year_month", y="customers", color="activeness_segment",
                                 title="Activeness segments by month", labels=_labels(),
                                 category_orders={"activeness_segment": ["At Risk", "Need Attention", "Valuable",
                                                                         "Loyal"]}), "month"))
        left, right = st.columns(2)
        with left:
            chart(px.bar(frames["watched"], x="category", y="watch_hours", title="Most watched categories",
                         labels=_labels("watch_hours")))
        with right:
            taste = px.bar(frames["taste"], x="customer_months", y="taste", orientation="h", labels=_labels(),
                           title="Taste: a month's two most-watched categories")
            chart(taste.update_yaxes(categoryorder="total ascending"))


def products(filters: Filters) -> None:
    """Bestsellers, the revenue trend and the products bought together."""
    with page("Products"):
        frames = queries.products(run, filters)
        best = px.bar(frames["bestsellers"], x="product_revenue", y="product", color="category", orientation="h",
                      hover_data=["units_sold"], title=f"Bestsellers by product revenue ({_currency()})",
                      labels=_labels("product_revenue", "units_sold"))
        chart(best.update_yaxes(categoryorder="total ascending"))
        trend = frames["trend"]
        lines = trend.rename(columns={"revenue": "revenue", "revenue_7d_avg": "7-day mean"})
        chart(px.line(lines, x="date", y=["revenue", "7-day mean"], markers=True, labels=_labels("revenue"),
                      title=f"Revenue by day and its 7-day mean ({_currency()})"))
        st.subheader("Bought together (all orders; the filters do not apply)")
        affinity = frames["affinity"]
        if affinity.empty:
            st.info("No pair of products was bought together often enough to pass the affinity thresholds "
                    "(LAKEHOUSE_BATCH__AFFINITY_MIN_PAIR_ORDERS, …_MIN_SUPPORT, …_MIN_CONFIDENCE).")
        else:
            st.dataframe(affinity.rename(columns={"product_a": "product A", "product_b": "product B",
                                                  "pair_orders": "orders with both",
                                                  "confidence": "confidence A → B"}), hide_index=True)


def offers_support(filters: Filters) -> None:
    """Acceptance by offer type and resolution time by issue."""
    with page("Offers and support"):
        frames = queries.offers_support(run, filters)
        totals = queries.metric_frame(run, ("acceptance_rate", "tickets", "avg_resolution_hours"), filters)
        kpi_row(totals.iloc[0].to_dict() if len(totals) else {}, ("acceptance_rate", "tickets",
                                                                   "avg_resolution_hours"), _currency(), per_row=3)
        left, right = st.columns(2)
        with left:
            chart(_percent_axis(px.bar(frames["offers"], x="offer_type", y="acceptance_rate",
                                       hover_data=["offers", "accepted_offers"], title="Acceptance rate by offer type",
                                       labels=_labels("acceptance_rate", "offers", "accepted_offers"))))
        with right:
            chart(px.bar(frames["support"], x="issue_type", y="avg_resolution_hours", color="severity",
                         barmode="group", category_orders=SEVERITY_ORDER, color_discrete_map=SEVERITY,
                         labels=_labels("avg_resolution_hours", "tickets"),
                         title="Resolution time by issue type and severity"))


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
              "filters apply, the date range does not. The models' churn is the ML definition (docs/ml.md): no "
              "order, or an account closed, in the churn window after the run's cutoff; among customers who "
              "have ordered. The Churn page counts account closures only, so its rate is far lower."):
        no_scores = "No scores yet: run `lakehouse ml score` (or `make demo`) to score the customers."
        if not table_exists("fact_customer_scores"):
            st.info(no_scores)
            return
        frames = queries.models(run, filters)
        summary = frames["summary"]
        names = ("scored_customers", "average_churn_probability", "average_predicted_clv", "high_risk_customers")
        kpi_row(summary.iloc[0].to_dict() if len(summary) else {}, names, _currency())
        if summary.empty or not summary.iloc[0]["scored_customers"]:
            any_scores = queries.metric_frame(run, ("scored_customers",), Filters()).iloc[0]["scored_customers"]
            st.info("No scored customer matches the filters." if any_scores else no_scores)
            return
        st.subheader("Customers most at risk of churning")
        at_risk = frames["at_risk"]
        currency = _currency()
        st.dataframe(pd.DataFrame({
            "customer": at_risk.customer_id, "geography": at_risk.geography,
            "churn probability": [format_value(v, measure("average_churn_probability").format)
                                  for v in at_risk.churn_probability],
            "risk band": at_risk.risk_band,
            f"predicted CLV ({currency})": [format_value(float(v), measure("average_predicted_clv").format, None)
                                            for v in at_risk.predicted_clv],
            "why (the three largest pushes towards churn)": [
                "; ".join(str(r).removeprefix("churn: ") for r in reasons if isinstance(r, str) and r)
                for reasons in zip(at_risk.reason_1, at_risk.reason_2, at_risk.reason_3, strict=True)]}),
            hide_index=True)
        chart(_percent_axis(px.bar(frames["deciles"], x="decile", y="mean_probability", labels=_labels(),
                                   hover_data=["customers", "mean_predicted_clv"],
                                   title="Purchase propensity by decile (1 = most likely)")))
        report = _latest_report(settings().home)
        st.subheader("Model vs baselines (latest back-test)")
        if report is None:
            st.info("No back-test report yet: run `lakehouse ml evaluate`.")
        else:
            st.caption(f"{report.get('dataset')} data, cutoff {report.get('cutoff')}, horizon "
                       f"{report.get('horizon_days')} days")
            st.dataframe(_report_table(report).fillna(""), hide_index=True)


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
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ValidationException":
                st.warning(f"Not a customer id the feature table can hold: {exc.response['Error'].get('Message')}")
            else:
                st.warning(f"The feature table cannot be read ({code or type(exc).__name__}: {exc}).")
            return
        except BotoCoreError as exc:
            st.warning(f"The feature table cannot be reached ({type(exc).__name__}: {exc}): start the embedded AWS "
                       "with `lakehouse up` (or point AWS_ENDPOINT_URL and your credentials at the stage's account).")
            return
        if "Item" not in answer:
            st.warning(f"No live features for {customer_id!r}.")
            return
        item = {k: TypeDeserializer().deserialize(v) for k, v in answer["Item"].items()}
        scored = aws_client("dynamodb", region=cfg.region).get_item(  # the ML stage's own table (ml/serving.py)
            TableName=cfg.names.scores_table, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True)
        if "scores" in scored.get("Item", {}):
            item["scores"] = TypeDeserializer().deserialize(scored["Item"]["scores"])
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
