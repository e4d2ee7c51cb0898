"""The raw folder as deliveries: the history first, then one new day (issue #19's daily case).

The raw contract lets a source table be one file `<dir>/orders.parquet` or a folder
`<dir>/orders/` of Parquet files, each file one delivery. The benchmark generates data up to day
D and splits each table by the UTC day its event happened (the time parsed as strata parses it,
as pytests/test_season.py does): `orders/history.parquet` holds everything before D, and the rows
of day D (with any stamped later: the generator's dirty future rows) wait in a pending folder as
`orders/<D>.parquet` until they are delivered, after the build as of D-1. Rows whose time does not
parse are history: they arrive, and are quarantined, with the first delivery.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

EVENT_COLUMNS = {"orders": "ordered_at", "sessions": "started_at"}
HISTORY = "history"


def split_deliveries(source: Path, raw: Path, pending: Path, day: dt.date) -> dict[str, int]:
    """Write `raw/<table>/history.parquet` (rows before `day`, and unparseable ones) and
    `pending/<table>/<day>.parquet` (the rest) from `source/<table>.parquet`, for each table;
    the folders are emptied first. Returns the row count of each file written, by its path
    relative to its folder."""
    counts: dict[str, int] = {}
    for folder in (raw, pending):
        shutil.rmtree(folder, ignore_errors=True)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for table, column in EVENT_COLUMNS.items():
            rows = f"read_parquet('{source / f'{table}.parquet'}')"
            early = f"coalesce(try_cast({column} as timestamptz) < '{day.isoformat()}', true)"
            for folder, name, where in (
                (raw, HISTORY, early),
                (pending, day.isoformat(), f"not {early}"),
            ):
                (folder / table).mkdir(parents=True, exist_ok=True)
                path = folder / table / f"{name}.parquet"
                con.execute(
                    f"copy (select * from {rows} where {where}) to '{path}' (format parquet)"
                )
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
