"""The Segment spec variety of a generated data set, counted independently from the written files.

Every proportion is checked against the rate stated in catalog.py (and docs/data-generator.md) with a bound of
about five binomial standard deviations, so a rate that is off (or a shape that is never produced) fails while
the seed's noise does not. The data set is a medium one (3,000 customers over 150 days, ~240,000 calls).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakehouse.core.money import RateTable
from lakehouse.local.generator import GenerationReport, GeneratorConfig, generate
from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.rates import SHIPPED_RATES, rates_csv, synthetic_rates
from lakehouse.local.generator.signal import read_events, read_truth

CONFIG = GeneratorConfig(seed=5, customers=3_000, days=150, start=date(2025, 1, 1))
EURO_AREA = {"Germany", "France", "Italy", "Spain", "Netherlands"}


@dataclass
class Seen:
    """What the calls say, gathered in one pass without the generator's code."""

    calls: list[dict[str, Any]]
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # order_id -> calls
    by_name: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    usd_price: dict[str, float] = field(default_factory=dict)  # product_id -> catalog price (Product Viewed)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate(CONFIG, tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def seen(run: GenerationReport) -> Seen:
    s = Seen(list(read_events(run.out_dir)))
    for call in s.calls:
        name = call.get("event") or call["type"]
        s.by_name[name].append(call)
        props = call.get("properties") or {}
        if name == "Order Completed":
            s.orders[props["order_id"]].append(call)
        elif name == "Product Viewed" and "category" in props:
            s.usd_price[props["product_id"]] = props["price"]
    return s


def within(count: int, total: int, rate: float, sigmas: float = 5.0) -> bool:
    """``count`` of ``total`` is within ``sigmas`` binomial standard deviations of ``rate`` (and at least 1)."""
    spread = sigmas * math.sqrt(total * rate * (1 - rate)) + 1
    return count >= 1 and abs(count - total * rate) <= spread


def first_orders(s: Seen) -> list[dict[str, Any]]:
    return [calls[0] for calls in s.orders.values()]


def js(value: Any) -> str:
    """An id the way JavaScript prints it (the API's rule): 10123.0 -> '10123'."""
    return value if isinstance(value, str) else str(int(value))


# ----------------------------------------------------------------------------------------------- routes
def test_every_route_and_spec_event_occurs(seen: Seen) -> None:
    names = set(seen.by_name)
    assert {"track", "identify", "page", "screen", "group", "alias"} - {c["type"] for c in seen.calls} == set()
    assert {"Products Searched", "Product List Viewed", "Cart Viewed", "Coupon Applied", "Payment Info Entered",
            "Promotion Viewed", "Promotion Clicked", "Order Updated", "Order Cancelled", "Order Refunded"} <= names


