"""Every KPI and measure the dashboards show, defined once (the rules are those of ``docs/measures.md``).

The local dashboard, the QuickSight analysis and the Power BI model are generated from :data:`MEASURES`;
``tests/lakehouse/core/metrics`` checks each against the marts Spark computes independently.

Two definitions the marts leave per day and a dashboard needs over a period:

* **DAU** over a period is the mean daily active customers: *active customer-days* (distinct customer x UTC
  day pairs with an interactive event) divided by the calendar days of the period (quiet days count as 0).
  On one day it is ``fact_daily_kpis.dau``; over a period, the mean of that column.
* **Conversion rate** over a period is purchasing customer-days / active customer-days: on one day
  ``fact_daily_kpis.conversion_rate``, over a period the day rates weighted by each day's active customers.
* **New customers** are registered customers whose first-seen date (their earliest event or identify call,
  after stitching anonymous history to them) falls in the period.
"""

from __future__ import annotations

from lakehouse.core.metrics.model import Aggregation, Dimension, Format, Measure, Source

A = Aggregation
F = Format

ORDERS = Source("fact_order", "date_key")
ORDER_LINES = Source("fact_order_line", "date_key", joins=(("dim_product", "p", "f.product_key = p.product_key"),))
REFUNDS = Source("fact_refund", "date_key")
ACTIVITY = Source("fact_customer_activity", "date_key")
SESSIONS = Source("fact_session", "date_key")
DAYS = Source("dim_date", "date_key", customer_key_column=None, customer_id_column=None)
NEW_CUSTOMERS = Source("dim_customer", "first_seen_date", date_is_key=False)
CUSTOMER_METRICS = Source("fact_customer_metrics", "date_key", snapshot=True)
TICKETS = Source("fact_support_ticket", "opened_date_key",
                 joins=(("dim_support_issue", "i", "f.issue_key = i.issue_key"),))
OFFERS = Source("fact_offer_response", "sent_date_key", joins=(("dim_offer", "o", "f.offer_key = o.offer_key"),))
WATCHES = Source("fact_content_watch", "date_key")
SCORES = Source("fact_customer_scores", "cutoff_date", date_is_key=False, customer_key_column=None, snapshot=True,
                dated=False)

COUNTS = ("is_cancelled", False)
CHECKOUT_EVENTS = ("Checkout Started", "Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered")

