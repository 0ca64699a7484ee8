"""Columnar event tables: what one simulated day produces before it is serialised.

Every table has ``ts`` (int64 epoch milliseconds) and ``cust`` (int64 customer index, -1 = anonymous);
the other columns depend on its :class:`Kind`. Order lines of checkouts and orders live in
:class:`Items` and are referenced by ``item_start`` / ``item_count``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    """Kinds of rows. On equal timestamps, rows sort in this order (cause before effect)."""

    IDENTIFY = 0  # full profile: signup or the initial CRM sync
    PROFILE = 1  # partial profile update (move, new city, new e-mail)
    PAGE = 2
    PRODUCT = 3  # Product Viewed / Added / Removed (column ``action``)
    CHECKOUT = 4
    ORDER = 5
    REFUND = 6
    TICKET = 7  # Ticket Opened / Resolved (column ``phase``)
    OFFER = 8  # Offer Sent / Responded (column ``phase``)
    CONTENT = 9
    SNAPSHOT = 10
    CLOSED = 11
    GROUP = 12  # a B2B customer's company (spec.py)
    ALIAS = 13  # a guest account merged into the customer
    LOGIN = 14  # identify linking an anonymousId (and a guest account) to a userId
    BROWSE = 15  # the spec's other browsing / checkout events (column ``action``)
    ORDER_CHANGE = 16  # Order Updated / Order Cancelled (column ``change``)


#: event name(s) each kind produces; the column selecting among several is in EVENT_NAME_COLUMN
EVENT_NAMES: dict[Kind, tuple[str, ...]] = {
    Kind.IDENTIFY: ("identify",),
    Kind.PROFILE: ("identify",),
    Kind.PAGE: ("page", "screen"),
    Kind.PRODUCT: ("Product Viewed", "Product Added", "Product Removed"),
    Kind.CHECKOUT: ("Checkout Started",),
    Kind.ORDER: ("Order Completed",),
    Kind.REFUND: ("Order Refunded",),
    Kind.TICKET: ("Ticket Opened", "Ticket Resolved"),
    Kind.OFFER: ("Offer Sent", "Offer Responded"),
    Kind.CONTENT: ("Content Watched",),
    Kind.SNAPSHOT: ("Account Snapshot",),
    Kind.CLOSED: ("Account Closed",),
    Kind.GROUP: ("group",),
    Kind.ALIAS: ("alias",),
    Kind.LOGIN: ("identify",),
    Kind.BROWSE: ("Products Searched", "Product List Viewed", "Promotion Viewed", "Promotion Clicked", "Cart Viewed",
                  "Payment Info Entered", "Coupon Applied"),
    Kind.ORDER_CHANGE: ("Order Updated", "Order Cancelled"),
}
EVENT_NAME_COLUMN: dict[Kind, str] = {Kind.PRODUCT: "action", Kind.TICKET: "phase", Kind.OFFER: "phase",
                                      Kind.PAGE: "screen", Kind.BROWSE: "action", Kind.ORDER_CHANGE: "change"}
ALL_EVENT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(n for names in EVENT_NAMES.values() for n in names))

Table = dict[str, np.ndarray]


def concat(tables: list[Table]) -> Table:
    """Row-wise concatenation of tables with the same columns."""
    if len(tables) == 1:
        return tables[0]
    return {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}


def take(table: Table, mask_or_index: np.ndarray) -> Table:
    """The rows of ``table`` a boolean mask or an index array selects (every column alike)."""
    return {key: column[mask_or_index] for key, column in table.items()}


@dataclass
class Items:
    """Order lines of one day (product index, quantity, unit price in USD cents and in the order's currency)."""

    product: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    price_cents: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    local_cents: np.ndarray | None = None  # unit price in the order's currency (None: same as price_cents)


@dataclass
class DayEvents:
    """All rows of one simulated day, by kind."""

    day: int
    tables: dict[Kind, Table] = field(default_factory=dict)
    items: Items = field(default_factory=Items)

    def add(self, kind: Kind, table: Table) -> None:
        """Append ``table``'s rows to the day's rows of ``kind`` (an empty table is ignored)."""
        if len(table["ts"]) == 0:
            return
        self.tables[kind] = concat([self.tables[kind], table]) if kind in self.tables else table

    def __len__(self) -> int:
        return sum(len(t["ts"]) for t in self.tables.values())

    def counts(self) -> dict[str, int]:
        """Events per event name."""
        out: dict[str, int] = {}
        for kind, table in self.tables.items():
            names = EVENT_NAMES[kind]
            if len(names) == 1:
                out[names[0]] = out.get(names[0], 0) + len(table["ts"])
            else:
                per = np.bincount(table[EVENT_NAME_COLUMN[kind]], minlength=len(names))
                for name, n in zip(names, per.tolist(), strict=True):
                    out[name] = out.get(name, 0) + n
        return out

    def order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kind, row, ts) of every row, sorted by timestamp (ties: kind order, then row order)."""
        kinds = sorted(self.tables)
        if not kinds:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        ts = np.concatenate([self.tables[k]["ts"] for k in kinds])
        kind = np.concatenate([np.full(len(self.tables[k]["ts"]), int(k), np.int64) for k in kinds])
        row = np.concatenate([np.arange(len(self.tables[k]["ts"]), dtype=np.int64) for k in kinds])
        idx = np.argsort(ts, kind="stable")
        return kind[idx], row[idx], ts[idx]
