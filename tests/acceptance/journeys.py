"""The acceptance scenarios: HTTP calls written from Segment's documentation, and the hand-computed numbers
they must produce.

Sources read before writing them: Segment's HTTP Tracking API (routes ``/v1/track|identify|page|screen|group|
alias|batch``, Basic auth with the write key, ``messageId``, ``timestamp``, ``sentAt``, ``previousId``,
``groupId``) and the e-commerce spec v2 (github.com/segmentio/segment-docs, src/connections/spec/ecommerce/
v2.md: every event, its optional properties, the spec's own example values, ``Order Refunded`` with only
``order_id`` = full refund). Every scenario has its own customer ids (prefix ``acc-``), so each one's numbers
are independent of the others. Times carry no ``sentAt`` unless said, so the API keeps them as sent.

Hand computations (reporting currency USD, rates from :data:`RATES_CSV`, rounded half up to cents):

========  ============================================================  ==========  =======  ========
customer  what happens                                                  gross (USD) refunds  net (USD)
========  ============================================================  ==========  =======  ========
rev       Order Completed with only ``revenue`` 42.10 (lines say 40.00)      42.10     0        42.10
full      total 80.00, then Order Refunded {order_id} (full refund)          80.00    80.00      0.00
dup       total 60.00 posted twice under two messageIds (resend 5 min on),
          then a refund of 15.00 (counted once, not once per copy)           60.00    15.00     45.00
part      total 50.00 (pen 30 x1, ink 10 x2), refund of one ink line         50.00    10.00     40.00
cancel    total 35.00, then Order Cancelled                                   0.00     0         0.00
cap       total 20.00, then a refund of 25.00 (capped at 20.00, flagged)     20.00    20.00      0.00
eur       EUR 100.00 on Tue 06-10 x 1.0850 = 108.50; EUR 19.99 on Sat
          06-14 x 1.0900 (Fri's rate) = 21.7891 -> 21.79                    130.29     0       130.29
usd       USD 20.00                                                          20.00     0        20.00
gbp       GBP 50.00: no GBP rate -> unconverted, reported, not summed         0.00     0         0.00
j1        anonymous page, 2 views, cart, identify, order 12.50               12.50     0        12.50
j2        anonymous view + cart; later (2nd stream run) alias + order 9.00    9.00     0         9.00
clock     order 15.00 on 06-05; a 2099 page and a 1971 view (quarantined)    15.00     0        15.00
spec      every spec event; order 27.50 updated to 30.00, refund 5.00;
          a second order 10.00 cancelled                                     30.00     5.00     25.00
seg, rud  real clients: revenue EUR 25.50 on 06-02 x 1.1200 = 28.56 each    57.12     0        57.12
========  ============================================================  ==========  =======  ========
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

D = Decimal
ZERO = Decimal("0.00")
RATES_CSV = """rate_date,currency,rate
2025-06-02,EUR,1.1200
2025-06-09,EUR,1.1000
2025-06-10,EUR,1.0850
2025-06-13,EUR,1.0900
"""
FIRST_DAY, LAST_DAY = date(2025, 6, 1), date(2025, 6, 30)  # the marker customer's first and last events
AS_OF = LAST_DAY


def at(day: int, hour: int = 10, minute: int = 0) -> str:
    """An ISO time on a June 2025 day (UTC, ms, 'Z')."""
    return f"2025-06-{day:02d}T{hour:02d}:{minute:02d}:00.000Z"


def cid(name: str) -> str:
    """The customer id of a scenario."""
    return f"acc-{name}"


def anon(name: str) -> str:
    """The anonymous id of a scenario's visitor before login."""
    return f"acc-anon-{name}"


def call(kind: str, message_id: str, when: str, *, user: str | None = None, anonymous: str | None = None,
         **fields: Any) -> dict[str, Any]:
    """One Segment call (camelCase fields as the HTTP API documents them)."""
    document: dict[str, Any] = {"type": kind, "messageId": message_id, "timestamp": when}
    if user is not None:
        document["userId"] = user
    if anonymous is not None:
        document["anonymousId"] = anonymous
    document.update(fields)
    return document


