"""The oracle: every mart view equals an independent pandas computation over the raw events.

The pandas side reads the raw zone itself (gzip JSON lines), keeps the lines the contract accepts
(``parse_event``), keeps the first-received copy of every event id, and computes each business answer
from the definitions in docs/batch.md, docs/identity.md and docs/money.md, written again here by hand: identity
stitching (first link per id by event time, transitive, no cycles), orders by ``order_id`` (the first Order
Completed wins, updates, cancellations, refunds netted and capped), money in the reporting currency from the
lake's rate CSV (latest rate on or before the day, at most 7 days old, half-up cents). No Spark, no curated or
star table is used.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import permutations

import duckdb
import numpy as np
import pandas as pd
import pytest

from lakehouse.core.contract import ContractError, parse_event
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from tests.lakehouse.core.test_rfm import documented

SYSTEM_EVENTS = {"Account Snapshot", "Offer Sent", "Ticket Resolved", "Order Refunded"}
VIEW_CALLS = {"page", "screen"}
SESSION_GAP = pd.Timedelta(minutes=30)
RFM_WINDOW_DAYS = 365
EARLIEST = pd.Timestamp("1990-01-01")
CENT = Decimal("0.01")
PRODUCT_EVENT_PREFIXES = ("Product", "Products", "Cart", "Wishlist")


# ----------------------------------------------------------------------------------------- raw events
def identity_map(events: pd.DataFrame) -> dict[str, str]:
    """id -> customer: identify (anonymous -> user) and alias (previous -> user) links, first per id by
    (event time, received_at, event_id); a link closing a cycle is ignored; resolved transitively."""
    links = []
    for row in events.itertuples():
        if row.type == "identify" and row.user_id and row.anonymous_id:
            links.append((row.ts, row.received_at, row.event_id, row.anonymous_id, row.user_id))
        elif row.type == "alias" and row.user_id and isinstance(row.previous_id, str) and row.previous_id:
            links.append((row.ts, row.received_at, row.event_id, row.previous_id, row.user_id))
    target: dict[str, str] = {}

    def resolve(identifier: str) -> str:
        while identifier in target:
            identifier = target[identifier]
        return identifier

    for *_, source, to in sorted(links):
        if source != to and source not in target and resolve(to) != source:
            target[source] = to
    return {source: resolve(source) for source in target}


def raw_events(settings) -> pd.DataFrame:
    storage = LakeStorage(settings.lake)
    rows = []
    for obj in (o for o in storage.list("raw") if o.key.endswith(".jsonl.gz")):  # not the landing log
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
    events["anonymous_id"] = events["anonymous_id"].map(strip)
    if "previous_id" not in events:
        events["previous_id"] = None
    events["ts"] = pd.to_datetime(events["timestamp"], utc=True).dt.tz_convert(None)
    events["date"] = events["ts"].dt.normalize()
    today = pd.Timestamp(datetime.now(UTC).date())
    as_of = min(events.loc[events["date"] <= today, "date"].max(), today)
    events = events[(events["date"] >= EARLIEST) & (events["date"] <= as_of)].copy()
    stitched = identity_map(events)
    sent_as = events["user_id"].fillna(events["anonymous_id"])
    events["customer_id"] = sent_as.map(lambda c: stitched.get(c, c))
    events["props"] = events["properties"].map(lambda p: p if isinstance(p, dict) else {})
    events["interactive"] = events["type"].isin(VIEW_CALLS) | (
        (events["type"] == "track") & ~events["event"].isin(SYSTEM_EVENTS))
    return events.reset_index(drop=True)


def named(events: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = events[(events["type"] == "track") & (events["event"] == name)].copy()
    props = pd.DataFrame(rows["props"].tolist(), index=rows.index)
    return rows.join(props, lsuffix="_record")  # a property wins over the record's field (name, category)


def amount(props: dict) -> Decimal | None:
    """The order value rule: total, revenue, subtotal, value, else the products' price x quantity."""
    for name in ("total", "revenue", "subtotal", "value"):
        value = props.get(name)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value >= 0:
            return Decimal(str(value))
    total = None
    for line in props.get("products") or []:
        price = line.get("price", line.get("unit_price")) if isinstance(line, dict) else None
        if isinstance(price, int | float) and not isinstance(price, bool) and price >= 0:
            total = (total or Decimal(0)) + Decimal(str(price)) * Decimal(str(line.get("quantity", 1)))
    return total


