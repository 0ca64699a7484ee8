"""One batch-built lake shared by the batch tests (a pytest plugin of tests/conftest.py): generated journeys
plus hand-made scenarios.

The data set lands in the raw zone exactly as the ingestion API writes it (parse_event -> to_record ->
gzip JSON lines), with late arrivals, a client retry, and one object of malformed lines from another
writer. The whole chain (curated, star, DuckDB warehouse) runs once; tests that change the lake work on
a copy (``lake_copy``).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lakehouse.core.config import BatchSettings, Settings
from lakehouse.core.contract import iso
from lakehouse.local.aws.provision import provision
from lakehouse.local.batch import BatchReport, run_batch
from lakehouse.local.sample_data import Arrival, generate_calls, land_calls, land_lines

START = date(2025, 5, 1)
DAYS = 61  # May and June: two calendar months for the activeness marts
MALFORMED_LINES = [
    "this is not json",
    "[1, 2, 3]",
    '{"event_id": "bad-1", "user_id": "c1", "timestamp": "2025-05-10T10:00:00.000Z"}',
    '{"event_id": "bad-2", "type": "track", "event": "Order Completed", "user_id": "c1", '
    '"timestamp": "2025-05-10T10:00:00.000Z", "properties": {"order_id": "o", "total": "abc", '
    '"products": [{"product_id": "p", "category": "c", "quantity": 1, "unit_price": 1}]}}',
    '{"event_id": "bad-3", "type": "track", "event": "Order Completed", "user_id": "c1", '
    '"timestamp": "2025-05-10T10:00:00.000Z", "properties": {"order_id": "o", "total": 5, "products": []}}',
    '{"event_id": "bad-4", "type": "page", "user_id": "c1", "timestamp": "2201-01-01T00:00:00.000Z"}',
]


def at(day: int, hour: int = 12, minute: int = 0) -> str:
    moment = datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(days=day, hours=hour,
                                                                                minutes=minute)
    return iso(moment)


def call(kind: str, user: str, when: str, **fields: Any) -> dict[str, Any]:
    base = {"messageId": f"scn-{uuid.uuid5(uuid.NAMESPACE_URL, f'{user}|{kind}|{when}|{fields}')}",
            "userId": user, "timestamp": when, "context": {"channel": "web"}}
    if kind in ("identify",):
        return {**base, "type": "identify", "traits": fields}
    if kind == "page":
        return {**base, "type": "page", "name": fields.get("name", "Home"), "properties": {}}
    return {**base, "type": "track", "event": kind, "properties": fields}


def order(user: str, when: str, order_id: str, *lines: tuple[str, str, int, float]) -> dict[str, Any]:
    products = [{"product_id": p, "category": c, "quantity": q, "unit_price": price} for p, c, q, price in lines]
    total = round(sum(q * price for _, _, q, price in lines), 2)
    return call("Order Completed", user, when, order_id=order_id, total=total, currency="USD", products=products)


@dataclass
class Scenario:
    calls: list[dict[str, Any]] = field(default_factory=list)
    mover: str = "s-mover"
    move_day: int = 20
    churners: tuple[str, ...] = ()


def scenario_calls() -> Scenario:
    """Hand-made journeys: a customer who moves country (SCD2), churners, products bought together."""
    s = Scenario()
    add = s.calls.append
    add(call("identify", s.mover, at(3), name="Mia Mover", email="mia@example.com", age=34, gender="female",
             geography="France", city="Lyon", signup_date="2025-05-04"))
    add(call("page", s.mover, at(4, 9)))
    add(order(s.mover, at(5, 10), "s-o-1", ("p-bread", "grocery", 1, 3.5), ("p-butter", "grocery", 2, 2.25)))
    add(call("identify", s.mover, at(s.move_day), geography="Germany", city="Berlin"))
    add(call("identify", s.mover, at(s.move_day + 1), geography="Germany", city="Berlin"))  # no change
    add(order(s.mover, at(25, 18), "s-o-2", ("p-bread", "grocery", 1, 3.5), ("p-jam", "grocery", 1, 4.0)))
    churners = []
    for i, (geo, age) in enumerate([("Spain", 23), ("Spain", 52), ("Italy", 67), ("Italy", 38), ("Spain", 27)]):
        user = f"s-churn-{i}"
        churners.append(user)
        add(call("identify", user, at(1 + i), name=f"Churner {i}", email=f"churn{i}@example.com", age=age,
                 geography=geo, city="Somewhere"))
        add(call("Ticket Opened", user, at(2 + i), ticket_id=f"s-t-{i}", issue_type="billing", severity="critical",
                 channel="phone"))
        add(call("Ticket Resolved", user, at(4 + i), ticket_id=f"s-t-{i}", issue_type="billing",
                 severity="critical", resolution_hours=47.5, satisfaction=1))
        add(order(user, at(6 + i, 15), f"s-o-c{i}", ("p-bread", "grocery", 1, 3.5), ("p-butter", "grocery", 1, 2.25)))
        add(call("Offer Sent", user, at(8 + i), offer_id=f"s-of-{i}", offer_type="cashback", channel="email"))
        add(call("Offer Responded", user, at(9 + i), offer_id=f"s-of-{i}", offer_type="cashback", accepted=i % 2 == 0))
        add(call("Account Snapshot", user, at(10 + i), product_type="basic", balance=12.5 * i, num_products=1))
        add(call("Account Closed", user, at(30 + i), reason="too_expensive"))
    s.churners = tuple(churners)
    for i in range(6):
        user = f"s-basket-{i}"
        add(call("identify", user, at(2), name=f"Basket {i}", age=45 + i, geography="Netherlands", city="Utrecht"))
        for k in range(3):
            when = at(10 + 7 * k + i % 3, 11)
            add(call("Product Viewed", user, when, product_id="p-bread", category="grocery", price=3.5))
            add(call("Product Added", user, when, product_id="p-bread", category="grocery", price=3.5))
            add(order(user, when, f"s-o-b{i}{k}", ("p-bread", "grocery", 2, 3.5), ("p-jam", "grocery", 1, 4.0),
                      *([("p-cheese", "grocery", 1, 6.75)] if (i + k) % 2 else [])))
    return s


@dataclass
class BuiltLake:
    settings: Settings
    report: BatchReport
    calls: list[dict[str, Any]]
    scenario: Scenario
    retried: dict[str, Any]
    malformed_object: str
    malformed_lines: list[str] = field(default_factory=lambda: list(MALFORMED_LINES))


def copy_lake(source: Settings, target_home: Path) -> Settings:
    """A private copy of a built lake (raw, curated, warehouse, state and the DuckDB file)."""
    shutil.copytree(source.home, target_home)
    return source.model_copy(update={"home": target_home})


@pytest.fixture(scope="session")
def built_lake(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, spark) -> BuiltLake:
    home = tmp_path_factory.mktemp("batch") / "home"
    settings = Settings(stage="tbatch" + uuid.uuid4().hex[:6], home=home,
                        batch=BatchSettings(affinity_min_pair_orders=2, target_file_rows=100_000))
    provision(settings)
    scenario = scenario_calls()
    generated = generate_calls(tmp_path_factory.mktemp("generated"), seed=11, customers=220, start=START,
                               days=DAYS)
    calls = generated + scenario.calls
    land_calls(settings, calls, arrival=Arrival(late_share=0.02, late_days=3))
    retried = scenario.calls[2]  # the mover's first order, sent again by a client that missed the answer
    land_calls(settings, [retried], arrival=Arrival(delay_seconds=90))
    malformed = land_lines(settings, MALFORMED_LINES, source="legacy-crm",
                           received_at=datetime(2025, 5, 10, 11, tzinfo=UTC))
    report = run_batch(settings, spark, catalog=True)
    return BuiltLake(settings, report, calls, scenario, retried, malformed)


@pytest.fixture
def lake_copy(built_lake: BuiltLake, tmp_path: Path) -> Settings:
    return copy_lake(built_lake.settings, tmp_path / "home")