def test_screens_come_from_the_native_app_users_mobile_sessions(seen: Seen) -> None:
    """A customer's mobile views are all screens (an app user) or all pages; about APP_USER_P of the customers
    with mobile views are app users."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for call in seen.by_name["page"] + seen.by_name["screen"]:
        if "userId" in call and call["context"]["channel"] == "mobile":
            kinds[js(call["userId"])].add(call["type"])
    assert all(len(k) == 1 for k in kinds.values()), "a customer mixes app screens and mobile pages"
    app_users = sum(k == {"screen"} for k in kinds.values())
    assert within(app_users, len(kinds), C.APP_USER_P)
    assert all(c["context"]["channel"] == "mobile" and c["name"] for c in seen.by_name["screen"])


def test_a_b2b_share_of_customers_sends_group_after_its_first_identify(seen: Seen, run: GenerationReport) -> None:
    first_identify: dict[str, str] = {}
    for call in seen.by_name["identify"]:
        first_identify.setdefault(js(call["userId"]), call["timestamp"])
    members: dict[str, set[str]] = defaultdict(set)
    for call in seen.by_name["group"]:
        user = js(call["userId"])
        assert call["groupId"].startswith("g") and call["traits"]["name"] and call["traits"]["employees"] >= 1
        assert call["timestamp"] > first_identify[user]
        members[call["groupId"]].add(user)
    b2b = {u for users in members.values() for u in users}
    customers = {u for u in first_identify if not u.startswith("guest-")}
    assert within(len(b2b), len(customers), C.B2B_P)
    assert len(members) < len(b2b)  # companies have several buyers
    truth_groups = {t["user_id"]: t["group_id"] for t in read_truth(run.out_dir) if t["group_id"]}
    assert {u: g for g, users in members.items() for u in users} == truth_groups


def test_a_few_customers_send_numeric_user_ids_as_integers_and_floats(seen: Seen, run: GenerationReport) -> None:
    ints = {c["userId"] for c in seen.calls if isinstance(c.get("userId"), int)}
    floats = {c["userId"] for c in seen.calls if isinstance(c.get("userId"), float)}
    assert floats and {int(f) for f in floats} <= ints and all(f.is_integer() for f in floats)
    users = {js(c["userId"]) for c in seen.calls if "userId" in c and not str(c["userId"]).startswith("guest-")}
    assert within(len(ints), len(users), C.NUMERIC_ID_P)
    numeric_truth = {t["user_id"] for t in read_truth(run.out_dir) if t["user_id"].isdigit()}
    assert {str(i) for i in ints} <= numeric_truth


# ----------------------------------------------------------------------------------------------- identity
def test_anonymous_journeys_browse_and_cart_then_identify_then_order(seen: Seen) -> None:
    """Each login identify carries the anonymousId of earlier views and cart adds, and the order that follows
    carries both ids; about JOURNEY_P + GUEST_ORDER_P of the orders come from such journeys."""
    by_anon: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in seen.calls:
        if "anonymousId" in call:
            by_anon[call["anonymousId"]].append(call)
    logins = [c for c in seen.by_name["identify"] if "anonymousId" in c and "userId" in c]
    assert within(len(logins), len(seen.orders), C.JOURNEY_P + C.GUEST_ORDER_P * (1 - C.JOURNEY_P))
    for login in logins:
        calls = by_anon[login["anonymousId"]]
        before = [c for c in calls if c["timestamp"] < login["timestamp"]]
        after = [c for c in calls if c["timestamp"] > login["timestamp"]]
        assert all("userId" not in c for c in before)
        assert {"Product Viewed", "Product Added"} <= {c.get("event") for c in before}
        assert any(c["type"] in ("page", "screen") for c in before)
        order = next(c for c in after if c.get("event") == "Order Completed")
        assert order["userId"] == login["userId"]
    forms = Counter("absent" if "traits" not in c else "null" if c["traits"] is None else "guest" for c in logins)
    assert forms["absent"] and forms["null"] and forms["guest"]


def test_guest_orders_are_merged_into_a_known_customer_by_alias(seen: Seen) -> None:
    guests = {c["userId"]: c for c in seen.by_name["identify"] if str(c.get("userId", "")).startswith("guest-")}
    aliases = seen.by_name["alias"]
    assert {a["previousId"] for a in aliases} == set(guests)
    assert within(len(aliases), len(seen.orders), C.GUEST_ORDER_P, sigmas=6)
    known = {js(c["userId"]) for c in seen.by_name["identify"] if "signup_date" in (c.get("traits") or {})}
    for alias in aliases:
        assert js(alias["userId"]) in known and alias["timestamp"] > guests[alias["previousId"]]["timestamp"]
        assert any(o["userId"] == alias["previousId"] and o["timestamp"] < alias["timestamp"]
                   for o in first_orders(seen))


def test_identify_calls_clear_age_or_gender_with_null(seen: Seen) -> None:
    cleared = [c for c in seen.by_name["identify"] if c.get("traits") and None in c["traits"].values()]
    assert cleared and all(list(c["traits"]) in (["age"], ["gender"]) for c in cleared)
    customer_days = CONFIG.days * CONFIG.customers
    assert len(cleared) <= 3 * C.TRAIT_CLEAR_P * customer_days  # a low rate: at most the rate over everyone


# ----------------------------------------------------------------------------------------------- orders
def test_order_value_shapes_in_the_stated_proportions(seen: Seen) -> None:
    orders = first_orders(seen)
    n = len(orders)
    shape = Counter()
    for o in orders:
        p = o["properties"]
        keys = {"total", "revenue", "subtotal"} & set(p)
        shape[frozenset(keys)] += 1
        if keys == {"total", "subtotal"}:  # the spec: subtotal after discounts, total = subtotal + shipping
            assert round(p["subtotal"] + p["shipping"], 2) == p["total"]
        if keys == {"revenue"}:  # the spec: revenue = the lines, before discount and shipping
            assert round(sum(x["price"] * x["quantity"] for x in p["products"]), 2) == p["revenue"]
    weights = C.ORDER_SHAPE_WEIGHT
    assert within(shape[frozenset({"revenue"})], n, weights[1])
    assert within(shape[frozenset({"subtotal"})], n, weights[2])
    assert within(shape[frozenset()], n, weights[3])
    bare = sum(all("category" not in line for line in o["properties"]["products"]) for o in orders)
    assert within(bare, n, C.BARE_LINES_P)
    views = seen.by_name["Product Viewed"] + seen.by_name["Product Added"] + seen.by_name["Product Removed"]
    assert within(sum("category" not in v["properties"] for v in views), len(views), C.BARE_PRODUCT_P)


def test_orders_in_eur_and_gbp_are_priced_at_the_days_rate(seen: Seen) -> None:
    """Local-storefront customers of the UK pay in GBP, of the euro area in EUR; a line's price is the catalog's
    USD price divided by the shipped rate of the order's day (the latest business day on or before it)."""
    geography: dict[str, str] = {}  # as of each call: the calls are in timestamp order
    table = RateTable.from_csv(SHIPPED_RATES.read_text(), "USD")
    currency_of = Counter()
    priced = 0
    seen_orders: set[str] = set()
    for call in seen.calls:
        if call["type"] == "identify" and (call.get("traits") or {}).get("geography"):
            geography[js(call["userId"])] = call["traits"]["geography"]
        if call.get("event") != "Order Completed" or call["properties"]["order_id"] in seen_orders:
            continue
        seen_orders.add(call["properties"]["order_id"])
        p = call["properties"]
        currency_of[p["currency"]] += 1
        if p["currency"] == "USD" or str(call["userId"]).startswith("guest-"):
            continue
        home = geography[js(call["userId"])]
        assert p["currency"] == ("GBP" if home == "United Kingdom" else "EUR") and home != "United States"
        rate = table.rate(p["currency"], date.fromisoformat(call["timestamp"][:10]))
        for line in p["products"]:
            usd = Decimal(str(seen.usd_price[line["product_id"]]))
            local = Decimal(str(line.get("unit_price", line.get("price"))))
            assert abs(local - usd / rate) <= Decimal("0.006")
            priced += 1
    n = sum(currency_of.values())
    foreign = currency_of["EUR"] + currency_of["GBP"]
    assert currency_of["EUR"] and currency_of["GBP"] and priced
    assert 0.5 * C.LOCAL_CURRENCY_P * 0.70 * n <= foreign <= 1.5 * C.LOCAL_CURRENCY_P * 0.70 * n  # 70% live abroad


