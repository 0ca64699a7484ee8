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
from lakehouse.local.generator.simulation import REASONS

LIBRARY = {"name": "lakehouse-generator", "version": "1"}
WEB, MOBILE, TV = ({"library": LIBRARY, "channel": name} for name in ("web", "mobile", "tv"))
SHOP_CONTEXT = (WEB, MOBILE)  # channel column 0 / 1
CONTENT_CONTEXT = (TV, MOBILE, WEB)  # order of catalog.CONTENT_CHANNEL_WEIGHT
BACK_OFFICE = WEB  # tickets, offers, snapshots, refunds, closures are recorded by web back-office systems
CURRENCY = "USD"
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


def track(event: str, message_id: str, cust: int, stamp: str, properties: dict[str, Any],
          context: dict[str, Any] = BACK_OFFICE) -> Event:
    """A track call (key order as a source would send it)."""
    return {"type": "track", "event": event, "messageId": message_id, "userId": f"c{cust:07d}",
            "timestamp": stamp, "properties": properties, "context": context}


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

    def __init__(self, pop: Population, catalog: Catalog, start: date):
        self.pop = pop
        self.catalog = catalog
        self.start = np.datetime64(start, "D")
        self.product_ids = catalog.product_ids
        self.product_category = catalog.product_category
        self.price = catalog.price
        self.first_names = [[n.lower() for n in names] for names in C.FIRST_NAMES]
        self.last_names = [[n.lower() for n in names] for names in C.LAST_NAMES]
        self.viewed_properties = [{"product_id": i, "category": c, "price": p}
                                  for i, c, p in zip(self.product_ids, self.product_category, self.price, strict=True)]
        self.page_properties = [[page_properties(page, cat) for cat in range(len(C.CATEGORY_NAMES))]
                                for page in range(len(PAGE_NAMES))]
        self._items: tuple[list[str], list[str], list[int], list[float]] | None = None
        self.renderers: dict[Kind, Renderer] = {
            Kind.IDENTIFY: self.identify, Kind.PROFILE: self.profile, Kind.PAGE: self.page,
            Kind.PRODUCT: self.product, Kind.CHECKOUT: self.checkout, Kind.ORDER: self.order,
            Kind.REFUND: self.refund, Kind.TICKET: self.ticket, Kind.OFFER: self.offer,
            Kind.CONTENT: self.content, Kind.SNAPSHOT: self.snapshot, Kind.CLOSED: self.closed,
        }

    def calls(self, day: DayEvents, order: tuple[np.ndarray, np.ndarray, np.ndarray], ids: MessageIds,
              slice_size: int = SLICE) -> Iterator[list[Event]]:
        """The day's calls (dicts) in ``order`` (see :meth:`DayEvents.order`), ``slice_size`` at a time.

        Callers encode them one at a time (``orjson.dumps``) and drop them: holding many encoded
        lines costs ~4 KiB each, because orjson allocates its output buffer at that size.
        ``userId`` is ``f"c{index:07d}"`` throughout (inlined in the hot loops).
        """
        kind, row, ts = order
        item = day.items
        self._items = ([self.product_ids[p] for p in item.product.tolist()],
                       [self.product_category[p] for p in item.product.tolist()],
                       item.quantity.tolist(), money(item.price_cents))
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
            out.append({"type": "identify", "messageId": mid, "userId": f"c{c:07d}", "timestamp": stamp,
                        "traits": traits, "context": SHOP_CONTEXT[ch]})
        return out

    def profile(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Identify calls of partial profile updates: a move (geography and city), a city, or a new e-mail."""
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
            else:
                traits = {"email": self._email(c, b, v)}
            out.append({"type": "identify", "messageId": mid, "userId": f"c{c:07d}", "timestamp": stamp,
                        "traits": traits, "context": SHOP_CONTEXT[ch]})
        return out

    def page(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Page calls (``anonymousId`` for visitors who are not logged in)."""
        props = self.page_properties
        out = []
        for mid, stamp, c, page, cat, ch, anon in zip(
                mids, ts, t["cust"][rows].tolist(), t["page"][rows].tolist(), t["category"][rows].tolist(),
                t["channel"][rows].tolist(), t["anon"][rows].tolist(), strict=True):
            event: dict = {"type": "page", "name": PAGE_NAMES[page], "messageId": mid}
            if c >= 0:
                event["userId"] = f"c{c:07d}"
            else:
                event["anonymousId"] = f"anon-{anon:016x}"
            event["timestamp"] = stamp
            event["properties"] = props[page][cat if page == PAGE_CATEGORY else 0]
            event["context"] = SHOP_CONTEXT[ch]
            out.append(event)
        return out

    # ----------------------------------------------------------------------------- commerce
    def product(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Product Viewed / Added / Removed calls (cart events carry quantity and ``cart_id``)."""
        ids, cats, price, viewed = self.product_ids, self.product_category, self.price, self.viewed_properties
        names = ("Product Viewed", "Product Added", "Product Removed")
        out = []
        for mid, stamp, c, action, p, q, cart, ch in zip(
                mids, ts, t["cust"][rows].tolist(), t["action"][rows].tolist(), t["product"][rows].tolist(),
                t["quantity"][rows].tolist(), t["cart"][rows].tolist(), t["channel"][rows].tolist(), strict=True):
            if action:
                props = {"product_id": ids[p], "category": cats[p], "price": price[p], "quantity": q,
                         "cart_id": f"cart{cart:09d}"}
            else:
                props = viewed[p]  # shared, read-only: views of one product have the same properties
            out.append({"type": "track", "event": names[action], "messageId": mid,
                        "userId": f"c{c:07d}", "timestamp": stamp, "properties": props,
                        "context": SHOP_CONTEXT[ch]})
        return out

    def _lines(self, start: int, count: int) -> list[dict]:
        assert self._items is not None
        ids, cats, qty, price = self._items
        return [{"product_id": ids[i], "category": cats[i], "quantity": qty[i], "unit_price": price[i]}
                for i in range(start, start + count)]

    def checkout(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Checkout Started calls: the cart's lines, total = their subtotal."""
        out = []
        for mid, stamp, c, order, cart, start, count, total, ch in zip(
                mids, ts, t["cust"][rows].tolist(), t["order"][rows].tolist(), t["cart"][rows].tolist(),
                t["item_start"][rows].tolist(), t["item_count"][rows].tolist(), money(t["subtotal"][rows]),
                t["channel"][rows].tolist(), strict=True):
            props = {"order_id": f"o{order:09d}", "cart_id": f"cart{cart:09d}", "total": total,
                     "currency": CURRENCY, "products": self._lines(start, count)}
            out.append({"type": "track", "event": "Checkout Started", "messageId": mid,
                        "userId": f"c{c:07d}", "timestamp": stamp, "properties": props,
                        "context": SHOP_CONTEXT[ch]})
        return out

    def order(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Order Completed calls: lines, subtotal, shipping, total; discount and coupon when an offer was redeemed."""
        out = []
        for mid, stamp, c, order, cart, start, count, total, sub, ship, disc, coupon, ch in zip(
                mids, ts, t["cust"][rows].tolist(), t["order"][rows].tolist(), t["cart"][rows].tolist(),
                t["item_start"][rows].tolist(), t["item_count"][rows].tolist(), money(t["total"][rows]),
                money(t["subtotal"][rows]), money(t["shipping"][rows]), money(t["discount"][rows]),
                t["coupon"][rows].tolist(), t["channel"][rows].tolist(), strict=True):
            props: dict = {"order_id": f"o{order:09d}", "cart_id": f"cart{cart:09d}", "total": total,
                           "subtotal": sub, "shipping": ship}
            if coupon >= 0:
                props["discount"] = disc
                props["coupon"] = f"of{coupon:09d}"
            props["currency"] = CURRENCY
            props["products"] = self._lines(start, count)
            out.append({"type": "track", "event": "Order Completed", "messageId": mid,
                        "userId": f"c{c:07d}", "timestamp": stamp, "properties": props,
                        "context": SHOP_CONTEXT[ch]})
        return out

    def refund(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Order Refunded calls (order id and refunded total; no product lines)."""
        return [track("Order Refunded", mid, c, stamp,
                      {"order_id": f"o{order:09d}", "total": total, "currency": CURRENCY})
                for mid, stamp, c, order, total in zip(
                    mids, ts, t["cust"][rows].tolist(), t["order"][rows].tolist(), money(t["total"][rows]),
                    strict=True)]

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
                        "messageId": mid, "userId": f"c{c:07d}", "timestamp": stamp,
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
                        "messageId": mid, "userId": f"c{c:07d}", "timestamp": stamp,
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
                        "userId": f"c{c:07d}", "timestamp": stamp, "properties": props,
                        "context": CONTENT_CONTEXT[ch]})
        return out

    def snapshot(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Monthly Account Snapshot calls: plan, balance (currency units) and products held."""
        return [track("Account Snapshot", mid, c, stamp,
                      {"product_type": C.PLANS[plan], "balance": balance, "num_products": n})
                for mid, stamp, c, plan, balance, n in zip(
                    mids, ts, t["cust"][rows].tolist(), t["plan"][rows].tolist(), money(t["balance"][rows]),
                    t["products"][rows].tolist(), strict=True)]

    def closed(self, t: Table, rows: np.ndarray, ts: list[str], mids: list[str]) -> list[Event]:
        """Account Closed calls (reason and plan)."""
        return [track("Account Closed", mid, c, stamp, {"reason": REASONS[reason], "product_type": C.PLANS[plan]})
                for mid, stamp, c, reason, plan in zip(
                    mids, ts, t["cust"][rows].tolist(), t["reason"][rows].tolist(), t["plan"][rows].tolist(),
                    strict=True)]
