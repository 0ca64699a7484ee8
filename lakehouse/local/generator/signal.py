"""Measure what a generated data set carries: funnel ratios, churn rates, and the churn signal.

``python -m lakehouse.local.generator.signal DIR [--cutoff-day N] [--horizon-days N]`` prints the numbers
quoted in docs/data-generator.md. Reads the events and the ground truth; the pipeline never does this.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from lakehouse.core.commerce import order_value
from lakehouse.local.generator.rates import usd_per_unit
from lakehouse.local.generator.report import read_manifest
from lakehouse.local.generator.truth import TRUTH_FILE

#: events a customer sends by acting (back-office events like Offer Sent or Account Snapshot excluded)
CUSTOMER_INITIATED = frozenset({
    "page", "screen", "identify", "Product Viewed", "Product Added", "Product Removed", "Checkout Started",
    "Order Completed", "Content Watched", "Ticket Opened", "Offer Responded", "Products Searched",
    "Product List Viewed", "Promotion Viewed", "Promotion Clicked", "Cart Viewed", "Payment Info Entered",
    "Coupon Applied", "Order Updated", "Order Cancelled",
})
SEVERE = frozenset({"high", "critical"})


def read_events(out_dir: Path) -> Iterator[dict[str, Any]]:
    """Every call of a data set, in file (= timestamp) order."""
    for path in sorted(Path(out_dir).glob("events-*.jsonl.gz")):
        with gzip.open(path, "rb") as lines:
            for line in lines:
                yield orjson.loads(line)


def read_truth(out_dir: Path) -> list[dict[str, str]]:
    """The ground-truth rows (``truth/customers.csv.gz``), one dict of strings per customer."""
    with gzip.open(Path(out_dir) / TRUTH_FILE, "rt", encoding="utf-8", newline="") as text:
        return list(csv.DictReader(io.StringIO(text.read())))


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counted half (Mann-Whitney U / n1 n2)."""
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    values = np.concatenate([positive, negative])
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # average ranks over ties
    sorted_values = values[order]
    _, start, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    for s, c in zip(start.tolist(), counts.tolist(), strict=True):
        if c > 1:
            ranks[order[s:s + c]] = s + (c + 1) / 2
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


@dataclass
class Activity:
    """Per-customer facts gathered in one pass over the events."""

    counts: Counter = field(default_factory=Counter)
    carts_added: set = field(default_factory=set)
    carts_ordered: set = field(default_factory=set)
    orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # order_id -> (userId, timestamp)
    refunds_unknown_order: int = 0  # refunds of an order that is not an earlier order of the same customer
    last_active: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    order_days: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    revenue: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    severe_ticket_days: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    movers: set = field(default_factory=set)
    watchers: set = field(default_factory=set)
    anonymous_pages: int = 0  # page / screen calls without a userId (visitors, logged-out journeys)
    order_values: dict[str, float] = field(default_factory=dict)  # order_id -> USD value (the commerce rule)


def js_id(value: Any) -> str | None:
    """An id as the API stores it: a JSON number printed the way JavaScript prints it (``10123.0`` -> "10123")."""
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(value)


def usd(props: dict[str, Any], day: str) -> float:
    """The order value rule (lakehouse.core.commerce) in USD with the shipped rate of ``day``; 0 when unknown."""
    value = order_value(props)
    return 0.0 if value is None else float(value) * usd_per_unit(props.get("currency", "USD"), date.fromisoformat(day))


