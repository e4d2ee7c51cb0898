"""Publishing the marts to the serving location: contents, versions, pruning, failures, readers.

Fast: the warehouses are built with DuckDB directly, no dbt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from strata import publish as publish_module
from strata.publish import PublishError, PublishResult, current_version, list_versions, publish

SOURCE_TABLES = ["marts.dim_users", "marts.fct_orders", "marts.rpt_daily"]


def make_warehouse(path: Path, users: int = 5, tag: str = "a") -> Path:
    """A small built warehouse: three marts tables, a marts view, a staging table."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA staging")
        con.execute(
            f"""
            CREATE TABLE marts.dim_users AS
            SELECT range::INTEGER AS user_id,
                   'user-{tag}-' || range AS user_name,
                   DATE '2025-01-01' + range::INTEGER AS signup_date,
                   range % 2 = 0 AS is_active,
                   (range * 10.25)::DECIMAL(12, 2) AS lifetime_value,
                   CASE WHEN range % 3 = 0 THEN NULL ELSE 'champions' END AS rfm_segment
            FROM range({users})
            """
        )
        con.execute(
            """
            CREATE TABLE marts.fct_orders AS
            SELECT range AS order_id, (range % 3)::INTEGER AS user_id,
                   DATE '2025-02-01' + (range % 7)::INTEGER AS order_date,
                   (range * 1.5)::DECIMAL(10, 2) AS amount,
                   TIMESTAMP '2025-02-01 10:00:00' + INTERVAL (range) HOUR AS loaded_at
            FROM range(7)
            """
        )
        con.execute(
            "CREATE TABLE marts.rpt_daily"
            " (as_of_date DATE, stage VARCHAR, users BIGINT, ok BOOLEAN)"
        )
        con.execute(
            "INSERT INTO marts.rpt_daily VALUES ('2025-03-01', 'active', 3, true),"
            " ('2025-03-01', 'churned', 2, false)"
        )
        con.execute("CREATE VIEW marts.v_active_users AS SELECT * FROM marts.dim_users")
        con.execute("CREATE TABLE staging.stg_users AS SELECT * FROM marts.dim_users")
    return path


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {relation} ORDER BY ALL").fetchall()


def columns(con: duckdb.DuckDBPyConnection, catalog: str, qualified: str) -> list[tuple]:
    schema, table = qualified.split(".")
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = ? AND table_schema = ? AND table_name = ?"
        " ORDER BY ordinal_position",
        [catalog, schema, table],
    ).fetchall()


def published_users(serving: Path) -> tuple[str, int]:
    """(version, dim_users rows) as a fresh reader of the serving file sees them."""
    with duckdb.connect(str(serving / "strata.duckdb"), read_only=True) as con:
        (version,) = con.execute("SELECT DISTINCT version FROM strata_meta.publication").fetchone()
        (count,) = con.execute("SELECT count(*) FROM marts.dim_users").fetchone()
    return version, count


