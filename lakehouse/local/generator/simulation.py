"""The day-by-day simulation: customer state arrays in, one day of columnar events out.

Memory is O(customers) for the state plus one day of events; events scheduled for later days
(ticket resolutions, offer responses, refunds) wait in a small per-day queue.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.catalog import Catalog
from lakehouse.local.generator.config import GeneratorConfig
from lakehouse.local.generator.events import DayEvents, Kind, Table, concat, take
from lakehouse.local.generator.funnel import Sessions, shop
from lakehouse.local.generator.population import Population
from lakehouse.local.generator.seasonality import day_factor, is_black_friday_campaign, season_factor
from lakehouse.local.generator.spec import SpecMix

DAY_MS = 86_400_000
DAY_S = 86_400.0
HEALTHY, DECLINING, CHURNED = 0, 1, 2
NEVER = 10**9  # "no such day"
MOVE, NEW_CITY, NEW_EMAIL = 0, 1, 2
POOR_SERVICE = "poor_service"
REASONS: tuple[str, ...] = (*C.CLOSE_REASONS, POOR_SERVICE)


def _p(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def epoch_ms(day: date) -> int:
    """Epoch milliseconds of midnight UTC starting ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


@dataclass
class State:
    """What changes during the run, one entry per customer."""

    status: np.ndarray
    decline_start: np.ndarray
    fade_len: np.ndarray
    closes: np.ndarray  # the decline ends with an explicit Account Closed
    churn_day: np.ndarray
    geography: np.ndarray
    city: np.ndarray
    email_version: np.ndarray
    last_order: np.ndarray
    ever_ordered: np.ndarray
    frequency: np.ndarray  # order count decayed with FREQUENCY_HALF_LIFE_DAYS
    grievance: np.ndarray  # support pain decayed with GRIEVANCE_HALF_LIFE_DAYS
    offer_until: np.ndarray  # last day an accepted offer is active
    offer_id: np.ndarray  # accepted offer not redeemed yet (-1: none)
    offer_kind: np.ndarray
    balance_cents: np.ndarray
    plan: np.ndarray
    downgraded: np.ndarray
    moves: np.ndarray
    orders: np.ndarray
    revenue_cents: np.ndarray
    tickets: np.ndarray
    severe_tickets: np.ndarray

    @classmethod
    def initial(cls, pop: Population) -> State:
        """The state before the first simulated day: everyone healthy, no decline scheduled, nothing ordered."""
        n = len(pop)

        def ints(value: int = 0) -> np.ndarray:
            return np.full(n, value, dtype=np.int64)

        return cls(
            status=ints(HEALTHY), decline_start=ints(NEVER), fade_len=ints(NEVER), closes=np.zeros(n, bool),
            churn_day=ints(NEVER), geography=pop.geography.copy(), city=pop.city.copy(), email_version=ints(),
            last_order=pop.signup_day.copy(), ever_ordered=np.zeros(n, bool), frequency=np.zeros(n),
            grievance=np.zeros(n), offer_until=ints(-NEVER), offer_id=ints(-1), offer_kind=ints(-1),
            balance_cents=ints(), plan=pop.plan.copy(), downgraded=np.zeros(n, bool), moves=ints(), orders=ints(),
            revenue_cents=ints(), tickets=ints(), severe_tickets=ints(),
        )


