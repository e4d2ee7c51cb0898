"""Deterministic demo data for strata: raw `orders` and `sessions`, realistic and ~1% dirty.

The model, in UTC instants up to the end of `end_date`:

* Users join over the two years before `end_date` at a rate that grows tenfold over the period (a
  young, growing business), so about one buyer in six has not bought for a year. Each user
  has a currency, a home time-zone offset that fits it, and one way of writing timestamps (local
  time with its offset, UTC with `Z`, or UTC without an offset).
* A user visits as a Poisson process: the first session is on the join date, then a per-user rate
  (lognormal, median 1.5 sessions a week, a few heavy users at 10+) over a lifetime that is short
  for bouncers and exponential for the rest. Some users fade out gradually (the rate decays over
  the lifetime) instead of stopping dead; about 13% of those who stopped come back after a 45-200
  day gap for a second spell. Weekends are 1.3x busier and visits follow a daily profile in the
  user's local time.
* A session converts into an order with the user's own propensity: about three users in four never
  buy, and buyers stay longer than browsers. The amount follows the user's basket (lognormal,
  heavy-tailed, a few big spenders) in the user's currency. Statuses are mostly completed; pending
  concentrates in the last days.
* About 5% of sessions are anonymous; 15 internal/test accounts are mixed in.
* About 1% of the rows of each file are made dirty on top of realistic rows of regular users, one
  kind per row, counted in `GenerateResult.dirty_rows`. Between them the kinds exercise every
  quarantine reason of the staging layer: missing, blank, unparseable and future values of every
  checked column, negative amounts and page views, unknown currencies and statuses, legacy
  imports placed before the first month of the rate seed (2023-01, so no exchange rate), exact
  and conflicting re-deliveries, and later versions of orders.

Every column is written as text, in Parquet as in CSV, as a raw landing zone keeps it, so that a
bad value can be there at all: timestamps as ISO-8601 text, `amount` as a plain decimal with two
places (`12.50`), `page_views` as a whole number (`3`) and `added_to_cart` as `true`/`false`;
an absent value is null. Everything is vectorised with numpy from one `Generator(PCG64(seed))`;
DuckDB only formats the text columns (order-preserving) and pyarrow writes the files, so the same
arguments give the same rows in the same order. CSV quotes every text value (RFC 4180), so a blank
id reads back as blank text and an empty field as null.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["FORMATS", "ORDER_DIRT_KINDS", "SESSION_DIRT_KINDS", "GenerateResult", "generate"]

FORMATS: tuple[str, ...] = ("parquet", "csv")

ORDER_DIRT_KINDS: tuple[str, ...] = (
    "orders.null_order_id",
    "orders.blank_order_id",
    "orders.null_user_id",
    "orders.blank_user_id",
    "orders.missing_ordered_at",
    "orders.unparseable_ordered_at",
    "orders.future_ordered_at",
    "orders.unparseable_updated_at",
    "orders.future_updated_at",
    "orders.missing_amount",
    "orders.unparseable_amount",
    "orders.negative_amount",
    "orders.unknown_currency",
    "orders.backdated_before_rates",
    "orders.unknown_status",
    "orders.messy_status",
    "orders.exact_duplicate",
    "orders.redelivered_version",
)
SESSION_DIRT_KINDS: tuple[str, ...] = (
    "sessions.null_session_id",
    "sessions.blank_session_id",
    "sessions.missing_started_at",
    "sessions.unparseable_started_at",
    "sessions.future_started_at",
    "sessions.unparseable_ended_at",
    "sessions.future_ended_at",
    "sessions.ended_before_started",
    "sessions.too_long",
    "sessions.unparseable_page_views",
    "sessions.negative_page_views",
    "sessions.unparseable_added_to_cart",
    "sessions.duplicate_conflict",
    "sessions.exact_duplicate",
)
# Share of each file's dirty rows that each kind takes (the weights sum to 1).
_ORDER_DIRT_WEIGHTS = (
    *(0.04, 0.04, 0.04, 0.04),  # ids
    *(0.04, 0.06, 0.04, 0.05, 0.04),  # ordered_at, updated_at
    *(0.05, 0.06, 0.05),  # amount
    *(0.05, 0.05),  # currency, rates
    *(0.05, 0.08),  # status
    *(0.11, 0.11),  # re-deliveries
)
_SESSION_DIRT_WEIGHTS = (
    *(0.07, 0.06),  # ids
    *(0.06, 0.08, 0.06),  # started_at
    *(0.06, 0.05, 0.08, 0.08),  # ended_at
    *(0.06, 0.05, 0.06),  # page_views, added_to_cart
    *(0.10, 0.13),  # re-deliveries
)
DIRTY_SHARE = 0.01
# From this many users on, every dirty kind appears at least once.
_EVERY_KIND_FROM_USERS = 1000
_BATCH_ROWS = 1 << 20

# Dirty-kind codes carried per row (0 = clean); the index in the tuples above, plus one.
(
    _O_NULL_ID,
    _O_BLANK_ID,
    _O_NULL_USER,
    _O_BLANK_USER,
    _O_MISSING_TIME,
    _O_BAD_TIME,
    _O_FUTURE,
    _O_BAD_UPDATED,
    _O_FUTURE_UPDATED,
    _O_MISSING_AMOUNT,
    _O_BAD_AMOUNT,
    _O_NEGATIVE,
    _O_CURRENCY,
    _O_BACKDATED,
    _O_UNKNOWN_STATUS,
    _O_MESSY_STATUS,
    _O_DUPLICATE,
    _O_REDELIVERED,
) = range(1, len(ORDER_DIRT_KINDS) + 1)
(
    _S_NULL_ID,
    _S_BLANK_ID,
    _S_MISSING_TIME,
    _S_BAD_TIME,
    _S_FUTURE,
    _S_BAD_END,
    _S_FUTURE_END,
    _S_ENDED_BEFORE,
    _S_TOO_LONG,
    _S_BAD_PAGE_VIEWS,
    _S_NEGATIVE_PAGE_VIEWS,
    _S_BAD_CART,
    _S_CONFLICT,
    _S_DUPLICATE,
) = range(1, len(SESSION_DIRT_KINDS) + 1)
# Legacy imports land before the first month of the rate seed (2023-01), so they have no rate.
_FIRST_RATE_DAY = (dt.date(2023, 1, 1) - dt.date(1970, 1, 1)).days

DAY = 86_400
HISTORY_DAYS = 730
INTERNAL_USERS: tuple[str, ...] = (
    *(f"test_user_{i:02d}" for i in range(1, 11)),
    *(f"staff_{i:04d}" for i in range(1, 6)),
)

# Currencies: population share, units per USD and the home offsets (minutes) of their users.
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD")
_CURRENCY_SHARE = np.array([0.62, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03])
_UNITS_PER_USD = np.array([1.0, 0.92, 0.78, 150.0, 7.2, 1.37, 1.52])
_OFFSETS = np.array([0, 60, 120, 540, 480, -300, -360, -480, 330, 600, -420, 660], dtype=np.int16)
_OFFSET_BY_CURRENCY = np.array(
    [
        # +00 +01 +02 +09 +08  -05  -06 -08 +0530 +10 -07 +11
        [0, 0, 0, 0, 0, 0.45, 0.2, 0.2, 0.1, 0, 0.05, 0],  # USD
        [0, 0.7, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # EUR
        [0.8, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # GBP
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],  # JPY
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],  # CNY
        [0, 0, 0, 0, 0, 0.6, 0, 0.3, 0, 0, 0.1, 0],  # CAD
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0, 0.3],  # AUD
    ]
)
# How a user's timestamps are written: local time with offset, UTC with `Z`, UTC without offset.
_STYLE_LOCAL, _STYLE_Z, _STYLE_NAIVE = 0, 1, 2
_STYLE_SHARE = np.array([0.5, 0.3, 0.2])

# Local hour-of-day profile of visits, and the weekend lift.
_HOUR_WEIGHTS = np.array(
    [
        *(0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.2, 1.3, 1.3, 1.4),
        *(1.6, 1.5, 1.3, 1.3, 1.4, 1.6, 1.9, 2.2, 2.3, 2.1, 1.6, 1.0),
    ]
)
_WEEKEND_LIFT = 1.3
_DAY_WEIGHT_MEAN = (5 + 2 * _WEEKEND_LIFT) / 7

# Behaviour: archetype shares and lifetimes (days), reactivation, conversion and baskets.
_BOUNCER_SHARE, _DECLINER_SHARE = 0.28, 0.25
_BOUNCER_LIFETIME, _STEADY_LIFETIME, _DECLINER_LIFETIME = 4.0, 30.0, 42.0
_DECLINE_TO = 0.2  # a decliner's visit rate at the end of its lifetime, relative to its start
_REACTIVATION_SHARE = 0.13
_RETURN_LIFETIME = 50.0
# Share of users who ever buy, for bouncers and the rest; buying keeps a user around longer.
_BUYER_SHARE = (0.12, 0.38)
_BUYER_LIFETIME_LIFT = 1.6
_ANONYMOUS_SHARE = 0.05

STATUSES: tuple[str, ...] = ("completed", "cancelled", "refunded", "pending")
_COMPLETED, _CANCELLED, _REFUNDED, _PENDING = range(4)

# Platform spellings: the three canonical ones, odd but valid spellings, and other devices.
PLATFORM_TEXTS: tuple[str, ...] = (
    "web",
    "ios",
    "android",
    " Web",
    "Web ",
    "WEB",
    "iOS",
    "IOS",
    "ANDROID",
    "Android",
    "smart-tv",
    "kiosk",
)
_ODD_SPELLINGS = ((3, 4, 5), (6, 7), (8, 9))
_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "StrataShop/4.2.1 (iPhone; iOS 17.4; Scale/3.00)",
    "StrataShop/4.1.0 (iPad; iOS 16.7; Scale/2.00)",
    "StrataShop/4.2.0 (iPhone; iOS 18.0; Scale/3.00)",
    "StrataShop/4.2.1 (Linux; Android 14; Pixel 8)",
    "StrataShop/4.0.3 (Linux; Android 13; SM-S911B)",
    "StrataShop/4.2.0 (Linux; Android 12; Redmi Note 11)",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 SamsungBrowser/5.0 TV",
    "Mozilla/5.0 (X11; Linux armv7l) KioskBrowser/2.3",
)

_FIRST_NAMES = (
    "ann", "bo", "carla", "deng", "emeka", "fatima", "george", "hana", "ivan", "jun",
    "kofi", "lucia", "mehmet", "nina", "omar", "priya", "quinn", "rosa", "sven", "tariq",
    "ursula", "viktor", "wen", "ximena", "yusuf", "zoe",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "garcia", "mueller", "tanaka", "wang", "okafor", "silva", "kowalski", "nguyen",
    "rossi", "o'brien", "haddad", "johansson", "patel", "kim", "dubois", "novak", "mendes",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_STREETS = (
    "Main St", "Elm Rd", "Oak Avenue", "High Street", "Station Rd", "Maple Drive",
    "Church Lane", "Mill Road", "O'Connell Street", "Rue de la Paix", "Harbour View",
    "Sakura-dori", "King's Parade", "Birch Court",
)  # fmt: skip
_CITIES = (
    "Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Kingston",
    "Portsmouth", "Osaka", "Lyon", "Toronto", "Perth", "Hangzhou", "Austin", "Leeds",
)  # fmt: skip
_BLANKS = (" ", "  ", "   ")
_UNKNOWN_STATUSES = ("shipped", "on hold", "processing", "returned", "payment_failed")
_UNKNOWN_CURRENCIES = ("XXX", "ABC", "US$", "EURO", "RMB")
_BAD_CART_TEXTS = ("maybe", "unknown", "n/a", "2", "yes please")

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class GenerateResult:
    """What `generate` wrote: the two files, their row counts and the dirty rows among them."""

    orders_path: Path
    sessions_path: Path
    orders_rows: int
    sessions_rows: int
    dirty_rows: dict[str, int]
    seconds: float
    users: int  # simulated users, without the internal accounts
    internal_users: int
    end_date: dt.date
    fmt: str


def generate(
    users: int, seed: int, end_date: dt.date, out_dir: Path, fmt: str = "parquet"
) -> GenerateResult:
    """Write `orders` and `sessions` for `users` simulated users (plus 15 internal accounts).

    Files are `orders.<fmt>` and `sessions.<fmt>` in `out_dir` (created if missing); an existing
    file is replaced atomically. The same arguments always give the same rows in the same order.
    """
    started = time.perf_counter()
    if isinstance(users, bool) or not isinstance(users, int | np.integer):
        raise ValueError(f"users must be an integer, got {users!r}")
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if isinstance(end_date, dt.datetime):
        end_date = end_date.date()
    if not isinstance(end_date, dt.date):
        raise ValueError(f"end_date must be a datetime.date, got {end_date!r}")
    if not 1972 <= end_date.year <= 9000:
        raise ValueError(f"end_date must fall in the years 1972-9000, got {end_date}")
    users = int(users)

    rng = np.random.Generator(np.random.PCG64(int(seed)))
    t_end = int((end_date - dt.date(1970, 1, 1)).days + 1) * DAY  # exclusive, UTC
    everyone = _simulate_users(rng, users, t_end)
    sessions = _simulate_sessions(rng, everyone, t_end)
    orders = _simulate_orders(rng, everyone, sessions, t_end)
    every_kind = users >= _EVERY_KIND_FROM_USERS
    orders, order_dirt = _dirty_orders(rng, orders, users, t_end, every_kind)
    sessions, session_dirt = _dirty_sessions(rng, sessions, users, t_end, every_kind)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    orders_path = out_dir / f"orders.{fmt}"
    sessions_path = out_dir / f"sessions.{fmt}"
    con = _connect()
    try:
        _install_macros(con, users)
        _write(con, _orders_sql(orders), orders, orders_path, fmt)
        _write(con, _sessions_sql(sessions), sessions, sessions_path, fmt)
    finally:
        con.close()
    return GenerateResult(
        orders_path=orders_path,
        sessions_path=sessions_path,
        orders_rows=len(orders["key"]),
        sessions_rows=len(sessions["key"]),
        dirty_rows={**order_dirt, **session_dirt},
        seconds=time.perf_counter() - started,
        users=users,
        internal_users=len(INTERNAL_USERS),
        end_date=end_date,
        fmt=fmt,
    )


# ---------------------------------------------------------------------------------------------
# simulation


def _categorical(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """Draw `size` category indices with the given probabilities."""
    cdf = np.cumsum(probabilities / probabilities.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def _at_local_hour(rng: np.random.Generator, t: np.ndarray, offset_min: np.ndarray) -> np.ndarray:
    """Move each instant to a time of its local day drawn from the hour-of-day profile."""
    shift = offset_min.astype(np.int64) * 60
    local_day = np.floor_divide(t + shift, DAY)
    hour = _categorical(rng, _HOUR_WEIGHTS, len(t))
    seconds = hour * 3600 + rng.integers(0, 3600, len(t))
    return local_day * DAY + seconds - shift


def _simulate_users(rng: np.random.Generator, n: int, t_end: int) -> Columns:
    """Per-user traits; regular users come first in join order, then the internal accounts."""
    n_int = len(INTERNAL_USERS)
    total = n + n_int
    t0 = t_end - HISTORY_DAYS * DAY
    # Joins per day at the end of the window, relative to its start. With slower growth, over a
    # fifth of buyers have not bought within a year, and since tied buyers share the lowest F
    # score, F = 1 would only ever hold such lapsed buyers: no recent buyer could be a
    # `new_customer` or `promising`, which a demo should show.
    growth = 10.0
    u = np.sort(rng.random(n))
    frac = np.concatenate(
        [np.log1p(u * (growth - 1)) / np.log(growth), rng.uniform(0.05, 0.8, n_int)]
    )
    currency = _categorical(rng, _CURRENCY_SHARE, total).astype(np.int8)
    cdf = np.cumsum(_OFFSET_BY_CURRENCY, axis=1)[currency]
    tz = np.minimum((rng.random(total)[:, None] >= cdf).sum(axis=1), len(_OFFSETS) - 1)
    offset = _OFFSETS[tz]
    style = _categorical(rng, _STYLE_SHARE, total).astype(np.int8)

    first = _at_local_hour(rng, t0 + np.floor(frac * HISTORY_DAYS * DAY).astype(np.int64), offset)
    first = np.where(first >= t_end, first - DAY, first)
    first = np.where(first < t0, first + DAY, first)

    rate = np.clip(np.exp(rng.normal(np.log(1.5), 0.8, total)), 0.05, 30.0) / 7  # per day
    archetype = _categorical(
        rng,
        np.array([_BOUNCER_SHARE, 1 - _BOUNCER_SHARE - _DECLINER_SHARE, _DECLINER_SHARE]),
        total,
    )
    engaged = np.clip((rate * 7 / 1.5) ** 0.3, 0.5, 3.0)
    mean_life = np.array([_BOUNCER_LIFETIME, _STEADY_LIFETIME, _DECLINER_LIFETIME])[archetype]
    buyer = rng.random(total) < np.where(archetype == 0, _BUYER_SHARE[0], _BUYER_SHARE[1])
    lift = np.where(archetype == 0, 1.0, engaged * np.where(buyer, _BUYER_LIFETIME_LIFT, 1.0))
    lifetime = rng.exponential(1.0, total) * mean_life * lift
    decay = np.where(archetype == 2, np.log(1 / _DECLINE_TO) / np.maximum(lifetime, 1.0), 0.0)

    propensity = np.where(
        buyer, np.minimum(rng.beta(3.0, 7.0, total) * (rate * 7 / 1.5) ** -0.35, 0.9), 0.0
    )
    basket = np.exp(rng.normal(np.log(32.0), 0.65, total))
    basket *= np.where(rng.random(total) < 0.02, np.exp(rng.normal(np.log(6.0), 0.4, total)), 1)

    plat1 = _categorical(rng, np.array([0.5, 0.28, 0.22]), total)
    plat2 = (plat1 + rng.integers(1, 3, total)) % 3
    plat1_share = np.where(rng.random(total) < 0.2, 0.7, 1.0)

    # internal accounts: a few weeks of steady use, buying often
    internal = np.arange(total) >= n
    rate[internal] = 2.0 / 7
    lifetime[internal] = rng.uniform(15.0, 40.0, n_int)
    decay[internal] = 0.0
    propensity[internal] = 0.5
    archetype[internal] = 1

    return {
        "first": first,
        "tz": tz.astype(np.int8),
        "offset": offset,
        "style": style,
        "currency": currency,
        "rate": rate,
        "lifetime": lifetime,
        "decay": decay,
        "propensity": propensity,
        "basket": basket,
        "plat1": plat1.astype(np.int8),
        "plat2": plat2.astype(np.int8),
        "plat1_share": plat1_share,
        "ip": rng.integers(0x0B000000, 0xDF000000, total, dtype=np.uint32),
        "ua": rng.integers(0, 3, total).astype(np.int8),
        "first_name": rng.integers(0, len(_FIRST_NAMES), total).astype(np.int16),
        "last_name": rng.integers(0, len(_LAST_NAMES), total).astype(np.int16),
        "email_no": rng.integers(1, 1000, total).astype(np.int16),
        "domain": rng.integers(0, len(_EMAIL_DOMAINS), total).astype(np.int8),
        "house_no": rng.integers(1, 400, total).astype(np.int16),
        "street": rng.integers(0, len(_STREETS), total).astype(np.int8),
        "city": rng.integers(0, len(_CITIES), total).astype(np.int8),
        "internal": internal,
    }


def _spell_visits(
    rng: np.random.Generator,
    owner: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    rate: np.ndarray,
    decay: np.ndarray,
    offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Visits of a Poisson process over each spell [start, end) with rate `rate * exp(-decay*t)`.

    Candidates are drawn at the weekend rate and thinned on weekdays; each kept visit then gets
    a local time of day from the hour profile. Returns (owner, instant) per visit.
    """
    days = np.maximum(end - start, 0) / DAY
    mass = np.where(decay > 0, -np.expm1(-decay * days) / np.where(decay > 0, decay, 1), days)
    counts = rng.poisson(mass * rate * _WEEKEND_LIFT / _DAY_WEIGHT_MEAN)
    spell = np.repeat(np.arange(len(start)), counts)
    u = rng.random(len(spell))
    k = decay[spell]
    span = days[spell]
    safe_k = np.where(k > 0, k, 1.0)
    rel = np.where(k > 0, -np.log1p(u * np.expm1(-safe_k * span)) / safe_k, u * span)
    t = start[spell] + np.floor(rel * DAY).astype(np.int64)
    shift = offset[spell].astype(np.int64) * 60
    weekday = (np.floor_divide(t + shift, DAY) + 3) % 7  # Monday = 0
    keep = rng.random(len(t)) * _WEEKEND_LIFT < np.where(weekday >= 5, _WEEKEND_LIFT, 1.0)
    spell, t = spell[keep], t[keep]
    return owner[spell], _at_local_hour(rng, t, offset[spell])


