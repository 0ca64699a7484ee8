"""Point-in-time customer features and labels from the curated zone (docs/ml.md, "Features" and "Labels").

**Point in time.** The features of a cutoff day ``c`` use only rows dated strictly before 00:00 UTC of ``c``
(each curated row's own event time: ``event_ts``, ``order_ts``, ``refund_ts``, ``session_start``), identity
links said before ``c`` included. An order's cancellation, update or refund after ``c`` does not reach the
features of ``c``. Events that arrived late are attributed to their event time (the lake's view of the past,
as a back-test sees it). ``tests/ml/test_dataset.py`` perturbs every row dated on or after ``c`` and checks the
features do not move.

Sums of money and of other non-integer columns are taken as DECIMAL, so a feature never depends on the order of
the rows in the files (a float sum's last bits do).

**Orders** follow the star's rules (:mod:`lakehouse.core.commerce`, docs/money.md) as of a time ``T``: one order
per ``order_id`` (the first Order Completed by (``order_ts``, ``received_at``, ``event_id``)), the latest Order
Updated that names a value before ``T`` replaces value and currency, an Order Cancelled before ``T`` makes it no
order, refunds before ``T`` net against it, capped at its value (a full refund nets it to 0). Money is converted
into the reporting currency with the rate of the order's day (a refund in another currency: the refund day's
rate of its currency), at most ``money.max_rate_age_days`` old; an order without a rate counts as an order with
no value.

**Customers** are the stitched ids (:mod:`lakehouse.core.identity`, links said before ``T``) that sent an event
with a ``userId`` before ``c`` and had no Account Closed before ``c``: the registered customers at the cutoff.

**Labels** (``H`` = ``horizon_days``, ``N`` = ``churn_days``): ``purchase`` = at least one order (not cancelled
by ``c + H``) placed in [``c``, ``c + H``); ``clv`` = those orders' net revenue (value minus refunds made before
``c + H``), reporting currency; ``churn`` (defined for customers with an order before ``c``) = Account Closed
in [``c``, ``c + N``) or no order placed in it. An order after ``c`` counts for the customer the feature row's
id resolves to at the end of the window (an alias said after the cutoff moves orders to the merged customer);
when two feature rows resolve to one customer, its orders count once, for the surviving id (else the smallest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import numpy as np
import pandas as pd

from lakehouse.core.identity import IdentityGraph, Link
from lakehouse.core.rfm import label

RFM_QUANTILES = (20, 40, 60, 80)
SEVERE = ("high", "critical")
#: categorical model features (pandas ``category``; LightGBM splits on them natively)
CATEGORICAL = ("geography", "gender", "product_type")
#: the columns :func:`build_features` returns that are not model features
NOT_FEATURES = ("rfm_segment",)


@dataclass(frozen=True)
class Windows:
    """The label windows in days: ``horizon_days`` (propensity and CLV), ``churn_days`` (churn), and the RFM
    frequency/monetary look-back ``rfm_window_days`` (``batch.rfm_window_days``, docs/rfm.md)."""

    horizon_days: int = 90
    churn_days: int = 90
    rfm_window_days: int = 365

    @property
    def label_days(self) -> int:
        """Days after the cutoff the labels read."""
        return max(self.horizon_days, self.churn_days)


def _ts(day: date) -> str:
    return f"TIMESTAMP '{datetime.combine(day, time())}'"


def _iso(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S.%f")


def identity_map(con: duckdb.DuckDBPyConnection, before: date, name: str) -> int:
    """Create table ``name`` (``id``, ``customer_id``): every id that resolves to another customer with the links
    said before ``before`` (rules of :mod:`lakehouse.core.identity`); returns the number of stitched ids."""
    rows = con.execute(f"SELECT source_id, target_id, event_ts, received_at, event_id FROM identity_links "
                       f"WHERE event_ts < {_ts(before)}").fetchall()
    graph = IdentityGraph.of(Link((_iso(ts), _iso(received), event_id or ""), source or "", target or "")
                             for source, target, ts, received, event_id in rows)
    mapping = pd.DataFrame({"id": list(graph.links), "customer_id": [graph.resolve(i) for i in graph.links]},
                           dtype="string")
    con.register(f"_{name}", mapping)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT CAST(id AS VARCHAR) AS id, "
                f"CAST(customer_id AS VARCHAR) AS customer_id FROM _{name}")
    con.unregister(f"_{name}")
    return len(mapping)


def _stitched(table: str, ts: str, before: date, id_map: str, columns: str = "t.*") -> str:
    """``table``'s rows dated before ``before`` with ``customer`` = the stitched customer id."""
    return (f"(SELECT {columns}, COALESCE(m.customer_id, t.customer_id) AS customer FROM {table} t "
            f"LEFT JOIN {id_map} m ON m.id = t.customer_id WHERE t.{ts} < {_ts(before)})")