def test_re_posted_orders_repeat_the_order_under_a_new_message_id(seen: Seen) -> None:
    reposted = {oid: calls for oid, calls in seen.orders.items() if len(calls) > 1}
    assert within(len(reposted), len(seen.orders), sum(C.REPOST_P))
    same_time = 0
    for calls in reposted.values():
        assert len(calls) == 2 and calls[0]["messageId"] != calls[1]["messageId"]
        assert calls[0]["properties"] == calls[1]["properties"]
        same_time += calls[0]["timestamp"] == calls[1]["timestamp"]
    assert 0 < same_time < len(reposted)  # client retries (same timestamp) and back-office resends (later)


def test_updates_and_cancellations_follow_their_order_the_same_day(seen: Seen) -> None:
    orders = {oid: calls[0] for oid, calls in seen.orders.items()}
    n = len(orders)
    updated, cancelled = seen.by_name["Order Updated"], seen.by_name["Order Cancelled"]
    assert within(len(updated), n, C.ORDER_UPDATED_P * (1 - C.ORDER_CANCELLED_P))
    assert within(len(cancelled), n, C.ORDER_CANCELLED_P)
    for change in updated + cancelled:
        order = orders[change["properties"]["order_id"]]
        assert order["timestamp"] < change["timestamp"] and order["timestamp"][:10] == change["timestamp"][:10]
        assert change["properties"]["currency"] == order["properties"]["currency"]
    for change in updated:
        lines = change["properties"]["products"]
        assert round(change["properties"]["subtotal"] + change["properties"]["shipping"], 2) \
            == change["properties"]["total"]
        assert sum(x["quantity"] for x in lines) == sum(x["quantity"] for x in
                                                        orders[change["properties"]["order_id"]]["properties"]
                                                        ["products"])
    refunded = {r["properties"]["order_id"] for r in seen.by_name["Order Refunded"]}
    assert not refunded & {c["properties"]["order_id"] for c in cancelled}  # a cancelled order is never refunded


