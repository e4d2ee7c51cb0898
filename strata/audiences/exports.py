"""Sync-ready audience exports, written with every publication (docs/audiences.md, "Exports").

For each audience of `marts.dim_audiences`, inside the version folder a publish is writing
(``versions/.<version>.tmp/audiences/<name>/``, renamed into place with the rest of the version,
so an export is never seen half-written):

    members.csv, members.parquet   the members an export sends to: current, not held out; columns
                                   user_id, entered_at, then the audience's `attributes`
    changes.csv, changes.parquet   the sync delta against the previous publication's members:
                                   change (`add` or `remove`), then the members' columns (a
                                   removed member carries the values it was exported with)
    manifest.json                  the audience, the version and the one before it, row counts and
                                   each file's size and SHA-256

CSV files are UTF-8 with a header line, every field quoted, comma-separated, `\\n` line ends, and
timestamps as ISO 8601 in UTC (`2026-06-01T00:00:00Z`); an empty field is a null (entered_at is
empty for a member who was already in on the audience's first evaluation day).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from strata.sql_text import literal

AUDIENCES_DIR = "audiences"
MEMBERS = "members"
CHANGES = "changes"
EXPORT_MANIFEST = "manifest.json"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def audiences(con: duckdb.DuckDBPyConnection, catalog: str) -> list[dict[str, Any]]:
    """The audiences of `catalog`.marts.dim_audiences (none when the warehouse has no such
    table, as one built before audiences existed)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_catalog = ? "
        "and table_schema = 'marts' and table_name = 'dim_audiences'",
        [catalog],
    ).fetchone()[0]
    if not exists:
        return []
    rows = con.execute(
        f"select audience_name, export_attributes, audience_kind, definition, defined_at "
        f"from {_ident(catalog)}.marts.dim_audiences order by definition_order"
    ).fetchall()
    return [
        {
            "name": name,
            "attributes": [part for part in (attributes or "").split(",") if part],
            "kind": kind,
            "definition": definition,
            "defined_at": defined_at,
        }
        for name, attributes, kind, definition, defined_at in rows
    ]


def members_sql(catalog: str, audience: dict[str, Any]) -> str:
    """The members an export sends to, in user_id order: current, not held out."""
    attributes = "".join(f", users.{_ident(column)}" for column in audience["attributes"])
    return (
        f"select memberships.user_id, memberships.entered_at{attributes} "
        f"from {_ident(catalog)}.marts.fct_audience_memberships as memberships "
        f"inner join {_ident(catalog)}.marts.dim_users as users "
        f"on memberships.user_id = users.user_id "
        f"where memberships.audience_name = {literal(audience['name'])} "
        f"and memberships.is_current and not memberships.is_holdout "
        f"order by memberships.user_id"
    )


def _csv_select(relation: str, columns: list[str]) -> str:
    """The relation with every timestamp as ISO 8601 text in UTC, for the CSV files."""
    parts = []
    for name, kind in columns:
        if kind.upper().startswith("TIMESTAMP"):
            parts.append(f"strftime({_ident(name)}, '%Y-%m-%dT%H:%M:%SZ') as {_ident(name)}")
        elif kind.upper() in {"DOUBLE", "FLOAT", "REAL"}:
            # plain decimals (6 places), never exponent notation an importer may not read
            parts.append(f"cast({_ident(name)} as decimal(38, 6)) as {_ident(name)}")
        else:
            parts.append(_ident(name))
    return f"select {', '.join(parts)} from {relation}"


def _write_pair(con: duckdb.DuckDBPyConnection, relation: str, folder: Path, stem: str) -> int:
    """`stem`.parquet and `stem`.csv of a relation; returns the rows written."""
    columns = [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]
    written = con.execute(
        f"copy (select * from {relation}) to {literal(folder / (stem + '.parquet'))} "
        "(format parquet)"
    ).fetchone()
    con.execute(
        f"copy ({_csv_select(relation, columns)}) to {literal(folder / (stem + '.csv'))} "
        "(format csv, header true, delimiter ',', quote '\"', escape '\"', force_quote *, "
        "new_line '\\n')"
    )
    return int(written[0]) if written else 0