def track(message_id: str, when: str, event: str, properties: dict[str, Any], **who: Any) -> dict[str, Any]:
    """A track call."""
    return call("track", message_id, when, event=event, properties=properties, **who)


@dataclass(frozen=True)
class Order:
    """A hand-computed order: value in its own currency, in USD (None: unconverted), refunds and net in USD;
    ``counts`` False for a cancelled order (reversed: it counts 0)."""

    order_id: str
    customer: str
    day: date
    value: Decimal
    currency: str
    value_usd: Decimal | None
    refunds_usd: Decimal = ZERO
    counts: bool = True

    @property
    def net_usd(self) -> Decimal:
        """Value minus refunds in USD; 0 when cancelled or unconverted."""
        if not self.counts or self.value_usd is None:
            return D("0.00")
        return self.value_usd - self.refunds_usd


ORDERS = [
    Order("acc-o-rev", cid("rev"), date(2025, 6, 10), D("42.10"), "USD", D("42.10")),
    Order("acc-o-full", cid("full"), date(2025, 6, 11), D("80.00"), "USD", D("80.00"), D("80.00")),
    Order("acc-o-dup", cid("dup"), date(2025, 6, 13), D("60.00"), "USD", D("60.00"), D("15.00")),
    Order("acc-o-part", cid("part"), date(2025, 6, 14), D("50.00"), "USD", D("50.00"), D("10.00")),
    Order("acc-o-cancel", cid("cancel"), date(2025, 6, 16), D("35.00"), "USD", D("35.00"), counts=False),
    Order("acc-o-cap", cid("cap"), date(2025, 6, 17), D("20.00"), "USD", D("20.00"), D("20.00")),
    Order("acc-o-eur-1", cid("eur"), date(2025, 6, 10), D("100.00"), "EUR", D("108.50")),
    Order("acc-o-eur-2", cid("eur"), date(2025, 6, 14), D("19.99"), "EUR", D("21.79")),
    Order("acc-o-usd", cid("usd"), date(2025, 6, 10), D("20.00"), "USD", D("20.00")),
    Order("acc-o-gbp", cid("gbp"), date(2025, 6, 10), D("50.00"), "GBP", None),
    Order("acc-o-j1", cid("j1"), date(2025, 6, 20), D("12.50"), "USD", D("12.50")),
    Order("acc-o-j2", cid("j2"), date(2025, 6, 21), D("9.00"), "USD", D("9.00")),
    Order("acc-o-clock", cid("clock"), date(2025, 6, 5), D("15.00"), "USD", D("15.00")),
    Order("acc-o-spec", cid("spec"), date(2025, 6, 25), D("30.00"), "USD", D("30.00"), D("5.00")),
    Order("acc-o-spec-2", cid("spec"), date(2025, 6, 25), D("10.00"), "USD", D("10.00"), counts=False),
    Order("acc-seg-o1", "acc-seg-user", date(2025, 6, 2), D("25.50"), "EUR", D("28.56")),
    Order("acc-rud-o1", "acc-rud-user", date(2025, 6, 2), D("25.50"), "EUR", D("28.56")),
]
ORDER = {o.order_id: o for o in ORDERS}


def customer_net(customer: str) -> Decimal:
    """Hand net revenue (USD) of a customer: the sum of its orders' net."""
    return sum((o.net_usd for o in ORDERS if o.customer == customer), D("0.00"))


@dataclass
class Post:
    """One HTTP request to make: ``route`` and JSON ``document``; ``phase`` 2 is posted after a first stream run."""

    route: str
    document: dict[str, Any]
    phase: int = 1
    sent_at_now: bool = False  # put a current batch-level sentAt in (a client whose clock is right)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The calls in the request."""
        return self.document["batch"] if self.route == "/v1/batch" else [self.document]


def batch(*calls: dict[str, Any], phase: int = 1) -> Post:
    """A /v1/batch request."""
    return Post("/v1/batch", {"batch": list(calls)}, phase)


