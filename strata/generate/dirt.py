"""The planted dirt: about 1% of each file's rows, one dirty kind per row, made per block.

Between them the kinds exercise every quarantine reason of the staging layer: missing, blank,
unparseable and future values of every checked column, placeholder times before 1980 (the default
var `min_event_date`) in every timestamp column, negative amounts and page views, amounts above the
ceiling (var `max_order_amount`, 1,000,000,000 USD by default), unknown currencies and statuses,
legacy imports placed before the first month of the rate seed (2023-01, so no exchange rate), exact
and conflicting re-deliveries, and later versions of orders. Only rows of regular users are made
dirty; the copies that re-deliveries add stay within their block.

A placeholder time is a source system's default written in its own fixed form, not in the user's:
`0001-01-01T00:00:00Z`, `1970-01-01 00:00:00` and the like (`writing`). A too-early start keeps no
end or the same placeholder as its end; a too-early end follows a real start, so staging also
finds it `ended_before_started` (one dirty kind, two reasons). Too-early order times and amounts
above the ceiling are planted on USD orders, so the order has a rate all the same (a year-1 order
in another currency would also lack one) and the ceiling applies to the amount as written.

A row carries its kind as a code (`kind`, 0 = clean: the index in the kind tuples plus one) and a
`variant` that picks among the spellings of a dirty value when the block is written.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from strata.generate.model import (
    CANCELLED,
    COMPLETED,
    CURRENCIES,
    DAY,
    HISTORY_DAYS,
    OFFSETS,
    PENDING,
    REFUNDED,
    Columns,
)
from strata.generate.population import at_local_hour

ORDER_DIRT_KINDS: tuple[str, ...] = (
    "orders.null_order_id",
    "orders.blank_order_id",
    "orders.null_user_id",
    "orders.blank_user_id",
    "orders.missing_ordered_at",
    "orders.unparseable_ordered_at",
    "orders.future_ordered_at",
    "orders.too_early_ordered_at",
    "orders.unparseable_updated_at",
    "orders.future_updated_at",
    "orders.too_early_updated_at",
    "orders.missing_amount",
    "orders.unparseable_amount",
    "orders.negative_amount",
    "orders.amount_above_ceiling",
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
    "sessions.too_early_started_at",
    "sessions.unparseable_ended_at",
    "sessions.future_ended_at",
    "sessions.too_early_ended_at",
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
    *(0.04, 0.05, 0.04, 0.04),  # ordered_at
    *(0.04, 0.04, 0.04),  # updated_at
    *(0.04, 0.05, 0.04, 0.04),  # amount
    *(0.05, 0.05),  # currency, rates
    *(0.04, 0.07),  # status
    *(0.09, 0.08),  # re-deliveries
)
_SESSION_DIRT_WEIGHTS = (
    *(0.07, 0.06),  # ids
    *(0.06, 0.07, 0.05, 0.05),  # started_at
    *(0.05, 0.05, 0.05, 0.07, 0.07),  # ended_at
    *(0.06, 0.05, 0.05),  # page_views, added_to_cart
    *(0.08, 0.11),  # re-deliveries
)
DIRTY_SHARE = 0.01  # the default share of each file's rows that is made dirty

# Dirty-kind codes carried per row (0 = clean); the index in the tuples above, plus one.
(
    O_NULL_ID,
    O_BLANK_ID,
    O_NULL_USER,
    O_BLANK_USER,
    O_MISSING_TIME,
    O_BAD_TIME,
    O_FUTURE,
    O_EARLY,
    O_BAD_UPDATED,
    O_FUTURE_UPDATED,
    O_EARLY_UPDATED,
    O_MISSING_AMOUNT,
    O_BAD_AMOUNT,
    O_NEGATIVE,
    O_ABOVE_CEILING,
    O_CURRENCY,
    O_BACKDATED,
    O_UNKNOWN_STATUS,
    O_MESSY_STATUS,
    O_DUPLICATE,
    O_REDELIVERED,
) = range(1, len(ORDER_DIRT_KINDS) + 1)
(
    S_NULL_ID,
    S_BLANK_ID,
    S_MISSING_TIME,
    S_BAD_TIME,
    S_FUTURE,
    S_EARLY,
    S_BAD_END,
    S_FUTURE_END,
    S_EARLY_END,
    S_ENDED_BEFORE,
    S_TOO_LONG,
    S_BAD_PAGE_VIEWS,
    S_NEGATIVE_PAGE_VIEWS,
    S_BAD_CART,
    S_CONFLICT,
    S_DUPLICATE,
) = range(1, len(SESSION_DIRT_KINDS) + 1)
# Legacy imports land before the first month of the rate seed (2023-01), so they have no rate.
FIRST_RATE_DAY = (dt.date(2023, 1, 1) - dt.date(1970, 1, 1)).days
# Amounts above the ceiling are the largest amount decimal(18, 2) holds (a placeholder), or an
# order of 20 million to 1 billion typed in cents where units were meant (2000000000.00 and up).
MAX_DECIMAL_CENTS = 10**18 - 1


def dirt_counts(
    rows: int, weights: tuple[float, ...], share: float, every_kind: bool
) -> np.ndarray:
    """How many rows each dirty kind gets: `share` of `rows`, split by largest remainder, and at
    least one each with `every_kind`."""
    target = rows * share
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


def dirty_orders(
    rng: np.random.Generator,
    orders: Columns,
    n_users: int,
    t_end: int,
    share: float,
    every_kind: bool,
) -> tuple[Columns, dict[str, int]]:
    """The block's orders with `share` of them made dirty (plus the copies re-deliveries add),
    in key order, and the dirty rows of each kind. Users from `n_users` on are internal."""
    n = len(orders["key"])
    counts = dirt_counts(n, _ORDER_DIRT_WEIGHTS, share, every_kind)
    regular = orders["user"] < n_users
    status = orders["status"]

    # a second, later version of an order: completed -> refunded, pending -> completed/cancelled
    k = int(counts[O_REDELIVERED - 1])
    room = regular & (orders["t"] < t_end - 3600)
    pend = _pick(rng, np.flatnonzero(room & (status == PENDING)), (k * 3 + 9) // 10)
    done = _pick(rng, np.flatnonzero(room & (status == COMPLETED)), k - len(pend))
    redelivered = np.concatenate([pend, done])
    not_redelivered = np.ones(n, dtype=bool)
    not_redelivered[redelivered] = False
    eligible = regular & not_redelivered
    # a legacy import needs a currency other than USD: a USD order needs no rate at all; a
    # placeholder time or an amount above the ceiling goes to a USD order, so nothing else is wrong
    usd = orders["currency"] == CURRENCIES.index("USD")
    in_place = counts.copy()
    in_place[O_REDELIVERED - 1] = 0  # chosen above
    rows_of = _choose_rows(
        rng,
        in_place,
        eligible,
        (
            (O_BACKDATED, eligible & ~usd),
            (O_EARLY, eligible & usd),
            (O_ABOVE_CEILING, eligible & usd),
        ),
    )
    rows_of[O_REDELIVERED] = redelivered

    kind = np.zeros(n, dtype=np.int8)
    for code, rows in rows_of.items():
        if code not in (O_DUPLICATE, O_REDELIVERED):
            kind[rows] = code
    orders = {**orders, "kind": kind, "variant": rng.integers(0, 1000, n).astype(np.int16)}

    future = rows_of[O_FUTURE]
    orders["t"][future] = _future(rng, t_end, len(future))
    orders["updated_null"][future] = True
    future_updated = rows_of[O_FUTURE_UPDATED]
    orders["updated"][future_updated] = _future(rng, t_end, len(future_updated))
    # an unparseable updated_at garbles a time that is there
    orders["updated_null"][np.concatenate([future_updated, rows_of[O_BAD_UPDATED]])] = False
    orders["cents"][rows_of[O_NEGATIVE]] *= -1
    above = rows_of[O_ABOVE_CEILING]
    orders["cents"][above] = np.where(
        orders["variant"][above] % 2 == 0,
        MAX_DECIMAL_CENTS,
        rng.integers(20, 1000, len(above)) * 10**10,
    )

    # legacy imports: placed in the two years before the rate seed starts (or before the data
    # starts, if that is earlier), delivered now; `updated_at` keeps its distance to `ordered_at`
    backdated = rows_of[O_BACKDATED]
    last_day = min(FIRST_RATE_DAY, t_end // DAY - HISTORY_DAYS) - 2
    day = last_day - rng.integers(0, 2 * 365 - 2, len(backdated))
    offset = OFFSETS[orders["tz"][backdated]]
    placed = at_local_hour(rng, day * DAY + DAY // 2 - offset.astype(np.int64) * 60, offset)
    orders["updated"][backdated] += placed - orders["t"][backdated]
    orders["t"][backdated] = placed

    duplicates = {name: column[rows_of[O_DUPLICATE]] for name, column in orders.items()}
    duplicates["key"] = duplicates["key"] + rng.integers(60, 2 * DAY, len(duplicates["key"]))
    duplicates["kind"] = np.full(len(duplicates["key"]), O_DUPLICATE, dtype=np.int8)

    later = {name: column[redelivered] for name, column in orders.items()}
    m = len(redelivered)
    base = np.where(later["updated_null"], later["t"], later["updated"])
    wait = np.minimum(
        rng.uniform(1.0, 30.0, m) * DAY, (t_end - 1 - base) * rng.uniform(0.3, 0.9, m)
    )
    later["updated"] = np.minimum(base + np.maximum(np.floor(wait), 1).astype(np.int64), t_end - 1)
    later["updated_null"] = np.zeros(m, dtype=bool)
    was_pending = later["status"] == PENDING
    later["status"] = np.where(
        was_pending,
        np.where(rng.random(m) < 0.75, COMPLETED, CANCELLED),
        REFUNDED,
    ).astype(np.int8)
    later["key"] = later["updated"].copy()
    later["kind"] = np.full(m, O_REDELIVERED, dtype=np.int8)

    orders = _append(_append(orders, duplicates), later)
    order = np.argsort(orders["key"], kind="stable")
    orders = {name: column[order] for name, column in orders.items()}
    return orders, {name: len(rows_of[i + 1]) for i, name in enumerate(ORDER_DIRT_KINDS)}


def dirty_sessions(
    rng: np.random.Generator,
    sessions: Columns,
    n_users: int,
    t_end: int,
    share: float,
    every_kind: bool,
) -> tuple[Columns, dict[str, int]]:
    """The block's sessions with `share` of them made dirty (plus the copies re-deliveries add),
    in key order, and the dirty rows of each kind. Users from `n_users` on are internal."""
    n = len(sessions["key"])
    counts = dirt_counts(n, _SESSION_DIRT_WEIGHTS, share, every_kind)
    user = sessions["user"]
    regular = (user >= 0) & (user < n_users)
    # kinds that need an end time (and room before the end of data) are chosen first
    has_end = regular & ~sessions["ended_null"]
    rows_of = _choose_rows(
        rng,
        counts,
        regular,
        (
            (S_TOO_LONG, has_end & (sessions["start"] < t_end - 4 * DAY)),
            (S_ENDED_BEFORE, has_end),
            (S_BAD_END, has_end),
        ),
    )

    kind = np.zeros(n, dtype=np.int8)
    for code, rows in rows_of.items():
        if code not in (S_CONFLICT, S_DUPLICATE):
            kind[rows] = code
    sessions = {**sessions, "kind": kind, "variant": rng.integers(0, 1000, n).astype(np.int16)}

    future = rows_of[S_FUTURE]
    sessions["start"][future] = _future(rng, t_end, len(future))
    sessions["ended_null"][future] = True
    # An end far in the future also makes the session last far longer than 24 hours, so staging
    # quarantines such a row as both `future_ended_at` and `session_too_long`: one dirty kind,
    # two reasons, as a clock that is off would really give.
    future_end = rows_of[S_FUTURE_END]
    sessions["duration"][future_end] = (
        _future(rng, t_end, len(future_end)) - sessions["start"][future_end]
    )
    sessions["ended_null"][future_end] = False
    backwards = rows_of[S_ENDED_BEFORE]
    sessions["duration"][backwards] = -rng.integers(60, 3 * 3600, len(backwards))
    too_long = rows_of[S_TOO_LONG]
    sessions["duration"][too_long] = rng.integers(30 * 3600, 72 * 3600, len(too_long))

    duplicates = {name: column[rows_of[S_DUPLICATE]] for name, column in sessions.items()}
    duplicates["key"] = duplicates["key"] + rng.integers(60, 2 * DAY, len(duplicates["key"]))
    duplicates["kind"] = np.full(len(duplicates["key"]), S_DUPLICATE, dtype=np.int8)

    conflicts = {name: column[rows_of[S_CONFLICT]] for name, column in sessions.items()}
    m = len(conflicts["key"])
    conflicts["key"] = conflicts["key"] + rng.integers(60, 2 * DAY, m)
    conflicts["kind"] = np.full(m, S_CONFLICT, dtype=np.int8)
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
