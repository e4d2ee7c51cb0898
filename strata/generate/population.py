"""Simulation of one block of the population: users' traits, their sessions and their orders.

Every function draws from the generator it is handed, in a fixed order, so a block's clean rows
depend only on that generator's seed. Users are indexed within their block (0 = the block's first
user); `strata.generate.core` turns these into global ids when the block is written.
"""

from __future__ import annotations

import numpy as np

from strata.generate.model import (
    ANONYMOUS_SHARE,
    BOUNCER_LIFETIME,
    BOUNCER_SHARE,
    BUYER_LIFETIME_LIFT,
    BUYER_SHARE,
    CANCELLED,
    CITIES,
    COMPLETED,
    CURRENCIES,
    CURRENCY_SHARE,
    DAY,
    DAY_WEIGHT_MEAN,
    DECLINE_TO,
    DECLINER_LIFETIME,
    DECLINER_SHARE,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    HISTORY_DAYS,
    HOUR_WEIGHTS,
    LAST_NAMES,
    ODD_SPELLINGS,
    OFFSET_BY_CURRENCY,
    OFFSETS,
    PENDING,
    REACTIVATION_SHARE,
    REFUNDED,
    RETURN_LIFETIME,
    STEADY_LIFETIME,
    STREETS,
    STYLE_SHARE,
    UNITS_PER_USD,
    WEEKEND_LIFT,
    Columns,
)

PII_TRAITS = ("first_name", "last_name", "email_no", "domain", "house_no", "street", "city")


