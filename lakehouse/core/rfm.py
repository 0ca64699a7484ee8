"""The one RFM definition: the measures as of a day, and the segment rule table (pure; docs/rfm.md).

Every stage that names an RFM segment takes it from here: the batch's ``fact_customer_metrics.rfm_segment``
(a Spark expression generated from :data:`RULES`, ``glue_jobs/star/metrics.py``), the stream's features and
``lakehouse customer`` (:func:`segment_of`), and the SQL text :func:`segment_case_sql` writes.

**Measures** of a customer as of a day ``as_of`` (UTC days; :func:`measures`):

* ``recency_days``: days from the day of the customer's last completed order on or before ``as_of`` to ``as_of``
  (None: no such order);
* ``frequency``: completed orders (not cancelled; a re-post is the same order) dated in the ``window_days`` days
  ending on ``as_of``, inclusive;
* ``monetary``: the sum of those orders' values in the reporting currency (refunds not subtracted; an order
  without a rate for its day counts in ``frequency``, not in ``monetary``).

Scores 1..5 come from the quintile breakpoints the batch publishes (:mod:`lakehouse.core.rfm_breakpoints`).

**Segments**: the seven of :class:`Segment`, from the scores by :data:`RULES`, first matching rule wins. The
table is total: every (R, F, M) in 1..5 x 1..5 x 1..5 has exactly one segment. A customer without an order in
the window has no scores and the label :data:`NO_PURCHASE`. The names and bands are the common RFM segment map's
(Champions, Loyal, Potential Loyalist, Can't Lose Them, At Risk, Hibernating, Lost; see docs/rfm.md for the
sources and why seven rather than eleven).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

SCORES = range(1, 6)  #: every score is 1 (worst) .. 5 (best)
NO_PURCHASE = "No recent purchase"  #: the label of a customer without scores (no order in the window)


class Segment(StrEnum):
    """The RFM segment vocabulary (the value is the name every table and item stores)."""

    CHAMPIONS = "Champions"
    LOYAL = "Loyal"
    POTENTIAL_LOYALIST = "Potential Loyalist"
    CANT_LOSE_THEM = "Can't Lose Them"
    AT_RISK = "At Risk"
    HIBERNATING = "Hibernating"
    LOST = "Lost"


#: every label a stored ``rfm_segment`` / ``segment`` can hold: the seven segments and :data:`NO_PURCHASE`
VOCABULARY: tuple[str, ...] = (*(s.value for s in Segment), NO_PURCHASE)


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: ``segment`` when each score lies in its inclusive band (lo, hi)."""

    segment: Segment
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def bands(self) -> dict[str, tuple[int, int]]:
        """The bands that restrict anything (``{"r": (lo, hi), ...}``; a band of 1..5 is left out)."""
        return {name: band for name, band in (("r", self.r), ("f", self.f), ("m", self.m)) if band != (1, 5)}

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether scores (r, f, m) lie in every band."""
        return all(lo <= score <= hi for score, (lo, hi) in ((r, self.r), (f, self.f), (m, self.m)))


#: The rule table, first matching row wins (docs/rfm.md has it as a table).
RULES: tuple[Rule, ...] = (
    Rule(Segment.CHAMPIONS, r=(4, 5), f=(4, 5), m=(4, 5)),
    Rule(Segment.LOYAL, r=(3, 5), f=(4, 5)),
    Rule(Segment.POTENTIAL_LOYALIST, r=(3, 5)),
    Rule(Segment.CANT_LOSE_THEM, r=(1, 2), f=(4, 5), m=(4, 5)),
    Rule(Segment.AT_RISK, r=(1, 2), f=(3, 5)),
    Rule(Segment.HIBERNATING, r=(2, 2)),
    Rule(Segment.LOST, r=(1, 1)),
)


def segment_of(r: int, f: int, m: int) -> Segment:
    """The segment of scores (r, f, m) by :data:`RULES`; ``ValueError`` for a score outside 1..5."""
    if not all(score in SCORES for score in (r, f, m)):
        raise ValueError(f"RFM scores must be 1..5, got ({r}, {f}, {m})")
    for rule in RULES:
        if rule.matches(r, f, m):
            return rule.segment
    raise AssertionError(f"the RFM rule table has no segment for ({r}, {f}, {m})")  # the table is total (tested)


def label(scores: tuple[int, int, int] | None) -> str:
    """The stored label: the segment's name, or :data:`NO_PURCHASE` for a customer without scores."""
    return NO_PURCHASE if scores is None else segment_of(*scores).value


def segment_case_sql(r: str, f: str, m: str) -> str:
    """:data:`RULES` as a SQL ``CASE`` over the score expressions ``r``, ``f``, ``m`` (NULL ``r``: no scores).

    Standard SQL (``BETWEEN``, quoted literals with ``''``): Redshift, DuckDB and Spark SQL accept it.
    """
    columns = {"r": r, "f": f, "m": m}
    whens = [f"WHEN {r} IS NULL THEN {_quoted(NO_PURCHASE)}"]
    for rule in RULES:
        test = " AND ".join(f"{columns[name]} BETWEEN {lo} AND {hi}" for name, (lo, hi) in rule.bands().items())
        whens.append(f"WHEN {test or 'TRUE'} THEN {_quoted(rule.segment.value)}")
    return "CASE " + " ".join(whens) + " END"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- the measures ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measures:
    """Recency in days (None: no order on or before the as-of day), frequency in orders, monetary in the
    reporting currency's units (``Decimal``), as of ``as_of`` over ``window_days``."""

    as_of: date
    window_days: int
    recency_days: int | None
    frequency: int
    monetary: Decimal


def measures(orders: Iterable[tuple[date, Decimal | None]], as_of: date, window_days: int,
             last_order_day: date | None = None) -> Measures:
    """The RFM measures as of ``as_of`` (the module docstring's definitions).

    ``orders``: (day, value in the reporting currency or None when unconverted) of each completed order that
    counts; orders after ``as_of`` are ignored. ``last_order_day``: the last order day known beyond ``orders``
    (orders the caller no longer itemises), for recency only. ``ValueError`` when ``window_days`` < 1.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    first_day = as_of - timedelta(days=window_days - 1)
    last = last_order_day if last_order_day is not None and last_order_day <= as_of else None
    frequency, monetary = 0, Decimal("0.00")
    for day, value in orders:
        if day > as_of:
            continue
        last = day if last is None else max(last, day)
        if day >= first_day:
            frequency += 1
            monetary += value if value is not None else Decimal(0)
    return Measures(as_of, window_days, (as_of - last).days if last is not None else None, frequency, monetary)