def gather(events: Iterator[dict[str, Any]]) -> Activity:
    """Per-customer facts of ``events``, in one pass, identities stitched as they are learnt.

    Links: identify with both ids and alias (previousId -> userId); an order id counts once (first Order
    Completed); an Order Cancelled takes its order's value back; amounts are in USD.
    """
    act = Activity()
    links: dict[str, str] = {}

    def resolve(identifier: str | None) -> str | None:
        while identifier in links:
            identifier = links[identifier]
        return identifier

    for e in events:
        name = e.get("event") or e["type"]
        act.counts[name] += 1
        props = e.get("properties") or {}
        if name == "Product Added":
            act.carts_added.add(props["cart_id"])
        user = js_id(e.get("userId"))
        if e["type"] == "alias":
            links.setdefault(js_id(e["previousId"]), user)
        elif e["type"] == "identify" and user is not None and e.get("anonymousId"):
            links.setdefault(e["anonymousId"], user)
        if user is None:
            act.anonymous_pages += e["type"] in ("page", "screen")
            continue
        day = e["timestamp"][:10]
        if name in CUSTOMER_INITIATED:
            days = act.last_active[user]
            if not days or days[-1] != day:
                days.append(day)
        if name == "Order Completed":
            if props["order_id"] in act.orders:  # a re-post under a new messageId counts once
                continue
            act.carts_ordered.add(props["cart_id"])
            act.orders[props["order_id"]] = (user, e["timestamp"])
            act.order_days[user].append(day)
            act.revenue[user] += usd(props, day)
            act.order_values[props["order_id"]] = usd(props, day)
        elif name == "Order Cancelled":
            placed = act.orders.get(props["order_id"])
            if placed is not None:
                act.revenue[placed[0]] -= act.order_values.pop(props["order_id"], 0.0)
        elif name == "Order Refunded":
            placed = act.orders.get(props["order_id"])
            act.refunds_unknown_order += (placed is None or resolve(placed[0]) != resolve(user)
                                          or placed[1] >= e["timestamp"])
        elif name == "Ticket Opened" and props["severity"] in SEVERE:
            act.severe_ticket_days[user].append(day)
        elif name == "identify" and "geography" in (e.get("traits") or {}) and "signup_date" not in e["traits"]:
            act.movers.add(user)
        elif name == "Content Watched":
            act.watchers.add(user)
    return act


def _days_between(a: str, b: date) -> int:
    return (b - date.fromisoformat(a)).days


def churn_signal(act: Activity, truth: list[dict[str, str]], cutoff: date, horizon_days: int) -> dict[str, Any]:
    """Customers alive at ``cutoff``: do those who churn in the next ``horizon_days`` look different?

    Recency counts days since the last customer-initiated event; frequency and activity look at the
    90 days before the cutoff, and so does "had a high/critical ticket".
    """
    end = cutoff + timedelta(days=horizon_days)
    rows = []
    for t in truth:
        if date.fromisoformat(t["signup_date"]) > cutoff - timedelta(days=30):
            continue
        churn = date.fromisoformat(t["churn_date"]) if t["churn_date"] else None
        if churn is not None and churn <= cutoff:
            continue
        user = t["user_id"]
        active = [d for d in act.last_active.get(user, []) if d < cutoff.isoformat()]
        recency = _days_between(active[-1], cutoff) if active else 9999
        since = (cutoff - timedelta(days=90)).isoformat()
        frequency = sum(1 for d in act.order_days.get(user, []) if since <= d < cutoff.isoformat())
        active_days = sum(1 for d in active if d >= since)
        severe = any(since <= d < cutoff.isoformat() for d in act.severe_ticket_days.get(user, []))
        rows.append((churn is not None and churn <= end, recency, frequency, active_days, severe))
    label = np.array([r[0] for r in rows], bool)
    recency = np.array([r[1] for r in rows], float)
    frequency = np.array([r[2] for r in rows], float)
    active_days = np.array([r[3] for r in rows], float)
    severe = np.array([r[4] for r in rows], bool)
    capped = np.minimum(recency, 365)

    def rate(mask: np.ndarray) -> float:
        return float(label[mask].mean()) if mask.any() else float("nan")

    return {
        "cutoff": cutoff.isoformat(), "horizon_days": horizon_days, "customers": len(rows),
        "churners": int(label.sum()), "churn_rate": float(label.mean()) if len(rows) else float("nan"),
        "recency_median_churners": float(np.median(capped[label])) if label.any() else float("nan"),
        "recency_median_retained": float(np.median(capped[~label])) if (~label).any() else float("nan"),
        "active_days_90_mean_churners": float(active_days[label].mean()) if label.any() else float("nan"),
        "active_days_90_mean_retained": float(active_days[~label].mean()) if (~label).any() else float("nan"),
        "orders_90_mean_churners": float(frequency[label].mean()) if label.any() else float("nan"),
        "orders_90_mean_retained": float(frequency[~label].mean()) if (~label).any() else float("nan"),
        "auc_recency": auc(capped[label], capped[~label]),
        "auc_low_activity": auc(-active_days[label], -active_days[~label]),
        "customers_with_severe_ticket": int(severe.sum()),
        "churn_rate_severe_ticket": rate(severe), "churn_rate_no_severe_ticket": rate(~severe),
    }