def _simulate_sessions(rng: np.random.Generator, people: Columns, t_end: int) -> Columns:
    """All sessions (users' and anonymous), sorted by start, with their traits."""
    total = len(people["first"])
    ids = np.arange(total)
    first = people["first"]
    rate, decay, offset = people["rate"], people["decay"], people["offset"]
    stop = first + np.floor(people["lifetime"] * DAY).astype(np.int64)

    # second spells: some of those who stopped come back after a long gap
    back = (
        (rng.random(total) < _REACTIVATION_SHARE) & (stop + 45 * DAY < t_end) & ~people["internal"]
    )
    gap = np.floor(rng.uniform(46.0, 200.0, total) * DAY).astype(np.int64)
    back_at = _at_local_hour(rng, stop + gap, offset)
    back &= (back_at < t_end) & (back_at > stop)
    r = np.flatnonzero(back)
    r_stop = back_at[r] + np.floor(rng.exponential(_RETURN_LIFETIME, len(r)) * DAY).astype(np.int64)
    r_rate = rate[r] * rng.uniform(0.5, 1.2, len(r))

    u1, t1 = _spell_visits(rng, ids, first, np.minimum(stop, t_end), rate, decay, offset)
    u2, t2 = _spell_visits(
        rng, r, back_at[r], np.minimum(r_stop, t_end), r_rate, np.zeros(len(r)), offset[r]
    )
    user = np.concatenate([ids, r, u1, u2]).astype(np.int32)
    start = np.concatenate([first, back_at[r], t1, t2])
    forced = np.zeros(len(user), dtype=bool)
    forced[: total + len(r)] = True
    ok = forced | ((start > first[user]) & (start < t_end))
    user, start = user[ok], start[ok]  # the join sessions stay the first `total` rows

    # anonymous visitors, around the times real users visit
    n_anon = round(len(user) * _ANONYMOUS_SHARE / (1 - _ANONYMOUS_SHARE))
    anon_start = start[rng.integers(0, len(start), n_anon)]
    moved = anon_start + rng.integers(-3, 4, n_anon) * DAY + rng.integers(-1800, 1800, n_anon)
    inside = (moved >= t_end - HISTORY_DAYS * DAY) & (moved < t_end)
    anon_start = np.where(inside, moved, anon_start)

    n_user = len(user)
    n = n_user + n_anon
    anonymous = np.arange(n) >= n_user
    uidx = np.where(anonymous, 0, np.concatenate([user, np.zeros(n_anon, np.int32)]))

    anon_tz = _categorical(rng, np.bincount(people["tz"], minlength=len(_OFFSETS)) + 1.0, n_anon)
    tz = np.concatenate([people["tz"][user], anon_tz.astype(np.int8)])
    style = np.concatenate(
        [people["style"][user], _categorical(rng, _STYLE_SHARE, n_anon).astype(np.int8)]
    )
    base_platform = np.concatenate(
        [
            np.where(
                rng.random(n_user) < people["plat1_share"][user],
                people["plat1"][user],
                people["plat2"][user],
            ),
            _categorical(rng, np.array([0.7, 0.15, 0.15]), n_anon),
        ]
    ).astype(np.int8)
    # odd but valid spellings, and a few other devices
    platform = base_platform.copy()
    draw = rng.random(n)
    pick = rng.integers(0, 6, n)
    for canonical, spellings in enumerate(_ODD_SPELLINGS):
        odd = (draw < 0.02) & (base_platform == canonical)
        platform[odd] = np.asarray(spellings, dtype=np.int8)[pick[odd] % len(spellings)]
    other = draw > 0.994
    platform[other] = np.where(draw[other] > 0.998, 11, 10)
    ua_platform = np.where(platform == 10, 3, np.where(platform == 11, 4, base_platform))

    propensity = np.where(anonymous, 0.0, people["propensity"][uidx])
    converted = rng.random(n) < propensity
    converted[:total] |= people["internal"]  # internal accounts buy on their first visit
    duration = np.exp(rng.normal(np.log(360.0), 1.0, n)) * np.where(converted, 1.8, 1.0)
    duration = np.clip(np.round(duration), 5, 3 * 3600).astype(np.int64)
    page_views = 1 + rng.poisson(0.9 * (duration / 60.0) ** 0.8)
    page_views = np.where(rng.random(n) < 0.02, -1, np.minimum(page_views, 500)).astype(np.int32)
    cart = np.where(converted, rng.random(n) < 0.96, rng.random(n) < 0.12).astype(np.int8)
    cart[rng.random(n) < 0.03] = -1
    start_all = np.concatenate([start, anon_start])
    ended_null = (rng.random(n) < 0.02) | (start_all + duration >= t_end)

    user_ip = people["ip"][uidx]
    random_ip = rng.integers(0x0B000000, 0xDF000000, n, dtype=np.uint32)
    ip = np.where(anonymous | (rng.random(n) < 0.2), random_ip, user_ip)
    ua_variant = np.where(anonymous, rng.integers(0, 3, n), people["ua"][uidx])
    user_agent = np.where(ua_platform < 3, ua_platform * 3 + ua_variant, 6 + ua_platform)

    sessions: Columns = {
        "user": np.where(anonymous, -1, uidx).astype(np.int32),
        "start": start_all,
        "duration": duration,
        "ended_null": ended_null,
        "tz": tz,
        "style": style,
        "platform": platform,
        "page_views": page_views,
        "cart": cart,
        "converted": converted,
        "ip": ip,
        "user_agent": user_agent.astype(np.int8),
    }
    order = np.argsort(sessions["start"], kind="stable")
    sessions = {name: column[order] for name, column in sessions.items()}
    sessions["id"] = np.arange(1, n + 1, dtype=np.int64)
    sessions["key"] = sessions["start"].copy()
    return sessions