def orders_as_of(con: duckdb.DuckDBPyConnection, before: date, id_map: str, reporting_currency: str,
                 max_rate_age_days: int) -> str:
    """SQL of the orders known before ``before`` (module docstring): one row per order placed before it and not
    cancelled before it — ``order_id``, ``event_id``, ``customer`` (stitched), ``order_ts``, ``order_day``,
    ``value_rc`` (NULL when unconvertible), ``refunded_rc`` (0..value_rc), ``net_rc``."""
    t = _ts(before)
    rc = reporting_currency.replace("'", "''")
    return f"""(
    WITH first AS (
        SELECT * FROM orders WHERE order_ts < {t} AND order_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts, received_at, event_id) = 1),
    upd AS (
        SELECT order_id, order_value, currency FROM order_changes
        WHERE change = 'updated' AND event_ts < {t} AND order_value IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY event_ts DESC, received_at DESC, event_id DESC) = 1),
    cancelled AS (SELECT DISTINCT order_id FROM order_changes WHERE change = 'cancelled' AND event_ts < {t}),
    valued AS (
        SELECT f.order_id, f.event_id, f.customer_id, f.order_ts, CAST(f.order_ts AS DATE) AS order_day,
               CAST(COALESCE(u.order_value, f.order_value) AS DOUBLE) AS value,
               UPPER(COALESCE(u.currency, f.currency, 'USD')) AS currency
        FROM first f LEFT JOIN upd u USING (order_id)
        WHERE f.order_id NOT IN (SELECT order_id FROM cancelled)),
    rated AS (
        SELECT v.*, CASE WHEN v.currency = '{rc}' THEN 1.0
                         WHEN r.rate_date >= v.order_day - {int(max_rate_age_days)} THEN r.rate END AS rate
        FROM valued v ASOF LEFT JOIN rates r ON r.currency = v.currency AND r.rate_date <= v.order_day),
    refund_rows AS (
        SELECT x.order_id, x.is_full_refund OR x.amount IS NULL AS is_full,
               CASE WHEN COALESCE(UPPER(x.currency), o.currency) = o.currency THEN CAST(x.amount AS DOUBLE) * o.rate
                    WHEN UPPER(x.currency) = '{rc}' THEN CAST(x.amount AS DOUBLE)
                    WHEN rr.rate_date >= CAST(x.refund_ts AS DATE) - {int(max_rate_age_days)}
                        THEN CAST(x.amount AS DOUBLE) * rr.rate END AS amount_rc
        FROM (SELECT * FROM refunds WHERE refund_ts < {t}) x JOIN rated o USING (order_id)
        ASOF LEFT JOIN rates rr ON rr.currency = UPPER(x.currency) AND rr.rate_date <= CAST(x.refund_ts AS DATE)),
    refunded AS (
        SELECT order_id, bool_or(is_full) AS full_refund,
               SUM(CAST(COALESCE(amount_rc, 0) AS DECIMAL(18,4))) AS requested_rc
        FROM refund_rows GROUP BY order_id)
    SELECT o.order_id, o.event_id, COALESCE(m.customer_id, o.customer_id) AS customer, o.order_ts, o.order_day,
           o.value_rc, o.refunded_rc, COALESCE(o.value_rc, 0) - o.refunded_rc AS net_rc
    FROM (SELECT o.*, CAST(ROUND(o.value * o.rate, 2) AS DECIMAL(18,2)) AS value_rc,
                 CAST(CASE WHEN o.rate IS NULL THEN 0
                      ELSE LEAST(ROUND(o.value * o.rate, 2), CASE WHEN f.full_refund THEN ROUND(o.value * o.rate, 2)
                                                              ELSE ROUND(COALESCE(f.requested_rc, 0), 2) END)
                 END AS DECIMAL(18,2)) AS refunded_rc
          FROM rated o LEFT JOIN refunded f USING (order_id)) o
    LEFT JOIN {id_map} m ON m.id = o.customer_id
    )"""


