"""The raw folder as deliveries: the history first, then one new day (issue #19's daily case).

The raw contract lets a source table be one file `<dir>/orders.parquet` or a folder
`<dir>/orders/` of Parquet files, each file one delivery. The benchmark generates data up to day
D and splits each table by the UTC day of a row's latest time (an order's update, a session's
end; parsed as strata parses it, as pytests/test_season.py does): `orders/history.parquet` holds
everything before D, and the rows of day D (with any stamped later: the generator's dirty future
rows) wait in a pending folder as `orders/<D>.parquet` until they are delivered, after the build
as of D-1. Rows whose times do not parse are history: they arrive, and are quarantined, with the
first delivery.

Each file's modification time, which strata reads as its delivery, is set from the data: the
history is delivered at the start of D, the new day at the start of D+1, as the generator stamps
its files with the end of its data. Were it the time the benchmark wrote the file, what counts as
"in the future" would depend on when the benchmark ran (and on which file was written last: at
10M users the sessions file lands minutes after the orders).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb

# A row's times, the first its event's: it is delivered on the day of the latest that parses.
EVENT_COLUMNS = {"orders": ("ordered_at", "updated_at"), "sessions": ("started_at", "ended_at")}
HISTORY = "history"


def split_deliveries(source: Path, raw: Path, pending: Path, day: dt.date) -> dict[str, int]:
    """Write `raw/<table>/history.parquet` (rows before `day`, and unparseable ones) and
    `pending/<table>/<day>.parquet` (the rest) from `source/<table>.parquet`, for each table;
    the folders are emptied first. Returns the row count of each file written, by its path
    relative to its folder."""
    counts: dict[str, int] = {}
    for folder in (raw, pending):
        shutil.rmtree(folder, ignore_errors=True)
    delivered_at = {
        raw: dt.datetime.combine(day, dt.time(), dt.UTC),
        pending: dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC),
    }
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for table, columns in EVENT_COLUMNS.items():
            rows = f"read_parquet('{source / f'{table}.parquet'}')"
            present = {row[0] for row in con.execute(f"describe select * from {rows}").fetchall()}
            times = [
                f"try_cast({column} as timestamptz)" for column in columns if column in present
            ]
            latest = times[0] if len(times) == 1 else f"greatest({', '.join(times)})"
            early = f"coalesce({latest} < '{day.isoformat()}', true)"
            for folder, name, where in (
                (raw, HISTORY, early),
                (pending, day.isoformat(), f"not {early}"),
            ):
                (folder / table).mkdir(parents=True, exist_ok=True)
                path = folder / table / f"{name}.parquet"
                con.execute(
                    f"copy (select * from {rows} where {where}) to '{path}' (format parquet)"
                )
                stamp = delivered_at[folder].timestamp()
                os.utime(path, (stamp, stamp))
                counts[f"{table}/{name}.parquet"] = con.execute(
                    f"select count(*) from read_parquet('{path}')"
                ).fetchone()[0]
    return counts


def deliver(pending: Path, raw: Path) -> list[Path]:
    """Move every pending delivery file into the raw folder, as a shop's export would land it."""
    delivered = []
    for path in sorted(pending.glob("*/*.parquet")):
        target = raw / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        delivered.append(target)
    return delivered
