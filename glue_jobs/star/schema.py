"""Column order and types of every star table, as Spark writes them (the Redshift DDL in
``glue_jobs/sql/ddl/`` declares the same columns; a unit test keeps the two in step).

Redshift ``COPY … FORMAT AS PARQUET`` maps Parquet columns by position, so the order here is the DDL's.
Timestamps are written without time zone (``timestamp_ntz``): Redshift ``TIMESTAMP`` and DuckDB
``TIMESTAMP`` read them as the UTC wall-clock times they are.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KEY, INT, TEXT, DOUBLE, MONEY, BOOL, DATE, TS = ("bigint", "int", "string", "double", "decimal(18,2)", "boolean",
                                                 "date", "timestamp_ntz")
#: an amount in its own currency (curated precision) and an exchange rate; MONEY is cents (reporting currency)
AMOUNT, RATE = "decimal(18,4)", "decimal(18,8)"

STAR_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "dim_date": (("date_key", INT), ("full_date", DATE), ("year", INT), ("quarter", INT), ("month", INT),
                 ("month_name", TEXT), ("year_month", TEXT), ("day_of_month", INT), ("day_of_week", INT),
                 ("day_name", TEXT), ("week_of_year", INT), ("is_weekend", BOOL)),
    "dim_geography": (("geography_key", KEY), ("geography", TEXT), ("city", TEXT)),
    "dim_customer": (("customer_key", KEY), ("customer_id", TEXT), ("version", INT), ("is_registered", BOOL),
                     ("name", TEXT), ("email", TEXT), ("age", INT), ("age_band", TEXT), ("gender", TEXT),
                     ("geography", TEXT), ("city", TEXT), ("geography_key", KEY), ("signup_date", DATE),
                     ("first_seen_date", DATE), ("dw_start_date", TS), ("dw_end_date", TS), ("is_current", BOOL)),
    "dim_product": (("product_key", KEY), ("product_id", TEXT), ("product_name", TEXT), ("category", TEXT),
                    ("list_price", MONEY), ("first_seen_date", DATE)),
    "dim_offer": (("offer_key", KEY), ("offer_id", TEXT), ("offer_type", TEXT), ("channel", TEXT),
                  ("first_sent_date", DATE)),
    "dim_support_issue": (("issue_key", KEY), ("issue_type", TEXT), ("severity", TEXT), ("severity_rank", INT)),
    "dim_channel": (("channel_key", KEY), ("channel", TEXT)),
    "dim_currency_rate": (("currency", TEXT), ("rate_date", DATE), ("date_key", INT), ("rate", RATE),
                          ("reporting_currency", TEXT)),
    "fact_order": (("order_id", TEXT), ("event_id", TEXT), ("duplicate_events", INT), ("customer_key", KEY),
                   ("customer_id", TEXT), ("date_key", INT), ("channel_key", KEY), ("order_ts", TS),
                   ("currency", TEXT), ("value_source", TEXT), ("order_value", AMOUNT), ("discount", AMOUNT),
                   ("shipping", AMOUNT), ("tax", AMOUNT), ("line_count", INT), ("units", INT), ("is_updated", BOOL),
                   ("is_cancelled", BOOL), ("cancelled_ts", TS), ("refund_count", INT), ("refunded_amount", AMOUNT),
                   ("refund_capped", BOOL), ("rate", RATE), ("is_converted", BOOL), ("order_value_rc", MONEY),
                   ("refunded_amount_rc", MONEY), ("net_revenue_rc", MONEY)),
    "fact_refund": (("event_id", TEXT), ("order_id", TEXT), ("customer_key", KEY), ("customer_id", TEXT),
                    ("date_key", INT), ("refund_ts", TS), ("currency", TEXT), ("requested_amount", AMOUNT),
                    ("is_full_refund", BOOL), ("order_currency", TEXT), ("refund_amount", AMOUNT),
                    ("refund_amount_rc", MONEY), ("is_capped", BOOL), ("status", TEXT)),
    "fact_order_line": (("event_id", TEXT), ("line_number", INT), ("order_id", TEXT), ("customer_key", KEY),
                        ("customer_id", TEXT), ("product_key", KEY), ("category", TEXT), ("date_key", INT),
                        ("channel_key", KEY), ("order_ts", TS), ("quantity", INT), ("unit_price", AMOUNT),
                        ("currency", TEXT), ("line_amount", AMOUNT), ("line_amount_rc", MONEY),
                        ("is_cancelled", BOOL)),
    "fact_customer_activity": (("event_id", TEXT), ("customer_key", KEY), ("customer_id", TEXT), ("date_key", INT),
                               ("channel_key", KEY), ("product_key", KEY), ("session_id", TEXT), ("event_ts", TS),
                               ("event_type", TEXT), ("event_name", TEXT), ("page_name", TEXT),
                               ("is_interactive", BOOL)),
    "fact_session": (("session_id", TEXT), ("customer_key", KEY), ("customer_id", TEXT), ("date_key", INT),
                     ("channel_key", KEY), ("session_start", TS), ("session_end", TS), ("duration_seconds", KEY),
                     ("event_count", INT), ("page_views", INT), ("product_views", INT), ("cart_adds", INT),
                     ("orders", INT)),
    "fact_support_ticket": (("ticket_id", TEXT), ("customer_key", KEY), ("customer_id", TEXT), ("issue_key", KEY),
                            ("channel_key", KEY), ("opened_date_key", INT), ("opened_ts", TS), ("resolved_ts", TS),
                            ("resolution_hours", DOUBLE), ("satisfaction", INT), ("is_resolved", BOOL)),
    "fact_offer_response": (("offer_id", TEXT), ("customer_id", TEXT), ("offer_key", KEY), ("customer_key", KEY),
                            ("channel_key", KEY), ("sent_date_key", INT), ("sent_ts", TS), ("responded_ts", TS),
                            ("responded", BOOL), ("accepted", BOOL)),
    "fact_customer_metrics": (("customer_id", TEXT), ("snapshot_date", DATE), ("date_key", INT),
                              ("customer_key", KEY), ("is_churned", BOOL), ("churn_date", DATE),
                              ("tenure_days", INT), ("orders_to_date", INT), ("revenue_to_date", MONEY),
                              ("refunds_to_date", MONEY), ("clv_to_date", MONEY), ("recency_days", INT),
                              ("frequency", INT), ("monetary", MONEY), ("r_score", INT), ("f_score", INT),
                              ("m_score", INT), ("rfm_segment", TEXT), ("tickets_to_date", INT),
                              ("avg_resolution_hours", DOUBLE), ("products_held", INT), ("balance", MONEY)),
    "fact_content_watch": (("event_id", TEXT), ("customer_key", KEY), ("customer_id", TEXT), ("date_key", INT),
                           ("channel_key", KEY), ("content_id", TEXT), ("category", TEXT), ("app", TEXT),
                           ("watch_seconds", DOUBLE)),
    "fact_daily_kpis": (("date_key", INT), ("full_date", DATE), ("dau", INT), ("new_customers", INT),
                        ("sessions", INT), ("orders", INT), ("purchasers", INT), ("units_sold", INT),
                        ("revenue", MONEY), ("refunds", MONEY), ("aov", MONEY), ("conversion_rate", DOUBLE),
                        ("unconverted_orders", INT)),
    "mart_parameters": (("name", TEXT), ("value", DOUBLE)),
}


def conform(frame: DataFrame, table: str) -> DataFrame:
    """``frame`` with exactly the table's columns, in order, cast to the warehouse types.

    Raises ``ValueError`` naming the missing columns when ``frame`` lacks any of them (extra columns are
    dropped); ``KeyError`` when ``table`` is not in :data:`STAR_TABLES`.
    """
    missing = [name for name, _ in STAR_TABLES[table] if name not in frame.columns]
    if missing:
        raise ValueError(f"{table} is missing columns {missing}")
    return frame.select(*[F.col(name).cast(kind).alias(name) for name, kind in STAR_TABLES[table]])