def population(con: duckdb.DuckDBPyConnection, cutoff: date, id_map: str) -> pd.DataFrame:
    """Every registered customer at ``cutoff`` (an event with a ``userId`` before it; stitched ids): index
    ``customer_id``; ``first_seen`` and ``last_seen`` (their first and last event before the cutoff) and
    ``closed`` (an Account Closed before the cutoff: no longer a customer, but part of the RFM population the
    batch computes its breakpoints over)."""
    frame = con.execute(f"""
        WITH seen AS {_stitched('events', 'event_ts', cutoff, id_map, 't.user_id, t.event_ts')},
        registered AS (SELECT DISTINCT customer FROM seen WHERE user_id IS NOT NULL),
        closed AS (SELECT DISTINCT customer FROM
                   {_stitched('account_closures', 'event_ts', cutoff, id_map, 't.event_ts')}),
        spans AS (SELECT customer, MIN(event_ts) AS first_seen, MAX(event_ts) AS last_seen FROM seen GROUP BY customer)
        SELECT spans.customer AS customer_id, spans.first_seen, spans.last_seen, closed.customer IS NOT NULL AS closed
        FROM spans JOIN registered USING (customer) LEFT JOIN closed USING (customer)
        ORDER BY customer_id""").df()
    return frame.set_index("customer_id")


def _order_features(con, cutoff: date, id_map: str, windows: Windows, currency: str, max_age: int) -> pd.DataFrame:
    c = f"CAST({_ts(cutoff)} AS DATE)"
    orders = orders_as_of(con, cutoff, id_map, currency, max_age)
    frame = con.execute(f"""
        WITH o AS {orders},
        days AS (SELECT customer, order_day, SUM(COALESCE(value_rc, 0)) AS spend FROM o GROUP BY ALL),
        gaps AS (SELECT customer, order_day,
                        order_day - LAG(order_day) OVER (PARTITION BY customer ORDER BY order_day) AS gap FROM days),
        ipt AS (SELECT customer, AVG(gap) AS ipt_mean, STDDEV_POP(gap) AS ipt_std, arg_max(gap, order_day) AS ipt_last
                FROM gaps WHERE gap IS NOT NULL GROUP BY customer),
        bg AS (SELECT customer, COUNT(*) - 1 AS bg_frequency,
                      MAX(order_day) - MIN(order_day) AS bg_recency_days,
                      {c} - MIN(order_day) AS bg_T_days,
                      CASE WHEN COUNT(*) > 1 THEN (SUM(spend) - arg_min(spend, order_day)) / (COUNT(*) - 1) ELSE 0
                      END AS bg_monetary
               FROM days GROUP BY customer),
        agg AS (SELECT customer,
            COUNT(*) AS orders_total, SUM(COALESCE(net_rc, 0)) AS revenue_total,
            SUM(COALESCE(value_rc, 0)) AS gross_total, SUM(refunded_rc) AS refunded_total,
            COUNT(*) FILTER (WHERE refunded_rc > 0) AS refunded_orders,
            {c} - 1 - MAX(order_day) AS recency_days, {c} - MIN(order_day) AS first_order_days,
            COUNT(*) FILTER (WHERE order_day >= {c} - {windows.rfm_window_days}) AS frequency,
            SUM(COALESCE(value_rc, 0)) FILTER (WHERE order_day >= {c} - {windows.rfm_window_days}) AS monetary,
            COUNT(*) FILTER (WHERE order_day >= {c} - 30) AS orders_30d,
            COUNT(*) FILTER (WHERE order_day >= {c} - 90) AS orders_90d,
            COUNT(*) FILTER (WHERE order_day >= {c} - 90 AND order_day < {c} - 30) AS orders_prior60,
            SUM(COALESCE(net_rc, 0)) FILTER (WHERE order_day >= {c} - 30) AS revenue_30d,
            SUM(COALESCE(net_rc, 0)) FILTER (WHERE order_day >= {c} - 90) AS revenue_90d,
            MAX(COALESCE(value_rc, 0)) AS max_order_value
            FROM o GROUP BY customer),
        lines AS (SELECT o.customer, COUNT(DISTINCT l.category) AS categories, SUM(l.quantity) AS units
                  FROM o JOIN order_lines l ON l.event_id = o.event_id GROUP BY o.customer)
        SELECT agg.*, ipt.ipt_mean, ipt.ipt_std, ipt.ipt_last, bg.bg_frequency, bg.bg_recency_days,
               bg.bg_T_days, bg.bg_monetary, lines.categories, lines.units
        FROM agg JOIN bg USING (customer) LEFT JOIN ipt USING (customer)
        LEFT JOIN lines USING (customer)""").df()
    return frame.rename(columns={"customer": "customer_id"}).set_index("customer_id")