@pytest.mark.parametrize("copies", [False, True], ids=["views", "copies"])
def test_publishes_every_marts_table_and_nothing_else(tmp_path: Path, copies: bool) -> None:
    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"

    result = publish(warehouse, serving, copies=copies)

    assert isinstance(result, PublishResult)
    assert result.serving_db == serving / "strata.duckdb"
    assert result.parquet_dir == serving / "versions" / result.version
    assert result.tables == {"marts.dim_users": 5, "marts.fct_orders": 7, "marts.rpt_daily": 2}
    assert result.removed_versions == []
    assert result.seconds >= 0
    assert re.fullmatch(r"\d{8}T\d{6}Z-\d{3}", result.version)

    with duckdb.connect(str(result.serving_db), read_only=True) as con:
        con.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        published = con.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables"
            " WHERE table_catalog = 'strata' ORDER BY 1"
        ).fetchall()
        # by default each table is a view of its Parquet file in the version folder, by its
        # absolute path; with copies, a copy of the table
        assert published == [
            *[(name, "BASE TABLE" if copies else "VIEW") for name in SOURCE_TABLES],
            ("strata_meta.holdout_rules", "BASE TABLE"),
            ("strata_meta.publication", "BASE TABLE"),
        ]  # no staging table, no view of the warehouse; the publication's record and holdouts
        views = dict(
            con.execute(
                "SELECT schema_name || '.' || view_name, sql FROM duckdb_views()"
                " WHERE database_name = 'strata' AND NOT internal"
            ).fetchall()
        )
        if copies:
            assert views == {}
        else:
            assert sorted(views) == SOURCE_TABLES
            for name, sql in views.items():
                assert f"'{result.parquet_dir.resolve() / name}.parquet'" in sql
        for name in SOURCE_TABLES:
            assert rows(con, name) == rows(con, f"source.{name}")
            assert columns(con, "strata", name) == columns(con, "source", name)
            parquet = result.parquet_dir / f"{name}.parquet"
            assert rows(con, f"read_parquet('{parquet}')") == rows(con, f"source.{name}")
        meta = con.execute(
            "SELECT version, published_at, source_warehouse, table_schema || '.' || table_name,"
            " row_count FROM strata_meta.publication ORDER BY 4"
        ).fetchall()
    assert [(row[0], row[2], row[3], row[4]) for row in meta] == [
        (result.version, str(warehouse.resolve()), name, count)
        for name, count in result.tables.items()
    ]
    assert meta[0][1].strftime("%Y%m%dT%H%M%SZ") == result.version[:16]

    assert sorted(path.name for path in result.parquet_dir.iterdir()) == sorted(
        [*(f"{name}.parquet" for name in SOURCE_TABLES), "manifest.json"]
    )
    manifest = json.loads((result.parquet_dir / "manifest.json").read_text())
    assert manifest["version"] == result.version
    assert manifest["published_at"].endswith("Z")
    assert {name: table["rows"] for name, table in manifest["tables"].items()} == result.tables
    assert manifest["tables"]["marts.dim_users"]["columns"][:5] == [
        {"name": "user_id", "type": "INTEGER"},
        {"name": "user_name", "type": "VARCHAR"},
        {"name": "signup_date", "type": "DATE"},
        {"name": "is_active", "type": "BOOLEAN"},
        {"name": "lifetime_value", "type": "DECIMAL(12,2)"},
    ]
    # Only the final artefacts remain: no temp files, no backup of a previous serving file.
    assert sorted(path.name for path in serving.iterdir()) == [
        ".publish.lock",
        "CURRENT",
        "current",
        "strata.duckdb",
        "versions",
    ]