MEASURES: tuple[Measure, ...] = (
    # --- sales (fact_order: orders that count = not cancelled; money in the reporting currency) ---
    Measure("orders", "Orders", "Orders that count (not cancelled), by order date.", A.COUNT, F.INTEGER, "orders",
            ORDERS, where=(COUNTS,), tags=("overview",)),
    Measure("revenue", "Revenue", "Gross order value of the orders that count, in the reporting currency; refunds "
            "are not subtracted, unconverted orders are left out.", A.SUM, F.MONEY, "currency", ORDERS,
            "order_value_rc", where=(COUNTS,), tags=("overview",)),
    Measure("converted_orders", "Converted orders", "Orders that count whose value has a rate for its day.",
            A.COUNT, F.INTEGER, "orders", ORDERS, where=(COUNTS, ("is_converted", True))),
    Measure("aov", "AOV", "Average order value: revenue / converted orders.", A.RATIO, F.MONEY, "currency",
            numerator="revenue", denominator="converted_orders", tags=("overview",)),
    Measure("purchasers", "Purchasers", "Distinct customers with an order that counts in the period.",
            A.COUNT_DISTINCT, F.INTEGER, "customers", ORDERS, "customer_id", where=(COUNTS,)),
    Measure("purchasing_customer_days", "Purchasing customer-days", "Distinct (customer, UTC day) pairs with an "
            "order that counts.", A.COUNT_DISTINCT, F.INTEGER, "customer-days", ORDERS, ("customer_id", "date_key"),
            where=(COUNTS,)),
    Measure("refunds", "Refunds", "Refunds dated in the period (by refund time), netted against their order and "
            "capped at its value, in the reporting currency.", A.SUM, F.MONEY, "currency", REFUNDS,
            "refund_amount_rc", tags=("overview",)),
    Measure("units_sold", "Units sold", "Quantities of the lines of orders that count.", A.SUM, F.INTEGER, "units",
            ORDER_LINES, "quantity", where=(COUNTS,)),
    Measure("product_revenue", "Product revenue", "Line amounts (unit price x quantity) of orders that count, in "
            "the reporting currency, before order-level discounts.", A.SUM, F.MONEY, "currency", ORDER_LINES,
            "line_amount_rc", where=(COUNTS,)),
    # --- engagement ---
    Measure("active_customer_days", "Active customer-days", "Distinct (customer, UTC day) pairs with an "
            "interactive event.", A.COUNT_DISTINCT, F.INTEGER, "customer-days", ACTIVITY, ("customer_id", "date_key"),
            where=(("is_interactive", True),)),
    Measure("active_customers", "Active customers", "Distinct customers with an interactive event in the period.",
            A.COUNT_DISTINCT, F.INTEGER, "customers", ACTIVITY, "customer_id", where=(("is_interactive", True),)),
    Measure("days", "Days", "Calendar days of the period (dim_date rows).", A.COUNT, F.INTEGER, "days", DAYS),
    Measure("dau", "DAU", "Daily active customers: the mean over the period's days of the distinct customers with "
            "an interactive event that day.", A.RATIO, F.DECIMAL, "customers per day",
            numerator="active_customer_days", denominator="days", tags=("overview",)),
    Measure("conversion_rate", "Conversion rate", "Purchasing customer-days / active customer-days.", A.RATIO,
            F.PERCENT, "ratio", numerator="purchasing_customer_days", denominator="active_customer_days",
            tags=("overview",)),
    Measure("viewers", "Product viewers", "Distinct customers (anonymous visitors included) with a Product Viewed "
            "event in the period: the funnel's first step.", A.COUNT_DISTINCT, F.INTEGER, "customers", ACTIVITY,
            "customer_id", where=(("event_name", "Product Viewed"),), tags=("funnel",)),
    Measure("cart_adders", "Cart adders", "Distinct customers with a Product Added event in the period.",
            A.COUNT_DISTINCT, F.INTEGER, "customers", ACTIVITY, "customer_id", where=(("event_name", "Product Added"),),
            tags=("funnel",)),
    Measure("checkout_starters", "Checkout starters", "Distinct customers with a Checkout Started, Checkout Step "
            "Viewed, Checkout Step Completed or Payment Info Entered event in the period.", A.COUNT_DISTINCT,
            F.INTEGER, "customers", ACTIVITY, "customer_id", where=(("event_name", CHECKOUT_EVENTS),),
            tags=("funnel",)),
    Measure("sessions", "Sessions", "Sessions that started in the period.", A.COUNT, F.INTEGER, "sessions",
            SESSIONS),
    Measure("new_customers", "New customers", "Registered customers whose first-seen date is in the period.",
            A.COUNT_DISTINCT, F.INTEGER, "customers", NEW_CUSTOMERS, "customer_id",
            where=(("is_current", True), ("is_registered", True)), tags=("overview",)),
    Measure("watch_hours", "Watch hours", "Content Watched durations, in hours.", A.SUM, F.HOURS, "hours", WATCHES,
            "watch_seconds", divide_by=3600),
    # --- customers as of the period's last snapshot (fact_customer_metrics: registered customers; a monthly
    # snapshot, so the period's last month end, or the batch's as-of day when the period holds it) ---
    Measure("customers", "Customers", "Registered customers in the snapshot of the period's last day.", A.COUNT,
            F.INTEGER, "customers", CUSTOMER_METRICS, grain="snapshot of the period's last day",
            tags=("overview",)),
    Measure("churned_customers", "Churned customers", "Customers of the snapshot who closed their account on or "
            "before its day (churn is explicit and final).", A.COUNT, F.INTEGER, "customers", CUSTOMER_METRICS,
            where=(("is_churned", True),), grain="snapshot of the period's last day", tags=("overview",)),
    Measure("churn_rate", "Churn rate", "Churned customers / customers, in the snapshot of the period's last day.",
            A.RATIO, F.PERCENT, "ratio", numerator="churned_customers", denominator="customers",
            grain="snapshot of the period's last day", tags=("overview",)),
    Measure("total_clv", "Total CLV", "Historical net value to date (revenue - refunds) of the snapshot's "
            "customers.", A.SUM, F.MONEY, "currency", CUSTOMER_METRICS, "clv_to_date",
            grain="snapshot of the period's last day"),
    Measure("average_clv", "Average CLV", "Mean historical net value to date (revenue - refunds) per customer of "
            "the snapshot.", A.AVERAGE, F.MONEY, "currency", CUSTOMER_METRICS, "clv_to_date",
            grain="snapshot of the period's last day", tags=("overview",)),
    # --- support ---
    Measure("tickets", "Tickets", "Support tickets opened in the period.", A.COUNT, F.INTEGER, "tickets", TICKETS),
    Measure("avg_resolution_hours", "Avg resolution hours", "Mean reported resolution time of the tickets opened in "
            "the period that are resolved.", A.AVERAGE, F.HOURS, "hours", TICKETS, "resolution_hours",
            where=(("is_resolved", True),), tags=("overview",)),
    Measure("avg_satisfaction", "Avg satisfaction", "Mean satisfaction reported with the resolution.", A.AVERAGE,
            F.DECIMAL, "score", TICKETS, "satisfaction", where=(("is_resolved", True),)),
    # --- offers (one offer = one (offer, customer) pair, by its first send day) ---
    Measure("offers", "Offers", "(offer, customer) pairs sent in the period.", A.COUNT, F.INTEGER, "offers",
            OFFERS),
    Measure("accepted_offers", "Accepted offers", "Pairs whose latest response accepted.", A.COUNT, F.INTEGER,
            "offers", OFFERS, where=(("accepted", True),)),
    Measure("acceptance_rate", "Acceptance rate", "Accepted offers / offers.", A.RATIO, F.PERCENT, "ratio",
            numerator="accepted_offers", denominator="offers", tags=("overview",)),
    # --- model scores (the latest scoring run; the date filter does not apply: see Source.dated) ---
    Measure("scored_customers", "Scored customers", "Customers of the latest scoring run.", A.COUNT, F.INTEGER,
            "customers", SCORES, grain="latest scoring run"),
    Measure("average_churn_probability", "Avg churn probability", "Mean predicted probability of churn over the "
            "next churn window, of the customers scored for churn.", A.AVERAGE, F.PERCENT, "probability", SCORES,
            "churn_probability", grain="latest scoring run"),
    Measure("average_predicted_clv", "Avg predicted CLV", "Mean predicted net value over the next horizon.",
            A.AVERAGE, F.MONEY, "currency", SCORES, "predicted_clv", grain="latest scoring run"),
    Measure("high_risk_customers", "High-risk customers", "Customers in the churn model's high risk band.", A.COUNT,
            F.INTEGER, "customers", SCORES, where=(("risk_band", "high"),), grain="latest scoring run"),
)

DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("date", "Date", "d.full_date", "d"),
    Dimension("month", "Month", "d.year_month", "d"),
    Dimension("geography", "Geography", "c.geography", "c"),
    Dimension("age_band", "Age band", "c.age_band", "c"),
    Dimension("rfm_segment", "RFM segment", "f.rfm_segment", "f", ("fact_customer_metrics",)),
    Dimension("issue_type", "Issue type", "i.issue_type", "i", ("fact_support_ticket",)),
    Dimension("severity", "Severity", "i.severity", "i", ("fact_support_ticket",)),
    Dimension("offer_type", "Offer type", "o.offer_type", "o", ("fact_offer_response",)),
    Dimension("category", "Category", "f.category", "f", ("fact_order_line", "fact_content_watch")),
    Dimension("product", "Product", "p.product_id", "p", ("fact_order_line",)),
    Dimension("risk_band", "Risk band", "f.risk_band", "f", ("fact_customer_scores",)),
)

BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
DIMENSION_BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def measure(name: str) -> Measure:
    """The measure called ``name``; raises ``KeyError`` naming the known measures."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no measure {name!r}; known: {', '.join(sorted(BY_NAME))}") from None


def base_measures(name: str) -> list[Measure]:
    """The non-ratio measures ``name`` is computed from (itself when it is not a ratio), in order, unique."""
    m = measure(name)
    if m.aggregation is not Aggregation.RATIO:
        return [m]
    out: list[Measure] = []
    for part in (m.numerator, m.denominator):
        for b in base_measures(part or ""):
            if b not in out:
                out.append(b)
    return out