def _simulate_orders(
    rng: np.random.Generator, people: Columns, sessions: Columns, t_end: int
) -> Columns:
    """One order per converting session, sorted by order time."""
    src = np.flatnonzero(sessions["converted"])
    n = len(src)
    user = sessions["user"][src]
    start, duration = sessions["start"][src], sessions["duration"][src]
    t = start + np.floor(duration * rng.uniform(0.3, 0.95, n)).astype(np.int64)
    t = np.minimum(np.maximum(t, start + 1), t_end - 1)

    age = (t_end - t) / DAY
    pending = rng.random(n) < np.where(age < 3, 0.6, np.where(age < 10, 0.2, 0.035))
    settled = _categorical(rng, np.array([0.85, 0.06, 0.05]), n)
    status = np.where(pending, _PENDING, settled).astype(np.int8)
    delay = np.select(
        [status == _COMPLETED, status == _CANCELLED, status == _REFUNDED],
        [
            rng.uniform(60, 7200, n),
            rng.uniform(300, 2 * DAY, n),
            rng.uniform(DAY, 30 * DAY, n),
        ],
        rng.uniform(0, 600, n),
    )
    updated = np.minimum(t + np.floor(delay).astype(np.int64), t_end - 1)
    updated_null = rng.random(n) < 0.08

    currency = people["currency"][user]
    usd = people["basket"][user] * np.exp(rng.normal(0.0, 0.45, n))
    local = np.maximum(usd, 1.0) * _UNITS_PER_USD[currency]
    whole = currency == CURRENCIES.index("JPY")
    cents = np.where(whole, np.round(local) * 100, np.round(local * 100)).astype(np.int64)

    orders: Columns = {
        "user": user,
        "t": t,
        "status": status,
        "cents": cents,
        "currency": currency,
        "updated": updated,
        "updated_null": updated_null,
        "tz": sessions["tz"][src],
        "style": sessions["style"][src],
    }
    order = np.argsort(t, kind="stable")
    orders = {name: column[order] for name, column in orders.items()}
    for trait in ("first_name", "last_name", "email_no", "domain", "house_no", "street", "city"):
        orders[trait] = people[trait][orders["user"]]
    orders["id"] = np.arange(1, n + 1, dtype=np.int64)
    orders["key"] = orders["t"].copy()
    return orders


