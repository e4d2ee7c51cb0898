"""An optional, known treatment effect, to check strata's measurement of a play's lift.

strata holds out a stable share of users from every play (a campaign keyed by a play id such as
`lifecycle_stage:dormant`). `is_holdout` here is the reference implementation of that split, which
strata's SQL must match: take `md5(user_id || '|' || play_id || '|' || salt)` as lowercase hex,
read its first 8 hex digits as an unsigned integer, and hold the user out when that integer modulo
10,000 is below `round(holdout_share * 10000)` (rounded half up, as SQL's `round` does).

The generator then plants a lift for the dormant play. A user's activity dates are the UTC dates
on which they started a session or placed an order (internal accounts and anonymous sessions are
not activity); they enter `dormant` on day e = d + `dormant_after_days` after an activity date d
with no activity on days d+1 .. e. Walking each user's dormant entries in order, an entry of a
user who is not held out and who does not come back by themselves within the outcome window
(days e+1 .. e+N) comes back with probability `effect`: one session (and an order, with the user's
usual purchase propensity) on a day drawn uniformly from that window. Such a return is activity,
so it moves the user's later dormant entries, which the walk takes into account.

The walk runs on a block's clean rows, before any dirt, so its counts are exact when no rows are
made dirty and approximate otherwise (dirt removes, moves and quarantines a few rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from strata.generate.model import DAY, HOUR_WEIGHTS, Columns
from strata.generate.population import (
    categorical,
    merge_rows,
    number_rows,
    simulate_orders,
    sort_rows,
    user_platform,
    visit_details,
)
from strata.project import project_var

DORMANT_PLAY = "lifecycle_stage:dormant"
SUPPORTED_PLAYS: tuple[str, ...] = (DORMANT_PLAY,)
# The project's own defaults (dbt_project.yml vars), so that planted entries and conversions are
# the ones the models count (strata/project.py).
DEFAULT_HOLDOUT_SALT = str(project_var("holdout_salt"))
DEFAULT_HOLDOUT_SHARE = float(project_var("holdout_share"))
DEFAULT_OUTCOME_WINDOW_DAYS = int(project_var("outcome_window_days"))
DEFAULT_DORMANT_AFTER_DAYS = int(project_var("dormant_after_days"))
HOLDOUT_BUCKETS = 10_000
TREATMENT_FILE = "treatment.json"


def holdout_hash(
    user_ids: Iterable[str] | np.ndarray | pa.Array, play_id: str, salt: str
) -> np.ndarray:
    """The first 8 hex digits of `md5(user_id|play_id|salt)` per id, as unsigned integers (the
    first 4 bytes of the digest, read big-endian). A null id has no group: ValueError."""
    # plain Python text is the fastest to hash: convert arrays in one go, not element by element
    if isinstance(user_ids, pa.Array | pa.ChunkedArray):
        user_ids = user_ids.to_numpy(zero_copy_only=False)
    ids = user_ids.tolist() if isinstance(user_ids, np.ndarray) else user_ids
    suffix = f"|{play_id}|{salt}".encode()
    md5 = hashlib.md5
    try:
        digests = b"".join(
            md5(user_id.encode() + suffix, usedforsecurity=False).digest()[:4] for user_id in ids
        )
    except AttributeError as error:  # None (or another non-text id) has no `.encode`
        raise ValueError(f"user ids must be text, not null: {error}") from None
    return np.frombuffer(digests, dtype=">u4").astype(np.uint32)


def holdout_threshold(share: float) -> int:
    """Buckets (of 10,000) held out for `share`: `round(share * 10000)`, halves rounded up."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"holdout_share must be between 0 and 1, got {share!r}")
    return math.floor(share * HOLDOUT_BUCKETS + 0.5)


def is_holdout(
    user_ids: Iterable[str] | np.ndarray | pa.Array,
    play_id: str,
    salt: str = DEFAULT_HOLDOUT_SALT,
    share: float = DEFAULT_HOLDOUT_SHARE,
) -> np.ndarray:
    """Whether each user is held out of `play_id`: the reference implementation strata's SQL must
    match, `md5(user_id || '|' || play_id || '|' || salt)`, its first 8 hex digits as an unsigned
    integer, modulo 10,000, below `round(share * 10000)`. Vectorised over any sequence of ids."""
    threshold = holdout_threshold(share)
    return holdout_hash(user_ids, play_id, salt) % HOLDOUT_BUCKETS < threshold


