"""What the incremental models kept and recomputed, read from the warehouse around a build.

The incremental models heal on their own (docs/decisions.md, "One new day is a small build");
this module only looks: it lists what a build recomputed, so that a run can say so, and it
notices a table stored by an older strata whose layout cannot be checked, which the run then
rebuilds with --full-refresh, saying why.

Which models are incremental, and how, is said once, by the models themselves, and read here
from dbt's manifest: every model materialized `incremental` keeps its recorded state in
strata_meta.incremental_state (macros/incremental), and one that is sliced by date says so in its
config meta `incremental_slices` (the slice and fingerprint columns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

# The columns incremental tables carry for their own bookkeeping: when a build wrote the row and
# the fingerprint of its raw file. A fresh build writes other values; they say nothing about the
# data, so every comparison of two builds (engines, benchmark, tests) leaves them out.
BOOKKEEPING_COLUMNS = ("_loaded_at", "source_file_fingerprint")


@dataclass(frozen=True)
class IncrementalModel:
    """An incremental model as dbt's manifest describes it."""

    schema: str
    table: str
    slice_column: str | None = None  # sliced by date: the slice and its inputs' fingerprint
    fingerprint_column: str | None = None

    @property
    def sliced(self) -> bool:
        return self.slice_column is not None


def incremental_models(manifest: Path) -> list[IncrementalModel]:
    """The incremental models of the build that wrote `manifest` (none when there is none)."""
    try:
        nodes = json.loads(manifest.read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return []
    models = []
    for node in nodes:
        config = node.get("config") or {}
        if node.get("resource_type") != "model" or config.get("materialized") != "incremental":
            continue
        slices = (config.get("meta") or {}).get("incremental_slices") or {}
        table = node.get("alias") or node["name"]
        models.append(
            IncrementalModel(
                node["schema"], table, slices.get("slice_column"), slices.get("fingerprint_column")
            )
        )
    return sorted(models, key=lambda model: (model.schema, model.table))


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


def slice_states(db: Path, models: list[IncrementalModel]) -> dict[str, dict[str, str]]:
    """Per sliced incremental table, its stored slices and their fingerprints."""
    con = _connect(db)
    if con is None:
        return {}
    states = {}
    try:
        for model in (model for model in models if model.sliced):
            columns = _columns(con, model.schema, model.table)
            if model.slice_column not in columns or model.fingerprint_column not in columns:
                continue
            rows = con.execute(
                f"select distinct cast({model.slice_column} as varchar),"
                f" {model.fingerprint_column} from {model.schema}.{model.table}"
            ).fetchall()
            states[f"{model.schema}.{model.table}"] = dict(rows)
    finally:
        con.close()
    return states


def outdated_tables(db: Path, models: list[IncrementalModel]) -> list[str]:
    """Sliced incremental tables stored without the columns this strata checks them by."""
    con = _connect(db)
    if con is None:
        return []
    try:
        return [
            f"{model.schema}.{model.table}"
            for model in models
            if model.sliced
            and (columns := _columns(con, model.schema, model.table))
            and not {model.slice_column, model.fingerprint_column} <= columns
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
