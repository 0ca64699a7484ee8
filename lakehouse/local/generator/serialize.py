"""Columnar day tables -> Segment-style calls (camelCase dicts, one per event), in timestamp order.

Pure functions of the tables, the population/catalog lookups and a message-id stream: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.catalog import Catalog
from lakehouse.local.generator.events import DayEvents, Kind, Table
from lakehouse.local.generator.funnel import PAGE_CATEGORY, PAGE_NAMES, PAGE_PATHS
from lakehouse.local.generator.population import Population
from lakehouse.local.generator.rates import CURRENCIES
from lakehouse.local.generator.simulation import REASONS
from lakehouse.local.generator.spec import (
    CANCELLED,
    CLEAR_AGE,
    COUPON_APPLIED,
    LIST_VIEWED,
    PAYMENT_INFO,
    REVENUE_ONLY,
    SEARCHED,
    STANDARD,
    SUBTOTAL_ONLY,
    SpecMix,
)

LIBRARY = {"name": "lakehouse-generator", "version": "1"}
WEB, MOBILE, TV = ({"library": LIBRARY, "channel": name} for name in ("web", "mobile", "tv"))
SHOP_CONTEXT = (WEB, MOBILE)  # channel column 0 / 1
APP_CONTEXT = {"library": LIBRARY, "channel": "mobile", "app": {"name": "Example Shop", "version": "5.2.0"}}
CONTENT_CONTEXT = (TV, MOBILE, WEB)  # order of catalog.CONTENT_CHANNEL_WEIGHT
BACK_OFFICE = WEB  # tickets, offers, snapshots, refunds, closures are recorded by web back-office systems
SLICE = 16_384  # events serialised at a time (bounds Python object memory)
_DASHES = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])

Event = dict[str, Any]
Renderer = Callable[[Table, np.ndarray, list[str], list[str]], list[Event]]


class MessageIds:
    """Deterministic UUID-4-shaped message ids from their own PCG64 stream (independent of slicing)."""

    def __init__(self, seed_sequence: np.random.SeedSequence):
        self._bits = np.random.PCG64(seed_sequence)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` ids (UUID version 4, variant 1 bits set), as a numpy string array."""
        raw = np.frombuffer(self._bits.random_raw(2 * n).astype("<u8").tobytes(), dtype=np.uint8).reshape(n, 16)
        raw = raw.copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
        hexed = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(n, 32)
        out = np.full((n, 36), ord("-"), dtype=np.uint32)
        out[:, _DASHES] = hexed
        return out.view("U36").ravel()