def test_refunds_full_with_only_the_order_id_and_partial_with_one_line(seen: Seen) -> None:
    refunds = seen.by_name["Order Refunded"]
    orders = {oid: calls[0] for oid, calls in seen.orders.items()}
    only_id = [r for r in refunds if set(r["properties"]) == {"order_id"}]
    with_line = [r for r in refunds if "products" in r["properties"]]
    assert within(len(only_id), len(refunds), C.BARE_REFUND_P * (1 - C.PARTIAL_REFUND_P), sigmas=6)
    assert with_line
    for refund in with_line:
        (line,) = refund["properties"]["products"]
        first = orders[refund["properties"]["order_id"]]["properties"]["products"][0]
        assert line["product_id"] == first["product_id"] and line["quantity"] == first["quantity"]
        assert line["price"] == first.get("unit_price", first.get("price"))


# ----------------------------------------------------------------------------------------------- browsing
def test_the_specs_browsing_events_in_the_stated_proportions(seen: Seen) -> None:
    identified = {c["anonymousId"] for c in seen.by_name["identify"] if "anonymousId" in c}
    landings = Counter(c["name"] for c in seen.by_name["page"] + seen.by_name["screen"]
                       if "userId" in c or c.get("anonymousId") in identified)
    count = {name: len(seen.by_name[name]) for name in seen.by_name}
    assert within(count["Products Searched"], landings["Search"], C.SEARCHED_P)
    assert within(count["Product List Viewed"], landings["Category"], C.LIST_VIEWED_P)
    assert within(count["Promotion Viewed"], landings["Home"], C.PROMOTION_VIEWED_P)
    assert within(count["Promotion Clicked"], count["Promotion Viewed"], C.PROMOTION_CLICKED_P)
    assert within(count["Cart Viewed"], count["Checkout Started"], C.CART_VIEWED_P)
    assert within(count["Payment Info Entered"], len(seen.orders), C.PAYMENT_INFO_P)
    with_coupon = sum("coupon" in o["properties"] for o in first_orders(seen))
    assert count["Coupon Applied"] == with_coupon
    for call in seen.by_name["Product List Viewed"]:
        assert call["properties"]["category"] and len(call["properties"]["products"]) == 4


def test_the_manifest_counts_what_the_files_hold(run: GenerationReport, seen: Seen) -> None:
    counts = Counter(c.get("event") or c["type"] for c in seen.calls)
    assert {k: v for k, v in run.counts.items() if v} == dict(counts)
    spec = run.extra["spec"]
    assert counts["alias"] == spec["guest_orders"] and counts["group"] == spec["group"]
    assert counts["screen"] == spec["screen"] and counts["Order Cancelled"] == spec["orders_cancelled"]


def test_spec_scale_zero_sends_the_classic_shapes_only(tmp_path: Path) -> None:
    report = generate(GeneratorConfig(seed=5, customers=300, days=30, spec_scale=0), tmp_path)
    calls = list(read_events(tmp_path))
    assert {c["type"] for c in calls} == {"track", "identify", "page"}
    assert all(c.get("properties", {}).get("currency", "USD") == "USD" for c in calls)
    assert not report.counts["Order Updated"] and not report.counts["Products Searched"]


# ----------------------------------------------------------------------------------------------- rates
def test_the_shipped_rates_cover_every_day_the_demo_and_the_tests_generate() -> None:
    """Every day from 2024-12-01 to 2026-12-31 (the demo: 2025-01-01 + 180 days) has an EUR and a GBP rate within
    max_rate_age_days, read with the pipeline's own RateTable; values are plausible USD prices."""
    table = RateTable.from_csv(SHIPPED_RATES.read_text(encoding="utf-8"), "USD", max_rate_age_days=7)
    day = date(2024, 12, 1)
    while day <= date(2026, 12, 31):
        for currency, low, high in (("EUR", "0.85", "1.35"), ("GBP", "1.05", "1.55")):
            rate = table.rate(currency, day)
            assert rate is not None, f"no {currency} rate for {day}"
            assert Decimal(low) <= rate <= Decimal(high)
        day += timedelta(days=1)
    assert {r.rate_date.weekday() for r in table.rows} == {0, 1, 2, 3, 4}  # business days only


def test_the_shipped_rates_file_is_the_documented_deterministic_build() -> None:
    """docs/data-generator.md says how the file is made; a hand edit (or a changed seed) fails here."""
    assert SHIPPED_RATES.read_text(encoding="utf-8") == rates_csv(synthetic_rates())
