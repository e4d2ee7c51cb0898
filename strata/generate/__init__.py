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
* `dirty_share` (1% by default, 0 for none) of the rows of each file are made dirty on top of
  realistic rows of regular users, one kind per row, counted in `GenerateResult.dirty_rows`;
  between them the kinds exercise every quarantine reason of the staging layer (`dirt`).
* Optionally, a known treatment effect for the dormant play, with a stable holdout group, so that
  strata's measurement of campaign lift can be checked against the truth (`treatment`).

Every column is written as text, in Parquet as in CSV, as a raw landing zone keeps it, so that a
bad value can be there at all: timestamps as ISO-8601 text, `amount` as a plain decimal with two
places (`12.50`), `page_views` as a whole number (`3`) and `added_to_cart` as `true`/`false`;
an absent value is null (`writing`).

Streaming. Users are simulated and written in blocks of `BLOCK_USERS` (100,000): a block's users,
their sessions and orders (`population`), its dirt, then its rows appended to the open files, so
memory stays that of one block whatever the number of users (a peak of about 0.6 GB for the
process, at one million users as at ten million). Block b draws from its own stream,
`SeedSequence(seed, spawn_key=(b,))`, except block 0, which draws from `SeedSequence(seed)`; its
rows depend on (seed, b) alone, so the same arguments give byte-identical files on every machine.
The block size is part of the data format, not a tunable. User ids (`u` + the user's number,
zero-padded to the digits of `users`) run on across blocks, and so do order and session ids. The
15 internal accounts belong to block 0. Re-deliveries (exact copies, conflicting session copies,
later order versions) are made within a block; rows are in time order within each block, and the
blocks follow one another (each is its own Parquet row groups).

Versions (`GENERATOR_VERSION`, now 3). Version 3 adds five dirty kinds for the staging layer's
new quarantine reasons: order times and update times before 1980 (the default var
`min_event_date`), session starts and ends before 1980, and order amounts above the ceiling (var
`max_order_amount`); the kinds' shares of the dirt are re-weighted to make room for them, so the
same arguments give other rows than in version 2, with one block as with many (a small
population's file can come out unchanged, when its few dirty rows fall as they did). It is still
block-streamed as version 2, and everything said above holds unchanged.

Version 2 made the generator stream. Version 1 simulated everyone at once from one
`Generator(PCG64(seed))`, drawing each trait for all users in one call (and the join times as one
sorted draw over all users), then all sessions, then all orders: a user's rows depended on every
other user's draws, and the whole population had to be in memory (about 1.9 GB per million users,
19 GB for ten million). Simulating block by block changes the order of the draws, and many draws
(normal, Poisson, beta, exponential, and the sorted join times) consume a variable or global
amount of the stream, so no block can be cut out of version 1's stream: version 1's output cannot
be reproduced by a streaming generator. Version 2 kept it where it could: block 0 draws from
version 1's stream and every rule was unchanged, so a population of up to 100,000 users (one
block) was byte-identical to version 1's (version 3's new dirt ends that). A larger population
differed from version 1 throughout (version 1 drew its traits for all users at once, block 0 for
its 100,000 only), its rows are in time order within each block rather than across the file, and
its order and session ids are padded to a width fixed in advance from the number of users
(version 1 padded them to the largest id, which is not known before the last block is written).
"""

from __future__ import annotations

from strata.generate.core import (
    BLOCK_USERS,
    GENERATOR_VERSION,
    GenerateResult,
    block_rng,
    generate,
)
from strata.generate.dirt import DIRTY_SHARE, ORDER_DIRT_KINDS, SESSION_DIRT_KINDS
from strata.generate.model import CURRENCIES, INTERNAL_USERS, STATUSES
from strata.generate.treatment import (
    DEFAULT_HOLDOUT_SALT,
    DEFAULT_HOLDOUT_SHARE,
    DORMANT_PLAY,
    TREATMENT_FILE,
    TreatmentCounts,
    TreatmentSettings,
    TreatmentSummary,
    holdout_hash,
    is_holdout,
)
from strata.generate.writing import FORMATS, ORDER_COLUMNS, SESSION_COLUMNS

__all__ = [
    "BLOCK_USERS",
    "CURRENCIES",
    "DEFAULT_HOLDOUT_SALT",
    "DEFAULT_HOLDOUT_SHARE",
    "DIRTY_SHARE",
    "DORMANT_PLAY",
    "FORMATS",
    "GENERATOR_VERSION",
    "INTERNAL_USERS",
    "ORDER_COLUMNS",
    "ORDER_DIRT_KINDS",
    "SESSION_COLUMNS",
    "SESSION_DIRT_KINDS",
    "STATUSES",
    "TREATMENT_FILE",
    "GenerateResult",
    "TreatmentCounts",
    "TreatmentSettings",
    "TreatmentSummary",
    "block_rng",
    "generate",
    "holdout_hash",
    "is_holdout",
]