def _file_entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def write_exports(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    folder: Path,
    *,
    version: str,
    as_of_date: str | None,
    previous: Path | None,
    previous_version: str | None,
) -> dict[str, dict[str, int]]:
    """Every audience's export into `folder`/<name>/; `previous` is the previous version's
    audiences folder (None on a first publication). Returns the counts per audience."""
    counts: dict[str, dict[str, int]] = {}
    for audience in audiences(con, catalog):
        held_out = con.execute(
            f"select count(*) from {_ident(catalog)}.marts.fct_audience_memberships "
            f"where audience_name = {literal(audience['name'])} and is_current and is_holdout"
        ).fetchone()[0]
        counts[audience["name"]] = write_export(
            con,
            audience,
            members_sql(catalog, audience),
            folder / audience["name"],
            held_out=held_out,
            previous=previous,
            manifest={"version": version, "as_of_date": as_of_date},
            previous_version=previous_version,
        )
    return counts


def write_export(
    con: duckdb.DuckDBPyConnection,
    audience: dict[str, Any],
    members: str,
    target: Path,
    *,
    held_out: int,
    previous: Path | None,
    manifest: dict[str, Any],
    previous_version: str | None,
) -> dict[str, int]:
    """One audience's export into `target`: its members (the query `members`, ordered by
    user_id), the changes against the same audience's members in the `previous` folder, and the
    manifest (`manifest` gives its version fields). Returns the counts."""
    name = audience["name"]
    target.mkdir(parents=True)
    con.execute(f"create or replace temp table export_members as {members}")
    member_count = _write_pair(con, "export_members", target, MEMBERS)
    before = previous / name / f"{MEMBERS}.parquet" if previous is not None else None
    if before is not None and before.is_file():
        con.execute(
            "create or replace temp table export_before as "
            f"select * from read_parquet({literal(before)})"
        )
        shared = [
            row[0]
            for row in con.execute("describe export_members").fetchall()
            if row[0] in {r[0] for r in con.execute("describe export_before").fetchall()}
        ]
        kept = ", ".join(f"before.{_ident(c)}" for c in shared)
        now = ", ".join(f"members.{_ident(c)}" for c in shared)
        con.execute(
            "create or replace temp table export_changes as "
            f"select 'add' as change, {now} from export_members as members "
            "anti join export_before as before on members.user_id = before.user_id "
            "union all "
            f"select 'remove' as change, {kept} from export_before as before "
            "anti join export_members as members on members.user_id = before.user_id "
            "order by change, user_id"
        )
        based_on = previous_version
    else:
        con.execute(
            "create or replace temp table export_changes as "
            "select 'add' as change, * from export_members order by user_id"
        )
        based_on = None
    _write_pair(con, "export_changes", target, CHANGES)
    adds, removes = con.execute(
        "select count(*) filter (where change = 'add'), "
        "count(*) filter (where change = 'remove') "
        "from export_changes"
    ).fetchone()
    counts = {"members": member_count, "adds": adds, "removes": removes, "held_out": held_out}
    document = {
        "audience": name,
        "kind": audience["kind"],
        "definition": audience["definition"],
        "defined_at": audience["defined_at"],
        **manifest,
        "changes_since_version": based_on,
        "counts": counts,
        "columns": [row[0] for row in con.execute("describe export_members").fetchall()],
        "files": [
            _file_entry(target / f"{stem}.{kind}")
            for stem in (MEMBERS, CHANGES)
            for kind in ("csv", "parquet")
        ],
    }
    (target / EXPORT_MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for table in ("export_members", "export_before", "export_changes"):
        con.execute(f"drop table if exists {table}")
    return counts
