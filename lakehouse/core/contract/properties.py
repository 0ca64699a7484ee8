"""Typed ``properties`` of the modelled track events and ``traits`` of identify calls.

E-commerce events follow Segment's e-commerce spec v2 (names and properties,
https://segment.com/docs/connections/spec/ecommerce/v2/): as there, nearly every property is optional. The one
deliberate exception is ``order_id``, required on Order Completed/Updated/Cancelled/Refunded: an order must be
identifiable to be counted once, and updates, cancellations and refunds find their order by it. Known keys
are typed and checked (amounts are :data:`Money`: finite Decimals in [0, 1e9], kept exactly as sent);
unknown extra keys are kept as sent. A property sent as ``null`` counts as absent.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, model_validator

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _currency(value: str) -> str:
    value = value.upper()
    if not _CURRENCY.match(value):
        raise ValueError("must be a 3-letter ISO 4217 code, e.g. USD")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like name@example.com")
    return value


Id = Annotated[str, Field(min_length=1, max_length=128, coerce_numbers_to_str=True)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=256)]
#: an amount of money: a finite Decimal in [0, 1e9], kept exactly as sent (a JSON number or numeric text)
Money = Annotated[Decimal, Field(ge=0, le=1_000_000_000, allow_inf_nan=False)]
Currency = Annotated[str, AfterValidator(_currency)]


class IssueType(StrEnum):
    """What a support ticket is about."""

    BILLING = "billing"
    DELIVERY = "delivery"
    PRODUCT_QUALITY = "product_quality"
    TECHNICAL = "technical"
    ACCOUNT = "account"
    OTHER = "other"


class Severity(StrEnum):
    """How urgent a support ticket is, from least to most."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class OfferType(StrEnum):
    """The kind of marketing offer."""

    DISCOUNT = "discount"
    FREE_SHIPPING = "free_shipping"
    BUNDLE = "bundle"
    LOYALTY_POINTS = "loyalty_points"
    CASHBACK = "cashback"


class Gender(StrEnum):
    """Gender as the customer chose to state it."""

    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    UNDISCLOSED = "undisclosed"


def _null_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The published JSON Schema says what validation does: an optional property of a model whose nulls count
    as absent accepts ``null`` whatever its type."""
    if not getattr(model, "null_is_absent", False):
        return
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        if name in required or any(option.get("type") == "null" for option in options):
            continue
        outer = {key: prop.pop(key) for key in ("default", "title") if key in prop}
        schema["properties"][name] = {"anyOf": [prop, {"type": "null"}], **outer}


class _Properties(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True,
                              json_schema_extra=_null_in_schema)
    #: a key sent as ``null`` counts as absent: removed before validation, so a field with a default takes it
    #: (``quantity`` 1, ``currency`` USD, no ``products``) and a required one is reported missing
    #: (:class:`Traits` keeps it: there ``null`` clears the trait)
    null_is_absent: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _without_nulls(cls, data: Any) -> Any:
        if cls.null_is_absent and isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class _Product(_Properties):
    """What names a product in the spec's product objects; every field optional."""

    product_id: Id | None = None
    sku: Text | None = None
    category: Label | None = None
    name: Text | None = None
    brand: Text | None = None
    variant: Text | None = None


class LineItem(_Product):
    """One product of a cart, checkout, order or refund (the spec's ``products.$`` object).

    Every field is optional, as in the spec. ``unit_price`` (sent as ``price`` or ``unit_price``) is the price
    of one unit in the event's currency; ``quantity`` is 1 when absent (the spec's sum of ``price x quantity``
    then counts the line once). Other keys (``position``, ``url``, ``image_url``, …) are kept as sent.
    """

    quantity: int = Field(default=1, ge=1, le=10_000)
    unit_price: Money | None = Field(default=None, validation_alias=AliasChoices("unit_price", "price"))
    coupon: Text | None = None


class ListedProduct(_Product):
    """A product shown in a list (Product List Viewed/Filtered): no quantity is implied."""

    price: Money | None = None


class ProductEvent(_Properties):
    """Product Viewed / Clicked / Added / Removed: one product; every property optional (spec v2).

    ``price`` and ``value`` are amounts in ``currency`` (ISO 4217; absent = the source's default currency).
    """

    product_id: Id | None = None
    sku: Text | None = None
    category: Label | None = None
    name: Text | None = None
    brand: Text | None = None
    variant: Text | None = None
    price: Money | None = None
    quantity: int = Field(default=1, ge=1, le=10_000)
    coupon: Text | None = None
    currency: Currency | None = None
    value: Money | None = None
    cart_id: Id | None = None


