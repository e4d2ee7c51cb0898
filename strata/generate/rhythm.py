"""An orders-only shop with a chosen purchase rhythm and a partial last day.

The demo population (strata.generate.core) buys every few weeks. Real shops run from a grocery
(a basket every 3 days) to a furniture shop (a sofa every 3 years), and a data export often stops
a few hours into its last day. This writes such a shop, deterministically, so that the rules that
depend on the rhythm (suggested thresholds, a partial last day, like-with-like periods) can be
proven on it: `strata generate --rhythm 3 --end-hour 4`.

Each customer starts on a day spread over the first two thirds of the history, buys as a Poisson
process whose rate is drawn around 1 / `mean_gap_days` (a Gamma of shape 2, so some buy twice as
often and some half as often), and stops buying for good after an exponential lifetime (mean
`lifetime_days`). Times of day follow the demo's hour profile (few orders at night). The data
stops at `end_hour` UTC on `end_date`: a partial last day unless `end_hour` is 24. The file's
modification time is that moment, the delivery strata judges "in the future" against.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from strata.generate.model import DAY, HOUR_WEIGHTS

HISTORY_DAYS = 180
RATE_SHAPE = 2.0


def generate_rhythm_shop(
    users: int,
    seed: int,
    end_date: dt.date,
    out_dir: Path,
    *,
    mean_gap_days: float,
    end_hour: int = 24,
    lifetime_days: float = 120.0,
    history_days: int = HISTORY_DAYS,
) -> tuple[Path, int]:
    """Write `orders.parquet` in `out_dir`; returns its path and the number of orders."""
    if mean_gap_days <= 0 or not 0 <= end_hour <= 24:
        raise ValueError("mean_gap_days must be positive and end_hour within 0 to 24")
    rng = np.random.default_rng(seed)
    epoch_day = (end_date - dt.date(1970, 1, 1)).days
    end = epoch_day * DAY + end_hour * 3600  # the data stops here (exclusive)
    first_day = epoch_day - history_days + 1
    start_day = first_day + rng.integers(0, max(history_days * 2 // 3, 1), users)
    rate = rng.gamma(RATE_SHAPE, 1.0 / (RATE_SHAPE * mean_gap_days), users)  # per day
    stop_day = start_day + rng.exponential(lifetime_days, users)
    hours = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()

    user_ids, instants = [], []
    for user in range(users):
        day = float(start_day[user])
        days = [day]
        while True:
            day += rng.exponential(1.0 / rate[user])
            if day > stop_day[user] or day >= epoch_day + 1:
                break
            days.append(day)
        whole = np.floor(np.array(days)).astype(np.int64)
        hour = rng.choice(24, size=whole.size, p=hours)
        second = rng.integers(0, 3600, whole.size)
        at = whole * DAY + hour * 3600 + second
        at = at[at < end]
        user_ids += [f"g{user:06d}"] * at.size
        instants.append(at)
    times = np.concatenate(instants) if instants else np.zeros(0, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    times = times[order]
    ids = np.array(user_ids, dtype=object)[order]
    amounts = np.round(rng.gamma(4.0, 12.5, times.size), 2)
    table = pa.table(
        {
            "order_id": [f"r{i:08d}" for i in range(times.size)],
            "user_id": ids.tolist(),
            "ordered_at": [
                dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                for t in times
            ],
            "status": ["completed"] * times.size,
            "amount": [f"{a:.2f}" for a in amounts],
            "currency": ["USD"] * times.size,
        }
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "orders.parquet"
    tmp = out_dir / f".orders.parquet.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    os.utime(path, (end, end))
    return path, times.size
