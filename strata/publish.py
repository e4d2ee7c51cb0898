"""Publish the built marts to a serving location that BI tools can read while the next build runs.

A DuckDB file allows one writer or many readers. A dashboard holding the build warehouse open would
block `dbt build`, or read a half-built state. So after a successful build strata copies every table
of the published schemas (``marts`` by default) into a separate serving location, and BI tools read
only that copy. A failed build never calls `publish`, so it never touches the serving location.

Layout of ``serving_dir``::

    strata.duckdb                  the serving DuckDB file: every published table under its own
                                   schema and name (marts.dim_users), as a view of its Parquet
                                   file in versions/<version>/ (or, with ``copies``, a copy of
                                   the table), plus strata_meta.publication
    versions/<version>/            one Parquet file per table (<schema>.<table>.parquet) and a
                                   manifest.json (version, published_at, row counts, columns)
    versions/<version>/audiences/  each audience's sync-ready export: members, changes since the
                                   previous version, manifest (strata/audiences/exports.py)
    current -> versions/<version>  symlink to the current version folder
    CURRENT                        the current version's name, for tools that cannot follow links

``strata_meta.publication`` has one row per published table: ``version``, ``published_at`` (a
TIMESTAMP in UTC), ``source_warehouse``, ``table_schema``, ``table_name``, ``row_count``. A reader
asks ``select distinct version from strata_meta.publication`` to learn what it is looking at.

Order of operations, and why a reader never sees a partial state:

1. Parquet: every table is written into ``versions/.<version>.tmp`` with the manifest, then the
   folder is renamed to ``versions/<version>``. Nothing points at it yet, so no reader looks there.
2. Serving DuckDB: a fresh DuckDB file ``.strata.duckdb.<version>.tmp`` gets one view per table
   over that table's Parquet file in the version folder, by its absolute path; then it is
   checkpointed and closed, so the single file is complete and no WAL is left beside it. Each
   table's data is written once, into Parquet: the serving file is a few kilobytes, and copying
   every table into it as well had been the larger half of the publish (10.2 of 16.3 s at 1M
   users, issue #27). Each view's columns and row count are checked against the warehouse's.
   With ``copies`` (setting ``serving_copies``) the file holds a copy of every table instead
   (``CREATE TABLE ... AS SELECT``, column types preserved), read under the same read-only
   attachment as the Parquet files, so the same snapshot: a file that stands alone, to hand to
   someone or to keep, at the cost of writing every table twice.
3. ``os.replace`` of the temp file onto ``strata.duckdb``: atomic on POSIX. A connection opened
   before keeps reading the old file (its open descriptor still points at the old inode, which the
   kernel keeps until the last reader closes it); a connection opened after sees the new file.
   Either way it sees one whole version, never a mix.
4. ``current`` and ``CURRENT`` are switched last, each atomically (temp symlink / temp file, then
   ``os.replace``). Parquet readers that follow ``current`` only ever find a complete folder.
5. Old versions are pruned (the newest ``keep`` and the current one stay). A pruned folder is first
   renamed to a dot-name, so it disappears at once rather than file by file.

Failure semantics. An exception at any point of steps 1-4 rolls back: temp files and the new
version folder are removed, and if the serving file was already replaced it is put back from a
hard link taken just before the replace (same inode, so the old data is restored exactly, and
readers that held it open never notice), and ``current``/``CURRENT`` are restored. So after any
failure ``strata.duckdb``, ``current`` and ``CURRENT`` give the previous version. Two states are
accepted: a *new* connection opened in the short window between step 3 and a rollback may see the
new version, which then disappears (its ``strata_meta.publication`` says which version it is); and
if the process is killed outright (no exception, no rollback) between steps 3 and 4, the serving
file is one version ahead of ``current`` until the next publish - each is internally consistent.
Leftover temp files of a killed publish are removed by the next one. A failure while pruning
(step 5) is logged, not raised: the publication itself has succeeded.

Readers should keep in mind:

* A connection keeps the version it opened for as long as that version's folder is kept: the
  newest ``keep`` versions (setting ``keep_versions``) and the current one. A connection held open
  across more publishes than that finds its Parquet files gone, and its queries fail naming the
  missing file; it never reads another version's data. Reconnect to read the current version.
  With ``copies`` the serving file carries its data, and a held connection reads it for as long
  as it stays open. The views name the version folder by its absolute path: move the serving
  folder only with ``copies``, or publish again after the move.

* The DuckDB Python client caches database instances by path within one process: while any
  connection to ``strata.duckdb`` is open in a process, ``duckdb.connect`` on that path in the same
  process returns the cached (old) instance. Close every connection to pick up a new version.
* A reader of Parquet files should resolve ``current`` once (``os.path.realpath``) and read every
  file from that folder; resolving it per file could mix two versions across a switch.
* Publishing is POSIX-only in its atomicity guarantees (symlinks, ``os.replace`` over a file that
  readers hold open). Concurrent publishes to one ``serving_dir`` are refused via a lock file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from strata.atomic_files import (
    fsync_dir,
    remove_path,
    replace_file,
    replace_symlink,
    write_text_atomic,
)
from strata.audiences.exports import AUDIENCES_DIR, write_exports
from strata.locking import FileLock, LockHeld
from strata.sql_text import literal

__all__ = [
    "PublishError",
    "PublishResult",
    "current_manifest",
    "current_version",
    "list_versions",
    "publish",
]

log = logging.getLogger(__name__)

SERVING_DB = "strata.duckdb"
VERSIONS_DIR = "versions"
CURRENT_LINK = "current"
CURRENT_FILE = "CURRENT"
MANIFEST = "manifest.json"
LOCK_FILE = ".publish.lock"
META_SCHEMA = "strata_meta"
META_TABLE = "publication"

_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GENERATED_RE = re.compile(r"^(\d{8}T\d{6}Z)-(\d{3,})$")


class PublishError(Exception):
    """Publishing failed; whatever was published before is unchanged."""


@dataclass(frozen=True)
class PublishResult:
    """What one publish did."""

    version: str
    serving_db: Path
    parquet_dir: Path
    tables: dict[str, int]  # "marts.dim_users" -> row count
    removed_versions: list[str]
    seconds: float
    # what `after` (the run report) raised, if it did: the data were published all the same
    after_error: str | None = None


@dataclass(frozen=True)
class _Table:
    schema: str
    name: str
    columns: list[tuple[str, str]]  # (name, DuckDB type)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.name)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- reading the serving location ------------------------------------------------------------


def current_version(serving_dir: Path) -> str | None:
    """The currently published version, read from ``serving_dir/CURRENT``; None if none yet."""
    try:
        text = (Path(serving_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def current_manifest(serving_dir: Path) -> dict | None:
    """The manifest of the current version (version, published_at, build_id, as_of_date,
    tables), or None when nothing is published or it cannot be read."""
    version = current_version(serving_dir)
    if version is None:
        return None
    try:
        return json.loads(
            (Path(serving_dir) / VERSIONS_DIR / version / MANIFEST).read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None


def list_versions(serving_dir: Path) -> list[str]:
    """The published version folders in ``serving_dir/versions``, oldest first.

    Version names sort chronologically (generated ones are UTC timestamps with a counter), so this
    is name order. Temp and half-deleted folders (dot-names) are not listed.
    """
    root = Path(serving_dir) / VERSIONS_DIR
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if not entry.name.startswith(".") and entry.is_dir() and not entry.is_symlink()
    )


# --- publishing --------------------------------------------------------------------------------


def publish(
    warehouse: Path,
    serving_dir: Path,
    schemas: Sequence[str] = ("marts",),
    keep: int = 3,
    version: str | None = None,
    build: Mapping[str, Any] | None = None,
    after: Callable[[Path, Path], None] | None = None,
    copies: bool = False,
) -> PublishResult:
    """Publish every table (not view) of ``schemas`` in ``warehouse`` to ``serving_dir``.

    ``warehouse`` is only ever opened read-only. ``serving_dir`` is created if missing. The newest
    ``keep`` versions (>= 1) are kept, older ones removed; the current one is never removed.
    ``version`` defaults to the UTC time plus a counter (``20261122T090512Z-001``), which sorts
    chronologically and is unique within ``serving_dir``; a given name must not exist yet.
    ``build`` describes the build published (``build_id``, ``as_of_date``, and ``figures``, what
    the next run's guards compare with): it is written into the manifest, and its id and date into
    ``strata_meta.publication``, so that readers and the next run know what is live.
    ``after(serving_db, version_dir)`` runs once the new version is live, still under the publish
    lock (so it reads exactly this version): the run report is written there. What it raises is
    returned in ``after_error``, not raised: the publication itself has succeeded.
    ``copies`` puts a copy of every table into the serving file rather than a view of its
    Parquet file (see the module's notes).

    Raises PublishError (naming the file) if the warehouse is missing or unreadable, has none of
    the schemas' tables, or any step fails; the previous publication is then left as it was.
    """
    started = time.monotonic()
    warehouse, serving_dir = Path(warehouse), Path(serving_dir)
    schemas = [schemas] if isinstance(schemas, str) else list(schemas)
    if not schemas:
        raise PublishError("no schemas to publish")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise PublishError(f"keep must be an integer >= 1 (got {keep!r})")
    if not warehouse.is_file():
        raise PublishError(f"warehouse {warehouse} does not exist (run the build first)")
    if version is not None and not _VERSION_RE.match(version):
        raise PublishError(
            f"invalid version name {version!r}: use letters, digits, '.', '_' and '-', "
            "not starting with '.' or '-'"
        )

    try:
        (serving_dir / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishError(f"cannot create serving folder {serving_dir}: {error}") from error

    build = dict(build or {})
    with _publish_lock(serving_dir):
        _remove_stale_temporaries(serving_dir)
        published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if version is None:
            version = _new_version(serving_dir, published_at)
        elif (serving_dir / VERSIONS_DIR / version).exists() or version == current_version(
            serving_dir
        ):
            raise PublishError(f"version {version} already exists in {serving_dir / VERSIONS_DIR}")

        attempt = _Attempt(serving_dir, version)
        try:
            tables = _build(attempt, warehouse, schemas, published_at, build, copies)
            attempt.replace_serving_db()
            attempt.switch_current()
        except BaseException as error:
            rollback_error = attempt.rollback()
            if rollback_error is not None:
                raise PublishError(
                    f"publishing {warehouse} to {serving_dir} failed ({error}) and restoring the "
                    f"previous publication failed too: {rollback_error}"
                ) from error
            if isinstance(error, PublishError):
                raise
            if isinstance(error, Exception):
                raise PublishError(
                    f"publishing {warehouse} to {serving_dir} failed: {error}"
                ) from error
            raise  # KeyboardInterrupt and the like, after the rollback

        attempt.discard_backup()
        after_error = None
        if after is not None:
            try:
                after(serving_dir / SERVING_DB, serving_dir / VERSIONS_DIR / version)
            except Exception as error:
                after_error = f"{type(error).__name__}: {error}"
        removed = _prune(serving_dir, keep, version)

    return PublishResult(
        version=version,
        serving_db=serving_dir / SERVING_DB,
        parquet_dir=serving_dir / VERSIONS_DIR / version,
        tables=tables,
        removed_versions=removed,
        seconds=round(time.monotonic() - started, 3),
        after_error=after_error,
    )


class _Attempt:
    """The paths of one publish, and enough state to undo it until it has completed."""

    def __init__(self, serving_dir: Path, version: str) -> None:
        self.serving_dir = serving_dir
        self.version = version
        versions = serving_dir / VERSIONS_DIR
        self.parquet_tmp = versions / f".{version}.tmp"
        self.parquet_dir = versions / version
        self.serving_db = serving_dir / SERVING_DB
        self.serving_tmp = serving_dir / f".{SERVING_DB}.{version}.tmp"
        self.serving_backup = serving_dir / f".{SERVING_DB}.{version}.prev"
        self.link = serving_dir / CURRENT_LINK
        self.current_file = serving_dir / CURRENT_FILE
        self.parquet_created = False
        self.serving_replaced = False
        self.had_serving_db = False
        self.switch_started = False
        self.old_link: str | None = os.readlink(self.link) if self.link.is_symlink() else None
        self.old_current: str | None = (
            self.current_file.read_text(encoding="utf-8") if self.current_file.is_file() else None
        )

    def finish_parquet(self) -> None:
        """Rename the complete temp folder into ``versions/<version>``."""
        os.rename(self.parquet_tmp, self.parquet_dir)
        self.parquet_created = True
        fsync_dir(self.parquet_dir.parent)

    def replace_serving_db(self) -> None:
        """Swap the complete temp file onto ``strata.duckdb``, keeping a hard link to the old."""
        wal = Path(f"{self.serving_tmp}.wal")
        if wal.exists():
            raise PublishError(f"{self.serving_tmp} was not fully checkpointed ({wal} remains)")
        if self.serving_db.exists():
            try:
                os.link(self.serving_db, self.serving_backup)
            except OSError:  # a file system without hard links: a copy does as well
                shutil.copy2(self.serving_db, self.serving_backup)
            self.had_serving_db = True
        replace_file(self.serving_tmp, self.serving_db)
        self.serving_replaced = True

    def switch_current(self) -> None:
        """Point ``current`` and ``CURRENT`` at the new version, each switched atomically."""
        self.switch_started = True
        replace_symlink(self.link, f"{VERSIONS_DIR}/{self.version}")
        _write_current_file(self.current_file, self.version)

    def discard_backup(self) -> None:
        """After a complete switch the old serving file is no longer needed (best effort)."""
        try:
            remove_path(self.serving_backup)
        except OSError as error:
            log.warning("could not remove %s: %s", self.serving_backup, error)

    def rollback(self) -> Exception | None:
        """Undo whatever this attempt did; returns the error if the undo itself failed."""
        try:
            if self.switch_started:
                if self.old_link is None:
                    remove_path(self.link)
                else:
                    replace_symlink(self.link, self.old_link)
                if self.old_current is None:
                    remove_path(self.current_file)
                else:
                    write_text_atomic(self.current_file, self.old_current)
            if self.serving_replaced:
                if self.had_serving_db:
                    replace_file(self.serving_backup, self.serving_db)
                else:
                    remove_path(self.serving_db)
            for path in (
                self.serving_tmp,
                Path(f"{self.serving_tmp}.wal"),
                Path(f"{self.serving_tmp}.tmp"),
                self.serving_backup,
                self.parquet_tmp,
            ):
                remove_path(path)
            if self.parquet_created:
                remove_path(self.parquet_dir)
        except Exception as error:
            log.error(
                "restoring the previous publication in %s failed: %s", self.serving_dir, error
            )
            return error
        return None


def _build(
    attempt: _Attempt,
    warehouse: Path,
    schemas: list[str],
    published_at: dt.datetime,
    build: dict[str, Any],
    copies: bool,
) -> dict[str, int]:
    """Steps 1 and 2: the Parquet version folder, then the complete serving DuckDB temp file."""
    con = duckdb.connect(str(attempt.serving_tmp))
    try:
        try:
            con.execute(f"ATTACH {literal(warehouse.resolve())} AS build (READ_ONLY)")
        except duckdb.Error as error:
            raise PublishError(f"cannot open warehouse {warehouse} read-only: {error}") from error
        tables = _list_tables(con, schemas)
        if not tables:
            raise PublishError(
                f"warehouse {warehouse} has no tables in schema(s) {', '.join(schemas)}"
            )

        attempt.parquet_tmp.mkdir()
        parquet_rows = _write_parquet(con, tables, attempt.parquet_tmp)
        # The audiences' sync-ready exports, inside the version folder: they appear with it.
        previous_version = current_version(attempt.serving_dir)
        previous = (
            attempt.serving_dir / VERSIONS_DIR / previous_version / AUDIENCES_DIR
            if previous_version
            else None
        )
        build["audiences"] = write_exports(
            con,
            "build",
            attempt.parquet_tmp / AUDIENCES_DIR,
            version=attempt.version,
            as_of_date=build.get("as_of_date"),
            previous=previous,
            previous_version=previous_version,
        )
        _write_manifest(attempt, warehouse, tables, parquet_rows, published_at, build)
        attempt.finish_parquet()

        if copies:
            rows = _copy_tables(con, tables)
        else:
            rows = _create_views(con, tables, attempt.parquet_dir.resolve())
        if rows != parquet_rows:
            raise PublishError(
                f"row counts differ between the Parquet files {parquet_rows} and the serving"
                f" file {rows}"
            )
        _write_meta(con, attempt.version, published_at, warehouse, rows, build)
        con.execute("DETACH build")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return rows


def _list_tables(con: duckdb.DuckDBPyConnection, schemas: list[str]) -> list[_Table]:
    """Base tables (not views) of the attached warehouse in ``schemas``, with their columns."""
    names = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_catalog = 'build' AND table_type = 'BASE TABLE'"
        " AND list_contains(?, table_schema) ORDER BY table_schema, table_name",
        [schemas],
    ).fetchall()
    return [_Table(schema, name, _columns(con, "build", schema, name)) for schema, name in names]


def _columns(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str
) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = ? AND table_schema = ? AND table_name = ?"
        " ORDER BY ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    return [(name, data_type) for name, data_type in rows]


def _write_parquet(
    con: duckdb.DuckDBPyConnection, tables: list[_Table], folder: Path
) -> dict[str, int]:
    """One ``<schema>.<table>.parquet`` per table into ``folder``; returns rows written.

    The rows of a table have no order, so DuckDB need not keep the stored one: it then writes a
    file's row groups from both cores (at 1M users 5.7 s against 6.7 s for every mart)."""
    rows: dict[str, int] = {}
    con.execute("SET preserve_insertion_order = false")
    try:
        for table in tables:
            target = folder / f"{table.qualified}.parquet"
            written = con.execute(
                f"COPY (SELECT * FROM build.{table.sql}) TO {literal(target)} (FORMAT parquet)"
            ).fetchone()
            rows[table.qualified] = int(written[0]) if written else 0
    finally:
        con.execute("RESET preserve_insertion_order")
    return rows


def _write_manifest(
    attempt: _Attempt,
    warehouse: Path,
    tables: list[_Table],
    rows: dict[str, int],
    published_at: dt.datetime,
    build: dict[str, Any],
) -> None:
    manifest = {
        "version": attempt.version,
        "published_at": _iso(published_at),
        "source_warehouse": str(warehouse.resolve()),
        "build_id": build.get("build_id"),
        "as_of_date": build.get("as_of_date"),
        "figures": build.get("figures"),
        # the holdout rules the build drew its groups by (docs/outcomes.md)
        "holdout": build.get("holdout"),
        # every var the build set away from its default, and whether a guard was relaxed
        "vars": build.get("vars") or {},
        "accepted_anomalies": bool(build.get("accepted_anomalies")),
        # each audience's export: members sent to, adds and removes since the previous version
        "audiences": build.get("audiences") or {},
        "tables": {
            table.qualified: {
                "file": f"{table.qualified}.parquet",
                "rows": rows[table.qualified],
                "columns": [{"name": name, "type": kind} for name, kind in table.columns],
            }
            for table in tables
        },
    }
    write_text_atomic(
        attempt.parquet_tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    )


def _create_views(
    con: duckdb.DuckDBPyConnection, tables: list[_Table], folder: Path
) -> dict[str, int]:
    """One view per table in the serving file over its Parquet file in ``folder`` (the version
    folder, in place); returns row counts. A type that did not survive Parquet fails here, not
    in a dashboard."""
    return _serve(
        con,
        tables,
        lambda table: "CREATE VIEW {} AS SELECT * FROM read_parquet({})".format(
            table.sql, literal(folder / f"{table.qualified}.parquet")
        ),
        "through Parquet",
    )


def _copy_tables(con: duckdb.DuckDBPyConnection, tables: list[_Table]) -> dict[str, int]:
    """Copy every table into the serving file under the same schema and name; returns row
    counts."""
    return _serve(
        con,
        tables,
        lambda table: f"CREATE TABLE {table.sql} AS SELECT * FROM build.{table.sql}",
        "in the copy",
    )


def _serve(
    con: duckdb.DuckDBPyConnection,
    tables: list[_Table],
    statement: Callable[[_Table], str],
    how: str,
) -> dict[str, int]:
    """Each table made in the serving file by ``statement`` (a view or a copy), under its own
    schema and name; its columns and types checked against the warehouse's; the row counts."""
    rows: dict[str, int] = {}
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    for schema in sorted({table.schema for table in tables}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
    for table in tables:
        con.execute(statement(table))
        served = _columns(con, catalog, table.schema, table.name)
        if served != table.columns:
            raise PublishError(
                f"columns of {table.qualified} changed {how}: {table.columns} -> {served}"
            )
        rows[table.qualified] = con.execute(f"SELECT count(*) FROM {table.sql}").fetchone()[0]
    return rows


def _write_meta(
    con: duckdb.DuckDBPyConnection,
    version: str,
    published_at: dt.datetime,
    warehouse: Path,
    rows: dict[str, int],
    build: dict[str, Any],
) -> None:
    """``strata_meta.publication``: one row per published table."""
    con.execute(f"CREATE SCHEMA {META_SCHEMA}")
    con.execute(
        f"CREATE TABLE {META_SCHEMA}.{META_TABLE} (version VARCHAR NOT NULL,"
        " published_at TIMESTAMP NOT NULL, source_warehouse VARCHAR NOT NULL,"
        " build_id VARCHAR, as_of_date DATE,"
        " table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, row_count BIGINT NOT NULL)"
    )
    naive_utc = published_at.astimezone(dt.UTC).replace(tzinfo=None)
    con.executemany(
        f"INSERT INTO {META_SCHEMA}.{META_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                version,
                naive_utc,
                str(warehouse.resolve()),
                build.get("build_id"),
                build.get("as_of_date"),
                *name.split(".", 1),
                count,
            ]
            for name, count in rows.items()
        ],
    )
    # The holdout rules the groups were drawn by, for the report: the current one (until null)
    # and every earlier one an entry may still be measured under (docs/outcomes.md).
    holdout = build.get("holdout") or {}
    con.execute(
        f"CREATE TABLE {META_SCHEMA}.holdout_rules (salt VARCHAR NOT NULL, share DOUBLE NOT NULL,"
        " until DATE)"
    )
    rules = [(rule["salt"], rule["share"], rule["until"]) for rule in holdout.get("history", [])]
    if holdout.get("salt") is not None:
        rules.append((holdout["salt"], holdout["share"], None))
    if rules:
        con.executemany(f"INSERT INTO {META_SCHEMA}.holdout_rules VALUES (?, ?, ?)", rules)


def _prune(serving_dir: Path, keep: int, current: str) -> list[str]:
    """Remove all but the newest ``keep`` versions (never ``current``); returns those removed."""
    versions = list_versions(serving_dir)
    survivors = set(versions[-keep:]) | {current}
    removed: list[str] = []
    for name in versions:
        if name in survivors:
            continue
        folder = serving_dir / VERSIONS_DIR / name
        doomed = serving_dir / VERSIONS_DIR / f".{name}.{secrets.token_hex(3)}.deleting"
        try:
            os.rename(folder, doomed)
        except OSError as error:
            log.warning("could not remove old published version %s: %s", folder, error)
            continue
        removed.append(name)
        shutil.rmtree(doomed, ignore_errors=True)
    return removed


# --- helpers -----------------------------------------------------------------------------------


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_version(serving_dir: Path, published_at: dt.datetime) -> str:
    """``<UTC timestamp>-<counter>``, greater than every generated version already present."""
    stamp = published_at.strftime("%Y%m%dT%H%M%SZ")
    counter = 1
    known = [*list_versions(serving_dir), current_version(serving_dir) or ""]
    generated = [match for name in known if (match := _GENERATED_RE.match(name))]
    if generated:
        latest = max(generated, key=lambda match: (match.group(1), int(match.group(2))))
        if latest.group(1) >= stamp:  # same second, or the clock went back: stay in order
            stamp, counter = latest.group(1), int(latest.group(2)) + 1
    return f"{stamp}-{counter:03d}"


@contextlib.contextmanager
def _publish_lock(serving_dir: Path) -> Iterator[None]:
    """Refuse a second concurrent publish to the same serving folder."""
    try:
        with FileLock(
            serving_dir / LOCK_FILE, what="another publish", remedy="try again when it is done"
        ):
            yield
    except LockHeld as error:
        raise PublishError(
            f"another publish to {serving_dir} is in progress (lock {serving_dir / LOCK_FILE})"
        ) from error


def _remove_stale_temporaries(serving_dir: Path) -> None:
    """Remove what a killed publish left behind (called under the publish lock): temp files, and
    a version folder that was renamed into place but never became current (the process died
    before switching). Such a folder is newer than the current version; left there, it would
    count as a kept version and push a real one out when old versions are pruned."""
    current = current_version(serving_dir)
    orphans = [
        serving_dir / VERSIONS_DIR / name
        for name in list_versions(serving_dir)
        if current is None or name > current
    ]
    stale = [
        *serving_dir.glob(f".{SERVING_DB}.*"),
        *serving_dir.glob(f".{CURRENT_LINK}.*.tmp"),
        *serving_dir.glob(f".{CURRENT_FILE}.*.tmp"),
        *(serving_dir / VERSIONS_DIR).glob(".*"),
        *orphans,
    ]
    for path in stale:
        try:
            remove_path(path)
        except OSError as error:
            log.warning("could not remove leftover %s: %s", path, error)


def _write_current_file(path: Path, version: str) -> None:
    write_text_atomic(path, version + "\n")
