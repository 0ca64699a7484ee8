"""The one RFM definition: a total rule table, one vocabulary everywhere, and the measures as of a day."""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from lakehouse.core.rfm import NO_PURCHASE, RULES, VOCABULARY, Segment, label, measures, segment_case_sql, segment_of

ROOT = Path(__file__).resolve().parents[3]
CELLS = list(itertools.product(range(1, 6), repeat=3))
D = Decimal


def documented(r: int, f: int, m: int) -> str:
    """The rules as docs/rfm.md states them, written again by hand (the oracle)."""
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if r >= 3 and f >= 4:
        return "Loyal"
    if r >= 3:
        return "Potential Loyalist"
    if f >= 4 and m >= 4:
        return "Can't Lose Them"
    if f >= 3:
        return "At Risk"
    return "Hibernating" if r == 2 else "Lost"


def test_the_rule_table_is_total_every_score_combination_gets_exactly_one_segment() -> None:
    for cell in CELLS:
        first = [rule.segment for rule in RULES if rule.matches(*cell)][:1]
        assert len(first) == 1, cell  # some row matches: the first one is the segment, so exactly one
        assert segment_of(*cell) == first[0]
    assert {segment_of(*cell) for cell in CELLS} == set(Segment)  # no dead row, no unused name


def test_segments_follow_the_documented_table() -> None:
    assert {cell: segment_of(*cell).value for cell in CELLS} == {cell: documented(*cell) for cell in CELLS}
    assert label(None) == NO_PURCHASE and label((5, 5, 5)) == "Champions"


@pytest.mark.parametrize("scores", [(0, 3, 3), (6, 1, 1), (3, 3, -1)])
def test_a_score_outside_one_to_five_is_refused(scores: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"1\.\.5"):
        segment_of(*scores)


def test_the_generated_sql_case_names_the_same_segment_for_every_cell() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE s (r INT, f INT, m INT)")
    con.executemany("INSERT INTO s VALUES (?, ?, ?)", [*CELLS, (None, None, None)])
    rows = con.execute(f"SELECT r, f, m, {segment_case_sql('r', 'f', 'm')} FROM s").fetchall()
    assert {(r, f, m): s for r, f, m, s in rows} == {**{c: documented(*c) for c in CELLS},
                                                     (None, None, None): NO_PURCHASE}


def _literals(sql: str) -> set[str]:
    """The string literals of a SQL text (comments left out)."""
    code = re.sub(r"--[^\n]*", "", sql)
    return {m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", code)}


def test_every_place_that_names_rfm_segments_uses_the_one_vocabulary() -> None:
    """Seen failing before the one table: the stream's SEGMENTS (Potential Loyalist, Can't Lose Them, Lost) were
    not the batch's (Recent, Needs Attention), and docs/batch.md listed the batch's."""
    from stream.rfm import SEGMENTS

    assert tuple(s.value for s in Segment) == SEGMENTS and (*SEGMENTS, NO_PURCHASE) == VOCABULARY
    for path in sorted((ROOT / "glue_jobs" / "sql").rglob("*.sql")):
        sql = path.read_text()
        if "rfm_segment" in sql:  # an RFM mart may group by the labels; any label it names must be ours
            assert _literals(sql) <= set(VOCABULARY), path.name
    assert "Needs Attention (the rest)" not in (ROOT / "docs" / "batch.md").read_text()


def _band(band: tuple[int, int]) -> str:
    lo, hi = band
    return "any" if band == (1, 5) else str(lo) if lo == hi else f"{lo}\N{EN DASH}{hi}"


def test_the_documented_rule_table_is_the_code_s() -> None:
    doc = (ROOT / "docs" / "rfm.md").read_text()
    rows = re.findall(r"^\| (\d) \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|", doc, flags=re.MULTILINE)
    assert rows == [(str(n), rule.segment.value, _band(rule.r), _band(rule.f), _band(rule.m))
                    for n, rule in enumerate(RULES, start=1)]


def test_measures_as_of_a_day() -> None:
    orders = [(date(2025, 1, 10), D("10.00")), (date(2025, 6, 1), D("20.50")), (date(2025, 6, 20), None),
              (date(2025, 7, 1), D("99.00"))]
    june = measures(orders, date(2025, 6, 30), window_days=30)
    assert (june.recency_days, june.frequency, june.monetary) == (10, 2, D("20.50"))  # unconverted: counted, no money
    later = measures(orders, date(2025, 7, 31), window_days=31)  # 07-01..07-31: both ends inclusive
    assert (later.recency_days, later.frequency, later.monetary) == (30, 1, D("99.00"))
    assert measures(orders, date(2025, 7, 31), window_days=30).frequency == 0  # 07-02..07-31
    year = measures(orders, date(2025, 6, 30), window_days=365)
    assert (year.frequency, year.monetary) == (3, D("30.50"))
    edge = measures(orders, date(2025, 6, 30), window_days=1)  # one day: only orders of the as-of day
    assert (edge.frequency, edge.recency_days) == (0, 10)


def test_measures_ignore_orders_after_the_as_of_day_and_use_a_settled_last_order() -> None:
    """Seen failing in the stream before: ``derive`` took recency from the last order whatever its day, so a
    customer looked up as of a day before their last order had a negative recency (R = 5)."""
    before = measures([(date(2025, 6, 20), D("5.00"))], date(2025, 6, 10), window_days=365)
    assert (before.recency_days, before.frequency) == (None, 0)
    settled = measures([], date(2025, 6, 10), window_days=30, last_order_day=date(2024, 1, 1))
    assert (settled.recency_days, settled.frequency, settled.monetary) == (526, 0, D("0.00"))
    with pytest.raises(ValueError, match="window_days"):
        measures([], date(2025, 6, 10), window_days=0)