def _activity_features(con, cutoff: date, id_map: str) -> pd.DataFrame:
    c = _ts(cutoff)
    queries = {
        "events": f"""SELECT customer,
            COUNT(DISTINCT CAST(event_ts AS DATE)) FILTER (WHERE event_ts >= {c} - INTERVAL 30 DAY) AS active_days_30d,
            COUNT(DISTINCT CAST(event_ts AS DATE)) FILTER (WHERE event_ts >= {c} - INTERVAL 90 DAY
                AND event_ts < {c} - INTERVAL 30 DAY) AS active_days_prior60,
            COUNT(*) FILTER (WHERE event_name = 'Checkout Started' AND event_ts >= {c} - INTERVAL 90 DAY)
                AS checkouts_90d,
            COUNT(*) FILTER (WHERE event_ts >= {c} - INTERVAL 30 DAY) AS events_30d
            FROM {_stitched('events', 'event_ts', cutoff, id_map, 't.event_ts, t.event_name')} GROUP BY customer""",
        "product_events": f"""SELECT customer,
            COUNT(*) FILTER (WHERE event_name = 'Product Viewed' AND event_ts >= {c} - INTERVAL 30 DAY) AS views_30d,
            COUNT(*) FILTER (WHERE event_name = 'Product Viewed' AND event_ts >= {c} - INTERVAL 90 DAY) AS views_90d,
            COUNT(*) FILTER (WHERE event_name = 'Product Added' AND event_ts >= {c} - INTERVAL 30 DAY) AS carts_30d,
            COUNT(*) FILTER (WHERE event_name = 'Product Added' AND event_ts >= {c} - INTERVAL 90 DAY) AS carts_90d
            FROM {_stitched('product_events', 'event_ts', cutoff, id_map, 't.event_ts, t.event_name')}
            GROUP BY customer""",
        "sessions": f"""SELECT customer,
            COUNT(*) FILTER (WHERE session_start >= {c} - INTERVAL 30 DAY) AS sessions_30d,
            COUNT(*) FILTER (WHERE session_start >= {c} - INTERVAL 90 DAY) AS sessions_90d,
            AVG(CASE WHEN s.session_end < {c} THEN s.duration_seconds
                     ELSE date_diff('second', s.session_start, GREATEST(s.session_start, seen.last_seen)) END)
                FILTER (WHERE s.session_start >= {c} - INTERVAL 90 DAY) AS session_seconds_90d
            FROM {_stitched('sessions', 'session_start', cutoff, id_map,
                            't.session_start, t.session_end, t.duration_seconds')} s
            LEFT JOIN (SELECT customer, MAX(event_ts) AS last_seen
                       FROM {_stitched('events', 'event_ts', cutoff, id_map, 't.event_ts')} GROUP BY customer) seen
                USING (customer)
            GROUP BY customer""",
        "support_tickets": f"""WITH t AS {_stitched('support_tickets', 'event_ts', cutoff, id_map,
                                                      't.ticket_id, t.event_name, t.event_ts, t.severity, '
                                                      't.resolution_hours, t.satisfaction')},
            opened AS (SELECT * FROM t WHERE event_name = 'Ticket Opened'
                       QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY event_ts) = 1),
            resolved AS (SELECT * FROM t WHERE event_name = 'Ticket Resolved'
                         QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY event_ts) = 1)
            SELECT o.customer, COUNT(*) AS tickets_total,
                COUNT(*) FILTER (WHERE o.event_ts >= {c} - INTERVAL 90 DAY) AS tickets_90d,
                COUNT(*) FILTER (WHERE o.event_ts >= {c} - INTERVAL 90 DAY AND lower(o.severity) IN {SEVERE})
                    AS severe_tickets_90d,
                COUNT(*) FILTER (WHERE r.ticket_id IS NULL) AS open_tickets,
                AVG(CAST(r.resolution_hours AS DECIMAL(18,4))) AS resolution_hours_mean,
                MAX(r.resolution_hours) AS resolution_hours_max,
                AVG(r.satisfaction) AS satisfaction_mean,
                date_diff('day', MAX(o.event_ts), {c}) AS days_since_ticket
            FROM opened o LEFT JOIN resolved r USING (ticket_id) GROUP BY o.customer""",
        "offers": f"""SELECT customer,
            COUNT(*) FILTER (WHERE event_name = 'Offer Sent' AND event_ts >= {c} - INTERVAL 90 DAY) AS offers_90d,
            COUNT(*) FILTER (WHERE event_name = 'Offer Sent') AS offers_total,
            COUNT(*) FILTER (WHERE event_name = 'Offer Responded' AND accepted) AS offers_accepted,
            COUNT(*) FILTER (WHERE event_name = 'Offer Responded' AND NOT accepted) AS offers_declined,
            COUNT(*) FILTER (WHERE event_name = 'Offer Responded' AND accepted AND event_ts >= {c} - INTERVAL 90 DAY)
                AS offers_accepted_90d
            FROM {_stitched('offers', 'event_ts', cutoff, id_map, 't.event_name, t.event_ts, t.accepted')}
            GROUP BY customer""",
        "content_watched": f"""SELECT customer,
            COUNT(*) FILTER (WHERE event_ts >= {c} - INTERVAL 30 DAY) AS watches_30d,
            SUM(CAST(duration_seconds AS DECIMAL(18,3))) FILTER (WHERE event_ts >= {c} - INTERVAL 30 DAY) / 3600.0
                AS watch_hours_30d,
            SUM(CAST(duration_seconds AS DECIMAL(18,3))) FILTER (WHERE event_ts >= {c} - INTERVAL 90 DAY
                AND event_ts < {c} - INTERVAL 30 DAY) / 3600.0 AS watch_hours_prior60
            FROM {_stitched('content_watched', 'event_ts', cutoff, id_map, 't.event_ts, t.duration_seconds')}
            GROUP BY customer""",
        "account_snapshots": f"""SELECT customer, arg_max(product_type, event_ts) AS product_type,
            CAST(arg_max(balance, event_ts) AS DOUBLE) AS balance, arg_max(num_products, event_ts) AS num_products
            FROM {_stitched('account_snapshots', 'event_ts', cutoff, id_map,
                            't.event_ts, t.product_type, t.balance, t.num_products')} GROUP BY customer""",
        # the latest value of each trait: a later identify that clears it (traits_cleared) makes it unknown
        "customers": f"""SELECT customer,
            arg_max_null(age, event_ts) FILTER (WHERE age IS NOT NULL OR list_contains(traits_cleared, 'age')) AS age,
            arg_max_null(gender, event_ts) FILTER (WHERE gender IS NOT NULL OR list_contains(traits_cleared, 'gender'))
                AS gender,
            arg_max_null(geography, event_ts) FILTER (WHERE geography IS NOT NULL
                OR list_contains(traits_cleared, 'geography')) AS geography
            FROM {_stitched('customers', 'event_ts', cutoff, id_map,
                            't.event_ts, t.age, t.gender, t.geography, t.traits_cleared')} GROUP BY customer""",
    }
    parts = [con.execute(sql).df().rename(columns={"customer": "customer_id"}).set_index("customer_id")
             for sql in queries.values()]
    return pd.concat(parts, axis=1, join="outer")


