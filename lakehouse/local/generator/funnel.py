"""Shopping sessions: landing page -> product views -> add to cart -> (remove) -> checkout -> order.

A pure, vectorised function of its inputs and the random generator: one call turns every shopping
session of a day into page, product, checkout and order rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.catalog import Catalog
from lakehouse.local.generator.events import Items, Table

DAY_S = 86_400.0
MAX_GAP_S = 300.0
#: page codes of the page table
PAGE_NAMES: tuple[str, ...] = ("Home", "Deals", "Search", "Category", "Checkout", "Order Confirmation")
PAGE_PATHS: tuple[str, ...] = ("/", "/deals", "/search", "/c/", "/checkout", "/checkout/done")
PAGE_CATEGORY, PAGE_CHECKOUT, PAGE_CONFIRMATION = 3, 4, 5
#: offer types with an effect on the order itself
DISCOUNT, FREE_SHIPPING = C.OFFER_TYPES.index("discount"), C.OFFER_TYPES.index("free_shipping")


@dataclass(frozen=True)
class Sessions:
    """One entry per shopping session."""

    cust: np.ndarray  # customer index
    start_s: np.ndarray  # wished start, seconds after midnight UTC (moved earlier if the day would end)
    mobile: np.ndarray  # bool: mobile app, else web
    p_add: np.ndarray  # chance that a product view leads to an add-to-cart
    favourite_category: np.ndarray
    spend: np.ndarray
    coupon_id: np.ndarray  # accepted, unused offer the next order redeems (-1: none)
    coupon_kind: np.ndarray  # its offer type (-1: none)


@dataclass(frozen=True)
class Shopping:
    """The rows one day's shopping sessions produce, by kind, and the order lines they reference."""

    pages: Table
    products: Table
    checkouts: Table
    orders: Table
    items: Items


def _ms(day_ms: int, seconds: np.ndarray) -> np.ndarray:
    return day_ms + np.round(seconds * 1000).astype(np.int64)


