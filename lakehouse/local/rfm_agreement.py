"""Live RFM against the warehouse: one customer at a time, at the warehouse's latest snapshot day.

For every customer of ``fact_customer_metrics`` on its latest ``snapshot_date``, what ``lakehouse customer <id>
--as-of <that day>`` derives from the live DynamoDB item (:func:`derivation`) is compared with the
warehouse row: recency, frequency, monetary, the three scores and the segment (one definition: docs/rfm.md).
The demo prints the result; its test requires every customer to agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
from boto3.dynamodb.types import TypeDeserializer

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.local.cli.stream_commands import derivation

#: the compared measures, as ``fact_customer_metrics`` names them
MEASURES = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment")


@dataclass(frozen=True)
class RfmAgreement:
    """How many customers of the warehouse's snapshot on ``as_of`` have the same RFM live.

    ``differ``: customer id -> measure -> (warehouse value, live value), for customers that differ;
    ``missing``: customers of the snapshot without a live item. ``as_of`` is None for an empty warehouse.
    """

    as_of: date | None
    customers: int
    differ: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def agree(self) -> int:
        """Customers whose live RFM equals the warehouse's."""
        return self.customers - len(self.differ) - len(self.missing)


def live_items(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every item of the feature table (a consistent scan), as Python values, by customer id."""
    dynamodb = aws_client("dynamodb", region=settings.region)
    deserializer = TypeDeserializer()
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=settings.names.features_table,
                                                          ConsistentRead=True):
        for raw in page["Items"]:
            item = {k: deserializer.deserialize(v) for k, v in raw.items()}
            items[item["customer_id"]] = item
    return items


def warehouse_rfm(settings: Settings) -> tuple[date | None, dict[str, dict[str, Any]]]:
    """(latest snapshot day, customer id -> the :data:`MEASURES` of that day) from the local warehouse."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(as_of,)] = con.execute("SELECT max(snapshot_date) FROM fact_customer_metrics").fetchall()
        if as_of is None:
            return None, {}
        rows = con.execute(f"SELECT customer_id, {', '.join(MEASURES)} FROM fact_customer_metrics "
                           "WHERE snapshot_date = ?", [as_of]).fetchall()
    return as_of, {row[0]: dict(zip(MEASURES, row[1:], strict=True)) for row in rows}


def compare_rfm(settings: Settings) -> RfmAgreement:
    """Live RFM vs the warehouse's latest snapshot, customer by customer (see the module docstring)."""
    as_of, warehouse = warehouse_rfm(settings)
    if as_of is None:
        return RfmAgreement(None, 0)
    items = live_items(settings)
    derive = derivation(settings, as_of)
    differ: dict[str, dict[str, tuple[Any, Any]]] = {}
    missing: list[str] = []
    for customer_id, stored in warehouse.items():
        if customer_id not in items:
            missing.append(customer_id)
            continue
        features = derive(items[customer_id])
        rfm = features.rfm
        live = {"recency_days": features.recency_days, "frequency": features.frequency,
                "monetary": features.monetary, "r_score": rfm.r if rfm else None,
                "f_score": rfm.f if rfm else None, "m_score": rfm.m if rfm else None,
                "rfm_segment": features.segment}
        expected = {**stored, "monetary": None if stored["monetary"] is None else Decimal(str(stored["monetary"]))}
        diff = {k: (expected[k], live[k]) for k in MEASURES if expected[k] != live[k]}
        if diff:
            differ[customer_id] = diff
    return RfmAgreement(as_of, len(warehouse), differ, missing)