@dataclass(frozen=True)
class TreatmentSettings:
    """The planted effect and the play it belongs to (see the module docstring)."""

    effect: float
    play: str = DORMANT_PLAY
    holdout_share: float = DEFAULT_HOLDOUT_SHARE
    holdout_salt: str = DEFAULT_HOLDOUT_SALT
    outcome_window_days: int = DEFAULT_OUTCOME_WINDOW_DAYS
    dormant_after_days: int = DEFAULT_DORMANT_AFTER_DAYS

    def __post_init__(self) -> None:
        if isinstance(self.effect, bool) or not isinstance(self.effect, int | float):
            raise ValueError(f"treatment_effect must be a number, got {self.effect!r}")
        if not 0.0 <= self.effect <= 1.0:
            raise ValueError(f"treatment_effect must be between 0 and 1, got {self.effect!r}")
        if self.play not in SUPPORTED_PLAYS:
            raise ValueError(
                f"treatment_play {self.play!r} is not supported: a treatment effect can only be "
                f"planted for {', '.join(SUPPORTED_PLAYS)}"
            )
        if not isinstance(self.holdout_share, int | float) or isinstance(self.holdout_share, bool):
            raise ValueError(f"holdout_share must be a number, got {self.holdout_share!r}")
        holdout_threshold(self.holdout_share)
        if not isinstance(self.holdout_salt, str):
            raise ValueError(f"holdout_salt must be text, got {self.holdout_salt!r}")
        for name in ("outcome_window_days", "dormant_after_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
                raise ValueError(f"{name} must be a whole number of days from 1 to 365")

    @property
    def active(self) -> bool:
        return self.effect > 0


@dataclass(frozen=True)
class TreatmentCounts:
    """Dormant entries with a closed outcome window (e + window <= end date), by group."""

    treated_entries: int = 0
    treated_natural_conversions: int = 0
    forced_conversions: int = 0
    holdout_entries: int = 0
    holdout_conversions: int = 0

    def __add__(self, other: TreatmentCounts) -> TreatmentCounts:
        return TreatmentCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class TreatmentSummary:
    """What the planted effect did: the settings, the counts and the lifts they give."""

    settings: TreatmentSettings
    end_date: dt.date
    counts: TreatmentCounts
    exact: bool  # no dirty rows: a recount over the files gives exactly these counts

    @property
    def true_lift(self) -> float | None:
        """Forced conversions per treated entry: the lift the data really holds."""
        return _rate(self.counts.forced_conversions, self.counts.treated_entries)

    @property
    def expected_lift(self) -> float | None:
        """effect x (1 - natural conversion rate of the treated entries)."""
        c = self.counts
        natural = _rate(c.treated_natural_conversions, c.treated_entries)
        return None if natural is None else self.settings.effect * (1 - natural)

    def to_json(self) -> str:
        s, c = self.settings, self.counts
        treated = c.treated_natural_conversions + c.forced_conversions
        document = {
            "play": s.play,
            "treatment_effect": s.effect,
            "holdout_share": s.holdout_share,
            "holdout_salt": s.holdout_salt,
            "outcome_window_days": s.outcome_window_days,
            "dormant_after_days": s.dormant_after_days,
            "end_date": self.end_date.isoformat(),
            "counted_entries": (
                "dormant entries on a day e with e + outcome_window_days <= end_date (closed "
                "outcome windows); a conversion is activity on days e+1 .. e+outcome_window_days"
            ),
            "exact": self.exact,
            "treated": {
                "entries": c.treated_entries,
                "natural_conversions": c.treated_natural_conversions,
                "forced_conversions": c.forced_conversions,
                "conversions": treated,
                "conversion_rate": _rate(treated, c.treated_entries),
            },
            "holdout": {
                "entries": c.holdout_entries,
                "conversions": c.holdout_conversions,
                "conversion_rate": _rate(c.holdout_conversions, c.holdout_entries),
            },
            "true_lift": self.true_lift,
            "expected_lift": self.expected_lift,
        }
        return json.dumps(document, indent=2) + "\n"


def apply_treatment(
    rng: np.random.Generator,
    people: Columns,
    sessions: Columns,
    orders: Columns,
    user_ids: Sequence[str],
    settings: TreatmentSettings,
    t_end: int,
) -> tuple[Columns, Columns, TreatmentCounts]:
    """The block's clean sessions and orders with the forced returns added, and the counts.

    `user_ids` are the texts of the block's regular users (its first `len(user_ids)` users);
    the others (internal accounts) and anonymous sessions take no part.
    """
    n_regular = len(user_ids)
    regular = (sessions["user"] >= 0) & (sessions["user"] < n_regular)
    bought = orders["user"] < n_regular
    user = np.concatenate([sessions["user"][regular], orders["user"][bought]]).astype(np.int64)
    day = np.concatenate([sessions["start"][regular] // DAY, orders["t"][bought] // DAY])
    held = is_holdout(user_ids, settings.play, settings.holdout_salt, settings.holdout_share)
    back_user, back_day, counts = _walk_dormant_entries(
        rng, user, day, held, settings, t_end // DAY - 1
    )
    if len(back_user):
        extra_sessions, extra_orders = _return_visits(rng, people, back_user, back_day, t_end)
        sessions = merge_rows(sessions, extra_sessions, "start")
        orders = merge_rows(orders, extra_orders, "t")
    return sessions, orders, counts


def _walk_dormant_entries(
    rng: np.random.Generator,
    user: np.ndarray,
    day: np.ndarray,
    held: np.ndarray,
    settings: TreatmentSettings,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray, TreatmentCounts]:
    """Every dormant entry up to `end_day`, in rounds: the entries the clean activity gives, then
    those that the forced returns of the previous round give. Returns the forced returns (user,
    UTC day) that fall in the data, and the counts of the entries with a closed window.

    A forced return on day r lies before the user's next own activity n (the entry did not
    convert by itself, so n > e + window >= r), so it can only add the entry r + dormant_after
    (if n comes later than that) and never changes an entry after n: the gap that follows each
    activity date can be walked on its own, all gaps at once.
    """
    after, window = settings.dormant_after_days, settings.outcome_window_days
    pairs = np.unique(user * (1 << 32) + day)  # one row per user and activity date, in order
    user, day = pairs >> 32, pairs & ((1 << 32) - 1)
    following = np.full(len(day), np.iinfo(np.int64).max // 2, dtype=np.int64)
    same_user = user[1:] == user[:-1]
    following[:-1][same_user] = day[1:][same_user]

    entry = day + after
    starts = (following > entry) & (entry <= end_day)
    who, enters, then = user[starts], entry[starts], following[starts]
    back_user: list[np.ndarray] = []
    back_day: list[np.ndarray] = []
    counts = TreatmentCounts()
    while len(enters):
        natural = then <= enters + window
        out = held[who]
        closed = enters + window <= end_day
        chance = np.flatnonzero(~out & ~natural)
        forced = chance[rng.random(len(chance)) < settings.effect]
        returns = enters[forced] + rng.integers(1, window + 1, len(forced))
        counts += TreatmentCounts(
            treated_entries=int(np.count_nonzero(closed & ~out)),
            treated_natural_conversions=int(np.count_nonzero(closed & ~out & natural)),
            forced_conversions=int(np.count_nonzero(closed[forced])),
            holdout_entries=int(np.count_nonzero(closed & out)),
            holdout_conversions=int(np.count_nonzero(closed & out & natural)),
        )
        # a return after the end of the data is not in it (and its window is not closed)
        inside = returns <= end_day
        forced, returns = forced[inside], returns[inside]
        back_user.append(who[forced])
        back_day.append(returns)
        again = (then[forced] > returns + after) & (returns + after <= end_day)
        who, enters, then = who[forced][again], returns[again] + after, then[forced][again]
    if not back_user:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), counts
    return np.concatenate(back_user), np.concatenate(back_day), counts


def _return_visits(
    rng: np.random.Generator, people: Columns, user: np.ndarray, day: np.ndarray, t_end: int
) -> tuple[Columns, Columns]:
    """One session per (user, UTC day) at a time of day the hour profile gives in the user's
    local time, and an order from it with the user's propensity, on that same UTC day."""
    n = len(user)
    user = user.astype(np.int32)
    shift = people["offset"][user].astype(np.int64) * 60
    clock = categorical(rng, HOUR_WEIGHTS, n) * 3600 + rng.integers(0, 3600, n)
    start = day * DAY + clock - shift
    start += (day - start // DAY) * DAY  # the same local time of day, on the UTC day `day`
    # leave room for an order after the start on the same UTC day
    start = np.minimum(start, (day + 1) * DAY - 600)
    sessions = visit_details(
        rng,
        people,
        user,
        np.zeros(n, dtype=bool),
        start,
        people["tz"][user],
        people["style"][user],
        user_platform(rng, people, user).astype(np.int8),
        np.zeros(n, dtype=bool),
        t_end,
    )
    sessions = number_rows(sort_rows(sessions, "start"), "start")
    orders = simulate_orders(rng, people, sessions, t_end, same_utc_day=True)
    return sessions, orders
