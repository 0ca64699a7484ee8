"""ML benchmark: feature build, labels, LightGBM training, scoring and the baselines at 100k and 1M customers.

Every figure is printed beside a baseline measured in the same run: the three LightGBM models' training and
scoring time beside the time of the baselines of each task (``ml.baselines.baseline_scores``: RFM rule,
Logistic/Linear (RFM), BG/NBD, BG/NBD + Gamma-Gamma) on the same frames, and each stage's wall time beside its
CPU time (CPU ÷ wall > 1 is parallel work; far below 1 on these shared 2 cores is waiting for them).

**The data is synthesized directly in the curated layout, not through ingestion.** One million customers at
the demo's ~80 events each is ~80 million events: the generator, the ingestion API and the Spark batch chain
process ~10k events/s here (README, "Benchmarks"), i.e. hours before the first feature is built, and none of
that is what this benchmark measures (``bench_generator.py``, ``bench_ingest.py`` and ``bench_batch.py`` do).
So a vectorised numpy process writes the 14 curated tables the ML stage reads (``ml.source.COLUMNS``) straight
to ``<lake>/curated/<table>/event_date=YYYY-MM-DD/*.parquet`` (hive partitions by event day, ZSTD, the column
types of the real curated files: ``timestamp[ns]``, ``decimal128(18, 4)``, ``int32``, ``list<string>`` …),
plus the rate CSV. Columns the ML stage never reads (``properties``, ``raw_object``, names …) are left out:
DuckDB reads only the columns a query names, so they would cost disk, not time.

**Volumes** (per registered customer over the span, from the demo's curated lake: 180 days, ~2,000 customers):
~80 events, ~1.3 orders, ~30 product events, ~29 sessions, ~24 content views, ~4 account snapshots, ~1.4 offer
events, ~0.5 tickets. ``--activity-scale`` multiplies the event-heavy tables (sessions and the product events,
pages and promotions inside them, content views); the output says when it is below 1.

**Signal.** Each customer joins on a day (40 % in the first two weeks), buys at a rate λ ~ Gamma (heterogeneous
Poisson purchasing) while alive, and dies after an exponential lifetime with a Gamma-distributed hazard (the
Pareto/NBD story: Schmittlein, Morrison & Colombo 1987); spend per order is log-normal around a customer's own
mean. Browsing, content and sessions run at a rate tied to λ and fall to 5 % after death; a quarter of the dead
close their account; tickets cluster before death and are rated lower; offers sent to the dead are rarely
accepted; 6 % of customers browse anonymously first and are stitched by an ``identify`` link. So recent
activity says who is still alive: something the models can learn that BG/NBD (purchases only) cannot see.

**Measured** (each customer count in its own processes: one synthesizes, one measures, so peaks never mix):
wall time, CPU time and peak RSS (psutil, sampled every 20 ms in a thread) of the rolling-origin training
examples (``ml.pipeline.training_examples``; one origin's ``build_features`` and ``build_labels`` reported on
their own), the three ``ml.train.fit`` runs (``ml.pipeline.train_models``), ``build_features`` at the scoring
cutoff, ``ml.pipeline.score_frame`` (predict + ``reasons`` for every customer) and the baselines of each task.
Timers wrapped around the ``ml`` functions (one ``perf_counter`` pair per call) show where the time goes.

**Windows.** 180 days of data cannot hold two 90-day label windows after 30 days of history, so the default
90-day windows would leave ``ml.train.fit`` no validation fold: the benchmark uses 60-day horizon and churn
windows (``--window-days``), the scoring cutoff the day after the last event, and ``TrainConfig`` defaults
otherwise (``--origins`` 6 at most: 5 fit in 180 days, 20 days apart).

    python bench/bench_ml.py                        # 100k, then 1M customers
    python bench/bench_ml.py --customers 100000     # one size
    python bench/bench_ml.py --quick                # 20k customers, a smoke run
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from report import record

from ml.train import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results" / "ml.json"
START = date(2025, 1, 1)
DAY_NS = 86_400 * 10**9
START_NS = int(np.datetime64(START, "ns").astype("int64"))
MIB = 1024 * 1024
TS = pa.timestamp("ns")
MONEY = pa.decimal128(18, 4)

#: demo volumes per registered customer over 180 days (tables of /tmp/demo1's curated zone, 2,016 customers)
DEMO_PER_CUSTOMER = {"events": 78.5, "orders": 1.3, "product_events": 30.0, "sessions": 29.0,
                     "content_watched": 24.0, "account_snapshots": 4.0, "offers": 1.35, "support_tickets": 0.48}
CATEGORIES = ["fashion", "electronics", "home", "beauty", "books", "grocery", "sports", "toys", "garden", "jewelry"]
GEOGRAPHIES = ["United States", "United Kingdom", "Germany", "France", "Spain", "Canada", "Australia", "Italy"]
PRODUCT_EVENTS = ["Product Viewed", "Product Added", "Products Searched", "Product List Viewed", "Cart Viewed",
                  "Product Removed"]
PRODUCT_WEIGHTS = [0.843, 0.081, 0.027, 0.026, 0.013, 0.010]
EVENT_TYPES = ["track", "page", "screen", "identify"]
EVENT_NAMES = [None, *PRODUCT_EVENTS, "Promotion Viewed", "Promotion Clicked", "Content Watched", "Order Completed",
               "Checkout Started", "Payment Info Entered", "Coupon Applied", "Order Cancelled", "Order Updated",
               "Order Refunded", "Ticket Opened", "Ticket Resolved", "Offer Sent", "Offer Responded", "Account Closed",
               "Account Snapshot"]


# --- synthesis: the curated zone, vectorised ------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """What to synthesize: ``customers`` registered customers over ``days`` days from :data:`START`, the
    event-heavy tables multiplied by ``activity_scale``, random ``seed``."""

    customers: int
    days: int = 180
    activity_scale: float = 1.0
    seed: int = 13


class Rows:
    """Rows of one curated table being built: named numpy columns of equal length (customer columns as indices
    into the id array, times as int64 ns, text as indices into a vocabulary)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **columns: np.ndarray) -> None:
        """Append rows: every column the same length."""
        lengths = {len(v) for v in columns.values()}
        assert len(lengths) == 1, lengths
        self.parts.append(columns)

    def columns(self) -> dict[str, np.ndarray]:
        """The rows added so far, concatenated per column."""
        names = self.parts[0].keys()
        return {n: np.concatenate([p[n] for p in self.parts]) for n in names}