def rfm_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """R, F, M scores (1..5; 0 without an order in the window) and the segment, as docs/rfm.md defines them:
    cuts = exact percentiles (linear interpolation) at 20/40/60/80 % over the customers with ``frequency`` >= 1;
    F, M = 1 + #(cuts < value), R = 5 - #(cuts < recency_days). Same rule as
    :meth:`lakehouse.core.rfm_breakpoints.Breakpoints.scores`; segments from :func:`lakehouse.core.rfm.label`."""
    buyers = frame["frequency"].fillna(0) >= 1
    out = pd.DataFrame(index=frame.index, data={"r_score": 0.0, "f_score": 0.0, "m_score": 0.0})
    if buyers.any():
        for column, score, reverse in (("recency_days", "r_score", True), ("frequency", "f_score", False),
                                       ("monetary", "m_score", False)):
            values = frame.loc[buyers, column].astype("float64").to_numpy()
            cuts = np.percentile(values, RFM_QUANTILES, method="linear")
            above = (values[:, None] > cuts[None, :]).sum(axis=1)
            out.loc[buyers, score] = (5 - above) if reverse else (1 + above)
    out["rfm_segment"] = [label((int(r), int(f), int(m)) if f > 0 else None)
                          for r, f, m in zip(out["r_score"], out["f_score"], out["m_score"], strict=True)]
    return out


