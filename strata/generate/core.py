"""`generate`: the population simulated and written block by block, so memory stays flat."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strata.generate.dirt import (
    DIRTY_SHARE,
    ORDER_DIRT_KINDS,
    SESSION_DIRT_KINDS,
    dirty_orders,
    dirty_sessions,
)
from strata.generate.model import DAY, INTERNAL_USERS, Columns
from strata.generate.population import simulate_orders, simulate_sessions, simulate_users
from strata.generate.treatment import (
    DEFAULT_DORMANT_AFTER_DAYS,
    DEFAULT_HOLDOUT_SALT,
    DEFAULT_HOLDOUT_SHARE,
    DEFAULT_OUTCOME_WINDOW_DAYS,
    DORMANT_PLAY,
    TREATMENT_FILE,
    TreatmentCounts,
    TreatmentSettings,
    TreatmentSummary,
    apply_treatment,
)
from strata.generate.writing import FORMATS, BlockWriter

# Version of the data format: the same arguments give the same files within a version only.
GENERATOR_VERSION = 3
# Users simulated (and written) together. Part of the data format, not a tunable: a block's rows
# depend on its users and its random stream, so another size would give other data.
BLOCK_USERS = 100_000
# From this many users on, every dirty kind appears at least once (all of them in block 0).
_EVERY_KIND_FROM_USERS = 1000
# The treatment's draws for block b come from spawn key (b, this), apart from the block's own.
_TREATMENT_STREAM = 1


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
    dirty_share: float = DIRTY_SHARE
    blocks: int = 1
    generator_version: int = GENERATOR_VERSION
    # the planted effect and its counts (None without one), also written to `treatment_path`
    treatment: TreatmentSummary | None = None
    treatment_path: Path | None = None


def block_rng(seed: int, block: int, stream: int | None = None) -> np.random.Generator:
    """Block `block`'s random stream: `SeedSequence(seed, spawn_key=(block,))`, except block 0,
    which draws from `SeedSequence(seed)` itself, version 1's only stream (so that in version 2 a
    population of one block was version 1's); with `stream`, a side stream `(block, stream)`."""
    if stream is not None:
        sequence = np.random.SeedSequence(seed, spawn_key=(block, stream))
    elif block == 0:
        sequence = np.random.SeedSequence(seed)
    else:
        sequence = np.random.SeedSequence(seed, spawn_key=(block,))
    return np.random.Generator(np.random.PCG64(sequence))


