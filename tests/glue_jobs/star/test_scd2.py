"""SCD type 2 ``dim_customer`` under ties and disorder (issue 12, item 3; the rule: docs/batch.md, "SCD type 2").

Each test states identify calls by hand and checks :func:`glue_jobs.star.dimensions.customer_versions` against
versions worked out by hand (or, for the generated history, by a small fold written here from the doc's rule).
Times are UTC wall-clock; event ids are chosen so that the row order a test writes is never the id order.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from glue_jobs.star.dimensions import TRACKED, customer_versions, with_customer_key
from glue_jobs.star.identity import identity_map, stitch
from glue_jobs.star.job import run_build_star
from glue_jobs.star.metrics import with_version_at_day_end
from glue_jobs.warehouse.load import load_warehouse
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from tests.glue_jobs.star.curated_lake import CuratedLake

CUSTOMERS = ("customer_id string, event_id string, event_ts timestamp, name string, email string, age int, "
             "gender string, geography string, city string, signup_date date, traits_cleared array<string>")
EVENTS = "event_id string, customer_id string, user_id string, event_ts timestamp"
LINKS = "event_id string, source_id string, target_id string, event_ts timestamp, received_at timestamp"
END = datetime(9999, 12, 31)
T0, T1, T2, T3 = (datetime(2025, 6, 1, 9, 0) + timedelta(hours=h) for h in range(4))


def identify(event_id: str, customer: str, ts: datetime, cleared: tuple[str, ...] = (), **traits: Any) -> tuple:
    """A curated ``customers`` row (docs/batch.md: traits left out are NULL, cleared ones listed)."""
    return (customer, event_id, ts, *[traits.get(a) for a in TRACKED], sorted(cleared))


def versions(spark, calls: list[tuple], pages: list[tuple] = (), partitions: int | None = None) -> list[dict]:
    """``customer_versions`` of identify ``calls`` (each also an event) and extra ``pages`` (event rows),
    as dicts ordered by (customer_id, version)."""
    customers = spark.createDataFrame(calls, CUSTOMERS)
    events = spark.createDataFrame([(c[1], c[0], c[0], c[2]) for c in calls] + list(pages), EVENTS)
    if partitions:
        customers, events = customers.repartition(partitions), events.repartition(partitions)
    rows = customer_versions(customers, events).collect()
    return sorted((r.asDict() for r in rows), key=lambda r: (r["customer_id"], r["version"]))


def shape(rows: list[dict], *columns: str) -> list[tuple]:
    """(version, dw_start_date, dw_end_date, *columns) of each row."""
    return [(r["version"], r["dw_start_date"], r["dw_end_date"], *[r[c] for c in columns]) for r in rows]


def assert_well_formed(rows: list[dict]) -> None:
    """Keys unique; per customer: versions 1..n, strictly increasing starts, contiguous half-open intervals,
    exactly the last one current (ending 9999-12-31), and no two consecutive versions with equal attributes."""
    assert len({r["customer_key"] for r in rows}) == len(rows), "customer_key repeats"
    by_customer: dict[str, list[dict]] = {}
    for r in rows:
        by_customer.setdefault(r["customer_id"], []).append(r)
    for customer, mine in by_customer.items():
        assert [r["version"] for r in mine] == list(range(1, len(mine) + 1)), customer
        for before, after in itertools.pairwise(mine):
            assert before["dw_start_date"] < before["dw_end_date"] == after["dw_start_date"], customer
            assert [before[a] for a in TRACKED] != [after[a] for a in TRACKED], customer
        assert [r["is_current"] for r in mine] == [False] * (len(mine) - 1) + [True], customer
        assert mine[-1]["dw_end_date"] == END


def test_two_changes_at_one_instant_make_one_version_with_their_combined_effect(spark) -> None:
    """Seen failing before the fix: versions 2 (city Lyon only, valid over the empty [T1, T1)) and 3 (with the
    email) both started at T1, so both were keyed hash(c-1, T1): the duplicate key that fails the MERGE."""
    rows = versions(spark, [
        identify("e-1", "c-1", T0, name="Ada", city="Paris"),
        identify("e-3", "c-1", T1, email="ada@example.com"),
        identify("e-2", "c-1", T1, city="Lyon"),
    ])
    assert shape(rows, "name", "email", "city") == [
        (1, T0, T1, "Ada", None, "Paris"),
        (2, T1, END, "Ada", "ada@example.com", "Lyon"),
    ]
    assert_well_formed(rows)


def test_three_conflicting_changes_at_one_instant_the_greatest_event_id_wins(spark) -> None:
    """Same-instant calls apply in ``event_id`` order, so the greatest id's value is the one left (docs/batch.md).
    Seen failing before the fix: versions 2 (Rome), 3 (Berlin) and 4 (Oslo) all started at T1 with one key, the
    first two valid over the empty [T1, T1); their order among themselves was a row_number over tied starts."""
    rows = versions(spark, [
        identify("e-b", "c-1", T1, city="Berlin", geography="Germany"),
        identify("e-c", "c-1", T1, city="Oslo"),
        identify("e-0", "c-1", T0, city="Paris", geography="France"),
        identify("e-a", "c-1", T1, city="Rome", geography="Italy"),
    ])
    assert shape(rows, "geography", "city") == [(1, T0, T1, "France", "Paris"), (2, T1, END, "Germany", "Oslo")]
    assert_well_formed(rows)


def test_a_change_and_its_revert_at_one_instant_open_no_version(spark) -> None:
    """Seen failing before the fix: versions 2 (Lyon) and 3 (Paris again) both started at T1 with one key,
    version 2 valid over the empty [T1, T1)."""
    rows = versions(spark, [
        identify("e-1", "c-1", T0, city="Paris"),
        identify("e-2", "c-1", T1, city="Lyon"),
        identify("e-3", "c-1", T1, city="Paris"),
    ])
    assert shape(rows, "city") == [(1, T0, END, "Paris")]


def test_a_change_followed_by_a_revert_later_gives_three_versions_with_the_right_attributes(spark) -> None:
    """Passed before the fix too (a guard: the revert is a change, and its version has its own key although its
    attributes equal version 1's)."""
    rows = versions(spark, [
        identify("e-3", "c-1", T2, city="Paris"),
        identify("e-1", "c-1", T0, name="Ada", city="Paris"),
        identify("e-2", "c-1", T1, city="Lyon"),
    ])
    assert shape(rows, "name", "city") == [
        (1, T0, T1, "Ada", "Paris"), (2, T1, T2, "Ada", "Lyon"), (3, T2, END, "Ada", "Paris")]
    assert_well_formed(rows)


def test_a_cleared_trait_stays_cleared_until_set_again(spark) -> None:
    """A trait sent as null (``traits_cleared``) clears it; later calls that leave it out keep it cleared.
    Passed before the fix too (a guard)."""
    rows = versions(spark, [
        identify("e-1", "c-1", T0, name="Ada", geography="France", city="Paris"),
        identify("e-2", "c-1", T1, cleared=("city",)),
        identify("e-3", "c-1", T2, name="Ada L."),
        identify("e-4", "c-1", T3, city="Nice"),
    ])
    assert shape(rows, "name", "geography", "city") == [
        (1, T0, T1, "Ada", "France", "Paris"), (2, T1, T2, "Ada", "France", "unknown"),
        (3, T2, T3, "Ada L.", "France", "unknown"), (4, T3, END, "Ada L.", "France", "Nice")]
    assert_well_formed(rows)


@pytest.mark.parametrize("clear_id, set_id, city", [("e-2", "e-1", "unknown"), ("e-1", "e-2", "Lyon")])
def test_a_clear_and_a_set_at_one_instant_the_greater_event_id_wins(spark, clear_id, set_id, city) -> None:
    """Seen failing before the fix: both calls opened a version at T1 with one key (the first [T1, T1)); the
    current one happened to hold the greater id's value."""
    rows = versions(spark, [
        identify("e-0", "c-1", T0, city="Paris"),
        identify(clear_id, "c-1", T1, cleared=("city",)),
        identify(set_id, "c-1", T1, city="Lyon"),
    ])
    assert shape(rows, "city") == [(1, T0, T1, "Paris"), (2, T1, END, city)]


def test_a_late_change_gives_the_versions_of_an_in_order_arrival(spark) -> None:
    """Run 1 curated e-1, e-3 (T0, T2); run 2 adds e-2 and e-2b, stamped T1 (between them, one instant).
    The star is rebuilt from the whole curated zone (glue_jobs/star/job.py), so run 2's versions must equal
    those of the calls in order, whatever the row order and partitioning; version 1 and its key do not move.
    Seen failing before the fix: the two calls at T1 gave two versions with one key (the tie); without the
    tie the late arrival was already handled (the rebuild)."""
    run1 = [identify("e-1", "c-1", T0, city="Paris"), identify("e-3", "c-1", T2, email="a@x.org")]
    late = [identify("e-2b", "c-1", T1, city="Nice"), identify("e-2", "c-1", T1, city="Lyon", name="Ada")]
    in_order = versions(spark, [run1[0], late[1], late[0], run1[1]])
    assert shape(in_order, "name", "email", "city") == [
        (1, T0, T1, None, None, "Paris"), (2, T1, T2, "Ada", None, "Nice"), (3, T2, END, "Ada", "a@x.org", "Nice")]
    before = versions(spark, run1)
    rng = random.Random(12)
    for partitions in (1, 3, 7):
        shuffled = run1 + late
        rng.shuffle(shuffled)
        assert versions(spark, shuffled, partitions=partitions) == in_order
    assert before[0]["customer_key"] == in_order[0]["customer_key"]


def test_a_far_past_call_arriving_late_starts_the_history(spark) -> None:
    """An identify stamped 1901 (before the Unix epoch: a negative time) arrives after the customer's 2025
    history: it becomes version 1, starting at its own time, and the old first version now starts at its own
    call. Passed before the fix too (a guard for times before 1970 in the key and the validity)."""
    old = datetime(1901, 3, 4, 5, 6, 7, 890123)
    page = ("p-1", "c-1", "c-1", T0 - timedelta(minutes=5))
    rows = versions(spark, [identify("e-1", "c-1", T0, city="Paris"), identify("e-0", "c-1", old, city="Lyon")],
                    pages=[page])
    assert shape(rows, "city") == [(1, old, T0, "Lyon"), (2, T0, END, "Paris")]
    assert_well_formed(rows)
    assert rows[0]["first_seen_date"] == date(1901, 3, 4)


def test_an_event_at_exactly_a_versions_start_belongs_to_that_version(spark) -> None:
    """Facts (``with_customer_key``): half-open validity, so an event at T1 is version 2's, one a microsecond
    earlier version 1's. The daily snapshot (``with_version_at_day_end``) takes the version in force at the
    day's last instant: a version starting exactly at the next midnight is the next day's. Passed before the
    fix too for single calls (a guard); seen failing before the fix with the tie at T1: four versions, two of
    them starting at T1 with one key."""
    midnight = datetime(2025, 6, 2)
    calls = [identify("e-1", "c-1", T0, city="Paris"), identify("e-2", "c-1", T1, city="Lyon"),
             identify("e-3", "c-1", T1, name="Ada"), identify("e-4", "c-1", midnight, city="Nice")]
    dim = customer_versions(spark.createDataFrame(calls, CUSTOMERS),
                            spark.createDataFrame([(c[1], c[0], c[0], c[2]) for c in calls], EVENTS))
    keys = {r["version"]: r["customer_key"] for r in dim.collect()}
    assert len(keys) == 3
    facts = spark.createDataFrame([("f-early", "c-1", T1 - timedelta(microseconds=1)), ("f-at", "c-1", T1),
                                   ("f-mid", "c-1", midnight)], "fact_id string, customer_id string, ts timestamp")
    found = {r["fact_id"]: r["customer_key"] for r in with_customer_key(facts, dim, "ts").collect()}
    assert found == {"f-early": keys[1], "f-at": keys[2], "f-mid": keys[3]}
    days = spark.createDataFrame([("c-1", date(2025, 6, 1)), ("c-1", date(2025, 6, 2))],
                                 "customer_id string, snapshot_date date")
    snap = {r["snapshot_date"]: r["customer_key"] for r in with_version_at_day_end(days, dim).collect()}
    assert snap == {date(2025, 6, 1): keys[2], date(2025, 6, 2): keys[3]}


def test_versions_are_per_stitched_customer(spark) -> None:
    """An anonymous identify and the user's own, at one instant, are one customer's calls once stitched
    (glue_jobs/star/identity.py): one version at T1, the greater event id's city winning, no row for the
    anonymous id. Seen failing before the fix: two versions of u-1 started at T1 with one key."""
    links = spark.createDataFrame([("e-2", "anon-1", "u-1", T1, T1)], LINKS)
    id_map, _ = identity_map(spark, links)
    calls = [identify("e-1", "u-1", T0, name="Ada"), identify("e-2", "u-1", T1, city="Rome"),
             identify("e-9", "anon-1", T1, city="Oslo", geography="Norway")]
    customers = stitch(spark.createDataFrame(calls, CUSTOMERS), id_map)
    events = stitch(spark.createDataFrame([(c[1], c[0], None if c[0].startswith("anon") else c[0], c[2])
                                           for c in calls], EVENTS), id_map)
    rows = sorted((r.asDict() for r in customer_versions(customers, events).collect()), key=lambda r: r["version"])
    assert [(r["customer_id"], *shape([r], "name", "geography", "city")[0]) for r in rows] == [
        ("u-1", 1, T0, T1, "Ada", "unknown", "unknown"), ("u-1", 2, T1, END, "Ada", "Norway", "Oslo")]


def fold(calls: list[tuple], pages: list[tuple]) -> list[tuple]:
    """The rule of docs/batch.md written again as a plain fold: per customer, calls in (event_ts, event_id) order,
    one candidate state per instant, a version where it differs from the previous one; the first version starts
    at the customer's first event. Rows: (customer_id, version, start, end, *TRACKED)."""
    first_seen: dict[str, datetime] = {}
    for _, customer, _, ts in [(c[1], c[0], c[0], c[2]) for c in calls] + pages:
        first_seen[customer] = min(ts, first_seen.get(customer, ts))
    out = []
    for customer in sorted(first_seen):
        state: dict[str, Any] = {}
        starts: list[tuple[datetime, tuple]] = []
        mine = sorted((c for c in calls if c[0] == customer), key=lambda c: (c[2], c[1]))
        for i, call in enumerate(mine):
            values = dict(zip(TRACKED, call[3:3 + len(TRACKED)], strict=True))
            state.update({a: v for a, v in values.items() if v is not None})
            state.update({a: None for a in call[-1] if a in TRACKED})
            last_of_instant = i + 1 == len(mine) or mine[i + 1][2] != call[2]
            snapshot = tuple(state.get(a) for a in TRACKED)
            if last_of_instant and (not starts or starts[-1][1] != snapshot):
                starts.append((call[2], snapshot))
        if not starts:
            starts = [(first_seen[customer], (None,) * len(TRACKED))]
        starts[0] = (first_seen[customer], starts[0][1])
        ends = [s for s, _ in starts[1:]] + [END]
        out += [(customer, n, s, e, *attrs) for n, ((s, attrs), e) in enumerate(zip(starts, ends, strict=True), 1)]
    return out


def test_a_generated_history_with_many_ties_matches_the_rule_and_keys_are_unique(spark) -> None:
    """40 customers, 400 calls on 6 instants (so most calls tie), values drawn from 2 per trait (so reverts and
    no-op calls are common), clears, and pages; input shuffled and repartitioned. Seen failing before the fix:
    repeated ``customer_key`` values (ties) and versions the fold does not have."""
    rng = random.Random(2025)
    instants = [T0 + timedelta(minutes=17 * k) for k in range(6)]
    customers = [f"c-{n:02d}" for n in range(40)]
    calls = []
    for n in range(400):
        traits = {a: rng.choice(["x", "y"]) for a in ("name", "email", "city", "gender") if rng.random() < 0.4}
        cleared = tuple(a for a in ("name", "city") if a not in traits and rng.random() < 0.15)
        calls.append(identify(f"e-{rng.randrange(10**6):06d}-{n}", rng.choice(customers), rng.choice(instants),
                              cleared, **traits))
    pages = [(f"p-{n}", c, c, T0 - timedelta(seconds=rng.randrange(2) * 30)) for n, c in enumerate(customers[::3])]
    rng.shuffle(calls)
    rows = versions(spark, calls, pages=pages, partitions=5)
    assert_well_formed(rows)
    got = [(r["customer_id"], r["version"], r["dw_start_date"], r["dw_end_date"],
            *[r[a] if a not in ("geography", "city") or r[a] != "unknown" else None for a in TRACKED]) for r in rows]
    assert got == fold(calls, pages)


def tie_lake(late: bool) -> CuratedLake:
    """u-1 identifies at 09:00, then twice at 10:00 (city and email: one instant); ``late`` adds a call
    stamped 09:30 that a later raw_to_curated run brought (name)."""
    lake = CuratedLake()
    lake.identify("i-1", datetime(2025, 6, 1, 9), user="u-1", name="Ada", geography="France", city="Paris")
    lake.identify("i-3", datetime(2025, 6, 1, 10), user="u-1", email="ada@example.com")
    lake.identify("i-2", datetime(2025, 6, 1, 10), user="u-1", city="Lyon")
    lake.order("e-o1", "o-1", datetime(2025, 6, 1, 10), "10.00", "USD", [("p-1", "toys", 1, "10.00")], user="u-1")
    lake.page("p-2", datetime(2025, 6, 2, 8), user="u-1")
    if late:
        lake.identify("i-late", datetime(2025, 6, 1, 9, 30), user="u-1", name="Ada L.")
    return lake


@pytest.mark.slow  # a whole build and load, twice (~90 s per environment): make bench; the loader's own tests
# (tests/glue_jobs/warehouse/test_load.py) keep the duplicate-key and next-load cases in make test
def test_a_tie_builds_and_loads_and_the_next_run_with_a_late_call_loads_too(tmp_path, spark) -> None:
    """The whole path: curated -> star -> DuckDB warehouse (PRIMARY KEY customer_key, MERGE), twice.
    Seen failing before the fix: "cannot load dim_customer: duplicate key customer_key=… (2 rows)" (the
    loader's pre-MERGE key check) for the two versions starting at 10:00 — and on every later run, as each
    rebuild made them again; before that check existed DuckDB stored both rows (versions 2 and 3)."""
    settings = Settings(stage="ts" + uuid.uuid4().hex[:6], home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    expected = {False: [(1, "Ada", None, "Paris"), (2, "Ada", "ada@example.com", "Lyon")],
                True: [(1, "Ada", None, "Paris"), (2, "Ada L.", None, "Paris"),
                       (3, "Ada L.", "ada@example.com", "Lyon")]}
    for n, late in enumerate((False, True), start=1):
        tie_lake(late).write(spark, storage, run_id=f"2025060{n + 2}T000000Z-test")
        run_build_star(spark, settings, now=datetime(2025, 6, 3, 8, tzinfo=UTC))
        assert load_warehouse(settings).skipped is None
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            dim = con.execute("SELECT version, name, email, city FROM dim_customer WHERE customer_id = 'u-1' "
                              "ORDER BY version").fetchall()
            order = con.execute("SELECT c.version FROM fact_order o JOIN dim_customer c USING (customer_key) "
                                "WHERE o.order_id = 'o-1'").fetchall()
        assert dim == expected[late]
        assert order == [(len(expected[late]),)]  # the order at 10:00 is the 10:00 version's
