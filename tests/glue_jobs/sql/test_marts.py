"""The oracle: every mart view equals an independent pandas computation over the raw events.

The pandas side reads the raw zone itself (gzip JSON lines), keeps the lines the contract accepts
(``parse_event``), keeps the first-received copy of every event id, and computes each business answer
from the definitions in docs/batch.md — no Spark, no curated or star table is used.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import permutations

import duckdb
import numpy as np
import pandas as pd
import pytest

from lakehouse.core.contract import ContractError, parse_event
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage

SYSTEM_EVENTS = {"Account Snapshot", "Offer Sent", "Ticket Resolved", "Order Refunded"}
SESSION_GAP = pd.Timedelta(minutes=30)
RFM_WINDOW_DAYS = 365


# ----------------------------------------------------------------------------------------- raw events
def raw_events(settings) -> pd.DataFrame:
    storage = LakeStorage(settings.lake)
    rows = []
    for obj in storage.list("raw"):
        for line in decode_lines(storage.get_bytes(obj.key)):
            try:
                record = json.loads(line)
                parse_event(record)
            except (json.JSONDecodeError, ContractError):
                continue
            rows.append({**record, "_object": obj.key, "_line": line})
    events = pd.DataFrame(rows).sort_values(["received_at", "_object", "_line"])
    events = events.drop_duplicates("event_id", keep="first")
    strip = lambda v: v.strip() if isinstance(v, str) and v.strip() else None  # noqa: E731
    events["user_id"] = events["user_id"].map(strip)
    events["customer_id"] = events["user_id"].fillna(events["anonymous_id"].map(strip))
    events["ts"] = pd.to_datetime(events["timestamp"], utc=True).dt.tz_convert(None)
    events["date"] = events["ts"].dt.normalize()
    events["props"] = events["properties"].map(lambda p: p if isinstance(p, dict) else {})
    events["interactive"] = (events["type"] == "page") | (
        (events["type"] == "track") & ~events["event"].isin(SYSTEM_EVENTS))
    return events.reset_index(drop=True)


def named(events: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = events[(events["type"] == "track") & (events["event"] == name)].copy()
    props = pd.DataFrame(rows["props"].tolist(), index=rows.index)
    return rows.join(props, rsuffix="_p")


def half_up(value: float) -> float:
    """Money rounding as the warehouse does it (DECIMAL casts round half away from zero)."""
    return float(Decimal(repr(round(value, 9))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def age_band(age) -> str:
    if age is None or pd.isna(age):
        return "unknown"
    age = int(age)
    if age < 18:
        return "under 18"
    for low, high, label in ((18, 29, "18-29"), (30, 45, "30-45"), (46, 60, "46-60")):
        if low <= age <= high:
            return label
    return "60+"


class Oracle:
    """Business answers computed with pandas from the raw events."""

    def __init__(self, events: pd.DataFrame, min_pair_orders: int):
        self.e = events
        self.min_pair_orders = min_pair_orders
        self.as_of = events["date"].max()
        self.first = events["date"].min()
        registered = events.loc[events["user_id"].notna(), "customer_id"].unique()
        self.registered = pd.Index(sorted(registered))
        self.orders = named(events, "Order Completed")
        self.orders["total2"] = self.orders["total"].astype(float).round(2)
        self.refunds = named(events, "Order Refunded")
        self.refunds["total2"] = self.refunds["total"].astype(float).round(2)
        lines = []
        for _, row in self.orders.iterrows():
            for item in row["products"]:
                price = round(float(item.get("unit_price", item.get("price"))), 2)
                lines.append({"order_key": row["event_id"], "customer_id": row["customer_id"], "date": row["date"],
                              "ts": row["ts"], "product_id": item["product_id"], "category": item["category"],
                              "quantity": int(item["quantity"]), "amount": price * int(item["quantity"])})
        self.lines = pd.DataFrame(lines)

    # ------------------------------------------------------------------------------ customers
    def profiles(self) -> pd.DataFrame:
        """Current profile of every registered customer (latest value of each trait)."""
        ident = self.e[self.e["type"] == "identify"].sort_values(["ts", "event_id"])
        current = {}
        for _, row in ident.iterrows():
            state = current.setdefault(row["customer_id"], {})
            for key, value in (row["traits"] or {}).items():
                if value is not None:
                    state[key] = value.strip() if isinstance(value, str) else value
        out = []
        for cid in self.registered:
            traits = current.get(cid, {})
            out.append({"customer_id": cid, "geography": traits.get("geography") or "unknown",
                        "age_band": age_band(traits.get("age"))})
        return pd.DataFrame(out).set_index("customer_id")

    def latest(self) -> pd.DataFrame:
        """The as-of snapshot: churn, CLV, balance and RFM of every registered customer."""
        as_of = self.as_of
        closed = named(self.e, "Account Closed")
        churned = set(closed.loc[closed["date"] <= as_of, "customer_id"])
        revenue = self.orders.groupby("customer_id")["total2"].sum()
        refunds = self.refunds.groupby("customer_id")["total2"].sum()
        snaps = named(self.e, "Account Snapshot").sort_values(["ts", "event_id"])
        balance = snaps.groupby("customer_id")["balance"].last()
        window = self.orders[self.orders["date"] > as_of - timedelta(days=RFM_WINDOW_DAYS)]
        frequency = window.groupby("customer_id").size()
        monetary = window.groupby("customer_id")["total2"].sum().round(2)
        last_order = self.orders.groupby("customer_id")["date"].max()
        snap = pd.DataFrame(index=self.registered)
        snap["is_churned"] = snap.index.isin(churned)
        snap["clv"] = (revenue.reindex(snap.index, fill_value=0) - refunds.reindex(snap.index, fill_value=0)).round(2)
        snap["balance"] = balance.reindex(snap.index).astype(float)
        snap["frequency"] = frequency.reindex(snap.index, fill_value=0)
        snap["monetary"] = monetary.reindex(snap.index, fill_value=0.0)
        snap["recency_days"] = (as_of - last_order.reindex(snap.index)).dt.days
        scored = snap[snap["frequency"] >= 1]
        cuts = {c: np.percentile(scored[c].astype(float), [20, 40, 60, 80]) for c in
                ("recency_days", "frequency", "monetary")}

        def score(row):
            if row["frequency"] < 1:
                return "No recent purchase"
            r = 5 - int((cuts["recency_days"] < row["recency_days"]).sum())
            f = 1 + int((cuts["frequency"] < row["frequency"]).sum())
            m = 1 + int((cuts["monetary"] < row["monetary"]).sum())
            if r >= 4 and f >= 4 and m >= 4:
                return "Champions"
            if f >= 4:
                return "Loyal"
            if r >= 4:
                return "Recent"
            if r <= 2 and f >= 3:
                return "At Risk"
            if r <= 2:
                return "Hibernating"
            return "Needs Attention"

        snap["rfm_segment"] = snap.apply(score, axis=1)
        return snap.join(self.profiles())

    # ----------------------------------------------------------------------------------- marts
    def churn_by_geography_age(self) -> pd.DataFrame:
        snap = self.latest()
        out = snap.groupby(["geography", "age_band"]).agg(customers=("is_churned", "size"),
                                                           churned_customers=("is_churned", "sum")).reset_index()
        out["churn_rate"] = out["churned_customers"] / out["customers"]
        return out

    def customer_value(self) -> pd.DataFrame:
        snap = self.latest()
        out = snap.groupby(["rfm_segment", "geography"]).agg(
            customers=("clv", "size"), total_clv=("clv", "sum"), avg_clv=("clv", "mean"),
            total_balance=("balance", lambda s: s.sum(min_count=1)), avg_balance=("balance", "mean")).reset_index()
        return out

    def rfm_segments(self) -> pd.DataFrame:
        snap = self.latest()
        out = snap.groupby("rfm_segment").agg(
            customers=("clv", "size"), avg_recency_days=("recency_days", "mean"),
            avg_frequency=("frequency", "mean"), avg_monetary=("monetary", "mean"),
            total_monetary=("monetary", "sum"), avg_clv=("clv", "mean")).reset_index()
        out["share_of_customers"] = out["customers"] / out["customers"].sum()
        return out

    def tickets(self) -> pd.DataFrame:
        t = named(self.e, "Ticket Opened")
        r = named(self.e, "Ticket Resolved")
        opened = t.sort_values(["ts", "event_id"]).drop_duplicates("ticket_id")
        resolved = r.sort_values(["ts", "event_id"], ascending=[False, True]).drop_duplicates("ticket_id")
        both = opened.set_index("ticket_id")[["customer_id", "issue_type", "severity"]].join(
            resolved.set_index("ticket_id")[["customer_id", "issue_type", "severity", "resolution_hours",
                                             "satisfaction"]], how="outer", rsuffix="_r")
        for column in ("customer_id", "issue_type", "severity"):
            both[column] = both[column].fillna(both[f"{column}_r"])
        return both.reset_index()

    def support_impact(self) -> pd.DataFrame:
        snap = self.latest()
        tickets = self.tickets()
        by_issue = tickets.groupby(["issue_type", "severity"]).agg(
            tickets=("ticket_id", "size"), avg_resolution_hours=("resolution_hours", "mean"),
            avg_satisfaction=("satisfaction", "mean")).reset_index()
        pairs = tickets[["customer_id", "issue_type", "severity"]].drop_duplicates()
        pairs = pairs[pairs["customer_id"].isin(snap.index)]
        pairs = pairs.join(snap[["is_churned", "clv"]], on="customer_id")
        affected = pairs.groupby(["issue_type", "severity"]).agg(
            customers=("customer_id", "size"), churned_customers=("is_churned", "sum"),
            avg_clv=("clv", "mean")).reset_index()
        out = by_issue.merge(affected, on=["issue_type", "severity"], how="left")
        out["customers"] = out["customers"].fillna(0)
        out["churned_customers"] = out["churned_customers"].fillna(0)
        out["churn_rate"] = out["churned_customers"] / out["customers"].replace(0, np.nan)
        calm = snap[~snap.index.isin(set(tickets["customer_id"]))]
        baseline = pd.DataFrame([{"issue_type": "no ticket", "severity": "none", "tickets": 0,
                                  "customers": len(calm), "churned_customers": calm["is_churned"].sum(),
                                  "churn_rate": calm["is_churned"].mean(), "avg_clv": calm["clv"].mean(),
                                  "avg_resolution_hours": np.nan, "avg_satisfaction": np.nan}])
        return pd.concat([out, baseline], ignore_index=True)

    def offer_acceptance(self) -> pd.DataFrame:
        sent = named(self.e, "Offer Sent").assign(status="sent")
        resp = named(self.e, "Offer Responded").assign(status="responded")
        offers = pd.concat([sent, resp])
        offer_type = (offers.sort_values(["status", "ts", "event_id"], ascending=[False, True, True])
                      .drop_duplicates("offer_id").set_index("offer_id")["offer_type"])
        first_sent = sent.sort_values(["ts", "event_id"]).drop_duplicates(["offer_id", "customer_id"])
        last_resp = resp.sort_values(["ts", "event_id"], ascending=[False, True]).drop_duplicates(
            ["offer_id", "customer_id"])
        pairs = first_sent[["offer_id", "customer_id"]].merge(
            last_resp[["offer_id", "customer_id", "accepted"]], on=["offer_id", "customer_id"], how="outer",
            indicator=True)
        pairs["responded"] = pairs["_merge"] != "left_only"
        pairs["accepted"] = pairs["accepted"].map(lambda v: v is True or v == 1)
        pairs["offer_type"] = pairs["offer_id"].map(offer_type)
        out = pairs.groupby("offer_type").agg(offers=("offer_id", "size"), responses=("responded", "sum"),
                                              accepted=("accepted", "sum")).reset_index()
        out["acceptance_rate"] = out["accepted"] / out["offers"]
        out["response_rate"] = out["responses"] / out["offers"]
        out["acceptance_among_responses"] = out["accepted"] / out["responses"].replace(0, np.nan)
        return out

    def customer_activeness(self) -> pd.DataFrame:
        e = self.e
        active = e[e["interactive"] & e["customer_id"].isin(self.registered)].copy()
        active["year_month"] = active["date"].dt.strftime("%Y-%m")
        out = active.groupby(["customer_id", "year_month"])["date"].nunique().rename("active_days").reset_index()
        out["activeness_segment"] = pd.cut(out["active_days"], [0, 6, 13, 20, 10_000],
                                           labels=["At Risk", "Need Attention", "Valuable", "Loyal"]).astype(str)
        watch = named(e, "Content Watched")
        watch["year_month"] = watch["date"].dt.strftime("%Y-%m")
        per = watch.groupby(["customer_id", "year_month", "category"])["duration_seconds"].sum().reset_index()
        per = per.sort_values(["customer_id", "year_month", "duration_seconds", "category"],
                              ascending=[True, True, False, True])
        taste = per.groupby(["customer_id", "year_month"]).agg(
            watch_hours=("duration_seconds", lambda s: s.sum() / 3600.0),
            most_watched_category=("category", "first"),
            taste=("category", lambda s: ", ".join(list(s)[:2]))).reset_index()
        out = out.merge(taste, on=["customer_id", "year_month"], how="left")
        out["watch_hours"] = out["watch_hours"].fillna(0.0)
        return out

    def activeness_segments(self) -> pd.DataFrame:
        per_customer = self.customer_activeness()
        out = per_customer.groupby(["year_month", "activeness_segment"]).agg(
            customers=("customer_id", "size"), avg_active_days=("active_days", "mean"),
            watch_hours=("watch_hours", "sum")).reset_index()
        watch = named(self.e, "Content Watched")
        watch["year_month"] = watch["date"].dt.strftime("%Y-%m")
        watch = watch.merge(per_customer[["customer_id", "year_month", "activeness_segment"]],
                            on=["customer_id", "year_month"])
        top = (watch.groupby(["year_month", "activeness_segment", "category"])["duration_seconds"].sum()
               .reset_index().sort_values(["year_month", "activeness_segment", "duration_seconds", "category"],
                                          ascending=[True, True, False, True])
               .drop_duplicates(["year_month", "activeness_segment"]))
        top = top.rename(columns={"category": "most_watched_category"})[
            ["year_month", "activeness_segment", "most_watched_category"]]
        return out.merge(top, on=["year_month", "activeness_segment"], how="left")

    def funnel_daily(self) -> pd.DataFrame:
        track = self.e[self.e["type"] == "track"]
        steps = {"viewers": "Product Viewed", "cart_adders": "Product Added", "purchasers": "Order Completed"}
        out = pd.DataFrame(index=pd.Index(sorted(track["date"].unique()), name="full_date"))
        for column, name in steps.items():
            out[column] = track[track["event"] == name].groupby("date")["customer_id"].nunique()
        out = out.fillna(0).reset_index()
        out["view_to_cart_rate"] = out["cart_adders"] / out["viewers"].replace(0, np.nan)
        out["cart_to_purchase_rate"] = out["purchasers"] / out["cart_adders"].replace(0, np.nan)
        out["view_to_purchase_rate"] = out["purchasers"] / out["viewers"].replace(0, np.nan)
        return out

    def sessions_per_day(self) -> pd.Series:
        activity = self.e[self.e["interactive"]].sort_values(["customer_id", "ts", "event_id"])
        gap = activity.groupby("customer_id")["ts"].diff()
        starts = activity[gap.isna() | (gap > SESSION_GAP)]
        return starts.groupby("date").size()

    def daily_kpis(self) -> pd.DataFrame:
        days = pd.Index(pd.date_range(self.first, self.as_of, freq="D"), name="full_date")
        e = self.e
        out = pd.DataFrame(index=days)
        out["dau"] = e[e["interactive"]].groupby("date")["customer_id"].nunique()
        first_seen = e[e["customer_id"].isin(self.registered)].groupby("customer_id")["date"].min()
        out["new_customers"] = first_seen.value_counts()
        out["sessions"] = self.sessions_per_day()
        out["orders"] = self.orders.groupby("date").size()
        out["purchasers"] = self.orders.groupby("date")["customer_id"].nunique()
        out["units_sold"] = self.lines.groupby("date")["quantity"].sum()
        out["revenue"] = self.orders.groupby("date")["total2"].sum()
        out["refunds"] = self.refunds.groupby("date")["total2"].sum()
        out = out.fillna(0)
        out["aov"] = [half_up(r / n) if n else np.nan for r, n in zip(out["revenue"], out["orders"], strict=True)]
        out["conversion_rate"] = out["purchasers"] / out["dau"].replace(0, np.nan)
        return out.reset_index()

    def sales_trends(self) -> pd.DataFrame:
        kpis = self.daily_kpis().sort_values("full_date")
        out = kpis[["full_date", "orders", "revenue", "aov", "units_sold"]].rename(columns={"orders": "transactions"})
        out["revenue_7d_avg"] = out["revenue"].rolling(7, min_periods=1).mean()
        out["transactions_7d_avg"] = out["transactions"].rolling(7, min_periods=1).mean()
        return out

    def bestsellers(self) -> pd.DataFrame:
        lines = self.lines
        category = lines.sort_values("ts").groupby("product_id")["category"].last()
        out = lines.groupby("product_id").agg(units_sold=("quantity", "sum"), revenue=("amount", "sum"),
                                              orders=("order_key", "nunique")).reset_index()
        out["revenue"] = out["revenue"].round(2)
        out["category"] = out["product_id"].map(category)
        out["revenue_rank"] = out["revenue"].rank(method="min", ascending=False).astype(int)
        out["category_rank"] = out.groupby("category")["revenue"].rank(method="min", ascending=False).astype(int)
        return out

    def product_affinity(self) -> pd.DataFrame:
        baskets = self.lines[["order_key", "product_id"]].drop_duplicates()
        total = baskets["order_key"].nunique()
        per_product = baskets.groupby("product_id").size()
        pairs: dict[tuple[str, str], int] = {}
        for _, products in baskets.groupby("order_key")["product_id"]:
            for a, b in permutations(sorted(set(products)), 2):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        rows = []
        for (a, b), n in pairs.items():
            if n < self.min_pair_orders:
                continue
            confidence = n / per_product[a]
            rows.append({"antecedent_product_id": a, "consequent_product_id": b, "pair_orders": n,
                         "support": n / total, "confidence": confidence,
                         "lift": confidence / (per_product[b] / total)})
        return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def oracle(built_lake) -> Oracle:
    return Oracle(raw_events(built_lake.settings), built_lake.settings.batch.affinity_min_pair_orders)


@pytest.fixture(scope="module")
def warehouse(built_lake):
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        yield con


def mart(warehouse, name: str) -> pd.DataFrame:
    return warehouse.execute(f"SELECT * FROM {name}").df()


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], columns: list[str],
                money: tuple[str, ...] = ()) -> None:
    """Same key set, and the same value in every column (money to the cent, ratios to 1e-9)."""
    assert len(actual) > 0, "the mart is empty: the data set does not exercise it"
    for frame in (actual, expected):
        for key in keys:
            if "date" in key:
                frame[key] = pd.to_datetime(frame[key])
    a = actual.set_index(keys).sort_index()
    e = expected.set_index(keys).sort_index()
    assert list(a.index) == list(e.index), f"different rows: {set(a.index) ^ set(e.index)}"
    for column in columns:
        left, right = a[column], e[column]
        if left.dtype == object or right.dtype == object:
            assert [None if pd.isna(x) else x for x in left] == [None if pd.isna(x) else x for x in right], column
            continue
        tolerance = 0.0051 if column in money else 1e-9
        ok = np.isclose(left.astype(float), right.astype(float), rtol=1e-9, atol=tolerance, equal_nan=True)
        assert ok.all(), f"{column} differs:\n{pd.concat([left[~ok], right[~ok]], axis=1)}"


def test_churn_rate_by_geography_and_age_band(oracle, warehouse) -> None:
    actual = mart(warehouse, "mart_churn_by_geography_age")
    assert actual["churned_customers"].sum() >= 5  # the hand-made churners, at least
    assert_same(actual, oracle.churn_by_geography_age(), ["geography", "age_band"],
                ["customers", "churned_customers", "churn_rate"])


def test_customer_value_clv_and_balance_by_segment_and_geography(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_customer_value"), oracle.customer_value(), ["rfm_segment", "geography"],
                ["customers", "total_clv", "avg_clv", "total_balance", "avg_balance"],
                money=("total_clv", "avg_clv", "total_balance", "avg_balance"))


def test_rfm_segment_sizes_and_value(oracle, warehouse) -> None:
    actual = mart(warehouse, "mart_rfm_segments")
    assert actual["rfm_segment"].nunique() >= 4
    assert_same(actual, oracle.rfm_segments(), ["rfm_segment"],
                ["customers", "share_of_customers", "avg_recency_days", "avg_frequency", "avg_monetary",
                 "total_monetary", "avg_clv"], money=("avg_monetary", "total_monetary", "avg_clv"))


def test_support_impact_on_churn_and_value(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_support_impact"), oracle.support_impact(), ["issue_type", "severity"],
                ["tickets", "customers", "churned_customers", "churn_rate", "avg_clv", "avg_resolution_hours",
                 "avg_satisfaction"], money=("avg_clv",))


def test_offer_acceptance_by_type(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_offer_acceptance"), oracle.offer_acceptance(), ["offer_type"],
                ["offers", "responses", "accepted", "acceptance_rate", "response_rate",
                 "acceptance_among_responses"])


def test_activeness_per_customer_and_month(oracle, warehouse) -> None:
    actual = mart(warehouse, "mart_customer_activeness")
    assert set(actual["year_month"]) == {"2025-05", "2025-06"}
    assert_same(actual, oracle.customer_activeness(), ["customer_id", "year_month"],
                ["active_days", "activeness_segment", "watch_hours", "most_watched_category", "taste"])


def test_activeness_segments(oracle, warehouse) -> None:
    actual = mart(warehouse, "mart_activeness_segments")
    assert actual["activeness_segment"].nunique() >= 3
    assert_same(actual, oracle.activeness_segments(), ["year_month", "activeness_segment"],
                ["customers", "avg_active_days", "watch_hours", "most_watched_category"])


def test_conversion_funnel_daily(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_funnel_daily"), oracle.funnel_daily(), ["full_date"],
                ["viewers", "cart_adders", "purchasers", "view_to_cart_rate", "cart_to_purchase_rate",
                 "view_to_purchase_rate"])


def test_daily_kpis(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_daily_kpis"), oracle.daily_kpis(), ["full_date"],
                ["dau", "new_customers", "sessions", "orders", "purchasers", "units_sold", "revenue", "refunds",
                 "aov", "conversion_rate"], money=("revenue", "refunds", "aov"))


def test_sales_trends(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_sales_trends"), oracle.sales_trends(), ["full_date"],
                ["transactions", "revenue", "aov", "units_sold", "revenue_7d_avg", "transactions_7d_avg"],
                money=("revenue", "aov", "revenue_7d_avg"))


def test_bestsellers(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_bestsellers"), oracle.bestsellers(), ["product_id"],
                ["category", "units_sold", "revenue", "orders", "revenue_rank", "category_rank"], money=("revenue",))


def test_product_affinity_support_confidence_lift(oracle, warehouse) -> None:
    actual = mart(warehouse, "mart_product_affinity")
    assert (actual["lift"] > 1).any()  # bread and butter do sell together
    assert_same(actual, oracle.product_affinity(), ["antecedent_product_id", "consequent_product_id"],
                ["pair_orders", "support", "confidence", "lift"])