# ---------------------------------------------------------------------------------------------
# dirt


def _dirt_counts(rows: int, weights: tuple[float, ...], every_kind: bool) -> np.ndarray:
    """How many rows each dirty kind gets: ~DIRTY_SHARE of `rows`, split by largest remainder."""
    target = rows * DIRTY_SHARE
    exact = target * np.asarray(weights)
    counts = np.floor(exact).astype(np.int64)
    short = round(target) - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    if every_kind:
        counts = np.maximum(counts, 1)
    return counts


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """`k` distinct members of `pool` (fewer if the pool is smaller)."""
    k = min(k, len(pool))
    return pool[rng.choice(len(pool), k, replace=False)] if k else pool[:0]


def _append(columns: Columns, extra: Columns) -> Columns:
    return {name: np.concatenate([column, extra[name]]) for name, column in columns.items()}


def _choose_rows(
    rng: np.random.Generator,
    counts: np.ndarray,
    eligible: np.ndarray,
    pools: tuple[tuple[int, np.ndarray], ...],
) -> dict[int, np.ndarray]:
    """Distinct rows for every dirty kind: those with a pool of their own first, in the order
    given, then the others from the remaining `eligible` rows, so no row gets two kinds."""
    used = np.zeros(len(eligible), dtype=bool)
    rows_of: dict[int, np.ndarray] = {}
    for code, pool in pools:
        rows_of[code] = _pick(rng, np.flatnonzero(pool & ~used), int(counts[code - 1]))
        used[rows_of[code]] = True
    rest = [c for c in range(1, len(counts) + 1) if c not in rows_of]
    chosen = _pick(rng, np.flatnonzero(eligible & ~used), int(sum(counts[c - 1] for c in rest)))
    bounds = np.cumsum([0, *(int(counts[c - 1]) for c in rest)])
    for j, code in enumerate(rest):
        rows_of[code] = chosen[bounds[j] : bounds[j + 1]]
    return rows_of