def categorical(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """Draw `size` category indices with the given probabilities."""
    cdf = np.cumsum(probabilities / probabilities.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def at_local_hour(rng: np.random.Generator, t: np.ndarray, offset_min: np.ndarray) -> np.ndarray:
    """Move each instant to a time of its local day drawn from the hour-of-day profile."""
    shift = offset_min.astype(np.int64) * 60
    local_day = np.floor_divide(t + shift, DAY)
    hour = categorical(rng, HOUR_WEIGHTS, len(t))
    seconds = hour * 3600 + rng.integers(0, 3600, len(t))
    return local_day * DAY + seconds - shift


def simulate_users(rng: np.random.Generator, n: int, n_internal: int, t_end: int) -> Columns:
    """Per-user traits: `n` regular users in join order, then `n_internal` internal accounts."""
    total = n + n_internal
    t0 = t_end - HISTORY_DAYS * DAY
    # Joins per day at the end of the window, relative to its start. With slower growth, over a
    # fifth of buyers have not bought within a year, and since tied buyers share the lowest F
    # score, F = 1 would only ever hold such lapsed buyers: no recent buyer could be a
    # `new_customer` or `promising`, which a demo should show.
    growth = 10.0
    u = np.sort(rng.random(n))
    frac = np.concatenate(
        [np.log1p(u * (growth - 1)) / np.log(growth), rng.uniform(0.05, 0.8, n_internal)]
    )
    currency = categorical(rng, CURRENCY_SHARE, total).astype(np.int8)
    cdf = np.cumsum(OFFSET_BY_CURRENCY, axis=1)[currency]
    tz = np.minimum((rng.random(total)[:, None] >= cdf).sum(axis=1), len(OFFSETS) - 1)
    offset = OFFSETS[tz]
    style = categorical(rng, STYLE_SHARE, total).astype(np.int8)

    first = at_local_hour(rng, t0 + np.floor(frac * HISTORY_DAYS * DAY).astype(np.int64), offset)
    first = np.where(first >= t_end, first - DAY, first)
    first = np.where(first < t0, first + DAY, first)

    rate = np.clip(np.exp(rng.normal(np.log(1.5), 0.8, total)), 0.05, 30.0) / 7  # per day
    archetype = categorical(
        rng,
        np.array([BOUNCER_SHARE, 1 - BOUNCER_SHARE - DECLINER_SHARE, DECLINER_SHARE]),
        total,
    )
    engaged = np.clip((rate * 7 / 1.5) ** 0.3, 0.5, 3.0)
    mean_life = np.array([BOUNCER_LIFETIME, STEADY_LIFETIME, DECLINER_LIFETIME])[archetype]
    buyer = rng.random(total) < np.where(archetype == 0, BUYER_SHARE[0], BUYER_SHARE[1])
    lift = np.where(archetype == 0, 1.0, engaged * np.where(buyer, BUYER_LIFETIME_LIFT, 1.0))
    lifetime = rng.exponential(1.0, total) * mean_life * lift
    decay = np.where(archetype == 2, np.log(1 / DECLINE_TO) / np.maximum(lifetime, 1.0), 0.0)

    propensity = np.where(
        buyer, np.minimum(rng.beta(3.0, 7.0, total) * (rate * 7 / 1.5) ** -0.35, 0.9), 0.0
    )
    basket = np.exp(rng.normal(np.log(32.0), 0.65, total))
    basket *= np.where(rng.random(total) < 0.02, np.exp(rng.normal(np.log(6.0), 0.4, total)), 1)

    plat1 = categorical(rng, np.array([0.5, 0.28, 0.22]), total)
    plat2 = (plat1 + rng.integers(1, 3, total)) % 3
    plat1_share = np.where(rng.random(total) < 0.2, 0.7, 1.0)

    # internal accounts: a few weeks of steady use, buying often
    internal = np.arange(total) >= n
    rate[internal] = 2.0 / 7
    lifetime[internal] = rng.uniform(15.0, 40.0, n_internal)
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
        "first_name": rng.integers(0, len(FIRST_NAMES), total).astype(np.int16),
        "last_name": rng.integers(0, len(LAST_NAMES), total).astype(np.int16),
        "email_no": rng.integers(1, 1000, total).astype(np.int16),
        "domain": rng.integers(0, len(EMAIL_DOMAINS), total).astype(np.int8),
        "house_no": rng.integers(1, 400, total).astype(np.int16),
        "street": rng.integers(0, len(STREETS), total).astype(np.int8),
        "city": rng.integers(0, len(CITIES), total).astype(np.int8),
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
    counts = rng.poisson(mass * rate * WEEKEND_LIFT / DAY_WEIGHT_MEAN)
    spell = np.repeat(np.arange(len(start)), counts)
    u = rng.random(len(spell))
    k = decay[spell]
    span = days[spell]
    safe_k = np.where(k > 0, k, 1.0)
    rel = np.where(k > 0, -np.log1p(u * np.expm1(-safe_k * span)) / safe_k, u * span)
    t = start[spell] + np.floor(rel * DAY).astype(np.int64)
    shift = offset[spell].astype(np.int64) * 60
    weekday = (np.floor_divide(t + shift, DAY) + 3) % 7  # Monday = 0
    keep = rng.random(len(t)) * WEEKEND_LIFT < np.where(weekday >= 5, WEEKEND_LIFT, 1.0)
    spell, t = spell[keep], t[keep]
    return owner[spell], at_local_hour(rng, t, offset[spell])


def user_platform(rng: np.random.Generator, people: Columns, user: np.ndarray) -> np.ndarray:
    """Each visit's canonical platform: mostly the user's main one, sometimes their second."""
    return np.where(
        rng.random(len(user)) < people["plat1_share"][user],
        people["plat1"][user],
        people["plat2"][user],
    )


def simulate_sessions(rng: np.random.Generator, people: Columns, t_end: int) -> Columns:
    """All sessions of the block (users' and anonymous), sorted by start, with their traits."""
    total = len(people["first"])
    ids = np.arange(total)
    first = people["first"]
    rate, decay, offset = people["rate"], people["decay"], people["offset"]
    stop = first + np.floor(people["lifetime"] * DAY).astype(np.int64)

    # second spells: some of those who stopped come back after a long gap
    back = (
        (rng.random(total) < REACTIVATION_SHARE) & (stop + 45 * DAY < t_end) & ~people["internal"]
    )
    gap = np.floor(rng.uniform(46.0, 200.0, total) * DAY).astype(np.int64)
    back_at = at_local_hour(rng, stop + gap, offset)
    back &= (back_at < t_end) & (back_at > stop)
    r = np.flatnonzero(back)
    r_stop = back_at[r] + np.floor(rng.exponential(RETURN_LIFETIME, len(r)) * DAY).astype(np.int64)
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
    n_anon = round(len(user) * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE))
    anon_start = start[rng.integers(0, len(start), n_anon)]
    moved = anon_start + rng.integers(-3, 4, n_anon) * DAY + rng.integers(-1800, 1800, n_anon)
    inside = (moved >= t_end - HISTORY_DAYS * DAY) & (moved < t_end)
    anon_start = np.where(inside, moved, anon_start)

    n_user = len(user)
    n = n_user + n_anon
    anonymous = np.arange(n) >= n_user
    uidx = np.where(anonymous, 0, np.concatenate([user, np.zeros(n_anon, np.int32)]))

    anon_tz = categorical(rng, np.bincount(people["tz"], minlength=len(OFFSETS)) + 1.0, n_anon)
    tz = np.concatenate([people["tz"][user], anon_tz.astype(np.int8)])
    style = np.concatenate(
        [people["style"][user], categorical(rng, STYLE_SHARE, n_anon).astype(np.int8)]
    )
    base_platform = np.concatenate(
        [user_platform(rng, people, user), categorical(rng, np.array([0.7, 0.15, 0.15]), n_anon)]
    ).astype(np.int8)
    always_buys = np.zeros(n, dtype=bool)
    always_buys[:total] = people["internal"]  # internal accounts buy on their first visit
    start_all = np.concatenate([start, anon_start])
    sessions = visit_details(
        rng, people, uidx, anonymous, start_all, tz, style, base_platform, always_buys, t_end
    )
    return number_rows(sort_rows(sessions, "start"), "start")


def visit_details(
    rng: np.random.Generator,
    people: Columns,
    uidx: np.ndarray,
    anonymous: np.ndarray,
    start: np.ndarray,
    tz: np.ndarray,
    style: np.ndarray,
    base_platform: np.ndarray,
    always_buys: np.ndarray,
    t_end: int,
) -> Columns:
    """A session's content, given who visits when: platform spelling, whether it converts,
    duration, page views, cart, network and device. Anonymous rows never convert."""
    n = len(start)
    # odd but valid spellings, and a few other devices
    platform = base_platform.copy()
    draw = rng.random(n)
    pick = rng.integers(0, 6, n)
    for canonical, spellings in enumerate(ODD_SPELLINGS):
        odd = (draw < 0.02) & (base_platform == canonical)
        platform[odd] = np.asarray(spellings, dtype=np.int8)[pick[odd] % len(spellings)]
    other = draw > 0.994
    platform[other] = np.where(draw[other] > 0.998, 11, 10)
    ua_platform = np.where(platform == 10, 3, np.where(platform == 11, 4, base_platform))

    propensity = np.where(anonymous, 0.0, people["propensity"][uidx])
    converted = (rng.random(n) < propensity) | always_buys
    duration = np.exp(rng.normal(np.log(360.0), 1.0, n)) * np.where(converted, 1.8, 1.0)
    duration = np.clip(np.round(duration), 5, 3 * 3600).astype(np.int64)
    page_views = 1 + rng.poisson(0.9 * (duration / 60.0) ** 0.8)
    page_views = np.where(rng.random(n) < 0.02, -1, np.minimum(page_views, 500)).astype(np.int32)
    cart = np.where(converted, rng.random(n) < 0.96, rng.random(n) < 0.12).astype(np.int8)
    cart[rng.random(n) < 0.03] = -1
    ended_null = (rng.random(n) < 0.02) | (start + duration >= t_end)

    user_ip = people["ip"][uidx]
    random_ip = rng.integers(0x0B000000, 0xDF000000, n, dtype=np.uint32)
    ip = np.where(anonymous | (rng.random(n) < 0.2), random_ip, user_ip)
    ua_variant = np.where(anonymous, rng.integers(0, 3, n), people["ua"][uidx])
    user_agent = np.where(ua_platform < 3, ua_platform * 3 + ua_variant, 6 + ua_platform)
    return {
        "user": np.where(anonymous, -1, uidx).astype(np.int32),
        "start": start,
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


def simulate_orders(
    rng: np.random.Generator,
    people: Columns,
    sessions: Columns,
    t_end: int,
    same_utc_day: bool = False,
) -> Columns:
    """One order per converting session, sorted by order time.

    With `same_utc_day`, an order is placed no later than the end of the UTC day its session
    started on, so that it adds no activity date of its own (the treatment relies on that).
    """
    src = np.flatnonzero(sessions["converted"])
    n = len(src)
    user = sessions["user"][src]
    start, duration = sessions["start"][src], sessions["duration"][src]
    t = start + np.floor(duration * rng.uniform(0.3, 0.95, n)).astype(np.int64)
    t = np.minimum(np.maximum(t, start + 1), t_end - 1)
    if same_utc_day:
        t = np.minimum(t, (start // DAY + 1) * DAY - 1)

    age = (t_end - t) / DAY
    pending = rng.random(n) < np.where(age < 3, 0.6, np.where(age < 10, 0.2, 0.035))
    settled = categorical(rng, np.array([0.85, 0.06, 0.05]), n)
    status = np.where(pending, PENDING, settled).astype(np.int8)
    delay = np.select(
        [status == COMPLETED, status == CANCELLED, status == REFUNDED],
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
    local = np.maximum(usd, 1.0) * UNITS_PER_USD[currency]
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
    orders = sort_rows(orders, "t")
    for trait in PII_TRAITS:
        orders[trait] = people[trait][orders["user"]]
    return number_rows(orders, "t")


def sort_rows(columns: Columns, by: str) -> Columns:
    """The rows ordered by one column, ties kept in their current order."""
    order = np.argsort(columns[by], kind="stable")
    return {name: column[order] for name, column in columns.items()}


def number_rows(columns: Columns, by: str) -> Columns:
    """Give rows sorted by `by` their 1-based ids in that order, and `by` as their sort key."""
    columns["id"] = np.arange(1, len(columns[by]) + 1, dtype=np.int64)
    columns["key"] = columns[by].copy()
    return columns


def merge_rows(base: Columns, extra: Columns, by: str) -> Columns:
    """Two sets of clean rows of one kind as one, ordered by `by` and numbered again."""
    merged = {name: np.concatenate([column, extra[name]]) for name, column in base.items()}
    return number_rows(sort_rows(merged, by), by)
