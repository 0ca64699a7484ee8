"""Typed ``properties`` of the domain track events and ``traits`` of identify calls.

Names follow the Segment e-commerce spec where one exists ("Product Viewed", "Order Completed", …).
Unknown extra keys are kept (sources send more than we model); known keys are typed and checked.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

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
Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
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


class _Properties(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)


class LineItem(_Properties):
    """One product line of a cart, checkout or order."""

    product_id: Id
    category: Label
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money = Field(validation_alias=AliasChoices("unit_price", "price"))
    name: str | None = Field(default=None, max_length=256)
    sku: str | None = Field(default=None, max_length=128)


class ProductEvent(_Properties):
    """Product Viewed / Product Added / Product Removed."""

    product_id: Id
    category: Label
    price: Money | None = None
    quantity: int = Field(default=1, ge=1, le=10_000)
    name: str | None = Field(default=None, max_length=256)
    cart_id: Id | None = None


class CheckoutStarted(_Properties):
    """Checkout Started: the customer began checking out; total is in currency (ISO 4217, default USD)."""

    order_id: Id | None = None
    total: Money | None = None
    currency: Currency = "USD"
    products: list[LineItem] = Field(default_factory=list, max_length=500)


class OrderCompleted(_Properties):
    """Order Completed: a placed order of at least one product line.

    total, discount, shipping and tax are amounts in currency (ISO 4217, default USD).
    """

    order_id: Id
    total: Money
    currency: Currency = "USD"
    products: list[LineItem] = Field(min_length=1, max_length=500)
    discount: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    coupon: str | None = Field(default=None, max_length=128)


class OrderRefunded(_Properties):
    """A (partial) refund; ``total`` is the amount refunded."""

    order_id: Id
    total: Money
    currency: Currency = "USD"
    products: list[LineItem] = Field(default_factory=list, max_length=500)


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
    """Traits of an identify call (profile attributes). All optional: a profile update sends a subset."""

    name: str | None = Field(default=None, max_length=256)
    email: Annotated[str, Field(max_length=320), AfterValidator(_email)] | None = None
    age: int | None = Field(default=None, ge=13, le=120)
    gender: Gender | None = None
    geography: Label | None = None
    city: str | None = Field(default=None, max_length=128)
    signup_date: date | None = None


#: event name -> model of its ``properties``; track events with other names keep free-form properties.
EVENT_PROPERTIES: dict[str, type[BaseModel]] = {
    "Product Viewed": ProductEvent,
    "Product Added": ProductEvent,
    "Product Removed": ProductEvent,
    "Checkout Started": CheckoutStarted,
    "Order Completed": OrderCompleted,
    "Order Refunded": OrderRefunded,
    "Ticket Opened": TicketOpened,
    "Ticket Resolved": TicketResolved,
    "Offer Sent": OfferSent,
    "Offer Responded": OfferResponded,
    "Content Watched": ContentWatched,
    "Account Snapshot": AccountSnapshot,
    "Account Closed": AccountClosed,
}
