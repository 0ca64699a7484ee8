"""The DAX renderer, one aggregation kind at a time, against hand-written expected expressions."""

from __future__ import annotations

import pytest

from dashboards.powerbi import dax
from dashboards.powerbi.semantic import Relationship
from lakehouse.core.metrics.catalog import BY_NAME
from lakehouse.core.metrics.model import Aggregation as A
from lakehouse.core.metrics.model import Format as F
from lakehouse.core.metrics.model import Measure, Source

ORDERS = Source("fact_order", "date_key")
SNAP = Source("fact_customer_metrics", "date_key", snapshot=True)
BY_DATE = Source("dim_customer", "first_seen_date", date_is_key=False)


def m(aggregation: A, source: Source | None = ORDERS, column: str | tuple[str, ...] | None = None,
      **kw: object) -> Measure:
    return Measure("x", "X", "d", aggregation, F.INTEGER, "u", source, column, **kw)  # type: ignore[arg-type]


CASES = [
    ("count", m(A.COUNT), "COUNTROWS('fact_order')"),
    ("sum", m(A.SUM, column="order_value_rc"), "SUM('fact_order'[order_value_rc])"),
    ("average", m(A.AVERAGE, column="units"), "AVERAGE('fact_order'[units])"),
    ("distinct one column ignores blanks like SQL", m(A.COUNT_DISTINCT, column="customer_id"),
     "DISTINCTCOUNTNOBLANK('fact_order'[customer_id])"),
    ("distinct over a tuple of columns", m(A.COUNT_DISTINCT, column=("customer_id", "date_key")),
     "COUNTROWS(SUMMARIZE('fact_order', 'fact_order'[customer_id], 'fact_order'[date_key]))"),
    ("bool filter intersects report filters", m(A.COUNT, where=(("is_cancelled", False),)),
     "CALCULATE(COUNTROWS('fact_order'), KEEPFILTERS('fact_order'[is_cancelled] = FALSE()))"),
    ("two filters", m(A.SUM, column="order_value_rc", where=(("is_cancelled", False), ("is_converted", True))),
     "CALCULATE(SUM('fact_order'[order_value_rc]), KEEPFILTERS('fact_order'[is_cancelled] = FALSE()), "
     "KEEPFILTERS('fact_order'[is_converted] = TRUE()))"),
    ("string filter with a quote", m(A.COUNT, where=(("currency", 'say "hi"'),)),
     "CALCULATE(COUNTROWS('fact_order'), KEEPFILTERS('fact_order'[currency] = \"say \"\"hi\"\"\"))"),
    ("one of several strings", m(A.COUNT, where=(("currency", ("EUR", "USD")),)),
     "CALCULATE(COUNTROWS('fact_order'), KEEPFILTERS('fact_order'[currency] IN {\"EUR\", \"USD\"}))"),
    ("None means IS NOT NULL", m(A.COUNT, where=(("discount", None),)),
     "CALCULATE(COUNTROWS('fact_order'), KEEPFILTERS(NOT ISBLANK('fact_order'[discount])))"),
    ("divide_by", m(A.SUM, column="units", divide_by=3600), "DIVIDE(SUM('fact_order'[units]), 3600)"),
    ("snapshot reads the last day with a snapshot row", m(A.SUM, SNAP, "clv_to_date"),
     "CALCULATE(SUM('fact_customer_metrics'[clv_to_date]), LASTNONBLANK('dim_date'[full_date], "
     "CALCULATE(COUNTROWS('fact_customer_metrics'))))"),
]


@pytest.mark.parametrize(("measure", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_base_measures(measure: Measure, expected: str) -> None:
    assert dax.expression(measure) == expected


def test_inactive_date_relationship_is_activated() -> None:
    link = Relationship("dim_customer", "first_seen_date", "dim_date", "full_date", active=False)
    measure = m(A.COUNT_DISTINCT, BY_DATE, "customer_id", where=(("is_current", True),))
    assert dax.expression(measure, link) == (
        "CALCULATE(DISTINCTCOUNTNOBLANK('dim_customer'[customer_id]), KEEPFILTERS('dim_customer'[is_current] = "
        "TRUE()), USERELATIONSHIP('dim_customer'[first_seen_date], 'dim_date'[full_date]))")


def test_active_date_relationship_adds_nothing() -> None:
    link = Relationship("fact_order", "date_key", "dim_date", "date_key")
    assert dax.expression(m(A.COUNT), link) == "COUNTROWS('fact_order')"


def test_snapshot_on_an_inactive_relationship_activates_it_inside_and_out() -> None:
    link = Relationship("fact_customer_scores", "cutoff_date", "dim_date", "full_date", active=False)
    source = Source("fact_customer_scores", "cutoff_date", date_is_key=False, snapshot=True)
    use = "USERELATIONSHIP('fact_customer_scores'[cutoff_date], 'dim_date'[full_date])"
    assert dax.expression(m(A.COUNT, source), link) == (
        f"CALCULATE(COUNTROWS('fact_customer_scores'), {use}, LASTNONBLANK('dim_date'[full_date], "
        f"CALCULATE(COUNTROWS('fact_customer_scores'), {use})))")


def test_a_snapshot_that_is_not_dated_reads_its_latest_run() -> None:
    source = Source("fact_customer_scores", "cutoff_date", date_is_key=False, customer_key_column=None,
                    snapshot=True, dated=False)
    assert dax.expression(m(A.AVERAGE, source, "predicted_clv")) == (
        "VAR __latest = MAX('fact_customer_scores'[cutoff_date]) RETURN "
        "CALCULATE(AVERAGE('fact_customer_scores'[predicted_clv]), 'fact_customer_scores'[cutoff_date] = __latest)")


def test_ratio_of_counts_coalesces_the_numerator_like_the_sql() -> None:
    assert dax.expression(BY_NAME["churn_rate"]) == "DIVIDE(COALESCE([Churned customers], 0), [Customers])"


def test_ratio_keeps_an_average_numerator_blank() -> None:
    ratio = Measure("r", "R", "d", A.RATIO, F.DECIMAL, "u", numerator="average_clv", denominator="customers")
    assert dax.expression(ratio) == "DIVIDE([Average CLV], [Customers])"


def test_format_strings_cover_every_format() -> None:
    assert set(dax.FORMAT_STRINGS) == set(F)
    assert dax.FORMAT_STRINGS[F.PERCENT] == "0.00%"  # two decimals, as the local dashboard shows
