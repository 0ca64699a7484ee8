"""Every behavioural constant of the simulation, and the product / content catalogs drawn from the seed.

The tables here are the single source of truth for docs/data-generator.md: change a number here and
update the document in the same change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------- people
#: geography -> (population weight, churn-hazard multiplier, UTC offset in hours, cities)
GEOGRAPHIES: dict[str, tuple[float, float, int, tuple[str, ...]]] = {
    "United States": (0.30, 1.30, -5, ("New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Miami")),
    "United Kingdom": (0.15, 1.10, 0, ("London", "Manchester", "Birmingham", "Glasgow", "Bristol")),
    "Germany": (0.15, 0.80, 1, ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt")),
    "France": (0.13, 1.00, 1, ("Paris", "Lyon", "Marseille", "Toulouse", "Lille")),
    "Italy": (0.10, 1.05, 1, ("Rome", "Milan", "Naples", "Turin", "Bologna")),
    "Spain": (0.09, 1.15, 1, ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao")),
    "Netherlands": (0.08, 0.85, 1, ("Amsterdam", "Rotterdam", "Utrecht", "The Hague", "Eindhoven")),
}
GEO_NAMES: tuple[str, ...] = tuple(GEOGRAPHIES)
GEO_WEIGHT = np.array([v[0] for v in GEOGRAPHIES.values()])
GEO_CHURN = np.array([v[1] for v in GEOGRAPHIES.values()])
GEO_UTC_OFFSET = np.array([v[2] for v in GEOGRAPHIES.values()], dtype=np.int64)
GEO_CITIES: tuple[tuple[str, ...], ...] = tuple(v[3] for v in GEOGRAPHIES.values())
GEO_N_CITIES = np.array([len(c) for c in GEO_CITIES], dtype=np.int64)

#: first names per geography: 8 female then 8 male (ASCII; name and e-mail traits)
FIRST_NAMES: tuple[tuple[str, ...], ...] = (
    ("Mary", "Patricia", "Jennifer", "Linda", "Emily", "Sarah", "Jessica", "Ashley",
     "James", "Robert", "John", "Michael", "David", "William", "Daniel", "Joseph"),
    ("Olivia", "Amelia", "Isla", "Ava", "Grace", "Freya", "Lily", "Poppy",
     "Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "Oscar", "Alfie"),
    ("Mia", "Emma", "Hannah", "Lena", "Lea", "Anna", "Marie", "Sophie",
     "Lukas", "Leon", "Finn", "Paul", "Jonas", "Felix", "Max", "Elias"),
    ("Louise", "Chloe", "Ines", "Lea", "Manon", "Camille", "Jade", "Alice",
     "Lucas", "Hugo", "Louis", "Jules", "Gabriel", "Arthur", "Nathan", "Theo"),
    ("Sofia", "Giulia", "Aurora", "Alice", "Ginevra", "Emma", "Beatrice", "Chiara",
     "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Mattia", "Andrea", "Marco", "Luca"),
    ("Lucia", "Sofia", "Martina", "Maria", "Paula", "Julia", "Carmen", "Elena",
     "Hugo", "Martin", "Daniel", "Pablo", "Alejandro", "Javier", "Diego", "Carlos"),
    ("Emma", "Julia", "Mila", "Tess", "Sophie", "Zoe", "Sara", "Nora",
     "Daan", "Sem", "Lucas", "Levi", "Finn", "Milan", "Noah", "Bram"),
)
FEMALE_NAMES = 8  # FIRST_NAMES[g][:8] are female, [8:] male; non-binary/undisclosed draw from all 16
LAST_NAMES: tuple[tuple[str, ...], ...] = (
    ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Moore"),
    ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Hall", "Wood"),
    ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"),
    ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"),
    ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"),
    ("Garcia", "Rodriguez", "Gonzalez", "Fernandez", "Lopez", "Martinez", "Sanchez", "Perez", "Gomez", "Ruiz"),
    ("deJong", "Jansen", "deVries", "vandenBerg", "Bakker", "Visser", "Smit", "Meijer", "deBoer", "Mulder"),
)
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "mail.example.org", "inbox.example.net", "post.example.eu")

#: age bands: (label, youngest, oldest, population weight, churn-hazard multiplier)
AGE_BANDS: tuple[tuple[str, int, int, float, float], ...] = (
    ("18-29", 18, 29, 0.24, 1.35),
    ("30-45", 30, 45, 0.32, 1.00),
    ("46-60", 46, 60, 0.26, 0.80),
    ("60+", 61, 85, 0.18, 0.90),
)
GENDERS: tuple[str, ...] = ("female", "male", "non_binary", "undisclosed")
GENDER_WEIGHT = np.array([0.49, 0.47, 0.015, 0.025])

# --------------------------------------------------------------------------------------- latent traits
ENGAGEMENT_SIGMA = 0.55  # engagement ~ LogNormal(-sigma^2/2, sigma): mean 1
SPEND_SIGMA = 0.70  # spend scale ~ LogNormal(-sigma^2/2, sigma) ...
WHALE_SHARE = 0.01  # ... times Gamma(shape 2, scale 3) + 1 for this share of "whales" ...
WHALE_ENGAGEMENT = 1.5  # ... whose engagement is also multiplied by this
EXISTING_SIGNUP_YEARS = 3  # customers existing at the start signed up uniformly in the years before
PLANS: tuple[str, ...] = ("basic", "plus", "premium")

# ------------------------------------------------------------------------------------------- calendar
#: Monday..Sunday multiplier of session volume (weekend uplift)
WEEKDAY_FACTOR = np.array([0.92, 0.94, 0.96, 0.98, 1.05, 1.22, 1.18])
#: January..December multiplier of session volume (Nov/Dec peak)
MONTH_FACTOR = np.array([0.88, 0.90, 0.96, 0.97, 1.00, 0.96, 0.93, 0.95, 1.00, 1.04, 1.30, 1.45])
BLACK_FRIDAY_FACTOR = 1.60  # Black Friday (day after the 4th Thursday of November) to Cyber Monday
CHRISTMAS_FACTOR = 0.75  # 24-26 December: people are away from screens
#: relative share of session starts per local hour 0..23
HOUR_WEIGHT = np.array([0.6, 0.35, 0.25, 0.2, 0.2, 0.3, 0.6, 1.1, 1.6, 1.9, 2.0, 2.1,
                        2.4, 2.3, 2.1, 2.0, 2.1, 2.4, 2.9, 3.4, 3.6, 3.2, 2.3, 1.3])
#: relative share of streaming starts per local hour (evening-heavy)
WATCH_HOUR_WEIGHT = np.array([1.2, 0.8, 0.5, 0.3, 0.2, 0.2, 0.4, 0.7, 0.8, 0.7, 0.7, 0.8,
                              1.0, 1.0, 1.0, 1.1, 1.3, 1.7, 2.4, 3.4, 4.2, 4.4, 3.6, 2.2])

# -------------------------------------------------------------------------------------------- shopping
SESSIONS_PER_DAY = 0.085  # base daily shopping-session rate of an average customer
SIGNUP_SESSION_P = 0.6  # chance a new customer shops on the signup day (on top of the Poisson rate)
MOBILE_SHARE_AT_18 = 0.75  # share of sessions on mobile for an 18-year-old ...
MOBILE_SHARE_PER_YEAR = 0.008  # ... minus this per year of age, plus Normal(0, 0.1), within 0.15..0.95
VIEWS_MEAN = 2.6  # product views per session: 1 + Poisson(VIEWS_MEAN - 1), at most VIEWS_MAX
VIEWS_MAX = 12
VIEW_GAP_MIN_S, VIEW_GAP_MEAN_S = 12.0, 35.0  # seconds between page/view events: 12 + Exp(35)
FAVOURITE_CATEGORY_P = 0.45  # a view is in the customer's favourite category, else by popularity
ADD_TO_CART_P = 0.095  # base chance that a product view leads to "Product Added" (calibrated to ~10%)
REMOVE_P = 0.12  # chance an added product is removed again
CHECKOUT_P = 0.80  # chance a non-empty cart reaches "Checkout Started"
COMPLETE_P = 0.82  # chance a started checkout becomes "Order Completed"
QUANTITY_PER_SPEND = 0.3  # quantity = 1 + Poisson(QUANTITY_PER_SPEND * max(spend - 1, 0)), at most QUANTITY_MAX
QUANTITY_MAX = 20
PREMIUM_TILT = 0.35  # price-tier choice: u + PREMIUM_TILT * log(spend) picks budget / standard / premium
FREE_SHIPPING_FROM_CENTS = 5000
SHIPPING_CENTS = 499
CASHBACK_RATE = 0.02  # share of every order credited to the account balance
INITIAL_BALANCE_CENTS = 400  # existing customers start with Exp(mean 4.00 x spend) balance
BALANCE_REDEEMED = 0.25  # share of the balance redeemed between two monthly snapshots
REFUND_P = 0.035  # share of orders refunded ...
REFUND_DELAY_DAYS = (2, 21)  # ... after 2..20 days (uniform)
PARTIAL_REFUND_P = 0.3  # a refund returns only the first line of the order
#: purchase propensity multipliers from recency (days since the last order)
RECENCY_REFRACTORY_DAYS = 3  # x0.6 for 3 days after an order (just bought)
RECENCY_ACTIVE_DAYS = 30  # x1.25 until 30 days, then decays with RECENCY_DECAY_DAYS towards x0.5
RECENCY_DECAY_DAYS = 120.0
FREQUENCY_HALF_LIFE_DAYS = 60.0  # decayed order count ("frequency")
HABIT_GAIN = 0.6  # sessions x (0.75 + HABIT_GAIN * (1 - exp(-frequency / 1.5)))
SPEND_CONVERSION_EXP = 0.15  # add-to-cart chance x spend ** this
SEASON_CONVERSION_EXP = 0.5  # add-to-cart chance x season ** this

# --------------------------------------------------------------------------------------------- churn
CHURN_BASE = 0.00062  # daily hazard of an average customer starting to decline
CHURN_ENGAGEMENT_EXP = -0.9  # hazard x engagement ** this
CHURN_SPEND_EXP = -0.35  # hazard x spend ** this
CHURN_STREAMING = 0.85  # streaming-app users are stickier
CHURN_NEW_CUSTOMER = (60, 1.5)  # hazard x1.5 in the first 60 days of tenure
CHURN_NO_ORDERS = (90, 0.3, 1.4)  # hazard x1.4 when tenure > 90 days and frequency < 0.3
CHURN_GRIEVANCE = (1.0, 3.0)  # hazard x exp(min(1.0 * grievance, 3.0))
CHURN_OFFER = 0.75  # hazard x0.75 while an accepted offer is active
OFFER_EFFECT_DAYS = 45  # an accepted offer stays active this long
FADE_DAYS = (28, 92)  # a decline lasts 28..91 days (uniform) ...
FADE_RATE = 3.0  # ... during which activity = exp(-FADE_RATE * progress) (5% at the end)
CLOSED_P = (0.35, 0.30)  # P(explicit Account Closed) = 0.35, +0.30 if grievance > 0.5 at decline start
CLOSE_REASONS: tuple[str, ...] = ("too_expensive", "not_using", "found_alternative", "moving", "other")
CLOSE_REASON_WEIGHT = np.array([0.30, 0.30, 0.22, 0.08, 0.10])
GRIEVANCE_HALF_LIFE_DAYS = 90.0
DOWNGRADE_AT_PROGRESS = 0.5  # past half of a decline: plan tier -1 and one product fewer

# ------------------------------------------------------------------------------------------- support
TICKET_BASE_P = 0.0012  # daily chance of a ticket ...
TICKET_AFTER_ORDER_P = 0.012  # ... plus this while the last order is at most 7 days old
ISSUE_TYPES: tuple[str, ...] = ("billing", "delivery", "product_quality", "technical", "account", "other")
ISSUE_WEIGHT = np.array([0.22, 0.28, 0.20, 0.15, 0.10, 0.05])
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
SEVERITY_WEIGHT = np.array([0.40, 0.35, 0.18, 0.07])
RESOLUTION_MEDIAN_H = np.array([10.0, 24.0, 48.0, 72.0])  # per severity; LogNormal(sigma 0.7) ...
RESOLUTION_SIGMA = 0.7
RESOLUTION_MAX_H = 24.0 * 30  # ... capped at 30 days
GRIEVANCE_WEIGHT = np.array([0.05, 0.20, 0.80, 1.50])  # grievance += w * (1 + hours / 48)
REFUND_GRIEVANCE = 0.15
TICKET_CHANNELS: tuple[str, ...] = ("email", "chat", "phone")
TICKET_CHANNEL_WEIGHT = np.array([0.45, 0.40, 0.15])

# --------------------------------------------------------------------------------------------- offers
OFFER_TYPES: tuple[str, ...] = ("discount", "free_shipping", "bundle", "loyalty_points", "cashback")
OFFER_WEIGHT = np.array([0.30, 0.25, 0.15, 0.15, 0.15])
OFFER_ACCEPT_P = np.array([0.24, 0.18, 0.10, 0.12, 0.20])  # x (0.5 + 0.5 activity) x engagement^0.3
OFFER_CAMPAIGN_WEEKDAY = 1  # Tuesday: a campaign reaches OFFER_CAMPAIGN_SHARE of reachable customers
OFFER_CAMPAIGN_SHARE = 0.05
OFFER_BLACK_FRIDAY_SHARE = 0.25  # the Thursday before Black Friday
OFFER_RESPONSE_MEAN_H = 30.0  # responses come Exp(30 h) after the offer
OFFER_DECLINE_RESPONSE_P = 0.5  # share of declined offers that send accepted=false (others ignore it)
OFFER_CONVERSION = 1.2  # add-to-cart chance x1.2 while an accepted offer is active
OFFER_DISCOUNT = 0.10  # a discount offer takes 10% off the next order; free_shipping waives shipping
OFFER_CHANNELS: tuple[str, ...] = ("email", "push", "sms")

# ------------------------------------------------------------------------------------------ streaming
WATCH_SESSIONS_PER_DAY = 0.35  # streaming users: Poisson(0.35 x engagement^0.5 x activity x weekday)
WATCH_ITEMS_MEAN = 1.7  # items per watch session: 1 + Poisson(0.7)
CONTENT_CATEGORIES: tuple[str, ...] = ("drama", "comedy", "documentary", "kids", "sports", "news", "music",
                                      "thriller")
CONTENT_WEIGHT = np.array([0.20, 0.17, 0.10, 0.10, 0.13, 0.08, 0.12, 0.10])
CONTENT_MEDIAN_S = np.array([2700.0, 1500.0, 3000.0, 900.0, 5400.0, 600.0, 240.0, 3300.0])
CONTENT_PER_CATEGORY = 250
TASTE_P = (0.55, 0.25)  # favourite category, second favourite; otherwise by popularity
PARTIAL_WATCH_P = 0.3  # share of items abandoned after 10-100% of their length
CONTENT_CHANNEL_WEIGHT = np.array([0.5, 0.3, 0.2])  # tv, mobile, web

# ------------------------------------------------------------------------------------ profile updates
PROFILE_UPDATE_P = 0.35 / 365  # daily chance of an identify call with changed traits
PROFILE_UPDATE_KIND_WEIGHT = np.array([0.35, 0.35, 0.30])  # move country, move city, new e-mail

# ---------------------------------------------- Segment spec variety (spec.py; its own random stream)
#: every probability below is multiplied by GeneratorConfig.spec_scale (0 turns the variety off), at most 1
APP_USER_P = 0.30  # customers whose mobile sessions are in the native app: `screen` calls instead of `page`
B2B_P = 0.04  # customers buying for a company: a `group` call (groupId + company traits) after their first identify
B2B_CUSTOMERS_PER_COMPANY = 2.5  # companies = ceil(B2B customers / this), customers assigned uniformly
NUMERIC_ID_P = 0.005  # customers whose source system sends userId as a JSON number (10000 + index)
LOCAL_CURRENCY_P = 0.30  # customers in the UK / the euro area who buy in GBP / EUR (local storefront)
TRAIT_CLEAR_P = 0.06 / 365  # daily chance of an identify that clears a trait (``age`` or ``gender`` set to null)
JOURNEY_P = 0.04  # sessions ending in an order that start logged out: anonymous views + cart, identify, order
GUEST_ORDER_P = 0.004  # orders placed under a guest account, merged into the customer later by `alias`
#: value shape of an order: total+subtotal+shipping (standard), revenue only, subtotal+shipping, products only
ORDER_SHAPE_WEIGHT = np.array([0.88, 0.05, 0.04, 0.03])
BARE_LINES_P = 0.05  # orders whose lines carry no `category` (and `price` instead of `unit_price`)
BARE_PRODUCT_P = 0.03  # Product Viewed / Added / Removed without `category`
REPOST_P = (0.005, 0.005)  # orders posted again under a new messageId: a client retry (same timestamp), a resend
ORDER_UPDATED_P = 0.015  # orders upgraded to express shipping minutes to hours later (Order Updated)
EXPRESS_SHIPPING_CENTS = 999
ORDER_CANCELLED_P = 0.01  # orders cancelled minutes to hours later (Order Cancelled; never refunded then)
BARE_REFUND_P = 0.5  # refunds without an amount: a full refund sends only order_id, a partial one its product line
SEARCHED_P = 0.4  # sessions landing on Search that send Products Searched
LIST_VIEWED_P = 0.4  # sessions landing on a Category page that send Product List Viewed
PROMOTION_VIEWED_P = 0.2  # sessions landing on Home that see the banner (Promotion Viewed) ...
PROMOTION_CLICKED_P = 0.25  # ... and click it (Promotion Clicked)
CART_VIEWED_P = 0.25  # checkouts preceded by Cart Viewed
PAYMENT_INFO_P = 0.4  # orders preceded by Payment Info Entered (orders with a coupon always send Coupon Applied)
PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "apple_pay")
INDUSTRIES: tuple[str, ...] = ("retail", "software", "health", "education", "logistics", "hospitality")
PROMOTIONS: tuple[tuple[str, str], ...] = (("promo_spring", "Spring sale"), ("promo_free_ship", "Free shipping"),
                                           ("promo_new", "New arrivals"))

# ---------------------------------------------------------------------------------------------- pages
LANDING_WEIGHT = np.array([0.45, 0.15, 0.20, 0.20])  # Home, Deals, Search, Category (funnel.PAGE_NAMES)
SITE = "https://shop.example.com"

# ------------------------------------------------------------------------------------------- products
#: category -> (median price in USD, popularity weight)
CATEGORIES: dict[str, tuple[float, float]] = {
    "electronics": (180.0, 0.14),
    "home": (60.0, 0.14),
    "fashion": (45.0, 0.18),
    "beauty": (25.0, 0.10),
    "books": (15.0, 0.09),
    "grocery": (12.0, 0.09),
    "sports": (70.0, 0.08),
    "toys": (30.0, 0.07),
    "garden": (50.0, 0.05),
    "jewelry": (120.0, 0.06),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)
CATEGORY_WEIGHT = np.array([v[1] for v in CATEGORIES.values()])
PRODUCTS_PER_CATEGORY = 200
PRICE_SIGMA = 0.6  # product prices ~ LogNormal(log(median), 0.6), at least 1.99
POPULARITY_SKEW = 2.5  # product rank within a price tier = floor(n * u ** 2.5): a few best sellers


@dataclass(frozen=True)
class Catalog:
    """Products (sorted by category, then price) and streaming content ids."""

    product_ids: list[str]
    product_category: list[str]
    price_cents: np.ndarray  # int64, per product
    tier_start: np.ndarray  # [category, tier] -> first product index of that price tier
    tier_size: np.ndarray  # [category, tier] -> number of products in that price tier
    content_ids: list[list[str]]  # [content category][rank]

    @property
    def price(self) -> list[float]:
        """Prices per product in currency units (``price_cents / 100``)."""
        return (self.price_cents / 100).tolist()


def build_catalog(rng: np.random.Generator) -> Catalog:
    """The product catalog: PRODUCTS_PER_CATEGORY products per category, split into 3 price tiers."""
    ids: list[str] = []
    cats: list[str] = []
    prices = []
    n_cat = len(CATEGORY_NAMES)
    tier_start = np.zeros((n_cat, 3), dtype=np.int64)
    tier_size = np.zeros((n_cat, 3), dtype=np.int64)
    for c, (name, (median, _)) in enumerate(CATEGORIES.items()):
        cents = np.sort(np.maximum(199, np.round(median * rng.lognormal(0, PRICE_SIGMA, PRODUCTS_PER_CATEGORY))
                                   .astype(np.int64) * 100 - 1))
        base = len(ids)
        bounds = np.linspace(0, PRODUCTS_PER_CATEGORY, 4).astype(np.int64)
        tier_start[c] = base + bounds[:3]
        tier_size[c] = np.diff(bounds)
        ids.extend(f"p{base + i:05d}" for i in range(PRODUCTS_PER_CATEGORY))
        cats.extend([name] * PRODUCTS_PER_CATEGORY)
        prices.append(cents)
    content = [[f"v-{cat}-{k:04d}" for k in range(CONTENT_PER_CATEGORY)] for cat in CONTENT_CATEGORIES]
    return Catalog(ids, cats, np.concatenate(prices), tier_start, tier_size, content)
