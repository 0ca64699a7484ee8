"""Dimensions on the shared lake: SCD2 customer versions and point-in-time fact keys."""

from __future__ import annotations

import duckdb
import pytest

from lakehouse.core.contract.properties import IssueType, Severity


@pytest.fixture(scope="module")
def warehouse(built_lake):
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        yield con


def test_a_geography_change_opens_a_second_version(built_lake, warehouse) -> None:
    mover = built_lake.scenario.mover
    rows = warehouse.execute(
        "SELECT version, geography, city, dw_start_date, dw_end_date, is_current FROM dim_customer "
        "WHERE customer_id = ? ORDER BY version", [mover]).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "France", "Lyon"), (2, "Germany", "Berlin")]
    (_, _, _, start1, end1, current1), (_, _, _, start2, end2, current2) = rows
    assert start1 < end1 == start2 < end2  # half-open, contiguous, non-overlapping
    assert (current1, current2) == (False, True)
    assert end2.year == 9999
    assert start2.isoformat().startswith("2025-05-21T12:00")  # the identify call that moved her


def test_an_identify_without_changes_opens_no_version(warehouse) -> None:
    overlapping = warehouse.execute(
        "SELECT count(*) FROM dim_customer a JOIN dim_customer b ON a.customer_id = b.customer_id "
        "AND a.customer_key <> b.customer_key AND a.dw_start_date < b.dw_end_date "
        "AND b.dw_start_date < a.dw_end_date").fetchone()[0]
    assert overlapping == 0
    currents = warehouse.execute("SELECT customer_id FROM dim_customer GROUP BY customer_id "
                                 "HAVING sum(CASE WHEN is_current THEN 1 ELSE 0 END) <> 1").fetchall()
    assert currents == []


def test_facts_join_the_version_valid_at_event_time(built_lake, warehouse) -> None:
    rows = warehouse.execute(
        "SELECT o.order_id, c.version, c.geography FROM fact_order o JOIN dim_customer c "
        "ON c.customer_key = o.customer_key WHERE o.customer_id = ? ORDER BY o.order_ts",
        [built_lake.scenario.mover]).fetchall()
    assert rows == [("s-o-1", 1, "France"), ("s-o-2", 2, "Germany")]
    unmatched = warehouse.execute(
        "SELECT count(*) FROM fact_customer_activity a LEFT JOIN dim_customer c ON c.customer_key = a.customer_key "
        "WHERE c.customer_key IS NULL OR a.event_ts < c.dw_start_date OR a.event_ts >= c.dw_end_date").fetchone()[0]
    assert unmatched == 0


def test_support_issues_cover_the_contract(warehouse) -> None:
    pairs = set(warehouse.execute("SELECT issue_type, severity FROM dim_support_issue").fetchall())
    assert pairs == {(i.value, s.value) for i in IssueType for s in Severity}


def test_every_fact_key_has_its_dimension_member(warehouse) -> None:
    checks = {
        "fact_order_line": ("product_key", "dim_product"),
        "fact_session": ("channel_key", "dim_channel"),
        "fact_support_ticket": ("issue_key", "dim_support_issue"),
        "fact_offer_response": ("offer_key", "dim_offer"),
        "fact_daily_kpis": ("date_key", "dim_date"),
    }
    for fact, (key, dim) in checks.items():
        missing = warehouse.execute(f"SELECT count(*) FROM {fact} f WHERE NOT EXISTS "
                                    f"(SELECT 1 FROM {dim} d WHERE d.{key} = f.{key})").fetchone()[0]
        assert missing == 0, f"{fact}.{key} has no {dim} member"