def _spread(rng: np.random.Generator, rate: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """A Poisson process of ``rate`` per day on each customer's [start, end): (customer index, time in days)."""
    length = np.clip(end - start, 0.0, None)
    counts = rng.poisson(rate * length)
    who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    return who, start[who] + rng.random(len(who)) * length[who]


def _ns(days: np.ndarray) -> np.ndarray:
    return START_NS + np.round(days * DAY_NS).astype(np.int64)


class Synth:
    """The synthetic customer base (module docstring, "Signal") and its curated tables."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.rng = rng = np.random.default_rng(config.seed)
        n, d = config.customers, float(config.days)
        self.n = n
        existing = rng.random(n) < 0.4
        self.join = np.where(existing, rng.uniform(0, 14, n), rng.uniform(0, d - 1, n))
        hazard = rng.gamma(1.5, 1 / (1.5 * 110), n)  # per day; mean lifetime ~ 110 days
        self.death = self.join + rng.exponential(1 / hazard)
        self.alive_end = np.minimum(self.death, d)
        self.end = np.full(n, d)
        self.rate = rng.gamma(0.7, 0.018 / 0.7, n)  # purchases per alive day, mean 0.018
        self.engagement = np.sqrt(self.rate / 0.018) * rng.gamma(4.0, 0.25, n) + 0.15
        self.spend = rng.lognormal(np.log(45.0), 0.7, n)
        self.currency = rng.choice(3, n, p=[0.8, 0.14, 0.06])  # USD, EUR, GBP
        self.anon = np.flatnonzero(rng.random(n) < 0.06)
        self.next_id = 0

    def ids(self, count: int) -> np.ndarray:
        """``count`` new event numbers (unique across every table)."""
        out = np.arange(self.next_id, self.next_id + count, dtype=np.int64)
        self.next_id += count
        return out

    def customer_ids(self) -> pa.Array:
        """Registered ids ``c00000000…`` then the anonymous ids of the customers who browsed before joining."""
        names = [f"c{i:08d}" for i in range(self.n)] + [f"anon-{i:016x}" for i in self.anon]
        return pa.array(names, pa.string())

    def build(self) -> dict[str, dict[str, np.ndarray]]:
        """Every curated table's rows (:class:`Rows` columns); ``events`` holds every event of the others."""
        rng, n, scale = self.rng, self.n, self.config.activity_scale
        t: dict[str, Rows] = {name: Rows() for name in (
            "events", "sessions", "product_events", "content_watched", "orders", "order_lines", "order_changes",
            "refunds", "support_tickets", "offers", "account_snapshots", "account_closures", "customers",
            "identity_links")}
        ev = t["events"]

        def event(who: np.ndarray, ts: np.ndarray, kind: str, name: str | None, ids: np.ndarray | None = None):
            ids = self.ids(len(who)) if ids is None else ids
            ev.add(event_id=ids, customer=who, ts=ts, kind=np.full(len(who), EVENT_TYPES.index(kind), np.int8),
                   name=np.full(len(who), EVENT_NAMES.index(name), np.int8))
            return ids

        # sessions (and the product events, pages and promotions in them): tied to λ, 5 % after death
        session_rate = scale * 0.37 * self.engagement
        who_a, day_a = _spread(rng, session_rate, self.join, self.alive_end)
        who_b, day_b = _spread(rng, session_rate * 0.05, self.alive_end, self.end)
        who, day = np.concatenate([who_a, who_b]), np.concatenate([day_a, day_b])
        duration = np.where(rng.random(len(who)) < 0.12, 0, rng.lognormal(np.log(150), 0.8, len(who))).astype(np.int64)
        start = _ns(day)
        t["sessions"].add(customer=who, ts=start, duration_seconds=duration)
        for table, per_session, names, weights in (
                ("product_events", 1.03, PRODUCT_EVENTS, PRODUCT_WEIGHTS), (None, 0.38, ["page"], [1.0]),
                (None, 0.066, ["screen"], [1.0]), (None, 0.055, ["Promotion Viewed"], [1.0]),
                (None, 0.0075, ["Promotion Clicked"], [1.0])):
            k = rng.poisson(per_session, len(who))
            idx = np.repeat(np.arange(len(who)), k)
            ts = start[idx] + (rng.random(len(idx)) * (duration[idx] + 60) * 1e9).astype(np.int64)
            pick = rng.choice(len(names), len(idx), p=weights)
            if table:
                ids = self.ids(len(idx))
                t[table].add(customer=who[idx], ts=ts, name=pick.astype(np.int8))
                for j, name in enumerate(names):
                    event(who[idx][pick == j], ts[pick == j], "track", name, ids[pick == j])
            elif names[0] in ("page", "screen"):
                event(who[idx], ts, names[0], None)
            else:
                event(who[idx], ts, "track", names[0])

        # content watched: its own app, same engagement
        who_a, day_a = _spread(rng, scale * 0.30 * self.engagement, self.join, self.alive_end)
        who_b, day_b = _spread(rng, scale * 0.015 * self.engagement, self.alive_end, self.end)
        who, ts = np.concatenate([who_a, who_b]), _ns(np.concatenate([day_a, day_b]))
        ids = event(who, ts, "track", "Content Watched")
        t["content_watched"].add(customer=who, ts=ts, duration_seconds=rng.gamma(2.0, 600.0, len(who)), _id=ids)

        # orders: Poisson(λ) while alive, spend log-normal around the customer's mean, in the customer's currency
        who, day = _spread(rng, self.rate, self.join, self.alive_end)
        ts = _ns(day)
        order_ids = self.ids(len(who))
        value = np.round(self.spend[who] * rng.lognormal(0, 0.45, len(who)), 2)
        currency = self.currency[who]
        t["orders"].add(customer=who, ts=ts, received=ts + 2 * 10**9, value=value, currency=currency,
                        order_no=order_ids)
        event(who, ts, "track", "Order Completed", order_ids)
        event(who, ts - (rng.uniform(2, 20, len(who)) * 60e9).astype(np.int64), "track", "Checkout Started")
        paid = rng.random(len(who)) < 0.4
        event(who[paid], ts[paid] - 60 * 10**9, "track", "Payment Info Entered")
        lines = 1 + rng.poisson(0.09, len(who))
        line = np.repeat(np.arange(len(who)), lines)
        category = rng.integers(0, len(CATEGORIES) + 1, len(line))  # the last = unknown (NULL), as in the demo
        t["order_lines"].add(order=line, ts=ts[line], quantity=(1 + rng.poisson(0.3, len(line))).astype(np.int32),
                             category=category)
        # abandoned checkouts, coupon use
        who_c, day_c = _spread(rng, self.rate * 0.2, self.join, self.alive_end)
        event(who_c, _ns(day_c), "track", "Checkout Started")
        coupon = rng.random(len(who)) < 0.04
        event(who[coupon], ts[coupon] - 120 * 10**9, "track", "Coupon Applied")
        # cancellations, updates, refunds
        draw = rng.random(len(who))
        cancelled, updated = np.flatnonzero(draw < 0.01), np.flatnonzero((draw >= 0.01) & (draw < 0.024))
        refunded = np.flatnonzero(rng.random(len(who)) < 0.032)
        for rows, change, name in ((cancelled, "cancelled", "Order Cancelled"), (updated, "updated", "Order Updated")):
            change_ts = ts[rows] + (rng.uniform(0.05, 2, len(rows)) * DAY_NS).astype(np.int64)
            new_value = np.where(change == "updated", np.round(value[rows] * rng.uniform(0.7, 1.1, len(rows)), 2),
                                 np.nan)
            ids = event(who[rows], change_ts, "track", name)
            t["order_changes"].add(order=rows, ts=change_ts, value=new_value, change=np.full(len(rows), change, object),
                                   _id=ids)
        refund_ts = ts[refunded] + (rng.uniform(1, 20, len(refunded)) * DAY_NS).astype(np.int64)
        full = rng.random(len(refunded)) < 0.7
        amount = np.where(full, value[refunded], np.round(value[refunded] * rng.uniform(0.2, 0.8, len(refunded)), 2))
        ids = event(who[refunded], refund_ts, "track", "Order Refunded")
        t["refunds"].add(order=refunded, ts=refund_ts, amount=amount, full=full, _id=ids)
        self.order_ids, self.order_ts, self.order_currency = order_ids, ts, currency

        # support tickets: background, and clustered before death (severe, slow, badly rated)
        who_a, day_a = _spread(rng, np.full(n, 0.0010), self.join, self.end)
        dying = np.flatnonzero((self.death < self.end) & (rng.random(n) < 0.35))
        day_b = self.death[dying] - rng.uniform(0, 20, len(dying))
        keep = day_b >= self.join[dying]
        who_b, day_b = dying[keep], day_b[keep]
        who = np.concatenate([who_a, who_b])
        before_death = np.concatenate([np.zeros(len(who_a), bool), np.ones(len(who_b), bool)])
        opened = _ns(np.concatenate([day_a, day_b]))
        severity = np.where(before_death, rng.choice(4, len(who), p=[0.15, 0.3, 0.35, 0.2]),
                            rng.choice(4, len(who), p=[0.42, 0.36, 0.17, 0.05]))
        ticket = self.ids(len(who))
        hours = np.where(before_death, rng.gamma(2.0, 36.0, len(who)), rng.gamma(2.0, 12.0, len(who)))
        resolved = rng.random(len(who)) < 0.98
        satisfaction = np.where(before_death, rng.integers(1, 4, len(who)), rng.integers(3, 6, len(who)))
        closed_ts = opened + (hours * 3600e9).astype(np.int64)
        ids = event(who, opened, "track", "Ticket Opened")
        t["support_tickets"].add(ticket=ticket, customer=who, ts=opened,
                                 name=np.full(len(who), "Ticket Opened", object),
                                 severity=severity, hours=np.full(len(who), np.nan), satisfaction=np.full(len(who), -1),
                                 _id=ids)
        r = np.flatnonzero(resolved)
        ids = event(who[r], closed_ts[r], "track", "Ticket Resolved")
        t["support_tickets"].add(ticket=ticket[r], customer=who[r], ts=closed_ts[r],
                                 name=np.full(len(r), "Ticket Resolved", object), severity=severity[r],
                                 hours=np.round(hours[r], 1), satisfaction=satisfaction[r], _id=ids)

        # offers: sent to everyone; the dead rarely accept
        who, day = _spread(rng, np.full(n, 0.87 / 120), self.join, self.end)
        sent = _ns(day)
        offer = self.ids(len(who))
        ids = event(who, sent, "track", "Offer Sent")
        t["offers"].add(offer=offer, customer=who, ts=sent, name=np.full(len(who), "Offer Sent", object),
                        accepted=np.full(len(who), -1, np.int8), _id=ids)
        answer = np.flatnonzero(rng.random(len(who)) < 0.56)
        answered = day[answer] + rng.uniform(0, 5, len(answer))
        alive = answered < self.death[who[answer]]
        accepted = (rng.random(len(answer)) < np.where(alive, 0.42, 0.08)).astype(np.int8)
        keep = answered < self.end[0]
        answer, answered, accepted = answer[keep], answered[keep], accepted[keep]
        ids = event(who[answer], _ns(answered), "track", "Offer Responded")
        t["offers"].add(offer=offer[answer], customer=who[answer], ts=_ns(answered),
                        name=np.full(len(answer), "Offer Responded", object), accepted=accepted, _id=ids)

        # closures: a quarter of the dead close the account; monthly account snapshots until then
        dead = np.flatnonzero(self.death < self.end)
        closing = dead[rng.random(len(dead)) < 0.08]
        close_day = self.death[closing] + rng.uniform(0, 3, len(closing))
        closing, close_day = closing[close_day < self.end[0]], close_day[close_day < self.end[0]]
        ids = event(closing, _ns(close_day), "track", "Account Closed")
        t["account_closures"].add(customer=closing, ts=_ns(close_day), _id=ids)
        until = self.end.copy()
        until[closing] = close_day
        months = np.floor(np.clip(until - self.join, 0, None) / 30.0).astype(np.int64) + 1
        who = np.repeat(np.arange(n), months)
        offset = np.arange(len(who)) - np.repeat(np.cumsum(months) - months, months)
        day = self.join[who] + 30.0 * offset + rng.uniform(0, 1, len(who))
        keep = day < until[who]
        who, day = who[keep], day[keep]
        product = rng.choice(3, n, p=[0.62, 0.25, 0.13])
        ids = event(who, _ns(day), "track", "Account Snapshot")
        t["account_snapshots"].add(customer=who, ts=_ns(day), product=product[who],
                                   balance=np.round(rng.gamma(1.2, 800.0, len(who)), 2),
                                   products=(1 + product[who] + rng.poisson(0.3, len(who))).astype(np.int32), _id=ids)

        # identify calls: one at joining (traits), 17 % once more later
        again = np.flatnonzero(rng.random(n) < 0.17)
        who = np.concatenate([np.arange(n), again])
        day = np.concatenate([self.join, rng.uniform(self.join[again], self.end[again])])
        ids = event(who, _ns(day), "identify", None)
        age = rng.integers(18, 81, n).astype(np.int32)
        gender = rng.choice(3, n, p=[0.48, 0.45, 0.07])  # female, male, unknown
        geography = np.where(rng.random(n) < 0.08, len(GEOGRAPHIES),
                             rng.choice(len(GEOGRAPHIES), n, p=[0.35, 0.18, 0.15, 0.12, 0.08, 0.05, 0.04, 0.03]))
        t["customers"].add(customer=who, ts=_ns(day), age=age[who], gender=gender[who], geography=geography[who],
                           _id=ids)

        # anonymous browsing before joining, stitched by an identify link (source anon id -> customer)
        anon_index = n + np.arange(len(self.anon))
        k = rng.integers(2, 5, len(self.anon))
        idx = np.repeat(np.arange(len(self.anon)), k)
        day = np.clip(self.join[self.anon][idx] - rng.uniform(0, 1, len(idx)), 0, None)
        event(anon_index[idx], _ns(day), "page", None)
        link_ts = _ns(self.join[self.anon])
        ids = self.ids(len(self.anon))
        t["identity_links"].add(source=anon_index, target=self.anon, ts=link_ts, _id=ids)
        return {name: rows.columns() for name, rows in t.items() if rows.parts}


def _text(values: np.ndarray, vocabulary: list[str | None]) -> pa.Array:
    return pa.array(vocabulary, pa.string()).take(pa.array(values))


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _money(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.float64(), from_pandas=True).cast(MONEY, safe=False)


def _arrow(table: str, c: dict[str, np.ndarray], ids: pa.Array, users: pa.Array, synth: Synth) -> pa.Table:
    """One day's rows of ``table`` as Arrow, the columns and types of the real curated files."""
    who = pa.array(c["customer"]) if "customer" in c else None
    ts = pa.array(c["ts"]).cast(TS)
    currencies = ["USD", "EUR", "GBP"]
    if table == "events":
        return pa.table({"event_id": _ids("e", c["event_id"]), "event_type": _text(c["kind"], EVENT_TYPES),
                         "event_name": _text(c["name"], EVENT_NAMES), "customer_id": ids.take(who),
                         "user_id": users.take(who), "event_ts": ts})
    if table == "sessions":
        return pa.table({"session_id": _ids("s", np.arange(len(ts))), "customer_id": ids.take(who),
                         "session_start": ts, "duration_seconds": pa.array(c["duration_seconds"], pa.int64())})
    if table == "product_events":
        return pa.table({"customer_id": ids.take(who), "event_name": _text(c["name"], PRODUCT_EVENTS), "event_ts": ts})
    if table == "content_watched":
        return pa.table({"event_id": _ids("e", c["_id"]), "customer_id": ids.take(who), "event_ts": ts,
                         "duration_seconds": pa.array(c["duration_seconds"], pa.float64())})
    if table == "orders":
        return pa.table({"event_id": _ids("e", c["order_no"]), "order_id": _ids("o", c["order_no"]),
                         "customer_id": ids.take(who), "order_ts": ts, "received_at": pa.array(c["received"]).cast(TS),
                         "order_value": _money(c["value"]), "currency": _text(c["currency"], currencies)})
    if table in ("order_lines", "order_changes", "refunds"):
        order = c["order"]
        number = synth.order_ids[order]
        if table == "order_lines":
            return pa.table({"event_id": _ids("e", number), "order_id": _ids("o", number),
                             "category": _text(c["category"], [*CATEGORIES, None]),
                             "quantity": pa.array(c["quantity"], pa.int32()),
                             "order_ts": pa.array(synth.order_ts[order]).cast(TS)})
        common = {"event_id": _ids("e", c["_id"]), "order_id": _ids("o", number)}
        currency = _text(synth.order_currency[order], currencies)
        if table == "order_changes":
            return pa.table({**common, "change": pa.array(c["change"], pa.string()), "event_ts": ts,
                             "received_at": ts, "order_value": _money(c["value"]), "currency": currency})
        return pa.table({**common, "refund_ts": ts, "received_at": ts, "amount": _money(c["amount"]),
                         "is_full_refund": pa.array(c["full"], pa.bool_()), "currency": currency})
    if table == "support_tickets":
        return pa.table({"event_id": _ids("e", c["_id"]), "ticket_id": _ids("t", c["ticket"]),
                         "customer_id": ids.take(who), "event_name": pa.array(c["name"], pa.string()), "event_ts": ts,
                         "severity": _text(c["severity"], ["low", "medium", "high", "critical"]),
                         "resolution_hours": pa.array(c["hours"], pa.float64(), from_pandas=True),
                         "satisfaction": pa.array(np.where(c["satisfaction"] < 0, 0, c["satisfaction"]), pa.int32(),
                                                  mask=c["satisfaction"] < 0)})
    if table == "offers":
        return pa.table({"event_id": _ids("e", c["_id"]), "offer_id": _ids("of", c["offer"]),
                         "customer_id": ids.take(who), "event_name": pa.array(c["name"], pa.string()), "event_ts": ts,
                         "accepted": pa.array(c["accepted"] == 1, pa.bool_(), mask=c["accepted"] < 0)})
    if table == "account_snapshots":
        return pa.table({"event_id": _ids("e", c["_id"]), "customer_id": ids.take(who), "event_ts": ts,
                         "product_type": _text(c["product"], ["basic", "plus", "premium"]),
                         "balance": _money(c["balance"]), "num_products": pa.array(c["products"], pa.int32())})
    if table == "account_closures":
        return pa.table({"event_id": _ids("e", c["_id"]), "customer_id": ids.take(who), "event_ts": ts})
    if table == "customers":
        return pa.table({"event_id": _ids("e", c["_id"]), "customer_id": ids.take(who), "user_id": ids.take(who),
                         "event_ts": ts, "age": pa.array(c["age"], pa.int32()),
                         "gender": _text(c["gender"], ["female", "male", None]),
                         "geography": _text(c["geography"], [*GEOGRAPHIES, None]),
                         "traits_cleared": pa.array([[]] * len(ts), pa.list_(pa.field("element", pa.string())))})
    if table == "identity_links":
        return pa.table({"event_id": _ids("e", c["_id"]), "source_id": ids.take(pa.array(c["source"])),
                         "target_id": ids.take(pa.array(c["target"])),
                         "link_type": pa.array(["identify"] * len(ts), pa.string()), "event_ts": ts,
                         "received_at": ts})
    raise AssertionError(table)


def write_rates(lake: Path, days: int) -> None:
    """The rate CSV (``reference/currency_rates.csv``): daily EUR and GBP rates into USD over the span."""
    rng = np.random.default_rng(1)
    rows = ["rate_date,currency,rate"]
    for currency, level in (("EUR", 1.05), ("GBP", 1.27)):
        walk = level * np.exp(np.cumsum(rng.normal(0, 0.003, days + 40)))
        rows += [f"{START + timedelta(days=k - 30)},{currency},{rate:.4f}" for k, rate in enumerate(walk)]
    (lake / "reference").mkdir(parents=True, exist_ok=True)
    (lake / "reference" / "currency_rates.csv").write_text("\n".join(rows) + "\n")


def synthesize(lake: Path, config: SynthConfig) -> dict[str, Any]:
    """Write the curated zone of ``config`` under ``lake``; returns rows per table, bytes and seconds."""
    started = time.perf_counter()
    synth = Synth(config)
    tables = synth.build()
    ids = synth.customer_ids()
    users = pa.array(ids.to_pylist()[:config.customers] + [None] * len(synth.anon), pa.string())
    rows, written = {}, 0
    end_ns = START_NS + config.days * DAY_NS
    for table in list(tables):
        columns = tables.pop(table)
        inside = columns["ts"] < end_ns  # refunds, resolutions and changes after the span have not happened yet
        order = np.flatnonzero(inside)[np.argsort(columns["ts"][inside], kind="stable")]
        columns = {k: v[order] for k, v in columns.items()}
        day = (columns["ts"] - START_NS) // DAY_NS
        bounds = np.searchsorted(day, np.arange(day.min(), day.max() + 2))
        for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            if hi <= lo:
                continue
            part = lake / "curated" / table / f"event_date={START + timedelta(days=int(day.min()) + k)}"
            part.mkdir(parents=True, exist_ok=True)
            path = part / "part-00000.zstd.parquet"
            pq.write_table(_arrow(table, {c: v[lo:hi] for c, v in columns.items()}, ids, users, synth), path,
                           compression="zstd")
            written += path.stat().st_size
        rows[table] = len(order)
        del columns
    write_rates(lake, config.days)
    return {"rows": rows, "bytes": written, "seconds": round(time.perf_counter() - started, 1)}


#: the functions timed inside the stages, where their callers look them up
SPOTS = {"ml.dataset": ("identity_map", "population", "_order_features", "_activity_features", "rfm_scores"),
         "ml.pipeline": ("reasons", "build_labels"), "ml.train": ("_dataset",),
         "ml.train.Model": ("predict", "contributions"), "lightgbm": ("train",)}


# --- measuring --------------------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One measured stage: wall and CPU seconds (this process, all threads), RSS at the start and the peak."""

    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rss_start_mib: float = 0.0
    peak_rss_mib: float = 0.0


class Meter:
    """Stages timed with a background thread sampling this process's RSS every ``interval_s`` (nested stages
    each see the peak inside them)."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.process = psutil.Process()
        self.open: list[Stage] = []
        self.stages: list[Stage] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, args=(interval_s,), daemon=True)
        self.thread.start()

    def _rss(self) -> float:
        rss = self.process.memory_info().rss / MIB
        with self.lock:
            for stage in self.open:
                stage.peak_rss_mib = max(stage.peak_rss_mib, rss)
        return rss

    def _sample(self, interval_s: float) -> None:
        while not self.stop.wait(interval_s):
            self._rss()

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Measure the ``with`` block as stage ``name`` (appended to :attr:`stages` when it ends)."""
        stage = Stage(name)
        with self.lock:
            self.open.append(stage)
        stage.rss_start_mib = stage.peak_rss_mib = self._rss()
        cpu, wall = _cpu(), time.perf_counter()
        try:
            yield stage
        finally:
            stage.wall_s, stage.cpu_s = time.perf_counter() - wall, _cpu() - cpu
            self._rss()
            with self.lock:
                self.open.remove(stage)
            self.stages.append(stage)
            print(f"    {name}: {stage.wall_s:.1f} s, peak RSS {stage.peak_rss_mib:,.0f} MiB", file=sys.stderr,
                  flush=True)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Spots:
    """Seconds and calls of ``ml`` functions, by wrapping them where their callers look them up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        """Replace ``owner.attribute`` with a timed call counted under ``label``."""
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, attribute, timed)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """JSON-ready: label -> seconds, calls."""
        return {k: {"seconds": round(v, 3), "calls": self.calls[k]} for k, v in self.seconds.items()}


def measure(lake_home: Path, window_days: int, origins: int, threads: int) -> dict[str, Any]:
    """The measuring child: every stage of module docstring, "Measured", on the lake under ``lake_home``."""
    import lightgbm as lgb

    import ml.baselines as baselines
    import ml.dataset as dataset
    import ml.pipeline as pipeline
    import ml.train as train
    from lakehouse.core.config import Settings
    from ml.source import data_bounds, open_curated

    spots = Spots()
    for owner, label in ((dataset, "ml.dataset"), (pipeline, "ml.pipeline"), (train, "ml.train"),
                         (train.Model, "ml.train.Model"), (lgb, "lightgbm")):
        for name in SPOTS[label]:
            spots.wrap(owner, name, f"{label}.{name}")
    for name in ("rfm_rule", "logistic_rfm", "linear_rfm", "bgnbd_churn", "bgnbd_propensity",
                 "bgnbd_gamma_gamma_clv"):
        spots.wrap(baselines, name, f"baseline {name}")

    meter = Meter()
    settings = Settings(stage="bench", home=lake_home)
    windows = dataset.Windows(horizon_days=window_days, churn_days=window_days)
    options = pipeline.MLOptions(windows, train.TrainConfig(origins=origins, threads=threads))
    load_start = os.getloadavg()
    with meter.stage("total"):
        with meter.stage("open the curated views"):
            con = open_curated(settings)
            first, last = data_bounds(con)
        cutoff = last + timedelta(days=1)
        # one origin's features and labels: the first (latest) origin's calls inside training_examples
        features, labels = pipeline._features, pipeline._labels

        def one(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args):
                day = next(a for a in args if isinstance(a, date))
                with meter.stage(f"{kind} @ origin {day}"):
                    return fn(*args)
            return call

        pipeline._features, pipeline._labels = one("features", features), one("labels", labels)
        with meter.stage("training examples"):
            examples = pipeline.training_examples(con, settings, cutoff, first, options)
        pipeline._features, pipeline._labels = features, labels
        fits: dict[str, Any] = {}
        with meter.stage("train 3 LightGBM models"):
            for task in train.TASKS:
                with meter.stage(f"fit {task}"):
                    fits[task] = train.fit(task, examples.by_task[task], pipeline.label_days(task, windows),
                                           options.config)
        with meter.stage("features @ scoring cutoff"):
            frame = pipeline._features(con, cutoff, options, settings)
        with meter.stage("scoring (score_frame)"):
            scores = pipeline.score_frame(fits, frame, cutoff, "bench", "USD")
        model_predict: dict[str, float] = {}
        for task in train.TASKS:
            rows = frame[pipeline.task_rows(task, frame)]
            with meter.stage(f"predict {task}") as stage:
                fits[task].predict(rows)
            model_predict[task] = stage.wall_s
        errors: dict[str, str] = {}
        with meter.stage("baselines, 3 tasks"):
            for task in train.TASKS:
                rows = frame[pipeline.task_rows(task, frame)]
                train_frame = pd.concat([e.frame for e in examples.by_task[task]])
                y_train = np.concatenate([e.y for e in examples.by_task[task]])
                with meter.stage(f"baselines {task}"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        baselines.baseline_scores(task, train_frame, y_train, rows,
                                                  pipeline.label_days(task, windows))
                    except baselines.BaselineFitError as error:
                        errors[task] = str(error)
    meter.stop.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "customers_scored": len(scores), "feature_columns": len(frame.columns),
        "first_day": str(first), "last_day": str(last), "cutoff": str(cutoff),
        "origins": [str(d) for d in examples.origins], "training_rows": examples.rows,
        "training_rows_by_task": {t: int(sum(len(e.y) for e in examples.by_task[t])) for t in train.TASKS},
        "positive_share_by_task": {t: round(float(np.mean(np.concatenate([e.y for e in examples.by_task[t]]) > 0)), 4)
                                   for t in train.TASKS},
        "models": {t: {"rounds": m.rounds, "validation_metric": m.validation["metric"],
                       "validation_value": round(float(m.validation["value"]), 4), "features": len(m.features)}
                   for t, m in fits.items()},
        "model_predict_s": {t: round(v, 3) for t, v in model_predict.items()},
        "baseline_errors": errors,
        "stages": [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(s).items()}
                   for s in meter.stages],
        "spots": spots.as_dict(), "peak_rss_mib": round(peak, 1),
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
    }


# --- the parent: one pair of child processes per size, a table, the JSON -------------------------------------


def _child(args: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        subprocess.run([sys.executable, __file__, *args, "--child-out", out.name], check=True)
        return json.loads(Path(out.name).read_text())


def run_size(customers: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Synthesize (reusing a lake of the same parameters in ``work``) and measure one customer count."""
    config = SynthConfig(customers, args.days, args.activity_scale, args.seed)
    home = work / f"customers-{customers}"
    marker = home / "synthesized.json"
    if marker.exists() and json.loads(marker.read_text()).get("config") == asdict(config):
        synthesis = json.loads(marker.read_text())
        print(f"{customers:,} customers: reusing the lake synthesized in {home}", flush=True)
    else:
        shutil.rmtree(home, ignore_errors=True)
        print(f"{customers:,} customers: synthesizing the curated zone in {home} ...", flush=True)
        synthesis = _child(["--child", "synthesize", "--child-home", str(home), "--child-config",
                            json.dumps(asdict(config))])
        marker.write_text(json.dumps(synthesis))
    print(f"  {sum(synthesis['rows'].values()):,} rows ({synthesis['rows']['events']:,} events, "
          f"{synthesis['rows']['orders']:,} orders) in {synthesis['seconds']:.0f} s, "
          f"{synthesis['bytes'] / MIB:,.0f} MiB of Parquet; measuring ...", flush=True)
    measured = _child(["--child", "measure", "--child-home", str(home), "--window-days", str(args.window_days),
                       "--origins", str(args.origins), "--threads", str(args.threads)])
    return {"customers": customers, "config": asdict(config), "synthesis": synthesis, **measured}


def _stage(run: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(s for s in run["stages"] if s["name"].startswith(prefix))


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The three tables (stages, model vs baselines, slow spots)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    memory_gib = psutil.virtual_memory().total / 2**30
    stages = Table(title=f"ML benchmark: {os.cpu_count()} cores, {memory_gib:.0f} GiB, {args.window_days}-day windows, "
                         f"up to {args.origins} origins, LightGBM threads {args.threads}")
    stages.add_column("stage")
    for run in runs:
        for what in ("wall s", "CPU s", "peak RSS MiB"):
            stages.add_column(f"{run['customers']:,}\n{what}", justify="right")
    first_origin = runs[0]["origins"][0]
    names = ["open the curated views", f"features @ origin {first_origin}", f"labels @ origin {first_origin}",
             "training examples", "fit churn", "fit propensity", "fit clv", "train 3 LightGBM models",
             "features @ scoring cutoff", "scoring (score_frame)", "baselines churn", "baselines propensity",
             "baselines clv", "baselines, 3 tasks", "total"]
    for name in names:
        cells = []
        for run in runs:
            key = name.replace(first_origin, run["origins"][0])
            s = _stage(run, key)
            cells += [f"{s['wall_s']:.1f}", f"{s['cpu_s']:.1f}", f"{s['peak_rss_mib']:,.0f}"]
        label = name if not name.startswith(("features @ origin", "labels @ origin")) else name.split(" @")[0] + \
            " @ one origin (latest)"
        if name == "training examples":
            label = f"training examples ({len(runs[0]['origins'])} origins x (features + labels))"
        stages.add_row(label, *cells)
    console.print(stages)

    versus = Table(title="LightGBM beside the baselines, same run, same frames (seconds)")
    versus.add_column("customers", justify="right")
    versus.add_column("task")
    for column in ("LightGBM fit (grid x folds + final)", "LightGBM predict", "baselines (fit + score, all)",
                   "LightGBM (fit + predict) / baselines", "LightGBM validation"):
        versus.add_column(column, justify="right")
    for run in runs:
        for task in ("churn", "propensity", "clv"):
            fit_s, base_s = _stage(run, f"fit {task}")["wall_s"], _stage(run, f"baselines {task}")["wall_s"]
            predict_s = run["model_predict_s"][task]
            model = run["models"][task]
            versus.add_row(f"{run['customers']:,}", task, f"{fit_s:.1f}", f"{predict_s:.2f}", f"{base_s:.1f}",
                           f"{(fit_s + predict_s) / base_s:.0f}x" if base_s else "—",
                           f"{model['validation_metric']} {model['validation_value']:.3f}")
    console.print(versus)
    for run in runs:
        size = f"{run['customers']:,} customers, {run['synthesis']['rows']['events']:,} events"
        for task in ("churn", "propensity", "clv"):
            fit_s, base_s = _stage(run, f"fit {task}")["wall_s"], _stage(run, f"baselines {task}")["wall_s"]
            model = run["models"][task]
            record("ML", f"{task}: LightGBM fit + predict ({model['validation_metric']} "
                         f"{model['validation_value']:.3f})", fit_s + run["model_predict_s"][task], "s", size=size,
                   baseline="the task's baselines, fit + score", baseline_value=base_s)
        record("ML", "whole ML stage, peak RSS", run["peak_rss_mib"], "MiB", size=size,
               note=f"{_stage(run, 'total')['wall_s']:,.0f} s in all")

    spots = Table(title="where the time goes (wrapped ml functions; shares of the stage named)")
    spots.add_column("customers", justify="right")
    spots.add_column("function")
    spots.add_column("calls", justify="right")
    spots.add_column("seconds", justify="right")
    spots.add_column("share", justify="right")
    for run in runs:
        total_features = sum(s["wall_s"] for s in run["stages"] if s["name"].startswith("features @"))
        spot = run["spots"]
        score_s = _stage(run, "scoring (score_frame)")["wall_s"]
        rows = [(name, f"of the {len(run['origins']) + 1} feature builds", total_features)
                for name in ("ml.dataset.identity_map", "ml.dataset.population", "ml.dataset._order_features",
                             "ml.dataset._activity_features", "ml.dataset.rfm_scores")]
        rows += [("ml.pipeline.build_labels", "of training examples", _stage(run, "training examples")["wall_s"]),
                 ("ml.train._dataset", "of training", _stage(run, "train 3 LightGBM")["wall_s"]),
                 ("lightgbm.train", "of training", _stage(run, "train 3 LightGBM")["wall_s"]),
                 ("ml.pipeline.reasons", "of scoring", score_s),
                 ("ml.train.Model.contributions", "of scoring", score_s)]
        for name, what, whole in rows:
            if name in spot:
                spots.add_row(f"{run['customers']:,}", name, str(spot[name]["calls"]), f"{spot[name]['seconds']:.1f}",
                              f"{spot[name]['seconds'] / whole:.0%} {what}" if whole else "—")
        if "ml.pipeline.reasons" in spot:
            loop = spot["ml.pipeline.reasons"]["seconds"] - spot.get("ml.train.Model.contributions",
                                                                     {"seconds": 0})["seconds"]
            spots.add_row(f"{run['customers']:,}", "reasons' Python loop (reasons - contributions)", "",
                          f"{loop:.1f}", f"{loop / score_s:.0%} of scoring" if score_s else "—")
    console.print(spots)
    for run in runs:
        load = run["load_average"]
        console.print(f"{run['customers']:,} customers: {run['training_rows']:,} training rows over origins "
                      f"{', '.join(run['origins'])}; scored {run['customers_scored']:,} at {run['cutoff']}; "
                      f"peak RSS of the measuring process {run['peak_rss_mib']:,.0f} MiB (synthesis, in its own "
                      f"process: {run['synthesis']['peak_rss_mib']:,.0f} MiB); load average {load['start'][0]:.1f} "
                      f"at the start, {load['end'][0]:.1f} at the end on {os.cpu_count()} cores"
                      + (f"; baseline errors: {run['baseline_errors']}" if run["baseline_errors"] else ""))
        if run["config"]["activity_scale"] < 1:
            console.print(f"  NOTE: event-heavy tables scaled to {run['config']['activity_scale']:.0%} of the demo's "
                          "per-customer volume (--activity-scale)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000],
                        help="customer counts to measure (1,000,000 needs ~9 GiB and, with --activity-scale 0.25, did "
                             "not finish in 29 minutes on 2 shared cores)")
    parser.add_argument("--quick", action="store_true", help="20,000 customers: a smoke run")
    parser.add_argument("--days", type=int, default=180, help="days of synthesized data")
    parser.add_argument("--activity-scale", type=float, default=1.0,
                        help="multiply the event-heavy tables' per-customer volume (1 = the demo's)")
    parser.add_argument("--window-days", type=int, default=60, help="horizon and churn windows")
    parser.add_argument("--origins", type=int, default=6, help="rolling training origins, at most")
    parser.add_argument("--threads", type=int, default=TrainConfig().threads,
                        help="LightGBM threads (TrainConfig's default; 1 on a machine other work keeps busy)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, help="directory for the lakes (kept, and reused when the parameters "
                                                  "match; default: a temporary directory, removed)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the figures (default {RESULTS})")
    parser.add_argument("--child", choices=("synthesize", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--child-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "synthesize":
        result = synthesize(args.child_home / "lake", SynthConfig(**json.loads(args.child_config)))
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        args.child_out.write_text(json.dumps(result))
        return
    if args.child == "measure":
        result = measure(args.child_home, args.window_days, args.origins, args.threads)
        args.child_out.write_text(json.dumps(result))
        return
    sizes = [20_000] if args.quick else args.customers
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ml-"))
    try:
        runs = [run_size(n, args, work) for n in sizes]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    report(runs, args)
    result = {"benchmark": "ml", "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30),
              "options": {"days": args.days, "activity_scale": args.activity_scale, "window_days": args.window_days,
                          "origins": args.origins, "threads": args.threads, "seed": args.seed}, "runs": runs}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"figures written to {args.json}")
    print(json.dumps({"customers": sizes, "total_s": [_stage(r, "total")["wall_s"] for r in runs],
                      "peak_rss_mib": [r["peak_rss_mib"] for r in runs]}))


if __name__ == "__main__":
    main()
