"""The warehouse DDL against the documentation and the event contract: text sized in bytes, distribution keys.

Redshift ``VARCHAR(n)`` counts bytes, "up to a maximum of four bytes per character" (Amazon Redshift Database
Developer Guide, "Character types"), while the contract limits characters. A column fed by a contract field must
hold the field's longest value in the worst case: ``4 * max_length <= n``.

Seen failing before the DDL was resized: dim_geography.city VARCHAR(128) for Traits.city (128 characters -> 512
bytes needed), and 30 more columns, e.g. fact_order.customer_id VARCHAR(256) for a 256-character userId.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel

from glue_jobs.warehouse import grammar
from glue_jobs.warehouse.sql_files import tables
from lakehouse.core.contract.envelope import Envelope, PageEvent, TrackEvent
from lakehouse.core.contract.properties import (
    ContentWatched,
    Gender,
    IssueType,
    LineItem,
    OfferSent,
    OfferType,
    OrderCompleted,
    Severity,
    TicketOpened,
    Traits,
)

BYTES_PER_CHARACTER = 4  # UTF-8's longest character (r_Character_types)

CUSTOMER_ID, EVENT_ID = (Envelope, "user_id"), (Envelope, "message_id")
#: (table, column) -> the contract field it is fed by
CONTRACT_FED: dict[tuple[str, str], tuple[type[BaseModel], str]] = {
    **{(t, "customer_id"): CUSTOMER_ID for t in (
        "dim_customer", "fact_content_watch", "fact_customer_activity", "fact_customer_metrics", "fact_offer_response",
        "fact_order", "fact_order_line", "fact_refund", "fact_session", "fact_support_ticket")},
    **{(t, "event_id"): EVENT_ID for t in (
        "fact_content_watch", "fact_customer_activity", "fact_order", "fact_order_line", "fact_refund")},
    **{(t, "order_id"): (OrderCompleted, "order_id") for t in ("fact_order", "fact_order_line", "fact_refund")},
    **{(t, "offer_id"): (OfferSent, "offer_id") for t in ("dim_offer", "fact_offer_response")},
    ("dim_offer", "channel"): (OfferSent, "channel"),
    ("dim_channel", "channel"): (TicketOpened, "channel"),  # also context.channel, which the contract leaves free
    ("dim_customer", "name"): (Traits, "name"),
    ("dim_customer", "email"): (Traits, "email"),
    ("dim_customer", "geography"): (Traits, "geography"),
    ("dim_customer", "city"): (Traits, "city"),
    ("dim_geography", "geography"): (Traits, "geography"),
    ("dim_geography", "city"): (Traits, "city"),
    ("dim_product", "product_id"): (LineItem, "product_id"),
    ("dim_product", "product_name"): (LineItem, "name"),
    ("dim_product", "category"): (LineItem, "category"),
    ("fact_order_line", "category"): (LineItem, "category"),
    ("fact_content_watch", "content_id"): (ContentWatched, "content_id"),
    ("fact_content_watch", "category"): (ContentWatched, "category"),
    ("fact_content_watch", "app"): (ContentWatched, "app"),
    ("fact_customer_activity", "event_name"): (TrackEvent, "event"),
    ("fact_customer_activity", "page_name"): (PageEvent, "name"),
    ("fact_support_ticket", "ticket_id"): (TicketOpened, "ticket_id"),
}
#: (table, column) -> the enum whose values it holds
ENUM_FED: dict[tuple[str, str], type[StrEnum]] = {
    ("dim_customer", "gender"): Gender, ("dim_offer", "offer_type"): OfferType,
    ("dim_support_issue", "issue_type"): IssueType, ("dim_support_issue", "severity"): Severity,
}
#: text the pipeline derives (ASCII: one byte per character), with what bounds it
DERIVED = {
    ("dim_customer", "age_band"): "age bands such as '30-45'",
    ("dim_date", "month_name"): "English month names", ("dim_date", "year_month"): "yyyy-MM",
    ("dim_date", "day_name"): "English day names",
    ("etl_load_state", "target"): "'duckdb' or 'redshift'", ("etl_load_state", "version"): "star build ids",
    ("fact_customer_activity", "session_id"): "a hash", ("fact_session", "session_id"): "a hash",
    ("fact_customer_activity", "event_type"): "the call type", ("fact_customer_metrics", "rfm_segment"): "segments",
    ("fact_order", "value_source"): "a fixed vocabulary", ("fact_refund", "status"): "a fixed vocabulary",
    ("mart_parameters", "name"): "Settings.batch names",
    **{c: "ISO 4217 codes: the contract's ^[A-Z]{3}$, the rate file's codes" for c in (
        ("dim_currency_rate", "currency"), ("dim_currency_rate", "reporting_currency"), ("fact_order", "currency"),
        ("fact_order_line", "currency"), ("fact_refund", "currency"), ("fact_refund", "order_currency"))},
}


def max_characters(model: type[BaseModel], field: str) -> int:
    """The field's maxLength in the contract's JSON Schema (characters)."""
    def find(schema: Any) -> int | None:
        if isinstance(schema, dict):
            if "maxLength" in schema:
                return schema["maxLength"]
            return next((n for v in schema.values() if (n := find(v)) is not None), None)
        if isinstance(schema, list):
            return next((n for v in schema if (n := find(v)) is not None), None)
        return None

    found = find(model.model_json_schema(by_alias=False)["properties"][field])
    assert found is not None, f"{model.__name__}.{field} has no maxLength"
    return found


def text_columns() -> dict[tuple[str, str], int]:
    """(table, column) -> n of every VARCHAR(n) column in glue_jobs/sql/ddl."""
    out = {}
    for name, spec in tables().items():
        for column, kind in spec.columns:
            size = re.fullmatch(r"VARCHAR\((\d+)\)", kind.upper())
            if size:
                out[(name, column)] = int(size[1])
    return out


def test_every_text_column_is_classified() -> None:
    """A new VARCHAR column must say where its values come from (contract field, enum or derived)."""
    unclassified = set(text_columns()) - set(CONTRACT_FED) - set(ENUM_FED) - set(DERIVED)
    assert unclassified == set()


@pytest.mark.parametrize(("table", "column"), sorted(CONTRACT_FED))
def test_contract_fed_text_holds_the_longest_value_in_bytes(table: str, column: str) -> None:
    model, field = CONTRACT_FED[(table, column)]
    width = text_columns()[(table, column)]
    needed = BYTES_PER_CHARACTER * max_characters(model, field)
    assert needed <= width <= grammar.MAX_VARCHAR_BYTES, f"{table}.{column} VARCHAR({width}) < {needed} bytes"


@pytest.mark.parametrize(("table", "column"), sorted(ENUM_FED))
def test_enum_fed_text_holds_every_value(table: str, column: str) -> None:
    width = text_columns()[(table, column)]
    assert max(len(v.value.encode()) for v in ENUM_FED[(table, column)]) <= width


def test_every_ddl_file_follows_redshift_grammar() -> None:
    assert {name: [str(v) for v in grammar.violations(spec.ddl)] for name, spec in tables().items()} == {
        name: [] for name in tables()}


def test_orders_and_their_lines_are_distributed_alike() -> None:
    """The join of fact_order_line to fact_order on order_id (and the basket self-join of mart_product_affinity)
    is collocated only when both tables are distributed on order_id (r_CREATE_TABLE_NEW, DISTSTYLE KEY: "When you
    set the joining columns of joining tables as distribution keys, the joining rows from both tables are
    collocated").

    Seen failing before: fact_order had DISTKEY (customer_key) and fact_order_line DISTKEY (event_id)."""
    for name in ("fact_order", "fact_order_line"):
        assert re.search(r"^DISTKEY \(order_id\)$", tables()[name].ddl, re.MULTILINE), name


def test_small_dimensions_are_copied_to_every_node() -> None:
    """Dimensions with a row per calendar day, channel, product, offer, geography or issue: DISTSTYLE ALL."""
    for name in ("dim_channel", "dim_currency_rate", "dim_date", "dim_geography", "dim_offer", "dim_product",
                 "dim_support_issue", "mart_parameters"):
        assert "DISTSTYLE ALL" in tables()[name].ddl, name


def distribution(name: str) -> str:
    """'ALL', or the DISTKEY column of a warehouse table."""
    ddl = tables()[name].ddl
    if "DISTSTYLE ALL" in ddl:
        return "ALL"
    found = re.search(r"^DISTKEY \((\w+)\)$", ddl, re.MULTILINE)
    assert found, f"{name} declares no distribution"
    return found[1]


def uncollocated_joins() -> list[str]:
    """Equi-joins between two warehouse tables in the mart views whose rows are not on the same slice: neither side
    is DISTSTYLE ALL and the join does not pair the two DISTKEY columns (r_CREATE_TABLE_NEW, DISTSTYLE)."""
    import sqlglot
    from sqlglot import exp

    from glue_jobs.warehouse.sql_files import views

    out = []
    for view in views():
        tree = sqlglot.parse_one(view.sql, read="redshift")
        for select in tree.find_all(exp.Select):
            aliases = {t.alias_or_name: t.name for t in select.find_all(exp.Table)
                       if t.name in tables() and t.parent_select is select}
            for join in select.args.get("joins") or []:
                pairs = [(eq.this, eq.expression) for eq in (join.args.get("on") or exp.true()).find_all(exp.EQ)
                         if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Column)]
                for left, right in pairs:
                    a, b = aliases.get(left.table), aliases.get(right.table)
                    if not a or not b or a == b or "ALL" in (distribution(a), distribution(b)):
                        continue
                    on_keys = any({aliases.get(x.table): x.name, aliases.get(y.table): y.name}
                                  == {a: distribution(a), b: distribution(b)} for x, y in pairs)
                    if not on_keys:
                        out.append(f"{view.name}: {a} JOIN {b} ON {left.sql()} = {right.sql()}")
    return sorted(set(out))


def test_the_marts_joins_are_collocated() -> None:
    """Seen failing before: dim_customer and the customer facts had DISTKEY (customer_key) while the marts join them
    on customer_id (mart_churn_by_geography_age, mart_customer_activeness, mart_customer_value)."""
    assert uncollocated_joins() == []