def build_features(con: duckdb.DuckDBPyConnection, cutoff: date, windows: Windows = Windows(), *,
                   reporting_currency: str = "USD", max_rate_age_days: int = 7) -> pd.DataFrame:
    """The feature frame of ``cutoff``: one row per registered customer at the cutoff (index ``customer_id``,
    sorted), float columns (NaN = unknown) plus :data:`CATEGORICAL` as ``category`` and ``rfm_segment`` (text).

    Times in days, money in the reporting currency. ``con`` is a connection of :func:`ml.source.open_curated`.
    Nothing dated on or after the cutoff is read (module docstring).
    """
    identity_map(con, cutoff, "id_map_features")
    base = population(con, cutoff, "id_map_features")
    cutoff_ts = pd.Timestamp(datetime.combine(cutoff, time()))
    frame = pd.DataFrame(index=base.index)
    frame["tenure_days"] = (cutoff_ts - base["first_seen"]).dt.total_seconds() / 86_400
    frame["days_since_seen"] = (cutoff_ts - base["last_seen"]).dt.total_seconds() / 86_400
    orders = _order_features(con, cutoff, "id_map_features", windows, reporting_currency, max_rate_age_days)
    activity = _activity_features(con, cutoff, "id_map_features")
    frame = frame.join(orders, how="left").join(activity, how="left")
    counts = [c for c in frame.columns if c.endswith(("_30d", "_90d", "_prior60", "_total", "_orders"))
              or c.startswith(("frequency", "monetary", "offers_", "tickets", "severe_", "open_", "categories",
                               "units"))]
    frame[counts] = frame[counts].fillna(0)
    for column in ("bg_frequency", "bg_recency_days", "bg_monetary"):
        frame[column] = frame[column].fillna(0)
    # BG/NBD's T for a customer without an order: from the first time seen (docs/ml.md)
    frame["bg_T_days"] = frame["bg_T_days"].fillna(np.floor(frame["tenure_days"]))
    frame["aov"] = frame["gross_total"] / frame["orders_total"].where(frame["orders_total"] > 0)
    frame["refund_share"] = frame["refunded_total"] / frame["gross_total"].where(frame["gross_total"] > 0)
    frame["order_trend"] = frame["orders_30d"] - frame["orders_prior60"] / 2
    # purchase rates: orders per 30 days of tenure, repeat purchase days per 30 days since the first order
    frame["order_rate_30d"] = 30 * frame["orders_total"] / frame["tenure_days"].clip(lower=1)
    frame["repeat_rate_30d"] = 30 * frame["bg_frequency"] / frame["bg_T_days"].clip(lower=1)
    frame["activity_trend"] = frame["active_days_30d"] - frame["active_days_prior60"] / 2
    frame["watch_trend"] = frame["watch_hours_30d"].fillna(0) - frame["watch_hours_prior60"].fillna(0) / 2
    frame["overdue_ratio"] = frame["recency_days"] / frame["ipt_mean"].where(frame["ipt_mean"] > 0)
    frame["view_to_cart_90d"] = frame["carts_90d"] / frame["views_90d"].where(frame["views_90d"] > 0)
    frame["cart_to_order_90d"] = frame["orders_90d"] / frame["carts_90d"].where(frame["carts_90d"] > 0)
    responses = frame["offers_accepted"] + frame["offers_declined"]
    frame["offer_acceptance"] = frame["offers_accepted"] / responses.where(responses > 0)
    frame = frame.join(rfm_scores(frame))
    frame = frame[~base["closed"].reindex(frame.index).to_numpy(dtype=bool)]
    for column in CATEGORICAL:
        frame[column] = frame[column].astype("string")
    numeric = [c for c in frame.columns if c not in CATEGORICAL and c not in NOT_FEATURES]
    frame[numeric] = frame[numeric].astype("float64")
    return frame.sort_index()