class WishlistProductEvent(ProductEvent):
    """Product Added to Wishlist / Product Removed from Wishlist / Wishlist Product Added to Cart."""

    wishlist_id: Id | None = None
    wishlist_name: Text | None = None


class ProductShared(ProductEvent):
    """Product Shared: the customer shared a product (``recipient`` as sent; no PII rule applies to it)."""

    share_via: Text | None = None
    share_message: str | None = Field(default=None, max_length=2_000)
    recipient: Text | None = None


class ProductReviewed(_Properties):
    """Product Reviewed: ``rating`` and ``review_body`` are kept as sent (scales differ between sources)."""

    product_id: Id | None = None
    review_id: Id | None = None


class ProductsSearched(_Properties):
    """Products Searched: ``query`` (text or an object, as the spec allows) is kept as sent."""


class ProductList(_Properties):
    """Product List Viewed / Product List Filtered (``filters`` and ``sorts`` kept as sent)."""

    list_id: Id | None = None
    category: Label | None = None
    products: list[ListedProduct] = Field(default_factory=list, max_length=500)


class Cart(_Properties):
    """Cart Viewed / Cart Shared: the products of a cart."""

    cart_id: Id | None = None
    products: list[LineItem] = Field(default_factory=list, max_length=500)


class CheckoutStep(_Properties):
    """Checkout Step Viewed / Checkout Step Completed / Payment Info Entered."""

    checkout_id: Id | None = None
    order_id: Id | None = None
    step: int | None = Field(default=None, ge=0, le=1_000)
    shipping_method: Text | None = None
    payment_method: Text | None = None


class CouponEvent(_Properties):
    """Coupon Entered / Applied / Denied / Removed; ``discount`` in the cart's or order's currency."""

    order_id: Id | None = None
    cart_id: Id | None = None
    coupon_id: Id | None = None
    coupon_name: Text | None = None
    discount: Money | None = None
    reason: Text | None = None


class PromotionEvent(_Properties):
    """Promotion Viewed / Promotion Clicked (an internal offer such as a banner)."""

    promotion_id: Id | None = None
    creative: Text | None = None
    name: Text | None = None
    position: Text | None = None


class _Amounts(_Properties):
    """The amounts of a checkout or order (spec v2), all optional, in ``currency`` (ISO 4217, default USD).

    The order's value is resolved from them by one rule (``lakehouse.core.commerce``: total > revenue >
    subtotal > value > the products' price x quantity).
    """

    total: Money | None = None
    revenue: Money | None = None
    subtotal: Money | None = None
    value: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    discount: Money | None = None
    coupon: Text | None = None
    affiliation: Text | None = None
    currency: Currency = "USD"
    products: list[LineItem] = Field(default_factory=list, max_length=500)


class CheckoutStarted(_Amounts):
    """Checkout Started: the customer began checking out (an order may not exist yet)."""

    order_id: Id | None = None
    checkout_id: Id | None = None


class OrderCompleted(_Amounts):
    """Order Completed: a placed order. ``order_id`` is required (unlike the spec): the order is counted once
    per ``order_id`` however often it is sent, and refunds, updates and cancellations find it by that id."""

    order_id: Id
    checkout_id: Id | None = None


class OrderUpdated(_Amounts):
    """Order Updated: the order's new state (its amounts replace the earlier ones); ``order_id`` required."""

    order_id: Id


class OrderCancelled(_Amounts):
    """Order Cancelled: the order no longer counts from this event on; ``order_id`` required."""

    order_id: Id


class OrderRefunded(_Amounts):
    """Order Refunded: without an amount and without products it is the spec's full refund of ``order_id``;
    with ``products`` (or an amount) a partial one. ``order_id`` is required: a refund must find its order."""

    order_id: Id


class TicketOpened(_Properties):
    """Ticket Opened: the customer opened a support ticket; ticket_id ties it to its resolution."""

    ticket_id: Id
    issue_type: IssueType
    severity: Severity
    channel: Label | None = None