def generate(
    users: int,
    seed: int,
    end_date: dt.date,
    out_dir: Path,
    fmt: str = "parquet",
    *,
    dirty_share: float = DIRTY_SHARE,
    treatment_effect: float = 0.0,
    treatment_play: str = DORMANT_PLAY,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    holdout_salt: str = DEFAULT_HOLDOUT_SALT,
    outcome_window_days: int = DEFAULT_OUTCOME_WINDOW_DAYS,
    dormant_after_days: int = DEFAULT_DORMANT_AFTER_DAYS,
) -> GenerateResult:
    """Write `orders` and `sessions` for `users` simulated users (plus 15 internal accounts).

    Files are `orders.<fmt>` and `sessions.<fmt>` in `out_dir` (created if missing); existing
    files are replaced only once both are complete. The same arguments always give the same bytes.
    `dirty_share` of each file's rows are made dirty (0: none). With `treatment_effect` > 0, users
    not held out of the dormant play come back more often after entering it (see
    `strata.generate.treatment`), and `treatment.json` beside the files holds the counts.
    """
    started = time.perf_counter()
    users, seed, end_date, share = _checked(users, seed, fmt, end_date, dirty_share)
    settings = TreatmentSettings(
        effect=treatment_effect,
        play=treatment_play,
        holdout_share=holdout_share,
        holdout_salt=holdout_salt,
        outcome_window_days=outcome_window_days,
        dormant_after_days=dormant_after_days,
    )
    t_end = int((end_date - dt.date(1970, 1, 1)).days + 1) * DAY  # exclusive, UTC
    blocks = -(-users // BLOCK_USERS)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {"orders": 0, "sessions": 0}
    clean = {"orders": 0, "sessions": 0}  # clean rows of the blocks so far: where ids go on
    dirty = dict.fromkeys((*ORDER_DIRT_KINDS, *SESSION_DIRT_KINDS), 0)
    counts = TreatmentCounts()
    with BlockWriter(out_dir, fmt, users) as writer:
        for block in range(blocks):
            orders, sessions, block_dirt, tally = _block(
                seed, block, users, t_end, share, settings, clean
            )
            for kind, k in block_dirt.items():
                dirty[kind] += k
            counts += tally
            writer.write(orders, sessions, _id_widths(blocks, users, orders, sessions))
            rows["orders"] += len(orders["key"])
            rows["sessions"] += len(sessions["key"])
            del orders, sessions
        summary = None
        if settings.active:
            summary = TreatmentSummary(settings, end_date, counts, exact=share == 0)
        writer.commit({TREATMENT_FILE: summary.to_json() if summary else None})
    # The files are delivered when the data ends: their modification time is what strata judges
    # timestamps "in the future" against (docs/decisions.md), so the same arguments give the same
    # quarantine whatever the day the files are generated or read.
    for path in (writer.paths["orders"], writer.paths["sessions"]):
        os.utime(path, (t_end, t_end))
    return GenerateResult(
        orders_path=writer.paths["orders"],
        sessions_path=writer.paths["sessions"],
        orders_rows=rows["orders"],
        sessions_rows=rows["sessions"],
        dirty_rows=dirty,
        seconds=time.perf_counter() - started,
        users=users,
        internal_users=len(INTERNAL_USERS),
        end_date=end_date,
        fmt=fmt,
        dirty_share=share,
        blocks=blocks,
        treatment=summary,
        treatment_path=out_dir / TREATMENT_FILE if summary else None,
    )


def _block(
    seed: int,
    block: int,
    users: int,
    t_end: int,
    share: float,
    settings: TreatmentSettings,
    clean: dict[str, int],
) -> tuple[Columns, Columns, dict[str, int], TreatmentCounts]:
    """One block's orders and sessions, ready to write, its dirty rows and treatment counts.
    `clean` counts the clean rows of the blocks before (updated here): ids go on from there."""
    first = block * BLOCK_USERS
    n = min(BLOCK_USERS, users - first)
    rng = block_rng(seed, block)
    # the internal accounts belong to block 0, as they did to version 1's one population
    people = simulate_users(rng, n, len(INTERNAL_USERS) if block == 0 else 0, t_end)
    sessions = simulate_sessions(rng, people, t_end)
    orders = simulate_orders(rng, people, sessions, t_end)
    tally = TreatmentCounts()
    if settings.active:
        side = block_rng(seed, block, _TREATMENT_STREAM)
        ids = _user_ids(first, n, users)
        sessions, orders, tally = apply_treatment(
            side, people, sessions, orders, ids, settings, t_end
        )
    # ids run on from the previous blocks', so they are unique in each file
    for name, table in (("orders", orders), ("sessions", sessions)):
        table["id"] += clean[name]
        clean[name] += len(table["id"])
    every_kind = block == 0 and users >= _EVERY_KIND_FROM_USERS and share > 0
    orders, order_dirt = dirty_orders(rng, orders, n, t_end, share, every_kind)
    sessions, session_dirt = dirty_sessions(rng, sessions, n, t_end, share, every_kind)
    for table in (orders, sessions):
        table["user"] = _global_users(table["user"], first, n, users)
    return orders, sessions, {**order_dirt, **session_dirt}, tally


def _checked(
    users: object, seed: object, fmt: object, end_date: object, dirty_share: object
) -> tuple[int, int, dt.date, float]:
    """The arguments, validated (ValueError) and normalised."""
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
    if isinstance(dirty_share, bool) or not isinstance(dirty_share, int | float):
        raise ValueError(f"dirty_share must be a number, got {dirty_share!r}")
    if not 0 <= dirty_share <= 0.5:
        raise ValueError(f"dirty_share must be between 0 and 0.5, got {dirty_share!r}")
    return int(users), int(seed), end_date, float(dirty_share)


def _user_ids(first: int, n: int, users: int) -> list[str]:
    """The texts of users first .. first + n - 1, as the `user_text` macro writes them."""
    width = len(str(users))
    return [f"u{i:0{width}d}" for i in range(first + 1, first + n + 1)]


def _global_users(user: np.ndarray, first: int, n: int, users: int) -> np.ndarray:
    """Block-local user indices as the file's: regular users from `first` on, internal accounts
    after all regular users, anonymous stays -1."""
    user = user.astype(np.int64)
    return np.where(user < 0, -1, np.where(user < n, user + first, users + (user - n)))


def _id_widths(blocks: int, users: int, orders: Columns, sessions: Columns) -> tuple[int, int]:
    """Digits of order and session ids. One block: as many as its largest id has (version 1's
    rule). More: fixed in advance from the number of users, as later blocks' ids are not known
    yet; about 10 sessions and 1 order per user leaves tenfold room (a longer id is not cut)."""
    if blocks == 1:
        largest = (max(int(table["id"].max(initial=0)), 1) for table in (orders, sessions))
        order_width, session_width = (len(str(value)) for value in largest)
        return order_width, session_width
    return len(str(users * 10)), len(str(users * 100))