def iso_ms(ts: np.ndarray) -> np.ndarray:
    """Epoch milliseconds -> 'YYYY-MM-DDTHH:MM:SS.mmmZ' (numpy string array)."""
    return np.char.add(np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms"), "Z")


def track(event: str, message_id: str, user_id: str | int | float, stamp: str, properties: dict[str, Any],
          context: dict[str, Any] = BACK_OFFICE) -> Event:
    """A track call (key order as a source would send it)."""
    return {"type": "track", "event": event, "messageId": message_id, "userId": user_id,
            "timestamp": stamp, "properties": properties, "context": context}


def anon_id(anon: int) -> str:
    """``anon-`` + 16 hex digits: the anonymousId of an anonymous visitor or a logged-out journey."""
    return f"anon-{anon:016x}"


def guest_id(guest: int) -> str:
    """The userId of a guest account (merged into its customer by an alias later)."""
    return f"guest-{guest:08d}"


def _ids(event: Event, user: str | int | float | None, anon: int) -> Event:
    """Set ``userId`` / ``anonymousId`` of ``event`` (a logged-in journey's calls carry both)."""
    if user is not None:
        event["userId"] = user
    if anon:
        event["anonymousId"] = anon_id(anon)
    return event


def money(cents: np.ndarray) -> list[float]:
    """Amounts in cents -> currency units, as the calls carry them."""
    return (cents / 100).tolist()


def page_properties(page: int, category: int) -> dict[str, str]:
    """url / path / title of a page (``category`` matters for category pages only)."""
    name = PAGE_NAMES[page]
    if page == PAGE_CATEGORY:
        label = C.CATEGORY_NAMES[category]
        path, title = f"/c/{label}", f"{label.title()} | Example Shop"
    else:
        path, title = PAGE_PATHS[page], f"{name} | Example Shop"
    return {"url": C.SITE + path, "path": path, "title": title}


class EventRenderer:
    """Turns rows of a :class:`DayEvents` into calls."""

    def __init__(self, pop: Population, catalog: Catalog, start: date, spec: SpecMix):
        self.pop = pop
        self.catalog = catalog
        self.spec = spec
        self.numeric = spec.numeric  # customer index -> numeric userId (a few customers)
        self.start = np.datetime64(start, "D")
        self.product_ids = catalog.product_ids
        self.product_category = catalog.product_category
        self.price = catalog.price
        self.first_names = [[n.lower() for n in names] for names in C.FIRST_NAMES]
        self.last_names = [[n.lower() for n in names] for names in C.LAST_NAMES]
        self.viewed_properties = [{"product_id": i, "category": c, "price": p}
                                  for i, c, p in zip(self.product_ids, self.product_category, self.price, strict=True)]
        self.viewed_bare = [{"product_id": i, "price": p} for i, p in zip(self.product_ids, self.price, strict=True)]
        self.page_properties = [[page_properties(page, cat) for cat in range(len(C.CATEGORY_NAMES))]
                                for page in range(len(PAGE_NAMES))]
        self.screen_properties = [[{"category": C.CATEGORY_NAMES[cat]} if page == PAGE_CATEGORY else {}
                                   for cat in range(len(C.CATEGORY_NAMES))] for page in range(len(PAGE_NAMES))]
        self.list_products = [[{"product_id": self.product_ids[p], "price": self.price[p], "position": k + 1}
                               for k, p in enumerate((int(ts[0]), int(ts[0]) + 1, int(ts[1]), int(ts[2])))]
                              for ts in catalog.tier_start]
        self._items: tuple[list[str], list[str], list[int], list[float]] | None = None
        self.renderers: dict[Kind, Renderer] = {
            Kind.IDENTIFY: self.identify, Kind.PROFILE: self.profile, Kind.PAGE: self.page,
            Kind.PRODUCT: self.product, Kind.CHECKOUT: self.checkout, Kind.ORDER: self.order,
            Kind.REFUND: self.refund, Kind.TICKET: self.ticket, Kind.OFFER: self.offer,
            Kind.CONTENT: self.content, Kind.SNAPSHOT: self.snapshot, Kind.CLOSED: self.closed,
            Kind.GROUP: self.group, Kind.ALIAS: self.alias, Kind.LOGIN: self.login, Kind.BROWSE: self.browse,
            Kind.ORDER_CHANGE: self.order_change,
        }

    def calls(self, day: DayEvents, order: tuple[np.ndarray, np.ndarray, np.ndarray], ids: MessageIds,
              slice_size: int = SLICE) -> Iterator[list[Event]]:
        """The day's calls (dicts) in ``order`` (see :meth:`DayEvents.order`), ``slice_size`` at a time.

        Callers encode them one at a time (``orjson.dumps``) and drop them: holding many encoded
        lines costs ~4 KiB each, because orjson allocates its output buffer at that size.
        ``userId`` is ``f"c{index:07d}"`` (inlined in the hot loops), the number for numeric-id customers.
        """
        kind, row, ts = order
        item = day.items
        local = item.local_cents if item.local_cents is not None else item.price_cents
        self._items = ([self.product_ids[p] for p in item.product.tolist()],
                       [self.product_category[p] for p in item.product.tolist()],
                       item.quantity.tolist(), money(local))
        for lo in range(0, len(ts), slice_size):
            k, r = kind[lo:lo + slice_size], row[lo:lo + slice_size]
            stamps = iso_ms(ts[lo:lo + slice_size])
            mids = ids.take(len(k))
            out: list[Event] = [{}] * len(k)
            for code in np.unique(k).tolist():
                pos = np.flatnonzero(k == code)
                kind_ = Kind(code)
                rendered = self.renderers[kind_](day.tables[kind_], r[pos], stamps[pos].tolist(), mids[pos].tolist())
                for p, call in zip(pos.tolist(), rendered, strict=True):
                    out[p] = call
            yield out

    # ----------------------------------------------------------------------------- ids
    def uid(self, cust: int) -> str | int:
        """The userId a source sends for customer ``cust`` (an int for numeric-id customers)."""
        number = self.numeric.get(cust)
        return f"c{cust:07d}" if number is None else number

    def uid_back_office(self, cust: int) -> str | float:
        """The userId back-office systems send: numeric ids as JSON floats (``10123.0``), as JavaScript ones may."""
        number = self.numeric.get(cust)
        return f"c{cust:07d}" if number is None else float(number)

    def _who(self, cust: int, anon: int, guest: int) -> tuple[str | int | None, int]:
        """(userId or None, anonymous id or 0) of a shopping row: guest account, customer, or logged out."""
        if guest >= 0:
            return guest_id(guest), anon
        return (self.uid(cust) if cust >= 0 else None), anon

    # ----------------------------------------------------------------------------- profile calls
    def _email(self, cust: int, geo: int, version: int) -> str:
        pop = self.pop
        first = self.first_names[geo][pop.first_name[cust]]
        last = self.last_names[geo][pop.last_name[cust]]
        domain = C.EMAIL_DOMAINS[(pop.email_domain[cust] + version) % len(C.EMAIL_DOMAINS)]
        suffix = f".{version}" if version else ""
        return f"{first}.{last}{cust}{suffix}@{domain}"

    def identify(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Identify calls with the full profile (signup or the initial CRM sync)."""
        pop = self.pop
        cust = t["cust"][rows]
        born = pop.geography[cust].tolist()
        signup = np.datetime_as_string(self.start + pop.signup_day[cust], unit="D").tolist()
        out = []
        for mid, stamp, c, b, g, city, v, ch, age, gender, sd in zip(
                mids, ts, cust.tolist(), born, t["geography"][rows].tolist(), t["city"][rows].tolist(),
                t["email_version"][rows].tolist(), t["channel"][rows].tolist(), pop.age[cust].tolist(),
                pop.gender[cust].tolist(), signup, strict=True):
            traits = {
                "name": f"{C.FIRST_NAMES[b][pop.first_name[c]]} {C.LAST_NAMES[b][pop.last_name[c]]}",
                "email": self._email(c, b, v), "age": age, "gender": C.GENDERS[gender],
                "geography": C.GEO_NAMES[g], "city": C.GEO_CITIES[g][city], "signup_date": sd,
            }
            out.append({"type": "identify", "messageId": mid, "userId": self.uid(c), "timestamp": stamp,
                        "traits": traits, "context": SHOP_CONTEXT[ch]})
        return out

    def profile(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Identify calls of partial profile updates: a move (geography and city), a city, a new e-mail, or a
        trait cleared with null (``age`` or ``gender``: Segment's way to remove a trait)."""
        cust = t["cust"][rows]
        born = self.pop.geography[cust].tolist()
        out = []
        for mid, stamp, c, b, kind, g, city, v, ch in zip(
                mids, ts, cust.tolist(), born, t["update"][rows].tolist(), t["geography"][rows].tolist(),
                t["city"][rows].tolist(), t["email_version"][rows].tolist(), t["channel"][rows].tolist(),
                strict=True):
            if kind == 0:
                traits: dict = {"geography": C.GEO_NAMES[g], "city": C.GEO_CITIES[g][city]}
            elif kind == 1:
                traits = {"city": C.GEO_CITIES[g][city]}
            elif kind == 2:
                traits = {"email": self._email(c, b, v)}
            else:
                traits = {"age" if kind == CLEAR_AGE else "gender": None}
            out.append({"type": "identify", "messageId": mid, "userId": self.uid(c), "timestamp": stamp,
                        "traits": traits, "context": SHOP_CONTEXT[ch]})
        return out

    def login(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Identify at login, with the journey's anonymousId: no traits (key absent or ``null``), or a guest
        account's e-mail."""
        out = []
        for mid, stamp, c, anon, guest, form, ch in zip(
                mids, ts, t["cust"][rows].tolist(), t["anon"][rows].tolist(), t["guest"][rows].tolist(),
                t["form"][rows].tolist(), t["channel"][rows].tolist(), strict=True):
            event: Event = {"type": "identify", "messageId": mid}
            if guest >= 0:
                event["userId"] = guest_id(guest)
            else:
                event["userId"] = self.uid(c)
            event["anonymousId"] = anon_id(anon)
            event["timestamp"] = stamp
            if guest >= 0:
                event["traits"] = {"email": self._email(c, int(self.pop.geography[c]), 0)}
            elif form == 1:
                event["traits"] = None
            event["context"] = SHOP_CONTEXT[ch]
            out.append(event)
        return out

    def alias(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Alias calls merging a guest account (previousId) into its customer (userId), sent by the back office."""
        return [{"type": "alias", "messageId": mid, "previousId": guest_id(g), "userId": self.uid(c),
                 "timestamp": stamp, "context": BACK_OFFICE}
                for mid, stamp, c, g in zip(mids, ts, t["cust"][rows].tolist(), t["guest"][rows].tolist(), strict=True)]

    def group(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Group calls: a B2B customer's company (groupId ``gNNNNN``) with its traits."""
        spec = self.spec
        out = []
        for mid, stamp, c, company, ch in zip(mids, ts, t["cust"][rows].tolist(), t["company"][rows].tolist(),
                                              t["channel"][rows].tolist(), strict=True):
            traits = {"name": f"{C.LAST_NAMES[company % len(C.LAST_NAMES)][company % 10]} & Co {company}",
                      "industry": C.INDUSTRIES[int(spec.company_industry[company])],
                      "employees": int(spec.company_employees[company]), "plan": "business"}
            out.append({"type": "group", "messageId": mid, "userId": self.uid(c), "groupId": f"g{company:05d}",
                        "timestamp": stamp, "traits": traits, "context": SHOP_CONTEXT[ch]})
        return out

    def page(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Page calls, or screen calls in the native app (``anonymousId`` for visitors who are not logged in;
        both ids after a journey's login)."""
        props, screen_props, numeric = self.page_properties, self.screen_properties, self.numeric
        out = []
        for mid, stamp, c, page, cat, ch, anon, screen, guest in zip(
                mids, ts, t["cust"][rows].tolist(), t["page"][rows].tolist(), t["category"][rows].tolist(),
                t["channel"][rows].tolist(), t["anon"][rows].tolist(), t["screen"][rows].tolist(),
                t["guest"][rows].tolist(), strict=True):
            event: dict = {"type": "screen" if screen else "page", "name": PAGE_NAMES[page], "messageId": mid}
            if guest >= 0:
                event["userId"] = guest_id(guest)
            elif c >= 0:
                event["userId"] = numeric.get(c, f"c{c:07d}")
            if anon:
                event["anonymousId"] = f"anon-{anon:016x}"
            event["timestamp"] = stamp
            if screen:
                event["properties"] = screen_props[page][cat if page == PAGE_CATEGORY else 0]
                event["context"] = APP_CONTEXT
            else:
                event["properties"] = props[page][cat if page == PAGE_CATEGORY else 0]
                event["context"] = SHOP_CONTEXT[ch]
            out.append(event)
        return out

    # ----------------------------------------------------------------------------- commerce
    def product(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Product Viewed / Added / Removed calls (cart events carry quantity and ``cart_id``); a few without
        ``category``; logged-out journeys send an ``anonymousId`` only."""
        ids, cats, price, viewed, bare_viewed = (self.product_ids, self.product_category, self.price,
                                                 self.viewed_properties, self.viewed_bare)
        numeric = self.numeric
        names = ("Product Viewed", "Product Added", "Product Removed")
        out = []
        for mid, stamp, c, action, p, q, cart, ch, anon, bare in zip(
                mids, ts, t["cust"][rows].tolist(), t["action"][rows].tolist(), t["product"][rows].tolist(),
                t["quantity"][rows].tolist(), t["cart"][rows].tolist(), t["channel"][rows].tolist(),
                t["anon"][rows].tolist(), t["bare"][rows].tolist(), strict=True):
            if action:
                props = {"product_id": ids[p], "category": cats[p], "price": price[p], "quantity": q,
                         "cart_id": f"cart{cart:09d}"}
                if bare:
                    del props["category"]
            else:
                props = bare_viewed[p] if bare else viewed[p]  # shared, read-only
            if c >= 0:
                out.append({"type": "track", "event": names[action], "messageId": mid,
                            "userId": numeric.get(c, f"c{c:07d}"), "timestamp": stamp,
                            "properties": props, "context": SHOP_CONTEXT[ch]})
            else:
                out.append({"type": "track", "event": names[action], "messageId": mid,
                            "anonymousId": f"anon-{anon:016x}", "timestamp": stamp, "properties": props,
                            "context": SHOP_CONTEXT[ch]})
        return out

    def _lines(self, start: int, count: int, spec_names: bool = False, bare: bool = False) -> list[dict]:
        """Order lines; ``spec_names``: the spec's ``price`` (else ``unit_price``); ``bare``: no ``category``."""
        assert self._items is not None
        ids, cats, qty, price = self._items
        key = "price" if spec_names or bare else "unit_price"
        if bare:
            return [{"product_id": ids[i], "quantity": qty[i], key: price[i]} for i in range(start, start + count)]
        return [{"product_id": ids[i], "category": cats[i], "quantity": qty[i], key: price[i]}
                for i in range(start, start + count)]

    def checkout(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Checkout Started calls: the cart's lines, total = their sum, in the customer's currency."""
        out = []
        for mid, stamp, c, order, cart, start, count, total, cur, ch, anon, guest in zip(
                mids, ts, t["cust"][rows].tolist(), t["order"][rows].tolist(), t["cart"][rows].tolist(),
                t["item_start"][rows].tolist(), t["item_count"][rows].tolist(), money(t["l_lines"][rows]),
                t["currency"][rows].tolist(), t["channel"][rows].tolist(), t["anon"][rows].tolist(),
                t["guest"][rows].tolist(), strict=True):
            props = {"order_id": f"o{order:09d}", "cart_id": f"cart{cart:09d}", "total": total,
                     "currency": CURRENCIES[cur], "products": self._lines(start, count)}
            event: Event = {"type": "track", "event": "Checkout Started", "messageId": mid}
            _ids(event, *self._who(c, anon, guest))
            event.update(timestamp=stamp, properties=props, context=SHOP_CONTEXT[ch])
            out.append(event)
        return out

    def _order_properties(self, t: Table, r: int, shape: int) -> dict[str, Any]:
        """Properties of an order call in the value shape ``shape`` (spec.py), amounts in the order's currency."""
        lines, disc, ship = int(t["l_lines"][r]), int(t["l_disc"][r]), int(t["l_ship"][r])
        coupon = int(t["coupon"][r])
        props: dict[str, Any] = {"order_id": f"o{int(t['order'][r]):09d}", "cart_id": f"cart{int(t['cart'][r]):09d}"}
        if shape == STANDARD:
            props.update(total=(lines - disc + ship) / 100, subtotal=(lines - disc) / 100, shipping=ship / 100)
        elif shape == REVENUE_ONLY:
            props["revenue"] = lines / 100
        elif shape == SUBTOTAL_ONLY:
            props.update(subtotal=(lines - disc) / 100, shipping=ship / 100)
        if coupon >= 0:
            if disc and shape in (STANDARD, SUBTOTAL_ONLY):
                props["discount"] = disc / 100
            props["coupon"] = f"of{coupon:09d}"
        props["currency"] = CURRENCIES[int(t["currency"][r])]
        props["products"] = self._lines(int(t["item_start"][r]), int(t["item_count"][r]),
                                        spec_names=shape != STANDARD, bare=bool(t["bare"][r]))
        return props

    def order(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Order Completed calls in their value shape (spec.py); a re-post keeps every property of the order."""
        out = []
        for mid, stamp, r in zip(mids, ts, rows.tolist(), strict=True):
            event: Event = {"type": "track", "event": "Order Completed", "messageId": mid}
            _ids(event, *self._who(int(t["cust"][r]), int(t["anon"][r]), int(t["guest"][r])))
            event["timestamp"] = stamp
            event["properties"] = self._order_properties(t, r, int(t["shape"][r]))
            event["context"] = BACK_OFFICE if t["repost"][r] == 2 else SHOP_CONTEXT[int(t["channel"][r])]
            out.append(event)
        return out

    def order_change(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Order Updated (the whole order again, express shipping added) and Order Cancelled (order id, its
        total and currency) calls."""
        out = []
        for mid, stamp, r in zip(mids, ts, rows.tolist(), strict=True):
            if t["change"][r] == CANCELLED:
                name = "Order Cancelled"
                props: dict[str, Any] = {"order_id": f"o{int(t['order'][r]):09d}", "total": int(t["l_total"][r]) / 100,
                                         "currency": CURRENCIES[int(t["currency"][r])]}
            else:
                name = "Order Updated"
                props = self._order_properties(t, r, STANDARD)
            event: Event = {"type": "track", "event": name, "messageId": mid}
            _ids(event, *self._who(int(t["cust"][r]), int(t["anon"][r]), int(t["guest"][r])))
            event.update(timestamp=stamp, properties=props, context=SHOP_CONTEXT[int(t["channel"][r])])
            out.append(event)
        return out

    def refund(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Order Refunded calls: a full refund with its amount or with ``order_id`` only (the spec's full refund);
        a partial one (the first line) with its amount or with the refunded product line."""
        out = []
        for mid, stamp, c, order, partial, cur, value, p, q, price, bare in zip(
                mids, ts, t["cust"][rows].tolist(), t["order"][rows].tolist(), t["partial"][rows].tolist(),
                t["currency"][rows].tolist(), t["l_value"][rows].tolist(), t["line_product"][rows].tolist(),
                t["line_quantity"][rows].tolist(), t["line_local"][rows].tolist(), t["bare"][rows].tolist(),
                strict=True):
            props: dict[str, Any] = {"order_id": f"o{order:09d}"}
            if partial:
                line = q * price
                if bare and line <= value:
                    props["currency"] = CURRENCIES[cur]
                    props["products"] = [{"product_id": self.product_ids[p], "category": self.product_category[p],
                                          "price": price / 100, "quantity": q}]
                else:
                    props.update(total=min(line, value) / 100, currency=CURRENCIES[cur])
            elif not bare:
                props.update(total=value / 100, currency=CURRENCIES[cur])
            out.append(track("Order Refunded", mid, self.uid_back_office(c), stamp, props))
        return out

    def browse(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """The spec's other events: Products Searched, Product List Viewed, Promotion Viewed / Clicked, Cart
        Viewed, Payment Info Entered, Coupon Applied."""
        names = ("Products Searched", "Product List Viewed", "Promotion Viewed", "Promotion Clicked", "Cart Viewed",
                 "Payment Info Entered", "Coupon Applied")
        out = []
        for mid, stamp, r in zip(mids, ts, rows.tolist(), strict=True):
            action = int(t["action"][r])
            category = C.CATEGORY_NAMES[int(t["category"][r])]
            if action == SEARCHED:
                props: dict[str, Any] = {"query": category}
            elif action == LIST_VIEWED:
                props = {"list_id": f"category-{category}", "category": category,
                         "products": self.list_products[int(t["category"][r])]}
            elif action in (2, 3):
                promotion_id, promotion_name = C.PROMOTIONS[int(t["promotion"][r])]
                props = {"promotion_id": promotion_id, "creative": f"{promotion_id}_banner", "name": promotion_name,
                         "position": "home_banner_top"}
            elif action == PAYMENT_INFO:
                props = {"checkout_id": f"cart{int(t['cart'][r]):09d}", "order_id": f"o{int(t['order'][r]):09d}",
                         "step": 3, "payment_method": C.PAYMENT_METHODS[int(t["method"][r])]}
            elif action == COUPON_APPLIED:
                props = {"order_id": f"o{int(t['order'][r]):09d}", "cart_id": f"cart{int(t['cart'][r]):09d}",
                         "coupon_id": f"of{int(t['coupon'][r]):09d}"}
                if t["discount"][r]:
                    props["discount"] = int(t["discount"][r]) / 100
            else:  # Cart Viewed
                props = {"cart_id": f"cart{int(t['cart'][r]):09d}",
                         "products": self._lines(int(t["item_start"][r]), int(t["item_count"][r]), spec_names=True)}
            event: Event = {"type": "track", "event": names[action], "messageId": mid}
            _ids(event, *self._who(int(t["cust"][r]), int(t["anon"][r]), int(t["guest"][r])))
            event.update(timestamp=stamp, properties=props, context=SHOP_CONTEXT[int(t["channel"][r])])
            out.append(event)
        return out

    # ----------------------------------------------------------------------------- service, offers, content
    def ticket(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Ticket Opened (with channel) and Ticket Resolved (with resolution hours and satisfaction) calls."""
        out = []
        for mid, stamp, c, phase, ticket, issue, sev, ch, hours, sat in zip(
                mids, ts, t["cust"][rows].tolist(), t["phase"][rows].tolist(), t["ticket"][rows].tolist(),
                t["issue"][rows].tolist(), t["severity"][rows].tolist(), t["channel"][rows].tolist(),
                t["hours"][rows].tolist(), t["satisfaction"][rows].tolist(), strict=True):
            props: dict = {"ticket_id": f"t{ticket:08d}", "issue_type": C.ISSUE_TYPES[issue],
                           "severity": C.SEVERITIES[sev]}
            if phase:
                props["resolution_hours"] = hours
                props["satisfaction"] = sat
            else:
                props["channel"] = C.TICKET_CHANNELS[ch]
            out.append({"type": "track", "event": "Ticket Resolved" if phase else "Ticket Opened",
                        "messageId": mid, "userId": self.uid_back_office(c), "timestamp": stamp,
                        "properties": props, "context": BACK_OFFICE})
        return out

    def offer(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Offer Sent (with channel) and Offer Responded (with ``accepted``) calls."""
        out = []
        for mid, stamp, c, phase, offer, kind, ch, accepted in zip(
                mids, ts, t["cust"][rows].tolist(), t["phase"][rows].tolist(), t["offer"][rows].tolist(),
                t["kind"][rows].tolist(), t["channel"][rows].tolist(), t["accepted"][rows].tolist(), strict=True):
            props: dict = {"offer_id": f"of{offer:09d}", "offer_type": C.OFFER_TYPES[kind]}
            if phase:
                props["accepted"] = accepted
            else:
                props["channel"] = C.OFFER_CHANNELS[ch]
            out.append({"type": "track", "event": "Offer Responded" if phase else "Offer Sent",
                        "messageId": mid, "userId": self.uid_back_office(c), "timestamp": stamp,
                        "properties": props, "context": BACK_OFFICE})
        return out

    def content(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Content Watched calls (``duration_seconds``; app 'music' or 'video')."""
        content_ids = self.catalog.content_ids
        out = []
        for mid, stamp, c, cat, rank, duration, ch in zip(
                mids, ts, t["cust"][rows].tolist(), t["category"][rows].tolist(), t["rank"][rows].tolist(),
                t["duration"][rows].tolist(), t["channel"][rows].tolist(), strict=True):
            category = C.CONTENT_CATEGORIES[cat]
            props = {"content_id": content_ids[cat][rank], "app": "music" if category == "music" else "video",
                     "category": category, "duration_seconds": duration}
            out.append({"type": "track", "event": "Content Watched", "messageId": mid,
                        "userId": self.uid(c), "timestamp": stamp, "properties": props,
                        "context": CONTENT_CONTEXT[ch]})
        return out

    def snapshot(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Monthly Account Snapshot calls: plan, balance (currency units) and products held."""
        return [track("Account Snapshot", mid, self.uid_back_office(c), stamp,
                      {"product_type": C.PLANS[plan], "balance": balance, "num_products": n})
                for mid, stamp, c, plan, balance, n in zip(
                    mids, ts, t["cust"][rows].tolist(), t["plan"][rows].tolist(), money(t["balance"][rows]),
                    t["products"][rows].tolist(), strict=True)]

    def closed(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Account Closed calls (reason and plan)."""
        return [track("Account Closed", mid, self.uid_back_office(c), stamp,
                      {"reason": REASONS[reason], "product_type": C.PLANS[plan]})
                for mid, stamp, c, reason, plan in zip(
                    mids, ts, t["cust"][rows].tolist(), t["reason"][rows].tolist(), t["plan"][rows].tolist(),
                    strict=True)]