def build_labels(con: duckdb.DuckDBPyConnection, customers: pd.Index, cutoff: date, windows: Windows = Windows(), *,
                 reporting_currency: str = "USD", max_rate_age_days: int = 7) -> pd.DataFrame:
    """Labels of ``customers`` (the index of their feature frame) for ``cutoff`` (module docstring): index
    ``customer_id`` aligned with ``customers``; ``purchase`` and ``churn`` (0/1 floats: ``churn`` is meaningful for
    customers with an order before the cutoff, the churn population), ``clv`` (reporting currency),
    ``orders_after``.

    Each label reads the orders as they stand at the end of its own window (``c + H`` for purchase and CLV,
    ``c + N`` for churn); rows dated after ``cutoff + max(H, N)`` are never read. Call it only for cutoffs whose
    windows end within the data, else the labels are censored (:func:`ml.pipeline` checks this).
    """
    end = cutoff + timedelta(days=windows.label_days)
    identity_map(con, end, "id_map_labels")
    horizon_end = cutoff + timedelta(days=windows.horizon_days)
    churn_end = cutoff + timedelta(days=windows.churn_days)
    # each label sees the orders as they stand at the end of its own window (cancellations, refunds until then)
    purchases = orders_as_of(con, horizon_end, "id_map_labels", reporting_currency, max_rate_age_days)
    retained = orders_as_of(con, churn_end, "id_map_labels", reporting_currency, max_rate_age_days)
    c, h, n = _ts(cutoff), _ts(horizon_end), _ts(churn_end)
    ids = pd.DataFrame({"customer_id": customers.astype("string")})
    con.register("_label_ids", ids)
    frame = con.execute(f"""
        WITH resolved AS (SELECT CAST(i.customer_id AS VARCHAR) AS customer_id,
                                 COALESCE(m.customer_id, CAST(i.customer_id AS VARCHAR)) AS customer
                          FROM _label_ids i LEFT JOIN id_map_labels m ON m.id = i.customer_id),
        -- two feature rows merged after the cutoff (an alias) are one customer by the window's end: the orders
        -- count once, for the surviving id (else the smallest), never for both
        ids AS (SELECT customer_id, CASE WHEN row_number() OVER (PARTITION BY customer
                       ORDER BY customer_id <> customer, customer_id) = 1 THEN customer END AS customer
                FROM resolved),
        p AS {purchases},
        r AS {retained},
        after AS (SELECT customer, COUNT(*) AS orders_after, SUM(net_rc) AS clv FROM p
                  WHERE order_ts >= {c} AND order_ts < {h} GROUP BY customer),
        kept AS (SELECT customer, COUNT(*) AS orders_churn_window FROM r
                 WHERE order_ts >= {c} AND order_ts < {n} GROUP BY customer),
        closed AS (SELECT DISTINCT COALESCE(m.customer_id, a.customer_id) AS customer FROM account_closures a
                   LEFT JOIN id_map_labels m ON m.id = a.customer_id
                   WHERE a.event_ts >= {c} AND a.event_ts < {n})
        SELECT ids.customer_id, COALESCE(after.orders_after, 0) AS orders_after,
               CAST(COALESCE(after.clv, 0) AS DOUBLE) AS clv,
               COALESCE(kept.orders_churn_window, 0) AS orders_churn_window,
               closed.customer IS NOT NULL AS closed_in_window
        FROM ids LEFT JOIN after USING (customer) LEFT JOIN kept USING (customer)
        LEFT JOIN closed USING (customer)""").df()
    con.unregister("_label_ids")
    frame = frame.set_index("customer_id").reindex(customers.astype("string"))
    labels = pd.DataFrame(index=customers)
    labels["orders_after"] = frame["orders_after"].to_numpy(dtype="float64")
    labels["purchase"] = (labels["orders_after"] > 0).astype("float64")
    labels["clv"] = frame["clv"].to_numpy(dtype="float64")
    labels["churn"] = ((frame["orders_churn_window"].to_numpy() == 0)
                       | frame["closed_in_window"].to_numpy(dtype=bool)).astype("float64")
    return labels