def single(document: dict[str, Any], phase: int = 1) -> Post:
    """A request to the call's own route (/v1/track, /v1/identify, ...)."""
    return Post(f"/v1/{document['type']}", document, phase)


GAMES = [
    {"product_id": "p-spec-1", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19, "quantity": 1,
     "category": "Games", "url": "https://www.example.com/product/path",
     "image_url": "https://www.example.com/product/path.jpg"},
    {"product_id": "p-spec-2", "sku": "46493-32", "name": "Uno Card Game", "price": 3, "quantity": 2,
     "category": "Games"},
]

#: every event name of the e-commerce spec v2, each posted once by the ``spec`` customer
SPEC_EVENTS: dict[str, dict[str, Any]] = {
    "Products Searched": {"query": "blue roses"},
    "Product List Viewed": {"list_id": "hot_deals_1", "category": "Deals",
                            "products": [{**GAMES[0], "position": 1}, {**GAMES[1], "position": 2}]},
    "Product List Filtered": {"list_id": "todays_deals", "filters": [{"type": "department", "value": "beauty"}],
                              "sorts": [{"type": "price", "value": "desc"}],
                              "products": [{"product_id": "p-spec-3", "name": "Facial Soap", "price": 12.60,
                                            "position": 1}]},
    "Promotion Viewed": {"promotion_id": "promo_1", "creative": "top_banner_2", "name": "75% store-wide shoe sale",
                         "position": "home_banner_top"},
    "Promotion Clicked": {"promotion_id": "promo_1", "creative": "top_banner_2", "name": "75% store-wide shoe sale",
                          "position": "home_banner_top"},
    "Product Clicked": {"product_id": "p-spec-1", "sku": "G-32", "category": "Games", "name": "Monopoly",
                        "brand": "Hasbro", "variant": "200 pieces", "price": 18.99, "quantity": 1,
                        "coupon": "MAYDEALS", "position": 3},
    # no category (optional in the spec): takes the product's known category downstream
    "Product Viewed": {"product_id": "p-spec-1", "sku": "G-32", "name": "Monopoly", "price": 18.99,
                       "currency": "USD", "value": 18.99, "color_scheme": "dark"},
    "Product Added": {"cart_id": "cart-spec", "product_id": "p-spec-1", "price": 18.99, "quantity": 1},
    "Product Removed": {"cart_id": "cart-spec", "product_id": "p-spec-2", "price": 3, "quantity": 1},
    "Cart Viewed": {"cart_id": "cart-spec", "products": [{"product_id": "p-spec-1", "price": 18.99,
                                                          "quantity": 1}]},
    "Checkout Started": {"order_id": "acc-o-spec", "value": 30, "revenue": 25.00, "shipping": 3, "tax": 2,
                         "discount": 2.5, "coupon": "hasbros", "currency": "USD", "products": GAMES},
    "Checkout Step Viewed": {"checkout_id": "chk-spec", "step": 2, "shipping_method": "Fedex",
                             "payment_method": "Visa"},
    "Checkout Step Completed": {"checkout_id": "chk-spec", "step": 2, "shipping_method": "Fedex",
                                "payment_method": "Visa"},
    "Payment Info Entered": {"checkout_id": "chk-spec", "order_id": "acc-o-spec", "step": 4,
                             "payment_method": "Visa"},
    "Order Completed": {"checkout_id": "chk-spec", "order_id": "acc-o-spec", "affiliation": "Google Store",
                        "total": 27.50, "subtotal": 22.50, "revenue": 25.00, "shipping": 3, "tax": 2,
                        "discount": 2.5, "coupon": "hasbros", "currency": "USD", "products": GAMES},
    "Order Updated": {"order_id": "acc-o-spec", "total": 30.00, "revenue": 27.00, "currency": "USD",
                      "products": GAMES},
    "Order Refunded": {"order_id": "acc-o-spec", "total": 5.00, "currency": "USD"},
    "Order Cancelled": {"order_id": "acc-o-spec-2", "total": 10.00, "currency": "USD"},
    "Coupon Entered": {"order_id": "acc-o-spec", "cart_id": "cart-spec", "coupon_id": "may_deals_2016"},
    "Coupon Applied": {"order_id": "acc-o-spec", "cart_id": "cart-spec", "coupon_id": "may_deals_2016",
                       "coupon_name": "May Deals 2016", "discount": 23.32},
    "Coupon Denied": {"order_id": "acc-o-spec", "cart_id": "cart-spec", "coupon": "may_deals_2016",
                      "reason": "Coupon expired"},
    "Coupon Removed": {"order_id": "acc-o-spec", "cart_id": "cart-spec", "coupon_id": "may_deals_2016",
                       "coupon_name": "May Deals 2016", "discount": 23.32},
    "Product Added to Wishlist": {"wishlist_id": "wl-1", "wishlist_name": "Loved Games", "product_id": "p-spec-1",
                                  "category": "Games", "price": 18.99, "quantity": 1},
    "Product Removed from Wishlist": {"wishlist_id": "wl-1", "wishlist_name": "Loved Games",
                                      "product_id": "p-spec-1", "price": 18.99},
    "Wishlist Product Added to Cart": {"wishlist_id": "wl-1", "wishlist_name": "Loved Games",
                                       "cart_id": "cart-spec", "product_id": "p-spec-1", "price": 18.99},
    "Product Shared": {"share_via": "email", "share_message": "Hey, check out this item",
                       "recipient": "friend@example.com", "product_id": "p-spec-1", "name": "Monopoly"},
    "Cart Shared": {"share_via": "email", "share_message": "Hey, check out my cart",
                    "recipient": "friend@example.com", "cart_id": "cart-spec",
                    "products": [{"product_id": "p-spec-1"}, {"product_id": "p-spec-2"}]},
    "Product Reviewed": {"product_id": "p-spec-1", "review_id": "kdfjrj39fj39jf3",
                         "review_body": "I love this product", "rating": "5"},
}
CHECKOUT_STEPS = ("Checkout Started", "Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered",
                  "Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed", "Promotion Viewed",
                  "Promotion Clicked")
