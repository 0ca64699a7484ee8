"""The behaviour the data must carry, tested with statistics on the >= 1M-event run (seed 7, 7,000 customers).

Thresholds are effect sizes and p-values a downstream model relies on, not values copied from a run.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from scipy import stats

from lakehouse.local.generator.signal import Activity, auc, churn_signal
from tests.lakehouse.local.generator.conftest import BigRun

CUTOFF = date(2025, 8, 29)  # day 240: 60 days of horizon and 240 days of history


def test_funnel_ratios(big_run: BigRun, big_activity: Activity) -> None:
    c = big_activity.counts
    view_to_cart = c["Product Added"] / c["Product Viewed"]
    cart_to_purchase = len(big_activity.carts_ordered) / len(big_activity.carts_added)
    assert c["Product Viewed"] > 200_000
    assert 0.085 <= view_to_cart <= 0.115
    assert 0.52 <= cart_to_purchase <= 0.68
    assert 0.05 <= c["Product Removed"] / c["Product Added"] <= 0.2
    assert c["Checkout Started"] > c["Order Completed"] > 0


def test_refunds_follow_earlier_orders_of_the_same_customer(big_activity: Activity) -> None:
    refunds, orders = big_activity.counts["Order Refunded"], big_activity.counts["Order Completed"]
    assert big_activity.refunds_unknown_order == 0
    assert 0.02 <= refunds / orders <= 0.05


def test_churners_are_less_recent_and_less_frequent_before_they_churn(big_activity: Activity, big_truth) -> None:
    s = churn_signal(big_activity, big_truth, CUTOFF, 60)
    assert s["churners"] >= 150 and s["customers"] - s["churners"] >= 2_000
    rows = _features_at_cutoff(big_activity, big_truth)
    churned = rows["label"]
    recency, orders = rows["recency"], rows["orders_90"]
    assert stats.mannwhitneyu(recency[churned], recency[~churned], alternative="greater").pvalue < 1e-12
    assert stats.mannwhitneyu(orders[churned], orders[~churned], alternative="less").pvalue < 1e-6
    assert auc(recency[churned], recency[~churned]) >= 0.62  # recency alone ranks churners well above chance
    assert np.median(recency[churned]) >= 2 * np.median(recency[~churned])
    assert orders[churned].mean() <= 0.8 * orders[~churned].mean()


def test_severe_tickets_raise_churn(big_activity: Activity, big_truth) -> None:
    rows = _features_at_cutoff(big_activity, big_truth)
    severe, churned = rows["severe_90"], rows["label"]
    table = [[int((severe & churned).sum()), int((severe & ~churned).sum())],
             [int((~severe & churned).sum()), int((~severe & ~churned).sum())]]
    assert severe.sum() >= 100
    _, p = stats.fisher_exact(table, alternative="greater")
    assert p < 1e-4
    assert churned[severe].mean() >= 1.5 * churned[~severe].mean()


def test_activity_fades_before_churn(big_activity: Activity, big_truth) -> None:
    """Churners decline first: fewer active days in the 4 weeks before churn than in the 4 weeks before the decline."""
    before, last = [], []
    for t in big_truth:
        if not (t["churn_date"] and t["decline_start"] and "2025-03-01" <= t["decline_start"] <= t["churn_date"]):
            continue
        if date.fromisoformat(t["decline_start"]) - date.fromisoformat(t["signup_date"]) < timedelta(days=28):
            continue
        days = big_activity.last_active.get(t["user_id"], [])
        decline, churn = date.fromisoformat(t["decline_start"]), date.fromisoformat(t["churn_date"])
        before.append(_active_days(days, decline - timedelta(days=28), decline))
        last.append(_active_days(days, churn - timedelta(days=28), churn))
    assert len(before) >= 200
    assert stats.wilcoxon(before, last, alternative="greater").pvalue < 1e-12
    assert np.mean(last) <= 0.4 * np.mean(before)


def test_nobody_acts_after_churning(big_activity: Activity, big_truth) -> None:
    churned = [t for t in big_truth if t["churn_date"]]
    assert sum(t["churn_kind"] == "closed" for t in churned) >= 200
    assert sum(t["churn_kind"] == "lapsed" for t in churned) >= 200
    for t in churned:
        days = big_activity.last_active.get(t["user_id"], [])
        assert not days or days[-1] <= t["churn_date"]


def test_next_purchase_depends_on_frequency_and_spend_is_heavy_tailed(big_activity: Activity, big_truth) -> None:
    cut, end = CUTOFF.isoformat(), (CUTOFF + timedelta(days=30)).isoformat()
    since = (CUTOFF - timedelta(days=90)).isoformat()
    frequency, bought = [], []
    for t in big_truth:
        if t["signup_date"] < cut and not (t["churn_date"] and t["churn_date"] <= cut):
            days = big_activity.order_days.get(t["user_id"], [])
            frequency.append(sum(since <= d < cut for d in days))
            bought.append(any(cut <= d < end for d in days))
    f, y = np.array(frequency), np.array(bought)
    rates = [y[np.minimum(f, 2) == k].mean() for k in range(3)]
    assert rates[0] < rates[1] < rates[2] and rates[2] >= 2 * rates[0]
    assert stats.spearmanr(f, y).pvalue < 1e-12
    spend = np.sort(np.array(list(big_activity.revenue.values())))[::-1]
    assert spend[: len(spend) // 10].sum() >= 0.4 * spend.sum()  # top 10% of buyers bring >= 40% of revenue


def test_churn_differs_by_geography_and_age(big_truth) -> None:
    def rate(column: str, value: str) -> tuple[int, int]:
        group = [int(t["churned"]) for t in big_truth if t[column] == value]
        return sum(group), len(group) - sum(group)

    _, p_geo = stats.fisher_exact([rate("geography", "United States"), rate("geography", "Germany")],
                                  alternative="greater")
    _, p_age = stats.fisher_exact([rate("age_band", "18-29"), rate("age_band", "46-60")], alternative="greater")
    assert p_geo < 0.01 and p_age < 0.01
    assert {t["age_band"] for t in big_truth} == {"18-29", "30-45", "46-60", "60+"}
    assert len({t["geography"] for t in big_truth}) == 7


def test_some_customers_move_country(big_activity: Activity, big_truth) -> None:
    moved = {t["user_id"] for t in big_truth if int(t["moves"]) > 0}
    assert len(moved) >= 100
    assert big_activity.movers == moved
    assert all(t["geography"] != t["geography_end"] for t in big_truth if int(t["moves"]) == 1)


def test_only_the_streaming_segment_watches_content(big_activity: Activity, big_truth) -> None:
    streaming = {t["user_id"] for t in big_truth if t["streaming"] == "1"}
    assert big_activity.watchers <= streaming
    assert len(big_activity.watchers) >= 0.9 * len(streaming)
    assert 0.25 <= len(streaming) / len(big_truth) <= 0.45


def test_weekends_have_more_orders(big_activity: Activity) -> None:
    per_weekday = np.zeros(7)
    for days in big_activity.order_days.values():
        for d in days:
            per_weekday[date.fromisoformat(d).weekday()] += 1
    assert per_weekday[5:].mean() >= 1.1 * per_weekday[:4].mean()


def test_auc_matches_the_mann_whitney_statistic() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 1, 300).round(1), rng.normal(0, 1, 400).round(1)  # rounded: ties included
    u = stats.mannwhitneyu(a, b).statistic
    assert abs(auc(a, b) - u / (len(a) * len(b))) < 1e-12


# ----------------------------------------------------------------------------------------------- helpers
def _active_days(days: list[str], start: date, end: date) -> int:
    return sum(start.isoformat() <= d < end.isoformat() for d in days)


def _features_at_cutoff(act: Activity, truth: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Customers signed up 30+ days before the cutoff and not churned at it; label = churn in the next 60 days.

    Recency counts days since the last customer-initiated event (signal.CUSTOMER_INITIATED).
    """
    cut, end = CUTOFF.isoformat(), (CUTOFF + timedelta(days=60)).isoformat()
    since = (CUTOFF - timedelta(days=90)).isoformat()
    label, recency, orders, severe = [], [], [], []
    for t in truth:
        if t["signup_date"] > (CUTOFF - timedelta(days=30)).isoformat() or (t["churn_date"] and t["churn_date"] <= cut):
            continue
        user = t["user_id"]  # the id the calls carry (numeric-id customers: the number)
        active = [d for d in act.last_active.get(user, []) if d < cut]
        label.append(bool(t["churn_date"]) and t["churn_date"] <= end)
        recency.append((CUTOFF - date.fromisoformat(active[-1])).days if active else 365)
        orders.append(sum(since <= d < cut for d in act.order_days.get(user, [])))
        severe.append(any(since <= d < cut for d in act.severe_ticket_days.get(user, [])))
    return {"label": np.array(label), "recency": np.array(recency, float), "orders_90": np.array(orders, float),
            "severe_90": np.array(severe)}