class TicketResolved(_Properties):
    """Ticket Resolved: a support ticket was closed after resolution_hours hours; satisfaction is a 1-5 rating."""

    ticket_id: Id
    issue_type: IssueType
    severity: Severity
    resolution_hours: float = Field(ge=0, le=24 * 365, allow_inf_nan=False)
    satisfaction: int | None = Field(default=None, ge=1, le=5)


class OfferSent(_Properties):
    """Offer Sent: a marketing offer was sent to the customer (a system event, not the customer's activity)."""

    offer_id: Id
    offer_type: OfferType
    channel: Label | None = None


class OfferResponded(_Properties):
    """Offer Responded: the customer accepted or declined an offer."""

    offer_id: Id
    offer_type: OfferType
    accepted: bool


class ContentWatched(_Properties):
    """Content Watched: the customer streamed content for duration_seconds seconds (at most one day)."""

    content_id: Id
    app: Label
    category: Label
    duration_seconds: float = Field(ge=0, le=86_400, allow_inf_nan=False)
    title: str | None = Field(default=None, max_length=256)


class AccountSnapshot(_Properties):
    """Account Snapshot: a periodic statement of the customer's balance (may be negative) and products held."""

    product_type: Label
    balance: float = Field(ge=-1e9, le=1e9, allow_inf_nan=False)
    num_products: int = Field(ge=0, le=1_000)


class AccountClosed(_Properties):
    """Account Closed: the customer closed their account (churn, from that day on)."""

    reason: str | None = Field(default=None, max_length=256)
    product_type: Label | None = None


class Traits(_Properties):
    """Traits of an identify call (profile attributes). All optional: a profile update sends a subset.

    A trait sent as JSON ``null`` is valid and means "clear this trait" (Segment's semantics): the raw record
    keeps it as ``null``. Non-null values are type-checked; unknown traits are kept as sent.
    """

    null_is_absent: ClassVar[bool] = False

    name: str | None = Field(default=None, max_length=256)
    email: Annotated[str, Field(max_length=320), AfterValidator(_email)] | None = None
    age: int | None = Field(default=None, ge=13, le=120)
    gender: Gender | None = None
    geography: Label | None = None
    city: str | None = Field(default=None, max_length=128)
    signup_date: date | None = None


#: the spec's e-commerce v2 events (https://segment.com/docs/connections/spec/ecommerce/v2/) -> properties model
ECOMMERCE_EVENTS: dict[str, type[BaseModel]] = {
    "Products Searched": ProductsSearched,
    "Product List Viewed": ProductList,
    "Product List Filtered": ProductList,
    "Promotion Viewed": PromotionEvent,
    "Promotion Clicked": PromotionEvent,
    "Product Clicked": ProductEvent,
    "Product Viewed": ProductEvent,
    "Product Added": ProductEvent,
    "Product Removed": ProductEvent,
    "Cart Viewed": Cart,
    "Checkout Started": CheckoutStarted,
    "Checkout Step Viewed": CheckoutStep,
    "Checkout Step Completed": CheckoutStep,
    "Payment Info Entered": CheckoutStep,
    "Order Completed": OrderCompleted,
    "Order Updated": OrderUpdated,
    "Order Refunded": OrderRefunded,
    "Order Cancelled": OrderCancelled,
    "Coupon Entered": CouponEvent,
    "Coupon Applied": CouponEvent,
    "Coupon Denied": CouponEvent,
    "Coupon Removed": CouponEvent,
    "Product Added to Wishlist": WishlistProductEvent,
    "Product Removed from Wishlist": WishlistProductEvent,
    "Wishlist Product Added to Cart": WishlistProductEvent,
    "Product Shared": ProductShared,
    "Cart Shared": Cart,
    "Product Reviewed": ProductReviewed,
}

#: this project's own domain events (support, marketing, content, accounts) -> properties model
DOMAIN_EVENTS: dict[str, type[BaseModel]] = {
    "Ticket Opened": TicketOpened,
    "Ticket Resolved": TicketResolved,
    "Offer Sent": OfferSent,
    "Offer Responded": OfferResponded,
    "Content Watched": ContentWatched,
    "Account Snapshot": AccountSnapshot,
    "Account Closed": AccountClosed,
}

#: event name -> model of its ``properties``; track events with other names keep free-form properties.
EVENT_PROPERTIES: dict[str, type[BaseModel]] = {**ECOMMERCE_EVENTS, **DOMAIN_EVENTS}