def shop(rng: np.random.Generator, s: Sessions, catalog: Catalog, day_ms: int, session_seq: int,
         order_seq: int) -> Shopping:
    """All rows of the day's shopping sessions. ``session_seq``/``order_seq``: first cart / order number."""
    n = len(s.cust)
    views = 1 + np.minimum(rng.poisson(C.VIEWS_MEAN - 1, n), C.VIEWS_MAX - 1)
    vs = np.repeat(np.arange(n), views)  # view -> session
    gap = np.minimum(C.VIEW_GAP_MIN_S + rng.exponential(C.VIEW_GAP_MEAN_S, len(vs)), MAX_GAP_S)
    cum = np.cumsum(gap)
    first = np.cumsum(views) - views
    view_off = cum - (cum[first] - gap[first])[vs]  # seconds after the landing page
    tail = view_off[first + views - 1] + 10.0  # every add of the session happened before this

    # which product: favourite category or popularity; price tier tilted by spend; best sellers first
    vc = s.cust[vs]
    category = np.where(rng.random(len(vs)) < C.FAVOURITE_CATEGORY_P, s.favourite_category[vs],
                        rng.choice(len(C.CATEGORY_NAMES), size=len(vs), p=C.CATEGORY_WEIGHT / C.CATEGORY_WEIGHT.sum()))
    tier = np.digitize(rng.random(len(vs)) + C.PREMIUM_TILT * np.log(s.spend[vs]), [1 / 3, 2 / 3])
    size = catalog.tier_size[category, tier]
    product = catalog.tier_start[category, tier] + np.floor(size * rng.random(len(vs)) ** C.POPULARITY_SKEW
                                                            ).astype(np.int64)

    # add to cart, remove again
    add = np.flatnonzero(rng.random(len(vs)) < s.p_add[vs])
    add_sess = vs[add]
    add_off = view_off[add] + 2.0 + 8.0 * rng.random(len(add))
    quantity = 1 + np.minimum(rng.poisson(C.QUANTITY_PER_SPEND * np.maximum(s.spend[add_sess] - 1.0, 0.0)),
                              C.QUANTITY_MAX - 1)
    removed = rng.random(len(add)) < C.REMOVE_P
    rem = np.flatnonzero(removed)
    rem_off = tail[add_sess[rem]] + 1.0 + 25.0 * rng.random(len(rem))
    kept = np.bincount(add_sess[~removed], minlength=n)
    checkout = (kept > 0) & (rng.random(n) < C.CHECKOUT_P)
    complete = checkout & (rng.random(n) < C.COMPLETE_P)
    checkout_off = tail + 40.0 + 60.0 * rng.random(n)
    order_off = checkout_off + 30.0 + 210.0 * rng.random(n)
    span = tail + 341.0  # upper bound of order_off
    start = np.minimum(s.start_s, DAY_S - 1.0 - span)

    channel = s.mobile.astype(np.int64)
    cart = session_seq + np.arange(n, dtype=np.int64)

    # pages: landing page of every session, checkout page, confirmation page
    landing = rng.choice(len(C.LANDING_WEIGHT), size=n, p=C.LANDING_WEIGHT / C.LANDING_WEIGHT.sum())
    ck = np.flatnonzero(checkout)
    oc = np.flatnonzero(complete)
    pages = {
        "ts": np.concatenate([_ms(day_ms, start), _ms(day_ms, start[ck] + checkout_off[ck] - 1.0),
                              _ms(day_ms, start[oc] + order_off[oc] + 1.0)]),
        "cust": np.concatenate([s.cust, s.cust[ck], s.cust[oc]]),
        "page": np.concatenate([landing, np.full(len(ck), PAGE_CHECKOUT), np.full(len(oc), PAGE_CONFIRMATION)]),
        "category": np.concatenate([category[first], np.full(len(ck) + len(oc), -1)]),
        "channel": np.concatenate([channel, channel[ck], channel[oc]]),
        "anon": np.zeros(n + len(ck) + len(oc), dtype=np.uint64),
    }

    products = {
        "ts": np.concatenate([_ms(day_ms, start[vs] + view_off), _ms(day_ms, start[add_sess] + add_off),
                              _ms(day_ms, start[add_sess[rem]] + rem_off)]),
        "cust": np.concatenate([vc, s.cust[add_sess], s.cust[add_sess[rem]]]),
        "action": np.concatenate([np.zeros(len(vs), np.int64), np.ones(len(add), np.int64),
                                  np.full(len(rem), 2, np.int64)]),
        "product": np.concatenate([product, product[add], product[add[rem]]]),
        "quantity": np.concatenate([np.ones(len(vs), np.int64), quantity, quantity[rem]]),
        "cart": np.concatenate([cart[vs], cart[add_sess], cart[add_sess[rem]]]),
        "channel": np.concatenate([channel[vs], channel[add_sess], channel[add_sess[rem]]]),
    }

    # order lines: the kept adds of sessions that reached checkout (adds are grouped by session)
    line = np.flatnonzero(~removed & checkout[add_sess])
    line_sess = add_sess[line]
    items = Items(product=product[add[line]], quantity=quantity[line],
                  price_cents=catalog.price_cents[product[add[line]]])
    item_count = kept[ck]
    item_start = np.cumsum(item_count) - item_count
    line_value = items.quantity * items.price_cents
    subtotal = np.bincount(np.searchsorted(ck, line_sess), weights=line_value, minlength=len(ck)).round()
    subtotal = subtotal.astype(np.int64)
    order_id = order_seq + np.arange(len(ck), dtype=np.int64)
    checkouts = {
        "ts": _ms(day_ms, start[ck] + checkout_off[ck]), "cust": s.cust[ck], "order": order_id,
        "cart": cart[ck], "item_start": item_start, "item_count": item_count, "subtotal": subtotal,
        "channel": channel[ck],
    }

    done = complete[ck]  # checkouts that became orders
    o_cust = s.cust[ck][done]
    o_sub = subtotal[done]
    coupon = s.coupon_id[ck][done]
    kind = s.coupon_kind[ck][done]
    # a customer redeems an offer once: only on the first of that day's orders
    has = np.flatnonzero(coupon >= 0)
    _, first_use = np.unique(o_cust[has], return_index=True)
    use = np.zeros(len(o_cust), dtype=bool)
    use[has[first_use]] = True
    coupon = np.where(use, coupon, -1)
    kind = np.where(use, kind, -1)
    discount = np.where(kind == DISCOUNT, np.round(o_sub * C.OFFER_DISCOUNT), 0).astype(np.int64)
    shipping = np.where((o_sub < C.FREE_SHIPPING_FROM_CENTS) & (kind != FREE_SHIPPING), C.SHIPPING_CENTS, 0)
    orders = {
        "ts": _ms(day_ms, start[oc] + order_off[oc]), "cust": o_cust, "order": order_id[done],
        "cart": cart[oc], "item_start": item_start[done], "item_count": item_count[done],
        "subtotal": o_sub, "discount": discount, "shipping": shipping.astype(np.int64),
        "total": o_sub - discount + shipping, "coupon": coupon, "coupon_kind": kind, "channel": channel[oc],
    }
    return Shopping(pages, products, checkouts, orders, items)