def purchase_signal(act: Activity, truth: list[dict[str, str]], cutoff: date, horizon_days: int = 30
                    ) -> dict[str, Any]:
    """Customers known at ``cutoff``: does ordering in the next ``horizon_days`` follow recency and frequency?"""
    cut, end = cutoff.isoformat(), (cutoff + timedelta(days=horizon_days)).isoformat()
    since = (cutoff - timedelta(days=90)).isoformat()
    label, frequency, recency = [], [], []
    for t in truth:
        if t["signup_date"] >= cut:
            continue
        days = act.order_days.get(t["user_id"], [])
        before = [d for d in days if d < cut]
        label.append(any(cut <= d < end for d in days))
        frequency.append(sum(1 for d in before if d >= since))
        recency.append(_days_between(before[-1], cutoff) if before else 9999)
    y = np.array(label, bool)
    f, r = np.array(frequency, float), np.minimum(np.array(recency, float), 730)
    return {
        "cutoff": cut, "horizon_days": horizon_days, "customers": len(y), "buyers": int(y.sum()),
        "auc_frequency": auc(f[y], f[~y]), "auc_recency": auc(-r[y], -r[~y]),
        "buy_rate_by_orders_90": {str(k): round(float(y[np.minimum(f, 3) == k].mean()), 4)
                                  for k in range(4) if (np.minimum(f, 3) == k).any()},
    }


def rates_by(truth: list[dict[str, str]], column: str) -> dict[str, dict[str, float]]:
    """Share of customers who churned during the run, by ``column``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for t in truth:
        groups[t[column]].append(int(t["churned"]))
    return {k: {"customers": len(v), "churn_rate": round(sum(v) / len(v), 4)} for k, v in sorted(groups.items())}


def measure(out_dir: Path, cutoff_day: int | None = None, horizon_days: int = 60) -> dict[str, Any]:
    """Every number the docs quote, measured on the data set in ``out_dir``."""
    manifest = read_manifest(out_dir)
    start = date.fromisoformat(manifest["config"]["start"])
    days = manifest["config"]["days"]
    cutoff = start + timedelta(days=cutoff_day if cutoff_day is not None else max(days - horizon_days - 1, 0))
    act = gather(read_events(out_dir))
    truth = read_truth(out_dir)
    c = act.counts
    kinds = Counter(t["churn_kind"] for t in truth)
    streaming = {t["user_id"] for t in truth if t["streaming"] == "1"}
    return {
        "events": sum(c.values()), "customers": len(truth), "counts": dict(c),
        "funnel": {
            "view_to_cart": c["Product Added"] / max(c["Product Viewed"], 1),
            "cart_to_purchase": len(act.carts_ordered) / max(len(act.carts_added), 1),
            "checkout_to_order": c["Order Completed"] / max(c["Checkout Started"], 1),
            "removed_per_added": c["Product Removed"] / max(c["Product Added"], 1),
            "refund_share": c["Order Refunded"] / max(c["Order Completed"], 1),
            "refunds_of_unknown_orders": act.refunds_unknown_order,
        },
        "churn": {"kinds": dict(kinds), "by_geography": rates_by(truth, "geography"),
                  "by_age_band": rates_by(truth, "age_band")},
        "signal": churn_signal(act, truth, cutoff, horizon_days),
        "purchase": purchase_signal(act, truth, cutoff),
        "movers": len(act.movers), "watchers": len(act.watchers),
        "watchers_outside_streaming_segment": len(act.watchers - streaming),
        "anonymous_pages": act.anonymous_pages,
    }


def main(argv: list[str] | None = None) -> None:
    """Print :func:`measure` of a data set as JSON (the command line of the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--cutoff-day", type=int, default=None, help="default: days - horizon - 1")
    parser.add_argument("--horizon-days", type=int, default=60)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.out_dir, args.cutoff_day, args.horizon_days), indent=2, default=float))


if __name__ == "__main__":
    main()