def _future(rng: np.random.Generator, t_end: int, k: int) -> np.ndarray:
    """`k` instants 30 to 400 days after the end of the data (a clock far off, not just skewed)."""
    return t_end + np.floor(rng.uniform(30.0, 400.0, k) * DAY).astype(np.int64)


def _dirty_orders(
    rng: np.random.Generator, orders: Columns, n_users: int, t_end: int, every_kind: bool
) -> tuple[Columns, dict[str, int]]:
    n = len(orders["key"])
    counts = _dirt_counts(n, _ORDER_DIRT_WEIGHTS, every_kind)
    regular = orders["user"] < n_users
    status = orders["status"]

    # a second, later version of an order: completed -> refunded, pending -> completed/cancelled
    k = int(counts[_O_REDELIVERED - 1])
    room = regular & (orders["t"] < t_end - 3600)
    pend = _pick(rng, np.flatnonzero(room & (status == _PENDING)), (k * 3 + 9) // 10)
    done = _pick(rng, np.flatnonzero(room & (status == _COMPLETED)), k - len(pend))
    redelivered = np.concatenate([pend, done])
    not_redelivered = np.ones(n, dtype=bool)
    not_redelivered[redelivered] = False
    eligible = regular & not_redelivered
    # a legacy import needs a currency other than USD: a USD order needs no rate at all
    foreign = eligible & (orders["currency"] != CURRENCIES.index("USD"))
    in_place = counts.copy()
    in_place[_O_REDELIVERED - 1] = 0  # chosen above
    rows_of = _choose_rows(rng, in_place, eligible, ((_O_BACKDATED, foreign),))
    rows_of[_O_REDELIVERED] = redelivered

    kind = np.zeros(n, dtype=np.int8)
    for code, rows in rows_of.items():
        if code not in (_O_DUPLICATE, _O_REDELIVERED):
            kind[rows] = code
    orders = {**orders, "kind": kind, "variant": rng.integers(0, 1000, n).astype(np.int16)}

    future = rows_of[_O_FUTURE]
    orders["t"][future] = _future(rng, t_end, len(future))
    orders["updated_null"][future] = True
    future_updated = rows_of[_O_FUTURE_UPDATED]
    orders["updated"][future_updated] = _future(rng, t_end, len(future_updated))
    # an unparseable updated_at garbles a time that is there
    orders["updated_null"][np.concatenate([future_updated, rows_of[_O_BAD_UPDATED]])] = False
    orders["cents"][rows_of[_O_NEGATIVE]] *= -1

    # legacy imports: placed in the two years before the rate seed starts (or before the data
    # starts, if that is earlier), delivered now; `updated_at` keeps its distance to `ordered_at`
    backdated = rows_of[_O_BACKDATED]
    last_day = min(_FIRST_RATE_DAY, t_end // DAY - HISTORY_DAYS) - 2
    day = last_day - rng.integers(0, 2 * 365 - 2, len(backdated))
    offset = _OFFSETS[orders["tz"][backdated]]
    placed = _at_local_hour(rng, day * DAY + DAY // 2 - offset.astype(np.int64) * 60, offset)
    orders["updated"][backdated] += placed - orders["t"][backdated]
    orders["t"][backdated] = placed

    duplicates = {name: column[rows_of[_O_DUPLICATE]] for name, column in orders.items()}
    duplicates["key"] = duplicates["key"] + rng.integers(60, 2 * DAY, len(duplicates["key"]))
    duplicates["kind"] = np.full(len(duplicates["key"]), _O_DUPLICATE, dtype=np.int8)

    later = {name: column[redelivered] for name, column in orders.items()}
    m = len(redelivered)
    base = np.where(later["updated_null"], later["t"], later["updated"])
    wait = np.minimum(
        rng.uniform(1.0, 30.0, m) * DAY, (t_end - 1 - base) * rng.uniform(0.3, 0.9, m)
    )
    later["updated"] = np.minimum(base + np.maximum(np.floor(wait), 1).astype(np.int64), t_end - 1)
    later["updated_null"] = np.zeros(m, dtype=bool)
    was_pending = later["status"] == _PENDING
    later["status"] = np.where(
        was_pending,
        np.where(rng.random(m) < 0.75, _COMPLETED, _CANCELLED),
        _REFUNDED,
    ).astype(np.int8)
    later["key"] = later["updated"].copy()
    later["kind"] = np.full(m, _O_REDELIVERED, dtype=np.int8)

    orders = _append(_append(orders, duplicates), later)
    order = np.argsort(orders["key"], kind="stable")
    orders = {name: column[order] for name, column in orders.items()}
    return orders, {name: len(rows_of[i + 1]) for i, name in enumerate(ORDER_DIRT_KINDS)}


def _dirty_sessions(
    rng: np.random.Generator, sessions: Columns, n_users: int, t_end: int, every_kind: bool
) -> tuple[Columns, dict[str, int]]:
    n = len(sessions["key"])
    counts = _dirt_counts(n, _SESSION_DIRT_WEIGHTS, every_kind)
    user = sessions["user"]
    regular = (user >= 0) & (user < n_users)
    # kinds that need an end time (and room before the end of data) are chosen first
    has_end = regular & ~sessions["ended_null"]
    rows_of = _choose_rows(
        rng,
        counts,
        regular,
        (
            (_S_TOO_LONG, has_end & (sessions["start"] < t_end - 4 * DAY)),
            (_S_ENDED_BEFORE, has_end),
            (_S_BAD_END, has_end),
        ),
    )

    kind = np.zeros(n, dtype=np.int8)
    for code, rows in rows_of.items():
        if code not in (_S_CONFLICT, _S_DUPLICATE):
            kind[rows] = code
    sessions = {**sessions, "kind": kind, "variant": rng.integers(0, 1000, n).astype(np.int16)}

    future = rows_of[_S_FUTURE]
    sessions["start"][future] = _future(rng, t_end, len(future))
    sessions["ended_null"][future] = True
    # An end far in the future also makes the session last far longer than 24 hours, so staging
    # quarantines such a row as both `future_ended_at` and `session_too_long`: one dirty kind,
    # two reasons, as a clock that is off would really give.
    future_end = rows_of[_S_FUTURE_END]
    sessions["duration"][future_end] = (
        _future(rng, t_end, len(future_end)) - sessions["start"][future_end]
    )
    sessions["ended_null"][future_end] = False
    backwards = rows_of[_S_ENDED_BEFORE]
    sessions["duration"][backwards] = -rng.integers(60, 3 * 3600, len(backwards))
    too_long = rows_of[_S_TOO_LONG]
    sessions["duration"][too_long] = rng.integers(30 * 3600, 72 * 3600, len(too_long))

    duplicates = {name: column[rows_of[_S_DUPLICATE]] for name, column in sessions.items()}
    duplicates["key"] = duplicates["key"] + rng.integers(60, 2 * DAY, len(duplicates["key"]))
    duplicates["kind"] = np.full(len(duplicates["key"]), _S_DUPLICATE, dtype=np.int8)

    conflicts = {name: column[rows_of[_S_CONFLICT]] for name, column in sessions.items()}
    m = len(conflicts["key"])
    conflicts["key"] = conflicts["key"] + rng.integers(60, 2 * DAY, m)
    conflicts["kind"] = np.full(m, _S_CONFLICT, dtype=np.int8)
    longer = (
        (rng.random(m) < 0.5)
        & ~conflicts["ended_null"]
        & (conflicts["start"] + conflicts["duration"] + 900 < t_end)
    )
    conflicts["duration"] = np.where(
        longer, conflicts["duration"] + rng.integers(30, 900, m), conflicts["duration"]
    )
    conflicts["page_views"] = np.where(
        longer,
        conflicts["page_views"],
        np.maximum(conflicts["page_views"], 1) + rng.integers(1, 6, m),
    ).astype(np.int32)

    sessions = _append(_append(sessions, duplicates), conflicts)
    order = np.argsort(sessions["key"], kind="stable")
    sessions = {name: column[order] for name, column in sessions.items()}
    return sessions, {name: len(rows_of[i + 1]) for i, name in enumerate(SESSION_DIRT_KINDS)}


# ---------------------------------------------------------------------------------------------
# writing


def _connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB; row order is preserved whatever the number of threads."""
    con = duckdb.connect(":memory:")
    con.execute("set preserve_insertion_order = true")
    con.execute("set TimeZone = 'UTC'")
    return con


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _install_macros(con: duckdb.DuckDBPyConnection, n_users: int) -> None:
    suffixes = tuple(
        f"{'-' if m < 0 else '+'}{abs(int(m)) // 60:02d}:{abs(int(m)) % 60:02d}" for m in _OFFSETS
    )
    offsets = "[" + ", ".join(str(int(m)) for m in _OFFSETS) + "]"
    width = len(str(n_users))
    con.execute(f"""
        create or replace macro ts_text(secs, tz, style) as
            case
                when secs is null then null
                when style = {_STYLE_Z}
                    then strftime(make_timestamp(secs * 1000000), '%Y-%m-%dT%H:%M:%SZ')
                when style = {_STYLE_NAIVE}
                    then strftime(make_timestamp(secs * 1000000), '%Y-%m-%d %H:%M:%S')
                else strftime(
                    make_timestamp((secs + {offsets}[tz + 1] * 60) * 1000000),
                    '%Y-%m-%dT%H:%M:%S'
                ) || {_sql_list(suffixes)}[tz + 1]
            end
    """)
    con.execute("""
        create or replace macro bad_ts(secs, variant) as
            case variant % 5
                when 0 then 'not a date'
                when 1 then strftime(make_timestamp(secs * 1000000), '%d/%m/%Y')
                when 2 then strftime(make_timestamp(secs * 1000000), '%Y-02-30 %H:%M:%S')
                when 3 then 'N/A'
                else strftime(make_timestamp(secs * 1000000), '%Y-%m-%dT25:%M:%S')
            end
    """)
    con.execute(f"""
        create or replace macro user_text(u) as
            case
                when u < 0 then null
                when u >= {n_users} then {_sql_list(INTERNAL_USERS)}[u - {n_users} + 1]
                else 'u' || lpad((u + 1)::varchar, {width}, '0')
            end
    """)
    con.execute(f"create or replace macro blank(variant) as {_sql_list(_BLANKS)}[variant % 3 + 1]")
    # a missing value arrives as null or as blank text
    con.execute("""
        create or replace macro missing(variant) as
            case when variant % 2 = 0 then null else blank(variant // 2) end
    """)


def _orders_sql(orders: Columns) -> str:
    width = len(str(max(int(orders["id"].max(initial=0)), 1)))
    statuses = _sql_list(STATUSES)
    currencies = _sql_list(CURRENCIES)
    return f"""
        select
            case kind
                when {_O_NULL_ID} then null
                when {_O_BLANK_ID} then blank(variant)
                else 'o' || lpad(id::varchar, {width}, '0')
            end as order_id,
            case kind
                when {_O_NULL_USER} then null
                when {_O_BLANK_USER} then blank(variant)
                else user_text("user")
            end as user_id,
            case kind
                when {_O_MISSING_TIME} then missing(variant)
                when {_O_BAD_TIME} then bad_ts(t, variant)
                else ts_text(t, tz, style)
            end as ordered_at,
            case kind
                when {_O_UNKNOWN_STATUS}
                    then {_sql_list(_UNKNOWN_STATUSES)}[variant % {len(_UNKNOWN_STATUSES)} + 1]
                when {_O_MESSY_STATUS} then (
                    case variant % 4
                        when 0 then upper({statuses}[status + 1])
                        when 1 then ' ' || upper({statuses}[status + 1][1])
                            || {statuses}[status + 1][2:] || ' '
                        when 2 then {statuses}[status + 1] || ' '
                        else upper({statuses}[status + 1][1]) || {statuses}[status + 1][2:]
                    end
                )
                else {statuses}[status + 1]
            end as status,
            case kind
                when {_O_MISSING_AMOUNT} then missing(variant)
                when {_O_BAD_AMOUNT} then (
                    case variant % 4
                        when 0 then replace(amount::varchar, '.', ',')
                        when 1 then '$' || amount::varchar
                        when 2 then 'N/A'
                        else amount::varchar || ' ' || {currencies}[currency + 1]
                    end
                )
                else amount::varchar
            end as amount,
            case kind
                when {_O_CURRENCY} then
                    {_sql_list(_UNKNOWN_CURRENCIES)}[variant % {len(_UNKNOWN_CURRENCIES)} + 1]
                else {currencies}[currency + 1]
            end as currency,
            case kind
                when {_O_BAD_UPDATED} then bad_ts(updated, variant)
                else ts_text(case when updated_null then null else updated end, tz, style)
            end as updated_at,
            {_sql_list(_FIRST_NAMES)}[first_name + 1] || '.'
                || replace({_sql_list(_LAST_NAMES)}[last_name + 1], '''', '')
                || email_no::varchar || '@' || {_sql_list(_EMAIL_DOMAINS)}[domain + 1]
                as customer_email,
            house_no::varchar || ' ' || {_sql_list(_STREETS)}[street + 1] || ', '
                || {_sql_list(_CITIES)}[city + 1] as shipping_address
        from src
    """


def _sessions_sql(sessions: Columns) -> str:
    width = len(str(max(int(sessions["id"].max(initial=0)), 1)))
    return f"""
        select
            case kind
                when {_S_NULL_ID} then null
                when {_S_BLANK_ID} then blank(variant)
                else 's' || lpad(id::varchar, {width}, '0')
            end as session_id,
            user_text("user") as user_id,
            case kind
                when {_S_MISSING_TIME} then missing(variant)
                when {_S_BAD_TIME} then bad_ts(start, variant)
                else ts_text(start, tz, style)
            end as started_at,
            case kind
                when {_S_BAD_END} then bad_ts(start + duration, variant)
                else ts_text(case when ended_null then null else start + duration end, tz, style)
            end as ended_at,
            {_sql_list(PLATFORM_TEXTS)}[platform + 1] as platform,
            case
                when kind = {_S_NEGATIVE_PAGE_VIEWS} then '-' || greatest(page_views, 1)::varchar
                when kind = {_S_BAD_PAGE_VIEWS} then (
                    case variant % 4
                        when 0 then 'many'
                        when 1 then greatest(page_views, 1)::varchar || '.5x'
                        when 2 then greatest(page_views, 1)::varchar || ' pages'
                        else 'n/a'
                    end
                )
                when page_views < 0 then null
                else page_views::varchar
            end as page_views,
            case
                when kind = {_S_BAD_CART}
                    then {_sql_list(_BAD_CART_TEXTS)}[variant % {len(_BAD_CART_TEXTS)} + 1]
                when cart = 1 then 'true'
                when cart = 0 then 'false'
            end as added_to_cart,
            (ip >> 24)::varchar || '.' || ((ip >> 16) & 255)::varchar || '.'
                || ((ip >> 8) & 255)::varchar || '.' || (ip & 255)::varchar as ip_address,
            {_sql_list(_USER_AGENTS)}[user_agent + 1] as user_agent
        from src
    """


def _decimal_cents(cents: np.ndarray) -> pa.Array:
    """int64 cents as an Arrow decimal(18, 2) array, exactly."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words.tobytes())]
    )


def _write(
    con: duckdb.DuckDBPyConnection, sql: str, columns: Columns, path: Path, fmt: str
) -> None:
    """Stream the query's rows, in order, into `path` through a temporary file in its folder."""
    table = pa.table({name: column for name, column in columns.items() if name != "cents"})
    if "cents" in columns:
        table = table.append_column("amount", _decimal_cents(columns["cents"]))
    con.register("src", table)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        reader = con.execute(sql).to_arrow_reader(_BATCH_ROWS)
        schema = _output_schema(reader.schema)
        writer: pq.ParquetWriter | pacsv.CSVWriter
        if fmt == "parquet":
            writer = pq.ParquetWriter(tmp, schema, compression="snappy")
        else:
            writer = pacsv.CSVWriter(tmp, schema, write_options=pacsv.WriteOptions(delimiter=","))
        with writer:
            for batch in reader:
                writer.write_batch(batch.cast(schema))
        os.replace(tmp, path)
    finally:
        con.unregister("src")
        tmp.unlink(missing_ok=True)


def _output_schema(schema: pa.Schema) -> pa.Schema:
    """Every column as Arrow `string`, whichever text type DuckDB hands over."""
    return pa.schema([pa.field(f.name, pa.string()) for f in schema])
