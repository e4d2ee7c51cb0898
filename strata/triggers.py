"""Trigger audiences within the day (docs/triggers.md): the intraday run's dbt selection and the
publication of the trigger audiences, apart from the daily publication.

Layout, under the serving folder (``serving_dir/triggers``), the same as the daily one::

    versions/<version>/manifest.json           the moment M, the daily D it stands on, counts
    versions/<version>/spells.parquet          triggers.fct_trigger_spells as of M
    versions/<version>/<audience>/...          each trigger audience's export: members (not held
                                               out), changes since the previous trigger version,
                                               manifest (strata/audiences/exports.py)
    current -> versions/<version>              switched atomically, last
    CURRENT                                    the current version's name

A version folder is written under a dot-name and renamed into place before ``current`` moves to
it, so a reader that resolves ``current`` once always reads one whole version; a failure rolls
back and leaves the previous version current. The daily publication (strata/publish.py) is not
touched: dashboards keep reading the daily marts while trigger versions come and go.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from strata.audiences.exports import write_export
from strata.publish import (
    MANIFEST,
    PublishError,
    _Attempt,
    _iso,
    _new_version,
    _prune,
    _publish_lock,
    _remove_stale_temporaries,
    current_version,
)

TRIGGERS_DIR = "triggers"
SPELLS_FILE = "spells.parquet"
# What an intraday run builds: the base models read only the files delivered since they were
# last built (macros/incremental/raw_deliveries.sql), then every trigger model. The daily marts
# are not selected: they stay as the daily run left them.
INTRADAY_SELECT = "base_shop__orders base_shop__sessions tag:trigger"
# The base models' own data tests scan every stored row (ten million sessions at 1M users); they
# run with the daily build. The trigger models' tests run with every intraday run.
INTRADAY_EXCLUDE = "test_type:data,base_shop__orders test_type:data,base_shop__sessions"


def intraday_dbt_args() -> list[str]:
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--select",
        INTRADAY_SELECT,
        "--exclude",
        INTRADAY_EXCLUDE,
    ]


@dataclass
class TriggerPublication:
    version: str
    folder: Path
    trigger_as_of: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def triggers_root(serving_dir: Path) -> Path:
    return serving_dir / TRIGGERS_DIR


def current_trigger_manifest(serving_dir: Path) -> dict[str, Any] | None:
    """The manifest of the trigger version readers see now, or None."""
    root = triggers_root(serving_dir)
    version = current_version(root)
    if version is None:
        return None
    path = root / "versions" / version / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'warehouse' "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _members_sql(audience: dict[str, Any]) -> str:
    attributes = "".join(f', users."{column}"' for column in audience["attributes"])
    name = audience["name"].replace("'", "''")
    return (
        "select members.user_id, members.entered_at, members.evidence_kind, "
        f"members.evidence_id{attributes} "
        "from warehouse.triggers.fct_trigger_audience_members as members "
        "left join warehouse.marts.dim_users as users on members.user_id = users.user_id "
        f"where members.audience_name = '{name}' and not members.is_holdout "
        "order by members.user_id"
    )


def publish_triggers(
    db: Path,
    serving_dir: Path,
    definitions: list[dict[str, Any]],
    *,
    keep: int,
    run_id: str | None = None,
) -> TriggerPublication | None:
    """Publish the trigger audiences of the warehouse `db` as a new trigger version; None when
    the warehouse has no trigger tables (a build that did not select them)."""
    root = triggers_root(serving_dir)
    root.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"attach '{str(db).replace(chr(39), chr(39) * 2)}' as warehouse (read_only)")
        if not _exists(con, "triggers", "fct_trigger_audience_members"):
            return None
        trigger_as_of, daily_as_of = con.execute(
            "select trigger_as_of, daily_as_of_date from warehouse.triggers.int_trigger_moment"
        ).fetchone()
        with _publish_lock(root):
            _remove_stale_temporaries(root)
            published_at = dt.datetime.now(dt.UTC)
            version = _new_version(root, published_at)
            previous_version = current_version(root)
            previous = root / "versions" / previous_version if previous_version else None
            attempt = _Attempt(root, version)
            try:
                attempt.parquet_tmp.mkdir(parents=True)
                spells = con.execute(
                    f"copy (select * from warehouse.triggers.fct_trigger_spells "
                    f"order by trigger_name, user_id, entered_at) "
                    f"to '{attempt.parquet_tmp / SPELLS_FILE}' (format parquet)"
                ).fetchone()[0]
                counts: dict[str, dict[str, int]] = {}
                for audience in definitions:
                    name = audience["name"].replace("'", "''")
                    held_out = con.execute(
                        "select count(*) from warehouse.triggers.fct_trigger_audience_members "
                        f"where audience_name = '{name}' and is_holdout"
                    ).fetchone()[0]
                    counts[audience["name"]] = write_export(
                        con,
                        {
                            "name": audience["name"],
                            "kind": "trigger",
                            "definition": f"in trigger {audience['spec']} now",
                            "defined_at": audience.get("source"),
                        },
                        _members_sql(audience),
                        attempt.parquet_tmp / audience["name"],
                        held_out=held_out,
                        previous=previous,
                        manifest={"version": version, "trigger_as_of": _iso_naive(trigger_as_of)},
                        previous_version=previous_version,
                    )
                manifest = {
                    "version": version,
                    "published_at": _iso(published_at),
                    "trigger_as_of": _iso_naive(trigger_as_of),
                    "daily_as_of_date": str(daily_as_of) if daily_as_of else None,
                    "run_id": run_id,
                    "previous_version": previous_version,
                    "spells": spells,
                    "audiences": counts,
                }
                (attempt.parquet_tmp / MANIFEST).write_text(
                    json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
                )
                attempt.finish_parquet()
                attempt.switch_current()
            except Exception as error:
                attempt.rollback()
                raise PublishError(f"publishing the trigger audiences failed: {error}") from error
            _prune(root, keep, version)
    return TriggerPublication(
        version, root / "versions" / version, _iso_naive(trigger_as_of), counts
    )


def _iso_naive(moment: dt.datetime | None) -> str | None:
    """A naive UTC timestamp (as DuckDB returns TIMESTAMP) as ISO 8601 with a Z."""
    if moment is None:
        return None
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds") + "Z"


def delivery_listing(raw_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Every raw file (path, size, modification time): a change means something was delivered."""
    found = []
    for path in sorted(raw_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            found.append((str(path.relative_to(raw_dir)), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def watch(
    run_once: Callable[[], int],
    raw_dir: Path,
    *,
    poll_seconds: float,
    max_runs: int | None = None,
    stopped: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run `run_once` (one intraday run) whenever the raw folder changes, polling every
    `poll_seconds`, until `stopped()` or `max_runs` runs. Without a new delivery there is nothing
    to do: M is the newest delivery, so nothing can change. A run that another run's lock kept
    out (exit 3) is tried again at the next poll; one that failed on its data waits for the next
    delivery (which may be the fixed file). Returns the last run's exit code."""
    seen: tuple | None = None
    runs = 0
    code = 0
    while not stopped() and (max_runs is None or runs < max_runs):
        listing = delivery_listing(raw_dir)
        if listing != seen:
            code = run_once()
            runs += 1
            if code != EXIT_BUSY:
                seen = listing
            continue
        sleep(poll_seconds)
    return code


EXIT_BUSY = 3