BROWSING = ("Product List Viewed", "Products Searched", "Product Clicked", "Cart Viewed", "Product Shared",
            "Product Reviewed")


@dataclass
class Scenario:
    """Every request of the module, and the message ids tests look up."""

    posts: list[Post] = field(default_factory=list)
    out_of_range: dict[str, str] = field(default_factory=dict)  # message id -> timestamp sent

    def add(self, post: Post) -> None:
        """Queue one request."""
        self.posts.append(post)


def scenario() -> Scenario:
    """All requests of the acceptance run (see the module docstring for what each customer does)."""
    s = Scenario()
    # the batch's span: first and last valid event of the whole run
    s.add(batch(call("identify", "mk-1", at(1, 9), user=cid("marker"), traits={"name": "Mark Er"}),
                call("page", "mk-2", at(30, 12), user=cid("marker"), name="Home", properties={"path": "/"})))

    # an order with only revenue; products without category; lines (40.00) differ from revenue (42.10)
    s.add(single(track("rev-1", at(10), "Order Completed", {
        "order_id": "acc-o-rev", "revenue": 42.10, "currency": "USD",
        "products": [{"product_id": "p-book", "name": "Atlas", "price": 40.00, "quantity": 1}]}, user=cid("rev"))))

    # a full refund: Order Refunded with only order_id
    s.add(single(track("full-1", at(11), "Order Completed", {
        "order_id": "acc-o-full", "total": 80.00, "currency": "USD",
        "products": [{"product_id": "p-lamp", "category": "home", "price": 80.00, "quantity": 1}]}, user=cid("full"))))
    s.add(single(track("full-2", at(12), "Order Refunded", {"order_id": "acc-o-full"}, user=cid("full"))))

    # the same order twice under two messageIds (a back-office resend five minutes later)
    dup = {"order_id": "acc-o-dup", "total": 60.00, "currency": "USD",
           "products": [{"product_id": "p-mug", "category": "kitchen", "price": 20.00, "quantity": 3}]}
    s.add(single(track("dup-1", at(13), "Order Completed", dup, user=cid("dup"))))
    s.add(single(track("dup-2", at(13, 10, 5), "Order Completed", dict(dup), user=cid("dup"))))
    s.add(single(track("dup-3", at(13, 12), "Order Refunded", {"order_id": "acc-o-dup", "total": 15.00,
                                                                 "currency": "USD"}, user=cid("dup"))))

    # a partial refund of one line (the refund names the line; no amount)
    s.add(batch(track("part-1", at(14), "Order Completed", {
        "order_id": "acc-o-part", "total": 50.00, "currency": "USD",
        "products": [{"product_id": "p-pen", "category": "office", "price": 30.00, "quantity": 1},
                     {"product_id": "p-ink", "category": "office", "price": 10.00, "quantity": 2}]}, user=cid("part")),
                track("part-2", at(15), "Order Refunded", {
                    "order_id": "acc-o-part", "currency": "USD",
                    "products": [{"product_id": "p-ink", "price": 10.00, "quantity": 1}]}, user=cid("part"))))

    # a cancelled order
    s.add(batch(track("cancel-1", at(16), "Order Completed", {
        "order_id": "acc-o-cancel", "total": 35.00, "currency": "USD"}, user=cid("cancel")),
                track("cancel-2", at(16, 18), "Order Cancelled", {
                    "order_id": "acc-o-cancel", "total": 35.00, "currency": "USD"}, user=cid("cancel"))))

    # a refund larger than its order: capped at the order's value and flagged
    s.add(batch(track("cap-1", at(17), "Order Completed", {"order_id": "acc-o-cap", "total": 20.00, "currency": "USD"},
                      user=cid("cap")),
                track("cap-2", at(18), "Order Refunded", {"order_id": "acc-o-cap", "total": 25.00, "currency": "USD"},
                      user=cid("cap"))))

    # userId sent as a JSON number: 4243.0 and 4243 are one customer "4243" (as JavaScript prints them)
    s.add(batch(call("identify", "num-1", at(19, 9), user=4243.0, traits={"name": "Numa Ber"}),  # type: ignore[arg-type]
                track("num-2", at(19, 9, 5), "Product Viewed", {"product_id": "p-num"}, user=4243)))  # type: ignore[arg-type]

    # currencies: EUR on a day with a rate and on a Saturday (Friday's rate), USD, GBP without any rate
    s.add(batch(
        track("eur-1", at(10, 12), "Order Completed", {"order_id": "acc-o-eur-1", "total": 100.00, "currency": "EUR"},
              user=cid("eur")),
        track("eur-2", at(14, 12), "Order Completed", {"order_id": "acc-o-eur-2", "total": 19.99, "currency": "EUR"},
              user=cid("eur")),
        track("usd-1", at(10, 12), "Order Completed", {"order_id": "acc-o-usd", "total": 20.00, "currency": "USD"},
              user=cid("usd")),
        track("gbp-1", at(10, 12), "Order Completed", {"order_id": "acc-o-gbp", "total": 50.00, "currency": "GBP"},
              user=cid("gbp"))))

    # identity: anonymous browsing, then identify, then the order (one session on 06-20 from 09:00 to 09:10)
    a1 = anon("j1")
    s.add(single(call("page", "j1-1", at(20, 9, 0), anonymous=a1, name="Home", properties={"path": "/"})))
    s.add(batch(
        track("j1-2", at(20, 9, 2), "Product Viewed", {"product_id": "p-tea", "category": "tea", "price": 12.50},
              anonymous=a1),
        track("j1-3", at(20, 9, 4), "Product Viewed", {"product_id": "p-cup", "price": 8.00}, anonymous=a1),
        track("j1-4", at(20, 9, 6), "Product Added", {"product_id": "p-tea", "price": 12.50, "quantity": 1},
              anonymous=a1)))
    s.add(single(call("identify", "j1-5", at(20, 9, 8), user=cid("j1"), anonymous=a1,
                      traits={"name": "Jo One", "plan": "basic"})))
    s.add(single(track("j1-6", at(20, 9, 10), "Order Completed", {
        "order_id": "acc-o-j1", "total": 12.50, "currency": "USD",
        "products": [{"product_id": "p-tea", "price": 12.50, "quantity": 1}]}, user=cid("j1"))))

    # identity, late: the anonymous events reach the stream job before the alias that links them
    a2 = anon("j2")
    s.add(batch(
        track("j2-1", at(21, 10, 0), "Product Viewed", {"product_id": "p-tea", "price": 9.00}, anonymous=a2),
        track("j2-2", at(21, 10, 5), "Product Added", {"product_id": "p-tea", "price": 9.00, "quantity": 1},
              anonymous=a2)))
    s.add(single(call("alias", "j2-3", at(21, 10, 20), user=cid("j2"), previousId=a2), phase=2))
    s.add(single(track("j2-4", at(21, 10, 25), "Order Completed", {
        "order_id": "acc-o-j2", "total": 9.00, "currency": "USD"}, user=cid("j2")), phase=2))

    # sane event times: one real order, then a 2099 page (sentAt current) and a 1971 view (no sentAt)
    s.add(single(track("clock-1", at(5), "Order Completed", {
        "order_id": "acc-o-clock", "total": 15.00, "currency": "USD"}, user=cid("clock"))))
    future = call("page", "clock-2099", "2099-01-01T00:00:00.000Z", user=cid("clock"), name="Home", properties={})
    s.add(Post("/v1/batch", {"batch": [future]}, sent_at_now=True))
    past = track("clock-1971", "1971-03-03T10:00:00.000Z", "Product Viewed", {"product_id": "p-old"},
                 user=cid("clock"))
    s.add(single(past))
    s.out_of_range = {"clock-2099": future["timestamp"], "clock-1971": past["timestamp"]}

    # every route and every spec event (customer ``spec``, anonymous first, then identified)
    spec, spec_anon = cid("spec"), anon("spec")
    s.add(single(call("page", "spec-page", at(25, 8), anonymous=spec_anon, name="Home", category="Landing",
                      properties={"path": "/", "title": "Welcome"})))
    s.add(single(call("identify", "spec-identify", at(25, 8, 5), user=spec, anonymous=spec_anon,
                      traits={"name": "Sam Spec", "plan": "pro", "logins": 2})))
    s.add(single(call("screen", "spec-screen", at(25, 8, 6), user=spec, name="Catalog", category="Shop",
                      properties={"variation": "grid"})))
    s.add(single(call("group", "spec-group", at(25, 8, 7), user=spec, groupId="acc-grp-initech",
                      traits={"name": "Initech", "industry": "Software", "employees": 120})))
    s.add(single(call("alias", "spec-alias", at(25, 8, 8), user=spec, previousId="acc-spec-legacy")))
    s.add(single(track("spec-searched", at(25, 8, 9), "Products Searched", SPEC_EVENTS["Products Searched"],
                       user=spec)))
    order2 = track("spec-o2", at(25, 9, 0), "Order Completed", {"order_id": "acc-o-spec-2", "total": 10.00,
                                                                "currency": "USD"}, user=spec)
    rest = [track(f"spec-{i:02d}", at(25, 10, i), name, props, user=spec)
            for i, (name, props) in enumerate(SPEC_EVENTS.items()) if name != "Products Searched"]
    s.add(batch(order2, *rest))
    # a trait set to null clears it (a new customer version); traits: null means no traits
    s.add(single(call("identify", "spec-clear", at(25, 11), user=spec, traits={"plan": None})))
    s.add(single(call("identify", "spec-null-traits", at(25, 11, 1), user=spec, traits=None)))
    return s


def spec_message_ids() -> dict[str, str]:
    """Spec event name -> the message id it was posted under."""
    ids = {"Products Searched": "spec-searched"}
    ids.update({name: f"spec-{i:02d}" for i, name in enumerate(SPEC_EVENTS) if name != "Products Searched"})
    return ids
