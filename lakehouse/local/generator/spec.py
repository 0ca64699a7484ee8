"""Segment spec variety: the other routes and the e-commerce spec v2 shapes real sources send, at low rates.

The behavioural simulation (``simulation.py``, ``funnel.py``) decides *what* customers do; this module decides
*how a source reports it*, from its own random stream (so the behaviour, the ground truth and the signal do
not depend on it), every probability in ``catalog.py`` ("Segment spec variety") times
``GeneratorConfig.spec_scale``:

* ``screen`` instead of ``page`` for the mobile sessions of native-app users; ``group`` (company traits) after
  the first identify of B2B customers; a JSON-number ``userId`` (10000 + index) for a few customers, printed as
  a float (``10123.0``) by the back-office systems;
* anonymous-then-identified journeys: a session that ends in an order starts logged out (landing page,
  product views, cart, browsing events under an ``anonymousId``); an identify with both ids logs in before
  the checkout; checkout and order carry both ids;
* guest orders: the same, but the login creates a guest account (``guest-NNNNNNNN``, identify with an
  e-mail), and an ``alias`` (previousId = the guest id) merges it into the customer hours later;
* orders in EUR / GBP for local-storefront customers of the UK and the euro area (catalog prices converted
  with the shipped rate of the day, rounded to cents per unit); the value shape of an order (standard
  ``total`` + ``subtotal`` + ``shipping``, ``revenue`` only, ``subtotal`` + ``shipping``, ``products`` only);
  lines without ``category``; orders posted again under a new ``messageId`` (a retry with the same
  timestamp, a back-office resend hours later); Order Updated (express shipping added) and Order Cancelled
  the same day; refunds with only ``order_id`` (full) or the refunded product line (partial);
* the spec's other events: Products Searched, Product List Viewed, Promotion Viewed / Clicked, Cart Viewed,
  Payment Info Entered, Coupon Applied; identify calls that clear ``age`` or ``gender`` with ``null``.

Amounts follow the spec (docs/data-generator.md): ``revenue`` = the lines (before discount, without
shipping), ``subtotal`` = lines - discount, ``total`` = subtotal + shipping.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.config import GeneratorConfig
from lakehouse.local.generator.events import Kind, Table, take
from lakehouse.local.generator.funnel import PAGE_CATEGORY, Sessions, Shopping
from lakehouse.local.generator.population import Population

DAY_MS = 86_400_000
#: generator currency index (rates.CURRENCIES) of each geography's local storefront
GEO_CURRENCY = np.array([{"United States": 0, "United Kingdom": 2}.get(name, 1) for name in C.GEO_NAMES])
HOME, SEARCH = 0, 2
SEARCHED, LIST_VIEWED, PROMO_VIEWED, PROMO_CLICKED, CART_VIEWED, PAYMENT_INFO, COUPON_APPLIED = range(7)
PRE_LOGIN = (SEARCHED, LIST_VIEWED, PROMO_VIEWED, PROMO_CLICKED, CART_VIEWED)
STANDARD, REVENUE_ONLY, SUBTOTAL_ONLY, PRODUCTS_ONLY = range(4)
UPDATED, CANCELLED = 0, 1
CLEAR_AGE, CLEAR_GENDER = 3, 4  # profile update kinds after simulation's MOVE, NEW_CITY, NEW_EMAIL
NUMERIC_ID_BASE = 10_000
LOGIN_TRAITS_FORMS = 2  # identify at login: 0 = no traits key, 1 = "traits": null


def _u(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return low + (high - low) * rng.random(n)


def _ints(n: int, value: int = 0) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)


@dataclass
class SpecMix:
    """Per-customer spec traits (from the spec stream) and the hooks :class:`Simulation` calls each day."""

    config: GeneratorConfig
    pop: Population
    rng: np.random.Generator
    rates: np.ndarray  # (days, 3): USD per unit of USD, EUR, GBP on each simulated day
    app_user: np.ndarray = field(init=False)
    company: np.ndarray = field(init=False)  # int64 company index, -1 = a consumer
    local_currency: np.ndarray = field(init=False)
    numeric: dict[int, int] = field(init=False)  # customer index -> numeric userId
    company_industry: np.ndarray = field(init=False)
    company_employees: np.ndarray = field(init=False)
    tally: Counter = field(default_factory=Counter)  # what was injected (the manifest's ``spec`` entry)
    next_guest: int = 1

    def __post_init__(self) -> None:
        """Draw the per-customer traits."""
        n, rng = len(self.pop), self.rng
        self.app_user = rng.random(n) < self.p(C.APP_USER_P)
        b2b = rng.random(n) < self.p(C.B2B_P)
        companies = max(1, math.ceil(int(b2b.sum()) / C.B2B_CUSTOMERS_PER_COMPANY))
        self.company = np.where(b2b, rng.integers(0, companies, n), -1)
        self.company_industry = rng.integers(0, len(C.INDUSTRIES), companies)
        self.company_employees = np.round(np.exp(rng.normal(3.5, 1.3, companies))).astype(np.int64) + 1
        self.local_currency = rng.random(n) < self.p(C.LOCAL_CURRENCY_P)
        numeric = np.flatnonzero(rng.random(n) < self.p(C.NUMERIC_ID_P))
        self.numeric = {int(i): NUMERIC_ID_BASE + int(i) for i in numeric.tolist()}

    def p(self, base: float) -> float:
        """``base`` x spec_scale, at most 1."""
        return min(1.0, base * self.config.spec_scale)

    # ------------------------------------------------------------------------------------------ hooks
    def groups(self, cust: np.ndarray, ts: np.ndarray, channel: np.ndarray) -> Table:
        """``group`` rows for the B2B customers among ``cust`` (just identified at ``ts``), 1..60 s later."""
        b2b = self.company[cust] >= 0
        n = int(b2b.sum())
        self.tally["group"] += n
        return {"ts": ts[b2b] + np.round(_u(self.rng, n, 1_000, 60_000)).astype(np.int64), "cust": cust[b2b],
                "company": self.company[cust[b2b]], "channel": channel[b2b]}

    def clears(self, settled: np.ndarray, d: int, day_ms: int, geography: np.ndarray, city: np.ndarray,
               email_version: np.ndarray) -> Table:
        """PROFILE rows (same columns as the simulation's) of identify calls that clear ``age`` or ``gender``."""
        rng = self.rng
        who = settled[rng.random(len(settled)) < self.p(C.TRAIT_CLEAR_P)]
        n = len(who)
        self.tally["traits_cleared"] += n
        return {"ts": day_ms + rng.integers(0, DAY_MS, n), "cust": who,
                "update": np.where(rng.random(n) < 0.5, CLEAR_AGE, CLEAR_GENDER).astype(np.int64),
                "geography": geography[who], "city": city[who], "email_version": email_version[who],
                "channel": _ints(n)}

    def shopping(self, d: int, s: Sessions, shop: Shopping, session_seq: int, geography: np.ndarray,
                 day_ms: int) -> tuple[dict[Kind, Table], Table]:
        """Add the spec columns to the day's shopping tables (in place) and make the extra rows.

        Returns (extra tables by kind, re-posted Order Completed rows). The re-posts are returned apart: the
        simulation's order bookkeeping must see each order once.
        """
        rng = self.rng
        pages, products, checkouts, orders, items = shop.pages, shop.products, shop.checkouts, shop.orders, shop.items
        n = len(s.cust)
        day_end = day_ms + DAY_MS - 1
        n_ck, n_o = len(checkouts["ts"]), len(orders["ts"])

        pages["screen"] = ((pages["channel"] == 1) & self.app_user[pages["cust"]]).astype(np.int64)
        pages["guest"] = _ints(len(pages["ts"]), -1)
        products["anon"] = np.zeros(len(products["ts"]), np.uint64)
        products["bare"] = (rng.random(len(products["ts"])) < self.p(C.BARE_PRODUCT_P)).astype(np.int64)
        for table, size in ((checkouts, n_ck), (orders, n_o)):
            table["anon"] = np.zeros(size, np.uint64)
            table["guest"] = _ints(size, -1)
        self.tally["screen"] += int(pages["screen"].sum())
        self.tally["bare_product_events"] += int(products["bare"].sum())

        # money in the order's currency: local storefront customers of the UK / the euro area
        ck_cur = np.where(self.local_currency[checkouts["cust"]], GEO_CURRENCY[geography[checkouts["cust"]]], 0)
        rate = self.rates[min(d, len(self.rates) - 1)][ck_cur]
        line_ck = np.repeat(np.arange(n_ck), checkouts["item_count"])
        items.local_cents = np.round(items.price_cents / rate[line_ck]).astype(np.int64)
        l_lines = np.bincount(line_ck, weights=items.quantity * items.local_cents, minlength=n_ck)
        checkouts["currency"] = ck_cur
        checkouts["l_lines"] = np.round(l_lines).astype(np.int64)
        o_ck = np.searchsorted(checkouts["cart"], orders["cart"])  # carts ascend in both tables
        o_rate = rate[o_ck]
        orders["currency"] = ck_cur[o_ck]
        orders["l_lines"] = checkouts["l_lines"][o_ck]
        orders["l_disc"] = np.where(orders["discount"] > 0, np.round(orders["l_lines"] * C.OFFER_DISCOUNT), 0
                                    ).astype(np.int64)
        orders["l_ship"] = np.where(orders["shipping"] > 0, np.round(orders["shipping"] / o_rate), 0).astype(np.int64)
        orders["l_total"] = orders["l_lines"] - orders["l_disc"] + orders["l_ship"]
        weights = C.ORDER_SHAPE_WEIGHT * np.array([1.0] + [self.config.spec_scale] * 3)
        weights[0] = max(0.0, 1.0 - weights[1:].sum())
        shape = rng.choice(len(weights), size=n_o, p=weights / weights.sum())
        orders["shape"] = shape
        orders["bare"] = (rng.random(n_o) < self.p(C.BARE_LINES_P)).astype(np.int64)
        orders["l_value"] = np.select([shape == STANDARD, shape == SUBTOTAL_ONLY],
                                      [orders["l_total"], orders["l_lines"] - orders["l_disc"]], orders["l_lines"])
        orders["refund_bare"] = (rng.random(n_o) < self.p(C.BARE_REFUND_P)).astype(np.int64)
        orders["repost"] = _ints(n_o)
        for code, name in enumerate(("USD", "EUR", "GBP")):
            self.tally[f"orders_{name}"] += int((orders["currency"] == code).sum())
        for code, name in enumerate(("standard", "revenue_only", "subtotal_only", "products_only")):
            self.tally[f"orders_{name}"] += int((shape == code).sum())
        self.tally["orders_bare_lines"] += int(orders["bare"].sum())

        # order changes the same day (never both)
        u = rng.random(n_o)
        cancelled = u < self.p(C.ORDER_CANCELLED_P)
        updated = ~cancelled & (u < self.p(C.ORDER_CANCELLED_P) + self.p(C.ORDER_UPDATED_P))
        orders["cancelled"], orders["updated"] = cancelled.astype(np.int64), updated.astype(np.int64)

        extra: dict[Kind, list[Table]] = {Kind.LOGIN: [], Kind.ALIAS: [], Kind.BROWSE: [], Kind.ORDER_CHANGE: []}
        browse = self._browse(s, shop, session_seq, o_rate, day_ms)
        self._journeys(n, shop, session_seq, browse, extra, day_end)
        extra[Kind.BROWSE].append(browse)
        extra[Kind.ORDER_CHANGE].append(self._changes(orders, o_rate, cancelled, updated, day_end))

        u = rng.random(n_o)
        retry, resend = u < self.p(C.REPOST_P[0]), (u >= self.p(C.REPOST_P[0])) & (
            u < self.p(C.REPOST_P[0]) + self.p(C.REPOST_P[1]))
        reposts = take(orders, retry | resend)
        reposts["repost"] = np.where(retry[retry | resend], 1, 2)
        later = np.round(_u(rng, len(reposts["ts"]), 3_600_000, 6 * 3_600_000)).astype(np.int64)
        reposts["ts"] = np.where(reposts["repost"] == 2, np.minimum(reposts["ts"] + later, day_end), reposts["ts"])
        self.tally["orders_reposted_retry"] += int(retry.sum())
        self.tally["orders_reposted_resend"] += int(resend.sum())
        self.tally["orders_updated"] += int(updated.sum())
        self.tally["orders_cancelled"] += int(cancelled.sum())
        out = {kind: _concat(tables) for kind, tables in extra.items()}
        return {k: t for k, t in out.items() if t is not None}, reposts

    # ------------------------------------------------------------------------------------------ parts
    def _browse(self, s: Sessions, shop: Shopping, session_seq: int, o_rate: np.ndarray, day_ms: int) -> Table:
        """BROWSE rows of the day's sessions (timestamps fit between the funnel's own events)."""
        rng = self.rng
        pages, checkouts, orders = shop.pages, shop.checkouts, shop.orders
        n = len(s.cust)
        landing, land_ts, land_cat = pages["page"][:n], pages["ts"][:n], pages["category"][:n]
        channel = pages["channel"][:n]
        parts: list[Table] = []

        def rows(mask_idx: np.ndarray, action: int, ts: np.ndarray, **cols: np.ndarray) -> None:
            m = len(mask_idx)
            table = {"ts": ts, "cust": s.cust[mask_idx], "anon": np.zeros(m, np.uint64), "guest": _ints(m, -1),
                     "session": mask_idx, "action": _ints(m, action), "channel": channel[mask_idx],
                     "category": np.maximum(land_cat[mask_idx], 0), "promotion": _ints(m), "cart": _ints(m),
                     "order": _ints(m), "item_start": _ints(m), "item_count": _ints(m), "coupon": _ints(m, -1),
                     "discount": _ints(m), "method": _ints(m)}
            for key, value in cols.items():
                table[key] = value
            parts.append(table)

        def ms(low: float, high: float, m: int) -> np.ndarray:
            return np.round(_u(rng, m, low, high)).astype(np.int64)

        idx = np.flatnonzero((landing == SEARCH) & (rng.random(n) < self.p(C.SEARCHED_P)))
        rows(idx, SEARCHED, land_ts[idx] + ms(1_000, 8_000, len(idx)))
        idx = np.flatnonzero((landing == PAGE_CATEGORY) & (rng.random(n) < self.p(C.LIST_VIEWED_P)))
        rows(idx, LIST_VIEWED, land_ts[idx] + ms(1_000, 8_000, len(idx)))
        idx = np.flatnonzero((landing == HOME) & (rng.random(n) < self.p(C.PROMOTION_VIEWED_P)))
        viewed_ts = land_ts[idx] + ms(500, 3_000, len(idx))
        promotion = rng.integers(0, len(C.PROMOTIONS), len(idx))
        rows(idx, PROMO_VIEWED, viewed_ts, promotion=promotion)
        click = rng.random(len(idx)) < self.p(C.PROMOTION_CLICKED_P)
        rows(idx[click], PROMO_CLICKED, viewed_ts[click] + ms(1_000, 5_000, int(click.sum())),
             promotion=promotion[click])

        ck_sess = checkouts["cart"] - session_seq
        pick = np.flatnonzero(rng.random(len(ck_sess)) < self.p(C.CART_VIEWED_P))
        rows(ck_sess[pick], CART_VIEWED, checkouts["ts"][pick] - ms(3_000, 10_000, len(pick)),
             cart=checkouts["cart"][pick], item_start=checkouts["item_start"][pick],
             item_count=checkouts["item_count"][pick])
        o_sess = orders["cart"] - session_seq
        o_ck = np.searchsorted(checkouts["cart"], orders["cart"])
        ck_ts = checkouts["ts"][o_ck]
        pick = np.flatnonzero(rng.random(len(o_sess)) < self.p(C.PAYMENT_INFO_P))
        rows(o_sess[pick], PAYMENT_INFO, ck_ts[pick] + ms(5_000, 25_000, len(pick)), cart=orders["cart"][pick],
             order=orders["order"][pick], method=rng.integers(0, len(C.PAYMENT_METHODS), len(pick)))
        pick = np.flatnonzero(orders["coupon"] >= 0)
        rows(o_sess[pick], COUPON_APPLIED, ck_ts[pick] + ms(2_000, 4_000, len(pick)), cart=orders["cart"][pick],
             order=orders["order"][pick], coupon=orders["coupon"][pick], discount=orders["l_disc"][pick])
        table = _concat(parts)
        assert table is not None
        per = np.bincount(table["action"], minlength=7)
        for name, count in zip(("Products Searched", "Product List Viewed", "Promotion Viewed", "Promotion Clicked",
                                "Cart Viewed", "Payment Info Entered", "Coupon Applied"), per.tolist(), strict=True):
            self.tally[name] += count
        return table

    def _journeys(self, n: int, shop: Shopping, session_seq: int, browse: Table,
                  extra: dict[Kind, list[Table]], day_end: int) -> None:
        """Sessions ending in an order that begin logged out; a share of them create a guest account."""
        rng = self.rng
        pages, products, checkouts, orders = shop.pages, shop.products, shop.checkouts, shop.orders
        n_o = len(orders["ts"])
        guest = rng.random(n_o) < self.p(C.GUEST_ORDER_P)
        journey = guest | (rng.random(n_o) < self.p(C.JOURNEY_P))
        chosen = np.flatnonzero(journey)
        if len(chosen) == 0:
            return
        anon = rng.integers(1, 2**63, len(chosen), dtype=np.int64).astype(np.uint64)
        guests = np.where(guest[chosen], self.next_guest + np.cumsum(guest[chosen]) - 1, -1)
        self.next_guest += int(guest.sum())
        sess = orders["cart"][chosen] - session_seq
        ck = np.searchsorted(checkouts["cart"], orders["cart"][chosen])
        n_ck = len(checkouts["ts"])
        # before the login: the landing page, the product events and the browsing events of the session
        by_session = np.full(n, -1)
        by_session[sess] = np.arange(len(chosen))
        pages["cust"][sess] = -1
        pages["anon"][sess] = anon
        prod_j = by_session[products["cart"] - session_seq]
        hit = prod_j >= 0
        products["cust"][hit] = -1
        products["anon"][hit] = anon[prod_j[hit]]
        br_j = by_session[browse["session"]]
        hit = br_j >= 0
        before = hit & np.isin(browse["action"], PRE_LOGIN)
        browse["anon"][hit] = anon[br_j[hit]]
        browse["cust"][before] = -1
        after = hit & ~before
        browse["guest"][after] = guests[br_j[after]]
        # after the login: checkout page, Checkout Started, Order Completed, confirmation page carry both ids
        for rows_, table in ((n + ck, pages), (n + n_ck + chosen, pages), (ck, checkouts), (chosen, orders)):
            table["anon"][rows_] = anon
            table["guest"][rows_] = guests
        login_ts = pages["ts"][n + ck] - 500
        extra[Kind.LOGIN].append({"ts": login_ts, "cust": orders["cust"][chosen], "anon": anon, "guest": guests,
                                  "form": rng.integers(0, LOGIN_TRAITS_FORMS, len(chosen)),
                                  "channel": orders["channel"][chosen]})
        g = guests >= 0
        alias_ts = orders["ts"][chosen[g]] + np.round(_u(rng, int(g.sum()), 3_600_000, 6 * 3_600_000)).astype(np.int64)
        extra[Kind.ALIAS].append({"ts": np.minimum(alias_ts, day_end), "cust": orders["cust"][chosen[g]],
                                  "guest": guests[g]})
        self.tally["journeys"] += int((~g).sum())
        self.tally["guest_orders"] += int(g.sum())

    def _changes(self, orders: Table, o_rate: np.ndarray, cancelled: np.ndarray, updated: np.ndarray,
                 day_end: int) -> Table:
        """ORDER_CHANGE rows: Order Updated (express shipping added) or Order Cancelled, 5 min..3 h later."""
        pick = np.flatnonzero(cancelled | updated)
        table = take(orders, pick)
        later = np.round(_u(self.rng, len(pick), 300_000, 3 * 3_600_000)).astype(np.int64)
        table["ts"] = np.minimum(table["ts"] + later, day_end)
        table["change"] = np.where(cancelled[pick], CANCELLED, UPDATED).astype(np.int64)
        express = np.round(C.EXPRESS_SHIPPING_CENTS / o_rate[pick]).astype(np.int64)
        table["l_ship"] = np.where(table["change"] == UPDATED, table["l_ship"] + express, table["l_ship"])
        table["l_total"] = table["l_lines"] - table["l_disc"] + table["l_ship"]
        return table


def _concat(tables: list[Table]) -> Table | None:
    """Row-wise concatenation (None for no tables; an empty table when every one is empty)."""
    if not tables:
        return None
    full = [t for t in tables if len(t["ts"])] or tables[:1]
    return {key: np.concatenate([t[key] for t in full]) for key in full[0]}