def test_version_pointer_and_version_order(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"
    assert current_version(serving) is None
    assert list_versions(serving) == []

    first = publish(warehouse, serving)
    second = publish(warehouse, serving)  # usually within the same second: the counter orders them
    third = publish(warehouse, serving, version="29991231T000000Z-manual")

    assert first.version < second.version < third.version
    assert list_versions(serving) == [first.version, second.version, third.version]
    assert current_version(serving) == third.version
    assert (serving / "CURRENT").read_text() == third.version + "\n"
    link = serving / "current"
    assert link.is_symlink()
    assert os.readlink(link) == f"versions/{third.version}"  # relative: the folder can move
    assert link.resolve() == (serving / "versions" / third.version).resolve()
    assert (link / "marts.dim_users.parquet").is_file()
    assert published_users(serving) == (third.version, 5)

    with pytest.raises(PublishError, match="already exists"):
        publish(warehouse, serving, version=second.version)
    with pytest.raises(PublishError, match="invalid version"):
        publish(warehouse, serving, version="../escape")
    assert current_version(serving) == third.version


def test_keeps_the_last_k_versions(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"
    results = [publish(warehouse, serving, keep=3) for _ in range(5)]

    versions = [result.version for result in results]
    assert list_versions(serving) == versions[-3:]
    assert current_version(serving) == versions[-1]
    assert sorted(path.name for path in (serving / "versions").iterdir()) == versions[-3:]
    assert [result.removed_versions for result in results] == [
        [],
        [],
        [],
        [versions[0]],
        [versions[1]],
    ]

    last = publish(warehouse, serving, keep=1)
    assert list_versions(serving) == [last.version]
    assert last.removed_versions == versions[-3:]


def _fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("simulated crash")


def _fail_first(original, *, after: bool = False, when=lambda *args: True):
    """Wrap ``original`` so that its first matching call raises (after running, if ``after``).

    Only the first: the rollback may call the same helper to restore the previous state.
    """
    failed = False

    def wrapped(*args, **kwargs):
        nonlocal failed
        if failed or not when(*args):
            return original(*args, **kwargs)
        failed = True
        if after:
            original(*args, **kwargs)
        _fail()

    return wrapped


def _onto_serving_db(source: Path, target: Path) -> bool:
    return target.name == "strata.duckdb"


# Each case makes one step raise. All of them must leave the previous publication as it was.
FAILURES = {
    # Step 1, midway: the Parquet files are written, the version folder is not yet in place.
    "parquet written": ("_write_parquet", lambda original: _fail_first(original, after=True)),
    # Between steps 1 and 2: the version folder is in place, the serving views are not made.
    "views created": ("_create_views", _fail_first),
    # The same with copies (setting serving_copies): the serving tables are not copied.
    "tables copied": ("_copy_tables", _fail_first),
    # Step 3: the serving file is complete in its temp file, replacing it fails.
    "serving replace": (
        "replace_file",
        lambda original: _fail_first(original, when=_onto_serving_db),
    ),
    # After step 3: the serving file is replaced, then switching `current` fails.
    "symlink switch": ("replace_symlink", _fail_first),
    # Step 4, midway: the symlink has switched, writing CURRENT fails.
    "CURRENT write": ("_write_current_file", _fail_first),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failure_at_any_step_leaves_the_previous_publication(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = tmp_path / "serving"
    copies = case == "tables copied"
    old = publish(
        make_warehouse(tmp_path / "old.duckdb", users=5, tag="old"), serving, copies=copies
    )
    new_warehouse = make_warehouse(tmp_path / "new.duckdb", users=9, tag="new")
    before = sorted(str(path.relative_to(serving)) for path in serving.rglob("*"))
    # A reader that has the old serving file open while the publish fails and rolls back.
    holder = duckdb.connect(":memory:")
    holder.execute(f"ATTACH '{serving / 'strata.duckdb'}' AS held (READ_ONLY)")

    name, make = FAILURES[case]
    monkeypatch.setattr(publish_module, name, make(getattr(publish_module, name)))
    with pytest.raises(PublishError, match="simulated crash") as raised:
        publish(new_warehouse, serving, copies=copies)
    assert str(new_warehouse) in str(raised.value)
    monkeypatch.undo()

    assert current_version(serving) == old.version
    assert os.readlink(serving / "current") == f"versions/{old.version}"
    assert list_versions(serving) == [old.version]
    assert published_users(serving) == (old.version, 5)
    assert holder.execute("SELECT count(*) FROM held.marts.dim_users").fetchone() == (5,)
    holder.close()
    after = sorted(str(path.relative_to(serving)) for path in serving.rglob("*"))
    assert after == before  # temp files, backups and the new version folder all cleaned up

    retried = publish(new_warehouse, serving)  # and the next publish works
    assert published_users(serving) == (retried.version, 9)


def test_a_failed_first_publish_leaves_nothing_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = tmp_path / "serving"
    monkeypatch.setattr(publish_module, "_write_current_file", _fail)
    with pytest.raises(PublishError):
        publish(make_warehouse(tmp_path / "build.duckdb"), serving)
    assert current_version(serving) is None
    assert list_versions(serving) == []
    assert sorted(path.name for path in serving.iterdir()) == [".publish.lock", "versions"]


def test_leftovers_of_a_killed_publish_are_cleaned_up(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"
    first = publish(warehouse, serving)
    (serving / ".strata.duckdb.x.tmp").write_bytes(b"half")
    (serving / "versions" / ".x.tmp").mkdir()
    (serving / ".CURRENT.abcd.tmp").write_text("x")

    second = publish(warehouse, serving)
    assert list_versions(serving) == [first.version, second.version]
    assert sorted(path.name for path in serving.iterdir() if path.name.startswith(".")) == [
        ".publish.lock"
    ]
    assert not [path for path in (serving / "versions").iterdir() if path.name.startswith(".")]


def test_a_version_renamed_into_place_but_never_switched_is_not_kept(tmp_path: Path) -> None:
    """A publish killed between putting its version folder in place and switching `current`
    leaves a folder no reader ever saw. The next publish removes it first, so that pruning keeps
    the versions that really were published."""
    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"
    first = publish(warehouse, serving, keep=2)
    second = publish(warehouse, serving, keep=2)
    orphan = serving / "versions" / "99990101T000000Z-001"
    orphan.mkdir()
    (orphan / "manifest.json").write_text("{}")
    assert current_version(serving) == second.version

    third = publish(warehouse, serving, keep=2)
    assert not orphan.exists()
    assert list_versions(serving) == [second.version, third.version]
    assert third.removed_versions == [first.version]


READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb

    db, mode, stop_file, final = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    expected = json.loads(sys.argv[5])  # version -> marts.dim_users row count
    seen, errors, reads = [], [], 0
    deadline = time.monotonic() + 8

    def check(con):
        versions = con.execute("select distinct version from strata_meta.publication").fetchall()
        count = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        if len(versions) != 1 or expected.get(versions[0][0]) != count:
            raise AssertionError(f"inconsistent: versions {versions}, {count} users")
        return versions[0][0]

    held = duckdb.connect(db, read_only=True) if mode == "hold" else None
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            if held is not None:
                version = check(held)
            else:
                with duckdb.connect(db, read_only=True) as con:
                    version = check(con)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
            version = None
        reads += 1
        if version and (not seen or seen[-1] != version):
            seen.append(version)
        if stop_file.exists() and (mode == "hold" or version == final):
            break
        time.sleep(0.002)
    print(json.dumps({"seen": seen, "errors": errors, "reads": reads}), flush=True)
    sys.exit(1 if errors else 0)
    """
)


@pytest.mark.parametrize("copies", [False, True], ids=["views", "copies"])
def test_readers_see_whole_versions_while_new_ones_are_published(
    tmp_path: Path, copies: bool
) -> None:
    """A held connection keeps its version, whole: with copies, even once its version folder is
    pruned (it reads the old file); with views, while its folder is kept, so here the four
    versions are all kept (a pruned version is the next test's)."""
    serving = tmp_path / "serving"
    keep = 2 if copies else 4
    counts = {f"v{index}": 100 * (index + 1) for index in range(4)}  # distinct per version
    warehouses = {
        version: make_warehouse(tmp_path / f"{version}.duckdb", users=count, tag=version)
        for version, count in counts.items()
    }
    publish(warehouses["v0"], serving, version="v0", copies=copies)
    stop = tmp_path / "stop"
    started = time.monotonic()
    readers = {
        mode: subprocess.Popen(
            [
                sys.executable,
                "-c",
                READER,
                str(serving / "strata.duckdb"),
                mode,
                str(stop),
                "v3",
                json.dumps(counts),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # "hold" keeps one connection open throughout; "poll" opens a new one for every read.
        for mode in ("hold", "poll")
    }
    try:
        for reader in readers.values():
            assert reader.stdout.readline().strip() == "ready"
        for version in ("v1", "v2", "v3"):
            time.sleep(0.25)
            publish(warehouses[version], serving, version=version, keep=keep, copies=copies)
        time.sleep(0.25)
        stop.touch()
        reports = {}
        for mode, reader in readers.items():
            out, err = reader.communicate(timeout=15)
            assert reader.returncode == 0, f"{mode} reader failed: {out}\n{err}"
            reports[mode] = json.loads(out.strip().splitlines()[-1])
    finally:
        for reader in readers.values():
            if reader.poll() is None:
                reader.kill()
                reader.wait()

    for mode, report in reports.items():
        assert report["errors"] == [], mode
        assert report["reads"] > 10, mode
    # The held connection keeps reading the version it opened, consistently, to the end.
    assert reports["hold"]["seen"] == ["v0"]
    # New connections see each version whole, in order, ending at the newest.
    seen = reports["poll"]["seen"]
    assert seen[0] == "v0" and seen[-1] == "v3"
    assert seen == sorted(seen)
    # And a new connection from here sees the newest version.
    assert published_users(serving) == ("v3", counts["v3"])
    assert list_versions(serving) == (["v2", "v3"] if copies else ["v0", "v1", "v2", "v3"])
    assert time.monotonic() - started < 10


def test_a_connection_held_past_its_pruned_version_fails_rather_than_mixing(
    tmp_path: Path,
) -> None:
    """With views, a connection opened on a version reads that version's Parquet files; once
    more publishes than `keep` have pruned them, its queries fail naming the missing file, and
    never read another version's rows. A new connection reads the current version."""
    serving = tmp_path / "serving"
    publish(make_warehouse(tmp_path / "v0.duckdb", users=5, tag="v0"), serving, version="v0")
    held = duckdb.connect(str(serving / "strata.duckdb"), read_only=True)
    try:
        assert held.execute("SELECT count(*) FROM marts.dim_users").fetchone() == (5,)
        publish(make_warehouse(tmp_path / "v1.duckdb", users=7, tag="v1"), serving, version="v1")
        # kept: the held connection still reads its own version, whole
        assert held.execute("SELECT count(*) FROM marts.dim_users").fetchone() == (5,)
        publish(
            make_warehouse(tmp_path / "v2.duckdb", users=9, tag="v2"), serving, version="v2",
            keep=1,
        )  # fmt: skip
        assert list_versions(serving) == ["v2"]
        with pytest.raises(duckdb.Error, match=r"versions/v0/marts\.dim_users\.parquet"):
            held.execute("SELECT count(*) FROM marts.dim_users").fetchone()
    finally:
        held.close()
    assert published_users(serving) == ("v2", 9)


def test_errors_name_the_problem(tmp_path: Path) -> None:
    serving = tmp_path / "serving"
    missing = tmp_path / "nowhere" / "build.duckdb"
    with pytest.raises(PublishError, match=re.escape(str(missing))):
        publish(missing, serving)
    assert not serving.exists()

    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("this is not a database")
    with pytest.raises(PublishError, match=re.escape(str(not_duckdb))):
        publish(not_duckdb, serving)

    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE VIEW marts.only_a_view AS SELECT 1 AS x")
    with pytest.raises(PublishError, match=f"{re.escape(str(empty))} has no tables in.*marts"):
        publish(empty, serving)

    warehouse = make_warehouse(tmp_path / "build.duckdb")
    with pytest.raises(PublishError, match="keep"):
        publish(warehouse, serving, keep=0)
    assert current_version(serving) is None
    assert list_versions(serving) == []


def test_a_second_concurrent_publish_is_refused(tmp_path: Path) -> None:
    import fcntl

    warehouse = make_warehouse(tmp_path / "build.duckdb")
    serving = tmp_path / "serving"
    serving.mkdir()
    with open(serving / ".publish.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        # flock locks belong to the open file description, so this process's own publish is
        # refused while the other handle holds the lock, just as another process's would be.
        with pytest.raises(PublishError, match="in progress"):
            publish(warehouse, serving)
    assert publish(warehouse, serving).tables["marts.dim_users"] == 5