def read_rates(settings) -> dict[str, list[tuple[date, Decimal]]]:
    storage = LakeStorage(settings.lake)
    key = settings.money.rates_key
    if not storage.exists(key):
        return {}
    rates: dict[str, dict[date, Decimal]] = {}
    for row in csv.DictReader(io.StringIO(storage.get_bytes(key).decode("utf-8"))):
        rates.setdefault(row["currency"].strip().upper(), {})[date.fromisoformat(row["rate_date"].strip())] = \
            Decimal(row["rate"].strip())
    return {c: sorted(days.items()) for c, days in rates.items()}


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

    def __init__(self, events: pd.DataFrame, min_pair_orders: int, rates: dict, reporting: str = "USD"):
        self.min_pair_orders = min_pair_orders
        self.rates, self.reporting = rates, reporting
        completed = named(events, "Order Completed")
        completed["order_id"] = completed["order_id"].fillna(completed["event_id"])
        completed = completed.sort_values(["order_id", "ts", "received_at", "event_id"])
        duplicates = completed[completed.duplicated("order_id", keep="first")]["event_id"]
        self.e = events[~events["event_id"].isin(set(duplicates))].reset_index(drop=True)
        self.as_of = self.e["date"].max()
        self.first = self.e["date"].min()
        registered = self.e.loc[self.e["user_id"].notna(), "customer_id"].unique()
        self.registered = pd.Index(sorted(registered))
        self.orders = self._orders(completed.drop_duplicates("order_id", keep="first").copy())
        self.refunds = self._refunds()
        self.lines = self._lines()

    def rate(self, currency: str, day) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        day = pd.Timestamp(day).date()
        found = [(d, r) for d, r in self.rates.get(currency, []) if d <= day]
        if not found or (day - found[-1][0]).days > 7:
            return None
        return found[-1][1]

    def _orders(self, orders: pd.DataFrame) -> pd.DataFrame:
        orders["value"] = [amount(p) or Decimal(0) for p in orders["props"]]
        orders["cur"] = [str(p.get("currency") or "USD").strip().upper() for p in orders["props"]]
        changes = pd.concat([named(self.e, "Order Updated").assign(change="updated"),
                             named(self.e, "Order Cancelled").assign(change="cancelled")])
        cancelled: set[str] = set()
        if len(changes):
            changes = changes.sort_values(["ts", "received_at", "event_id"])
            cancelled = set(changes.loc[changes["change"] == "cancelled", "order_id"])
            for row in changes[changes["change"] == "updated"].itertuples():
                value = amount(row.props)
                if value is not None and row.order_id in set(orders["order_id"]):
                    at = orders["order_id"] == row.order_id
                    orders.loc[at, "value"] = value
                    orders.loc[at, "cur"] = str(row.props.get("currency") or "USD").strip().upper()
        orders["cancelled"] = orders["order_id"].isin(cancelled)
        orders["rate"] = [self.rate(c, d) for c, d in zip(orders["cur"], orders["date"], strict=True)]
        orders["value_rc"] = [None if r is None else (v * r).quantize(CENT, ROUND_HALF_UP)
                              for v, r in zip(orders["value"], orders["rate"], strict=True)]
        return orders.set_index("order_id", drop=False)

    def _refunds(self) -> pd.DataFrame:
        """Netted refunds: one row per refund of a known order, with its reporting-currency amount (cumulative,
        capped at the order's value, 0 for a cancelled order, rounded cumulatively)."""
        refunds = named(self.e, "Order Refunded").sort_values(["ts", "received_at", "event_id"])
        out, done = [], {}
        for row in refunds.itertuples():
            if row.order_id not in self.orders.index:
                continue
            order = self.orders.loc[row.order_id]
            cur = str(row.props.get("currency") or order["cur"]).strip().upper()
            asked = amount(row.props)
            if asked is not None and cur != order["cur"]:
                r_from, r_to = self.rate(cur, row.date), self.rate(order["cur"], row.date)
                if r_from is None or r_to is None:
                    continue
                asked = (asked * r_from / r_to).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            cap = Decimal(0) if order["cancelled"] else order["value"]
            before = done.get(row.order_id, Decimal(0))
            after = min(before + (cap if asked is None else asked), cap)
            done[row.order_id] = after
            rc = None
            if order["rate"] is not None:
                rc = ((after * order["rate"]).quantize(CENT, ROUND_HALF_UP)
                      - (before * order["rate"]).quantize(CENT, ROUND_HALF_UP))
            out.append({"customer_id": row.customer_id, "date": row.date, "amount_rc": rc})
        return pd.DataFrame(out, columns=["customer_id", "date", "amount_rc"])

    def _lines(self) -> pd.DataFrame:
        known: dict[str, tuple] = {}
        for row in self.e[self.e["type"] == "track"].itertuples():
            candidates = []
            if row.event == "Order Completed":
                candidates = [line for line in row.props.get("products") or [] if isinstance(line, dict)]
            elif str(row.event).split(" ")[0] in PRODUCT_EVENT_PREFIXES:
                candidates = [row.props]
            for item in candidates:
                if item.get("product_id") and item.get("category"):
                    key = (row.ts,)
                    if item["product_id"] not in known or known[item["product_id"]][0] <= key:
                        known[item["product_id"]] = (key, str(item["category"]).strip())
        self.categories = {p: c for p, (_, c) in known.items()}
        lines = []
        for _, row in self.orders[~self.orders["cancelled"]].iterrows():
            for item in row["products"] if isinstance(row["products"], list) else []:
                price = item.get("price", item.get("unit_price"))
                quantity = int(item.get("quantity", 1))
                line = None if price is None else Decimal(str(price)) * quantity
                rc = None if line is None or row["rate"] is None else (line * row["rate"]).quantize(CENT, ROUND_HALF_UP)
                product = item.get("product_id") or "unknown"
                lines.append({"order_key": row["order_id"], "customer_id": row["customer_id"], "date": row["date"],
                              "ts": row["ts"], "product_id": product,
                              "category": item.get("category") or self.categories.get(product, "unknown"),
                              "quantity": quantity, "amount": float(rc) if rc is not None else 0.0})
        return pd.DataFrame(lines)

    def counted(self) -> pd.DataFrame:
        """Orders that count: not cancelled (value_rc as float, NaN when unconverted)."""
        counted = self.orders[~self.orders["cancelled"]].copy()
        counted["rc"] = counted["value_rc"].map(lambda v: np.nan if v is None else float(v))
        return counted

    # ------------------------------------------------------------------------------ customers
    def profiles(self) -> pd.DataFrame:
        """Current profile of every registered customer (latest value of each trait; null clears it)."""
        ident = self.e[self.e["type"] == "identify"].sort_values(["ts", "event_id"])
        current = {}
        for _, row in ident.iterrows():
            state = current.setdefault(row["customer_id"], {})
            for key, value in (row["traits"] or {}).items():
                if value is None:
                    state.pop(key, None)  # Segment: a trait set to null clears it
                else:
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
        orders = self.counted()
        revenue = orders.groupby("customer_id")["rc"].sum()
        refunds = self.refunds.assign(rc=self.refunds["amount_rc"].map(float)).groupby("customer_id")["rc"].sum()
        snaps = named(self.e, "Account Snapshot").sort_values(["ts", "event_id"])
        balance = snaps.groupby("customer_id")["balance"].last()
        window = orders[orders["date"] > as_of - timedelta(days=RFM_WINDOW_DAYS)]
        frequency = window.groupby("customer_id").size()
        monetary = window.groupby("customer_id")["rc"].sum().round(2)
        last_order = orders.groupby("customer_id")["date"].max()
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
            return documented(r, f, m)  # docs/rfm.md's seven segments, written by hand

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
        steps = {"viewers": ["Product Viewed"], "cart_adders": ["Product Added"],
                 "checkout_starters": ["Checkout Started", "Checkout Step Viewed", "Checkout Step Completed",
                                       "Payment Info Entered"]}
        out = pd.DataFrame(index=pd.Index(sorted(track["date"].unique()), name="full_date"))
        for column, names in steps.items():
            out[column] = track[track["event"].isin(names)].groupby("date")["customer_id"].nunique()
        out["purchasers"] = self.counted().groupby("date")["customer_id"].nunique()  # orders that count
        out = out.fillna(0).reset_index()
        out["view_to_cart_rate"] = out["cart_adders"] / out["viewers"].replace(0, np.nan)
        out["cart_to_checkout_rate"] = out["checkout_starters"] / out["cart_adders"].replace(0, np.nan)
        out["checkout_to_purchase_rate"] = out["purchasers"] / out["checkout_starters"].replace(0, np.nan)
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
        orders = self.counted()
        out["orders"] = orders.groupby("date").size()
        out["purchasers"] = orders.groupby("date")["customer_id"].nunique()
        out["units_sold"] = self.lines.groupby("date")["quantity"].sum()
        out["revenue"] = orders.groupby("date")["rc"].sum()
        out["_converted"] = orders.groupby("date")["rc"].count()
        out["refunds"] = self.refunds.assign(rc=self.refunds["amount_rc"].map(float)).groupby("date")["rc"].sum()
        out["unconverted_orders"] = orders[orders["rc"].isna()].groupby("date").size()
        out = out.fillna(0)
        out["aov"] = [half_up(r / n) if n else np.nan for r, n in zip(out["revenue"], out["_converted"], strict=True)]
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
        out = lines.groupby("product_id").agg(units_sold=("quantity", "sum"), revenue=("amount", "sum"),
                                              orders=("order_key", "nunique")).reset_index()
        out["revenue"] = out["revenue"].round(2)
        out["category"] = out["product_id"].map(lambda p: self.categories.get(p, "unknown"))
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
    settings = built_lake.settings
    return Oracle(raw_events(settings), settings.batch.affinity_min_pair_orders, read_rates(settings),
                  settings.money.reporting_currency)


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
                ["viewers", "cart_adders", "checkout_starters", "purchasers", "view_to_cart_rate",
                 "cart_to_checkout_rate", "checkout_to_purchase_rate", "cart_to_purchase_rate",
                 "view_to_purchase_rate"])


def test_daily_kpis(oracle, warehouse) -> None:
    assert_same(mart(warehouse, "mart_daily_kpis"), oracle.daily_kpis(), ["full_date"],
                ["dau", "new_customers", "sessions", "orders", "purchasers", "units_sold", "revenue", "refunds",
                 "aov", "conversion_rate", "unconverted_orders"], money=("revenue", "refunds", "aov"))


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
