"""What the incremental models kept and recomputed, read from the warehouse around a build.

The incremental models heal on their own (fingerprints of their inputs, docs/history.md); this
module only looks: it lists what a build recomputed, so that a run can say so, and it notices a
table stored by an older strata whose layout cannot be checked, which the run then rebuilds with
--full-refresh, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# The incremental tables and the bookkeeping column each must carry to be checked.
INCREMENTAL_TABLES = {("marts", "fct_user_rfm_snapshots"): ("snapshot_date", "inputs_fingerprint")}


@dataclass(frozen=True)
class SliceChange:
    table: str
    computed: list[str]  # slices (dates) computed by the build: new, changed or forced
    kept: int  # slices kept as they were
    removed: list[str]  # slices deleted and not computed again (after D, or no longer wanted)


def _connect(db: Path) -> duckdb.DuckDBPyConnection | None:
    if not db.exists():
        return None
    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None


def slice_states(db: Path) -> dict[str, dict[str, str]]:
    """Per incremental table, its stored slices and their fingerprints."""
    con = _connect(db)
    if con is None:
        return {}
    states = {}
    try:
        for (schema, table), (slice_column, print_column) in INCREMENTAL_TABLES.items():
            columns = _columns(con, schema, table)
            if slice_column not in columns or print_column not in columns:
                continue
            rows = con.execute(
                f"select distinct cast({slice_column} as varchar), {print_column}"
                f" from {schema}.{table}"
            ).fetchall()
            states[f"{schema}.{table}"] = dict(rows)
    finally:
        con.close()
    return states


def outdated_tables(db: Path) -> list[str]:
    """Incremental tables stored without the bookkeeping columns this strata needs."""
    con = _connect(db)
    if con is None:
        return []
    try:
        return [
            f"{schema}.{table}"
            for (schema, table), needed in INCREMENTAL_TABLES.items()
            if (columns := _columns(con, schema, table)) and not set(needed) <= columns
        ]
    finally:
        con.close()


def changes(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]], forced: set[str]
) -> list[SliceChange]:
    result = []
    for table, now in after.items():
        was = before.get(table, {})
        computed = sorted(
            key for key, print_ in now.items() if was.get(key) != print_ or key in forced
        )
        removed = sorted(set(was) - set(now))
        result.append(SliceChange(table, computed, len(now) - len(computed), removed))
    return result


def describe(change: SliceChange) -> str:
    if not change.computed:
        text = f"{change.table}: all {change.kept} stored dates kept, none recomputed"
    else:
        span = change.computed[0] + (f"..{change.computed[-1]}" if len(change.computed) > 1 else "")
        count = len(change.computed)
        text = (
            f"{change.table}: {count} {'date' if count == 1 else 'dates'} computed ({span}), "
            f"{change.kept} kept"
        )
    if change.removed:
        text += f", {len(change.removed)} removed (after the as-of date or no longer wanted)"
    return text


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
