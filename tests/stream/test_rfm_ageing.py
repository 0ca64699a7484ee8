"""A live segment ages: the item stores the facts, a reader derives the segment for its own day; the item's size
stays bounded (docs/rfm.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from lakehouse.core.commerce import ORDER_CANCELLED, ORDER_COMPLETED
from lakehouse.core.rfm_breakpoints import Breakpoints
from lakehouse.local.cli.main import app
from stream.features import FeatureConfig, customer_deltas, derive, merge
from stream.items import features_as_of, features_map, state_map
from stream.records import StreamEvent
from stream.reference import no_rates

CONFIG = FeatureConfig()
RATES = no_rates()
CUTS = Breakpoints(recency_days=(7.0, 30.0, 60.0, 120.0), frequency=(1.0, 2.0, 3.0, 5.0),
                   monetary=(50.0, 100.0, 200.0, 400.0), window_days=365, population=100, as_of="2025-06-30",
                   computed_at="2025-07-01T02:00:00Z")
DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024


def order(customer: str, at: datetime, total: str, order_id: str | None = None, event_id: str | None = None,
          name: str = ORDER_COMPLETED) -> StreamEvent:
    event_id = event_id or uuid.uuid4().hex
    return StreamEvent(event_id, customer, "track", name, at, at + timedelta(seconds=2), Decimal(total),
                       order_id=order_id or f"o-{event_id[:8]}", currency="USD")


def stored_item(events: list[StreamEvent]) -> dict[str, Any]:
    """What the sink stores for one customer's events (features as of the last event, and the state)."""
    [(customer, delta)] = customer_deltas(events).items()
    state = merge(None, delta, CONFIG, RATES)
    return {"customer_id": customer, "features": features_map(derive(state, CUTS, CONFIG, rates=RATES)),
            "state": state_map(state)}


def test_a_stored_champion_ages_into_cant_lose_them_then_no_recent_purchase() -> None:
    days = [datetime(2025, 6, d, 12, tzinfo=UTC) for d in (2, 9, 16, 23, 30)]
    item = stored_item([order("c-age", at, "120.00") for at in days])
    stored = item["features"]
    assert (stored["as_of"], stored["segment"], stored["recency_days"]) == ("2025-06-30", "Champions", 0)

    def at(day: date) -> tuple[Any, ...]:
        f = features_as_of(item, CUTS, CONFIG, day, RATES)
        return f.recency_days, f.frequency, f.monetary, (f.rfm.r, f.rfm.f, f.rfm.m) if f.rfm else None, f.segment

    assert at(date(2025, 6, 30)) == (0, 5, Decimal("600.00"), (5, 4, 5), "Champions")
    assert at(date(2025, 9, 30)) == (92, 5, Decimal("600.00"), (2, 4, 5), "Can't Lose Them")
    assert at(date(2026, 3, 1)) == (244, 5, Decimal("600.00"), (1, 4, 5), "Can't Lose Them")
    # 365 days after the first order it leaves the window: fewer orders, less money, same recency rule
    assert at(date(2026, 6, 10)) == (345, 3, Decimal("360.00"), (1, 3, 4), "At Risk")
    assert at(date(2026, 7, 1)) == (366, 0, Decimal("0.00"), None, "No recent purchase")
    assert item["features"]["segment"] == "Champions"  # the stored cache keeps its own as_of; readers derive


def test_as_of_a_day_before_the_last_order_counts_only_orders_up_to_that_day() -> None:
    """Seen failing on main (4f1eb8c), where ``derive`` took recency from the latest order whatever its day:
    as of 06-10 with orders on 06-01 and 06-20 it gave recency -10 (R 5) instead of 9 (R 4)."""
    item = stored_item([order("c-past", datetime(2025, 6, 1, 9, tzinfo=UTC), "30.00"),
                        order("c-past", datetime(2025, 6, 20, 9, tzinfo=UTC), "45.00")])
    past = features_as_of(item, CUTS, CONFIG, date(2025, 6, 10), RATES)
    assert (past.recency_days, past.frequency, past.monetary) == (9, 1, Decimal("30.00"))
    assert past.rfm is not None and (past.rfm.r, past.rfm.f, past.rfm.m) == (4, 1, 1)


def test_a_cancelled_order_is_no_purchase_at_any_as_of_day() -> None:
    completed = order("c-x", datetime(2025, 6, 1, 9, tzinfo=UTC), "80.00", order_id="o-x")
    cancelled = order("c-x", datetime(2025, 6, 2, 9, tzinfo=UTC), "80.00", order_id="o-x", name=ORDER_CANCELLED)
    item = stored_item([completed, cancelled])
    for day in (date(2025, 6, 1), date(2025, 6, 2), date(2025, 8, 1)):
        assert features_as_of(item, CUTS, CONFIG, day, RATES).segment == "No recent purchase"


def test_a_merged_item_has_no_features_of_its_own() -> None:
    with pytest.raises(ValueError, match="merged into 'u-1'"):
        features_as_of({"customer_id": "a-1", "merged_into": "u-1"}, CUTS, CONFIG, date(2025, 6, 1), RATES)


def test_customer_refuses_an_as_of_that_is_not_a_day() -> None:
    shown = CliRunner().invoke(app, ["customer", "c1", "--as-of", "30/06/2025"])
    assert shown.exit_code == 2 and "--as-of must be a day like 2025-06-30" in shown.output


# --- the item's size ------------------------------------------------------------------------------------------
def item_bytes(value: Any, name: str = "") -> int:
    """An item's size by DynamoDB's rules ("DynamoDB item sizes and formats", Amazon DynamoDB Developer Guide):
    names and strings in UTF-8 bytes; a number 1 byte per two significant digits + 1; a list or map 3 bytes of
    overhead + 1 byte per element; a Boolean or null 1 byte."""
    size = len(name.encode())
    if isinstance(value, dict):
        return size + 3 + sum(1 + item_bytes(v, str(k)) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return size + 3 + sum(1 + item_bytes(v) for v in value)
    if isinstance(value, bool) or value is None:
        return size + 1
    if isinstance(value, int | float | Decimal):
        digits = Decimal(str(value)).normalize().as_tuple().digits
        return size + (len(digits) + 1) // 2 + 1
    return size + len(str(value).encode())


@pytest.mark.parametrize(("id_length", "order_id_length", "orders"), [(36, 12, 2_500), (256, 128, 700)])
def test_an_item_holding_the_documented_number_of_orders_stays_under_400_kb(id_length: int, order_id_length: int,
                                                                             orders: int) -> None:
    """docs/rfm.md, "Item size": the state holds one entry per order of the last RETENTION_DAYS; with typical ids
    (36-character messageIds) 2,500 orders fit, with the contract's longest (256-character messageId, 128-character
    order_id) 700."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = [order("c-" + "x" * 254, start + timedelta(minutes=150 * i), "1234.56",
                    order_id=f"{i:0{order_id_length}d}", event_id=f"{i:0{id_length}d}") for i in range(orders)]
    item = stored_item(events)
    item.update({"last_batch": "run-" + "0" * 32 + "/123456", "version": 123456, "updated_at": "2025-12-31T23:59:59Z"})
    assert len(item["state"]["orders"]) == orders
    assert item_bytes(item) < DYNAMODB_ITEM_LIMIT_BYTES