class Simulation:
    """Advance the customers one day at a time; :meth:`step` returns that day's events."""

    def __init__(self, config: GeneratorConfig, pop: Population, catalog: Catalog, rng: np.random.Generator,
                 spec: SpecMix):
        self.config = config
        self.spec = spec
        self.pop = pop
        self.catalog = catalog
        self.rng = rng
        self.start_ms = epoch_ms(config.start)
        self.state = State.initial(pop)
        self.pending: dict[int, list[tuple[Kind, Table]]] = defaultdict(list)
        self.next_cart = self.next_order = self.next_ticket = self.next_offer = 1
        self._freq_decay = 0.5 ** (1 / C.FREQUENCY_HALF_LIFE_DAYS)
        self._griev_decay = 0.5 ** (1 / C.GRIEVANCE_HALF_LIFE_DAYS)
        self._warm_start()

    # ------------------------------------------------------------------------------------ helpers
    def _warm_start(self) -> None:
        """Customers who exist on day 0 get a history: last order, frequency, some already declining."""
        pop, st, rng = self.pop, self.state, self.rng
        old = np.flatnonzero(pop.signup_day < 0)
        tenure = -pop.signup_day[old]
        rate = (C.SESSIONS_PER_DAY * pop.engagement[old] * (C.VIEWS_MEAN * C.ADD_TO_CART_P)
                * pop.spend[old] ** C.SPEND_CONVERSION_EXP * 0.59)
        since = np.ceil(rng.exponential(1 / rate)).astype(np.int64)
        bought = since <= tenure
        st.ever_ordered[old] = bought
        st.last_order[old] = np.where(bought, -since, pop.signup_day[old])
        mean_life = C.FREQUENCY_HALF_LIFE_DAYS / np.log(2)
        st.frequency[old] = rng.poisson(rate * np.minimum(tenure, mean_life)).astype(float)
        hazard = C.CHURN_BASE * pop.churn_static[old] * C.GEO_CHURN[pop.geography[old]]
        mid_fade = old[rng.random(len(old)) < np.minimum(0.5, hazard * np.mean(C.FADE_DAYS))]
        fade = rng.integers(*C.FADE_DAYS, len(mid_fade))
        st.status[mid_fade] = DECLINING
        st.fade_len[mid_fade] = fade
        st.decline_start[mid_fade] = -np.floor(rng.random(len(mid_fade)) * fade).astype(np.int64)
        st.closes[mid_fade] = rng.random(len(mid_fade)) < C.CLOSED_P[0]
        st.balance_cents[old] = np.round(rng.exponential(C.INITIAL_BALANCE_CENTS * pop.spend[old])).astype(np.int64)

    def activity(self, idx: np.ndarray, d: int) -> np.ndarray:
        """1 for healthy customers, exp(-FADE_RATE * progress) while declining, 0 once churned."""
        st = self.state
        progress = (d - st.decline_start[idx]) / st.fade_len[idx]
        fading = np.exp(-C.FADE_RATE * np.clip(progress, 0, 1))
        status = st.status[idx]
        return np.where(status == HEALTHY, 1.0, np.where(status == DECLINING, fading, 0.0))

    def _clock(self, n: int, weights: np.ndarray, geography: np.ndarray) -> np.ndarray:
        """Seconds after midnight UTC for events at local hours drawn from ``weights``."""
        hour = self.rng.choice(24, size=n, p=_p(weights))
        local = hour * 3600.0 + self.rng.random(n) * 3600.0
        return (local - C.GEO_UTC_OFFSET[geography] * 3600.0) % DAY_S

    def _ms(self, d: int, seconds: np.ndarray) -> np.ndarray:
        return self.start_ms + d * DAY_MS + np.round(seconds * 1000).astype(np.int64)

    def _schedule(self, kind: Kind, table: Table) -> None:
        """Queue rows for the day their timestamp falls on (rows after the last day are dropped)."""
        day = (table["ts"] - self.start_ms) // DAY_MS
        for target in np.unique(day).tolist():
            if target < self.config.days:
                self.pending[target].append((kind, take(table, day == target)))

    def _ids(self, attr: str, n: int) -> np.ndarray:
        first = getattr(self, attr)
        setattr(self, attr, first + n)
        return first + np.arange(n, dtype=np.int64)

    def hazard(self, idx: np.ndarray, d: int) -> np.ndarray:
        """Daily chance that each healthy customer in ``idx`` starts to decline."""
        pop, st = self.pop, self.state
        tenure = d - pop.signup_day[idx]
        h = C.CHURN_BASE * pop.churn_static[idx] * C.GEO_CHURN[st.geography[idx]]
        h = h * np.exp(np.minimum(C.CHURN_GRIEVANCE[0] * st.grievance[idx], C.CHURN_GRIEVANCE[1]))
        h = np.where(st.offer_until[idx] >= d, h * C.CHURN_OFFER, h)
        h = np.where(tenure < C.CHURN_NEW_CUSTOMER[0], h * C.CHURN_NEW_CUSTOMER[1], h)
        no_orders = (tenure > C.CHURN_NO_ORDERS[0]) & (st.frequency[idx] < C.CHURN_NO_ORDERS[1])
        return np.where(no_orders, h * C.CHURN_NO_ORDERS[2], h)

    # ------------------------------------------------------------------------------------ the day
    def step(self, d: int) -> DayEvents:
        """Simulate day ``d`` (0-based) and return its events."""
        pop, st, rng = self.pop, self.state, self.rng
        today = self.config.start + timedelta(days=d)
        events = DayEvents(d)
        st.frequency *= self._freq_decay
        st.grievance *= self._griev_decay

        # lifecycle: declines that run out today become churn; some healthy customers start declining
        ending = np.flatnonzero((st.status == DECLINING) & (d - st.decline_start >= st.fade_len))
        st.status[ending] = CHURNED
        st.churn_day[ending] = d
        events.add(Kind.CLOSED, self._closures(ending[st.closes[ending]], d))
        healthy = np.flatnonzero((st.status == HEALTHY) & (pop.signup_day < d))
        begin = healthy[rng.random(len(healthy)) < self.hazard(healthy, d)]
        st.status[begin] = DECLINING
        st.decline_start[begin] = d
        st.fade_len[begin] = rng.integers(*C.FADE_DAYS, len(begin))
        st.closes[begin] = rng.random(len(begin)) < C.CLOSED_P[0] + C.CLOSED_P[1] * (st.grievance[begin] > 0.5)

        signed = pop.signup_day <= d
        living = np.flatnonzero(signed & (st.status != CHURNED))
        new = pop.signup_day[living] == d
        act = self.activity(living, d)
        identify_s = self._identifies(living[new], d, events)
        n_sessions = self._shopping(living, act, new, identify_s, d, today, events)
        settled = living[~new]
        self._tickets(settled, d, events)
        self._offers(d, today, events)
        self._content(settled, act[~new], d, today, events)
        self._snapshots(d, today, events)
        self._profile_updates(settled, d, events)
        self._anonymous_pages(n_sessions, d, events)
        self._deliver_pending(d, events)
        return events

    def _closures(self, idx: np.ndarray, d: int) -> Table:
        rng = self.rng
        poor = rng.random(len(idx)) < np.where(self.state.grievance[idx] > 0.5, 0.6, 0.05)
        other = rng.choice(len(C.CLOSE_REASONS), size=len(idx), p=_p(C.CLOSE_REASON_WEIGHT))
        return {"ts": self._ms(d, self._clock(len(idx), C.HOUR_WEIGHT, self.state.geography[idx])), "cust": idx,
                "reason": np.where(poor, len(C.CLOSE_REASONS), other), "plan": self.state.plan[idx]}

    def _identifies(self, newcomers: np.ndarray, d: int, events: DayEvents) -> np.ndarray:
        """Identify at signup (and, on day 0, a CRM sync of existing customers stamped 00:00:00.000)."""
        st, rng = self.state, self.rng
        seconds = self._clock(len(newcomers), C.HOUR_WEIGHT, st.geography[newcomers])
        seconds = np.where(seconds > DAY_S - 4 * 3600, seconds - 4 * 3600, seconds)  # leave time to shop
        cust, secs = newcomers, seconds
        if d == 0:
            existing = np.flatnonzero(self.pop.signup_day < 0)
            cust = np.concatenate([existing, newcomers])
            secs = np.concatenate([np.zeros(len(existing)), seconds])  # stamped at midnight: before anything else
        identifies = {
            "ts": self._ms(d, secs), "cust": cust, "geography": st.geography[cust], "city": st.city[cust],
            "email_version": st.email_version[cust],
            "channel": (rng.random(len(cust)) < self.pop.mobile_share[cust]).astype(np.int64),
        }
        events.add(Kind.IDENTIFY, identifies)
        events.add(Kind.GROUP, self.spec.groups(cust, identifies["ts"], identifies["channel"]))
        return seconds

    def _shopping(self, living: np.ndarray, act: np.ndarray, new: np.ndarray, identify_s: np.ndarray, d: int,
                  today: date, events: DayEvents) -> int:
        pop, st, rng = self.pop, self.state, self.rng
        recency = d - st.last_order[living]
        recency_mult = np.where(recency < C.RECENCY_REFRACTORY_DAYS, 0.6, np.where(
            recency < C.RECENCY_ACTIVE_DAYS, 1.25,
            0.5 + 0.75 * np.exp(-(recency - C.RECENCY_ACTIVE_DAYS) / C.RECENCY_DECAY_DAYS)))
        habit = 0.75 + C.HABIT_GAIN * (1 - np.exp(-st.frequency[living] / 1.5))
        offer_on = st.offer_until[living] >= d
        rate = C.SESSIONS_PER_DAY * pop.engagement[living] * day_factor(today) * act * habit
        count = rng.poisson(rate)
        count[new] += rng.random(int(new.sum())) < C.SIGNUP_SESSION_P
        cust = np.repeat(living, count)
        start = self._clock(len(cust), C.HOUR_WEIGHT, st.geography[cust])
        # a newcomer shops only after signing up (identify_s is in the order of living[new])
        after = np.full(len(living), -1.0)
        after[new] = identify_s
        after = np.repeat(after, count)
        late = after >= 0
        room = np.maximum(DAY_S - 4500.0 - after[late] - 20.0, 0.0)
        start[late] = after[late] + 20.0 + rng.random(int(late.sum())) * room
        p_add = (C.ADD_TO_CART_P * recency_mult * pop.spend[living] ** C.SPEND_CONVERSION_EXP
                 * season_factor(today) ** C.SEASON_CONVERSION_EXP * np.where(offer_on, C.OFFER_CONVERSION, 1.0))
        coupon = np.where(offer_on & (st.offer_id[living] >= 0), st.offer_id[living], -1)
        sessions = Sessions(
            cust=cust, start_s=start, mobile=rng.random(len(cust)) < pop.mobile_share[cust],
            p_add=np.minimum(np.repeat(p_add, count), 0.9), favourite_category=pop.favourite_category[cust],
            spend=pop.spend[cust], coupon_id=np.repeat(coupon, count),
            coupon_kind=np.repeat(np.where(coupon >= 0, st.offer_kind[living], -1), count),
        )
        day_ms = self.start_ms + d * DAY_MS
        result = shop(rng, sessions, self.catalog, day_ms, self.next_cart, self.next_order)
        extra, reposts = self.spec.shopping(d, sessions, result, self.next_cart, st.geography, day_ms)
        self.next_cart += len(cust)
        self.next_order += len(result.checkouts["ts"])
        events.items = result.items
        events.add(Kind.PAGE, result.pages)
        events.add(Kind.PRODUCT, result.products)
        events.add(Kind.CHECKOUT, result.checkouts)
        events.add(Kind.ORDER, result.orders)
        self._after_orders(result.orders, result.items, d)
        events.add(Kind.ORDER, reposts)
        for kind, table in extra.items():
            events.add(kind, table)
        return len(cust)

    def _after_orders(self, orders: Table, items, d: int) -> None:
        st, rng = self.state, self.rng
        cust, total = orders["cust"], orders["total"]
        st.last_order[cust] = d
        st.ever_ordered[cust] = True
        np.add.at(st.frequency, cust, 1.0)
        np.add.at(st.orders, cust, 1)
        np.add.at(st.revenue_cents, cust, total)
        cashback = np.where(orders["coupon_kind"] == C.OFFER_TYPES.index("cashback"), 0.05, 0.0)
        np.add.at(st.balance_cents, cust, np.round(total * (C.CASHBACK_RATE + cashback)).astype(np.int64))
        used = orders["coupon"] >= 0
        st.offer_id[cust[used]] = -1
        # spec variety (spec.py): an Order Updated adds express shipping, an Order Cancelled reverses the order
        updated, cancelled = orders["updated"] == 1, orders["cancelled"] == 1
        np.add.at(st.revenue_cents, cust[updated], C.EXPRESS_SHIPPING_CENTS)
        np.add.at(st.revenue_cents, cust[cancelled], -total[cancelled])
        np.add.at(st.orders, cust[cancelled], -1)
        refunded = np.flatnonzero(rng.random(len(cust)) < C.REFUND_P)
        delay = rng.integers(*C.REFUND_DELAY_DAYS, len(refunded))
        partial = rng.random(len(refunded)) < C.PARTIAL_REFUND_P
        first_line = orders["item_start"][refunded]
        first_value = items.quantity[first_line] * items.price_cents[first_line]
        amount = np.where(partial, np.minimum(first_value, total[refunded]), total[refunded])
        local = items.local_cents if items.local_cents is not None else items.price_cents
        keep = ~cancelled[refunded]  # a cancelled order is never refunded
        self._schedule(Kind.REFUND, take({
            "ts": self._ms(d + delay, rng.random(len(refunded)) * DAY_S), "cust": cust[refunded],
            "order": orders["order"][refunded], "total": amount, "partial": partial.astype(np.int64),
            "currency": orders["currency"][refunded], "l_value": orders["l_value"][refunded],
            "line_product": items.product[first_line], "line_quantity": items.quantity[first_line],
            "line_local": local[first_line],
            "bare": (orders["refund_bare"][refunded] == 1) | updated[refunded],
        }, keep))

    def _tickets(self, idx: np.ndarray, d: int, events: DayEvents) -> None:
        st, rng = self.state, self.rng
        recent = st.ever_ordered[idx] & (d - st.last_order[idx] <= 7)
        opened = idx[rng.random(len(idx)) < C.TICKET_BASE_P + C.TICKET_AFTER_ORDER_P * recent]
        n = len(opened)
        severity = rng.choice(len(C.SEVERITIES), size=n, p=_p(C.SEVERITY_WEIGHT))
        hours = np.minimum(C.RESOLUTION_MEDIAN_H[severity] * rng.lognormal(0, C.RESOLUTION_SIGMA, n),
                           C.RESOLUTION_MAX_H)
        hours = np.round(hours, 2)
        satisfaction = np.clip(np.round(5.2 - 0.7 * severity - hours / 36 + rng.normal(0, 0.7, n)), 1, 5)
        ts = self._ms(d, self._clock(n, C.HOUR_WEIGHT, st.geography[opened]))
        ticket = {
            "ts": ts, "cust": opened, "phase": np.zeros(n, np.int64), "ticket": self._ids("next_ticket", n),
            "issue": rng.choice(len(C.ISSUE_TYPES), size=n, p=_p(C.ISSUE_WEIGHT)), "severity": severity,
            "channel": rng.choice(len(C.TICKET_CHANNELS), size=n, p=_p(C.TICKET_CHANNEL_WEIGHT)),
            "hours": hours, "satisfaction": satisfaction.astype(np.int64),
        }
        np.add.at(st.tickets, opened, 1)
        np.add.at(st.severe_tickets, opened, severity >= 2)
        events.add(Kind.TICKET, ticket)
        resolved = dict(ticket, phase=np.ones(n, np.int64), ts=ts + np.round(hours * 3_600_000).astype(np.int64))
        self._schedule(Kind.TICKET, resolved)

    def _offers(self, d: int, today: date, events: DayEvents) -> None:
        """Campaigns: every Tuesday, and a big one the day before Black Friday. Lapsed customers still get them."""
        if is_black_friday_campaign(today):
            share = C.OFFER_BLACK_FRIDAY_SHARE
        elif today.weekday() == C.OFFER_CAMPAIGN_WEEKDAY:
            share = C.OFFER_CAMPAIGN_SHARE
        else:
            return
        pop, st, rng = self.pop, self.state, self.rng
        reachable = (pop.signup_day < d) & ((st.status != CHURNED) | ~st.closes)
        to = np.flatnonzero(reachable & (rng.random(len(pop)) < share))
        n = len(to)
        kind = rng.choice(len(C.OFFER_TYPES), size=n, p=_p(C.OFFER_WEIGHT))
        local = 9 * 3600.0 + rng.random(n) * 3600.0
        ts = self._ms(d, (local - C.GEO_UTC_OFFSET[st.geography[to]] * 3600.0) % DAY_S)
        offer = self._ids("next_offer", n)
        act = self.activity(to, d)
        p_accept = np.where(act > 0, C.OFFER_ACCEPT_P[kind] * (0.5 + 0.5 * act) * pop.engagement[to] ** 0.3, 0.0)
        accepted = rng.random(n) < p_accept
        respond = accepted | ((act > 0) & (rng.random(n) < C.OFFER_DECLINE_RESPONSE_P))
        sent = {"ts": ts, "cust": to, "phase": np.zeros(n, np.int64), "offer": offer, "kind": kind,
                "channel": rng.integers(0, len(C.OFFER_CHANNELS), n), "accepted": accepted}
        events.add(Kind.OFFER, sent)
        delay = np.round(rng.exponential(C.OFFER_RESPONSE_MEAN_H * 3_600_000, n)).astype(np.int64) + 60_000
        self._schedule(Kind.OFFER, take(dict(sent, phase=np.ones(n, np.int64), ts=ts + delay), respond))

    def _content(self, idx: np.ndarray, act: np.ndarray, d: int, today: date, events: DayEvents) -> None:
        pop, st, rng = self.pop, self.state, self.rng
        streaming = pop.streaming[idx]
        viewers, act = idx[streaming], act[streaming]
        rate = C.WATCH_SESSIONS_PER_DAY * pop.engagement[viewers] ** 0.5 * act * C.WEEKDAY_FACTOR[today.weekday()]
        count = rng.poisson(rate)
        sess_cust = np.repeat(viewers, count)
        s = len(sess_cust)
        items = 1 + np.minimum(rng.poisson(C.WATCH_ITEMS_MEAN - 1, s), 5)
        item_sess = np.repeat(np.arange(s), items)
        cust = sess_cust[item_sess]
        m = len(cust)
        u = rng.random(m)
        taste = pop.taste[cust]
        category = np.where(u < C.TASTE_P[0], taste[:, 0], np.where(
            u < C.TASTE_P[0] + C.TASTE_P[1], taste[:, 1],
            rng.choice(len(C.CONTENT_CATEGORIES), size=m, p=_p(C.CONTENT_WEIGHT))))
        rank = np.floor(C.CONTENT_PER_CATEGORY * rng.random(m) ** C.POPULARITY_SKEW).astype(np.int64)
        duration = C.CONTENT_MEDIAN_S[category] * rng.lognormal(0, 0.35, m)
        partial = rng.random(m) < C.PARTIAL_WATCH_P
        duration = np.round(np.minimum(np.where(partial, duration * (0.1 + 0.9 * rng.random(m)), duration),
                                       4 * 3600.0), 1)
        # items of a watch session follow each other with 30 s between them
        cum = np.cumsum(duration + 30.0)
        first = np.cumsum(items) - items
        offset = cum - (duration + 30.0) - (cum[first] - duration[first] - 30.0)[item_sess]
        total = offset[first + items - 1] + duration[first + items - 1]
        start = np.minimum(self._clock(s, C.WATCH_HOUR_WEIGHT, st.geography[sess_cust]), DAY_S - 1.0 - total)
        channel = rng.choice(3, size=s, p=_p(C.CONTENT_CHANNEL_WEIGHT))
        events.add(Kind.CONTENT, {
            "ts": self._ms(d, start[item_sess] + offset), "cust": cust, "category": category, "rank": rank,
            "duration": duration, "channel": channel[item_sess],
        })

    def _snapshots(self, d: int, today: date, events: DayEvents) -> None:
        """Monthly account snapshot (also for lapsed customers: their account still exists)."""
        pop, st, rng = self.pop, self.state, self.rng
        due = np.flatnonzero((pop.snapshot_day == today.day) & (pop.signup_day < d)
                             & ((st.status != CHURNED) | ~st.closes))
        declining = st.status[due] == DECLINING
        progress = (d - st.decline_start[due]) / np.maximum(st.fade_len[due], 1)
        downgrade = due[declining & (progress >= C.DOWNGRADE_AT_PROGRESS) & ~st.downgraded[due]]
        st.plan[downgrade] = np.maximum(st.plan[downgrade] - 1, 0)
        st.downgraded[downgrade] = True
        products = np.maximum(pop.base_products[due] + pop.streaming[due] - st.downgraded[due], 1)
        events.add(Kind.SNAPSHOT, {
            "ts": self._ms(d, 7200.0 + rng.random(len(due)) * 7200.0), "cust": due, "plan": st.plan[due],
            "balance": st.balance_cents[due].copy(), "products": products,
        })
        redeeming = due[st.status[due] != CHURNED]
        st.balance_cents[redeeming] -= np.round(st.balance_cents[redeeming] * C.BALANCE_REDEEMED).astype(np.int64)

    def _profile_updates(self, idx: np.ndarray, d: int, events: DayEvents) -> None:
        """Identify calls with changed traits: moving country (SCD2 material), moving city, new e-mail."""
        st, rng = self.state, self.rng
        who = idx[rng.random(len(idx)) < C.PROFILE_UPDATE_P]
        n = len(who)
        kind = rng.choice(3, size=n, p=_p(C.PROFILE_UPDATE_KIND_WEIGHT))
        movers = who[kind == MOVE]
        n_geo = len(C.GEO_NAMES)
        st.geography[movers] = (st.geography[movers] + rng.integers(1, n_geo, len(movers))) % n_geo
        st.city[movers] = rng.integers(0, C.GEO_N_CITIES[st.geography[movers]])
        st.moves[movers] += 1
        city_movers = who[kind == NEW_CITY]
        n_cities = C.GEO_N_CITIES[st.geography[city_movers]]
        st.city[city_movers] = (st.city[city_movers] + rng.integers(1, n_cities)) % n_cities
        st.email_version[who[kind == NEW_EMAIL]] += 1
        events.add(Kind.PROFILE, {
            "ts": self._ms(d, self._clock(n, C.HOUR_WEIGHT, st.geography[who])), "cust": who, "update": kind,
            "geography": st.geography[who], "city": st.city[who], "email_version": st.email_version[who],
            "channel": (rng.random(n) < self.pop.mobile_share[who]).astype(np.int64),
        })
        events.add(Kind.PROFILE, self.spec.clears(idx, d, self.start_ms + d * DAY_MS, st.geography, st.city,
                                                   st.email_version))

    def _anonymous_pages(self, n_sessions: int, d: int, events: DayEvents) -> None:
        rng = self.rng
        n = int(rng.poisson(self.config.anonymous_share * n_sessions))
        geography = rng.choice(len(C.GEO_NAMES), size=n, p=_p(C.GEO_WEIGHT))
        events.add(Kind.PAGE, {
            "ts": self._ms(d, self._clock(n, C.HOUR_WEIGHT, geography)), "cust": np.full(n, -1, np.int64),
            "page": rng.choice(len(C.LANDING_WEIGHT), size=n, p=_p(C.LANDING_WEIGHT)),
            "category": rng.integers(0, len(C.CATEGORY_NAMES), n), "channel": rng.integers(0, 2, n),
            "anon": rng.integers(1, 2**63, n, dtype=np.int64).astype(np.uint64),
            "screen": np.zeros(n, np.int64), "guest": np.full(n, -1, np.int64),
        })

    def _deliver_pending(self, d: int, events: DayEvents) -> None:
        """Rows scheduled for today: ticket resolutions, offer responses, refunds (and their effects)."""
        st = self.state
        by_kind: dict[Kind, list[Table]] = defaultdict(list)
        for kind, table in self.pending.pop(d, []):
            by_kind[kind].append(table)
        for kind in sorted(by_kind):
            table = concat(by_kind[kind])
            cust = table["cust"]
            if kind == Kind.TICKET:
                np.add.at(st.grievance, cust, C.GRIEVANCE_WEIGHT[table["severity"]] * (1 + table["hours"] / 48))
            elif kind == Kind.REFUND:
                np.add.at(st.grievance, cust, C.REFUND_GRIEVANCE)
            elif kind == Kind.OFFER:
                table = take(table, st.status[cust] != CHURNED)  # churned customers do not answer
                ok = table["accepted"]
                won = table["cust"][ok]
                st.offer_until[won] = d + C.OFFER_EFFECT_DAYS
                st.offer_id[won] = table["offer"][ok]
                st.offer_kind[won] = table["kind"][ok]
            events.add(kind, table)
