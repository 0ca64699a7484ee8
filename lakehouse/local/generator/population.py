"""The customers: demographics and latent traits, drawn once per run (arrays, O(customers))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from lakehouse.local.generator import catalog as C
from lakehouse.local.generator.seasonality import day_factor


@dataclass(frozen=True)
class Population:
    """One entry per customer; index i is user ``c{i:07d}``. Days are relative to the start date."""

    signup_day: np.ndarray  # int64; < 0 = signed up before the start date
    geography: np.ndarray  # int64 index into catalog.GEO_NAMES, at signup
    city: np.ndarray  # int64 index into that geography's cities, at signup
    age: np.ndarray  # int64, at signup (not aged during the run)
    age_band: np.ndarray  # int64 index into catalog.AGE_BANDS
    gender: np.ndarray  # int64 index into catalog.GENDERS
    first_name: np.ndarray  # int64 index into catalog.FIRST_NAMES[geography]
    last_name: np.ndarray
    email_domain: np.ndarray
    engagement: np.ndarray  # latent activity level, mean 1
    spend: np.ndarray  # latent spend scale, heavy-tailed
    whale: np.ndarray  # bool
    streaming: np.ndarray  # bool: uses the streaming app
    favourite_category: np.ndarray  # product category index
    taste: np.ndarray  # (n, 2) favourite and second favourite content category
    mobile_share: np.ndarray  # share of shopping sessions on mobile
    snapshot_day: np.ndarray  # day of month (1..28) of the monthly account snapshot
    plan: np.ndarray  # plan tier at signup, index into catalog.PLANS
    base_products: np.ndarray  # products held (1..4), streaming adds one
    churn_static: np.ndarray  # hazard multiplier from age, engagement, spend and streaming

    def __len__(self) -> int:
        return len(self.signup_day)


def _lognormal_mean_one(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(-sigma * sigma / 2, sigma, n)


def signup_days(rng: np.random.Generator, n: int, start: date, days: int, existing_share: float) -> np.ndarray:
    """Existing customers: uniform over the years before ``start``; the others follow the calendar."""
    existing = rng.random(n) < existing_share
    before = -rng.integers(1, C.EXISTING_SIGNUP_YEARS * 365 + 1, n)
    weights = np.array([day_factor(start + timedelta(days=d)) for d in range(days)])
    during = rng.choice(days, size=n, p=weights / weights.sum())
    return np.where(existing, before, during).astype(np.int64)


def draw_population(rng: np.random.Generator, n: int, start: date, days: int, streaming_share: float,
                    existing_share: float) -> Population:
    """Draw ``n`` customers."""
    geography = rng.choice(len(C.GEO_NAMES), size=n, p=C.GEO_WEIGHT / C.GEO_WEIGHT.sum())
    city = np.floor(rng.random(n) ** 1.6 * C.GEO_N_CITIES[geography]).astype(np.int64)  # big cities first
    band_weight = np.array([b[3] for b in C.AGE_BANDS])
    age_band = rng.choice(len(C.AGE_BANDS), size=n, p=band_weight / band_weight.sum())
    low = np.array([b[1] for b in C.AGE_BANDS])[age_band]
    high = np.array([b[2] for b in C.AGE_BANDS])[age_band]
    age = rng.integers(low, high + 1)
    gender = rng.choice(len(C.GENDERS), size=n, p=C.GENDER_WEIGHT / C.GENDER_WEIGHT.sum())
    female, male = C.GENDERS.index("female"), C.GENDERS.index("male")
    first_name = np.where(gender == female, rng.integers(0, C.FEMALE_NAMES, n), np.where(
        gender == male, rng.integers(C.FEMALE_NAMES, 2 * C.FEMALE_NAMES, n), rng.integers(0, 2 * C.FEMALE_NAMES, n)))
    last_name = rng.integers(0, 10, n)
    email_domain = rng.integers(0, len(C.EMAIL_DOMAINS), n)

    whale = rng.random(n) < C.WHALE_SHARE
    engagement = _lognormal_mean_one(rng, C.ENGAGEMENT_SIGMA, n) * np.where(whale, C.WHALE_ENGAGEMENT, 1.0)
    spend = _lognormal_mean_one(rng, C.SPEND_SIGMA, n) * np.where(whale, 1 + rng.gamma(2.0, 3.0, n), 1.0)
    streaming = rng.random(n) < streaming_share
    favourite_category = rng.choice(len(C.CATEGORY_NAMES), size=n, p=C.CATEGORY_WEIGHT / C.CATEGORY_WEIGHT.sum())
    content_p = C.CONTENT_WEIGHT / C.CONTENT_WEIGHT.sum()
    fav = rng.choice(len(C.CONTENT_CATEGORIES), size=n, p=content_p)
    second = (fav + rng.integers(1, len(C.CONTENT_CATEGORIES), n)) % len(C.CONTENT_CATEGORIES)
    mobile_share = np.clip(C.MOBILE_SHARE_AT_18 - C.MOBILE_SHARE_PER_YEAR * (age - 18)
                           + rng.normal(0, 0.1, n), 0.15, 0.95)
    snapshot_day = rng.integers(1, 29, n)
    plan = np.digitize(np.log(spend) + rng.normal(0, 0.4, n), [0.0, 0.7])
    base_products = 1 + rng.binomial(3, np.clip(0.25 + 0.2 * np.log(engagement), 0.05, 0.9))

    age_churn = np.array([b[4] for b in C.AGE_BANDS])[age_band]
    churn_static = (age_churn * engagement ** C.CHURN_ENGAGEMENT_EXP * spend ** C.CHURN_SPEND_EXP
                    * np.where(streaming, C.CHURN_STREAMING, 1.0))
    return Population(
        signup_day=signup_days(rng, n, start, days, existing_share),
        geography=geography, city=city, age=age, age_band=age_band, gender=gender,
        first_name=first_name, last_name=last_name, email_domain=email_domain,
        engagement=engagement, spend=spend, whale=whale, streaming=streaming,
        favourite_category=favourite_category, taste=np.stack([fav, second], axis=1),
        mobile_share=mobile_share, snapshot_day=snapshot_day, plan=plan.astype(np.int64),
        base_products=base_products.astype(np.int64), churn_static=churn_static,
    )
