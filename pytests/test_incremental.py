"""An incremental daily build equals a full refresh (docs/scheduling.md, "Deliveries").

On generated data delivered a file per day, `strata run` builds incrementally on DuckDB: the base
models read only new files (with the stored rows under the keys those files carry), the user-days
and the lifecycle history recompute only the users a delivery or the move of D can change. After
every run below, every table of the marts and intermediate schemas equals a fresh full build of
the same files for the same as-of date, row for row:

1. new deliveries, day after day;
2. a delivery of later versions of old orders (refunds) and one that repeats old session ids,
   some identical and some with other content, among them every session of one user, who is
   then left with no rows;
3. a re-delivered (rewritten) old file: the base models fall back to a full build, saying why;
4. a changed var: the models it affects fall back to a full build;
5. an as-of date earlier than the last build's: a full build;
6. several days delivered at once after a gap.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from deliveries import Shop, copy_schemas, differences

from strata.generate import generate

# One of the season tier's two xdist groups: test_season.py is the other, about as long as these
# three sequences together (docs/testing.md).
pytestmark = [pytest.mark.season, pytest.mark.xdist_group("sequences")]

START = dt.date(2026, 2, 1)
END = dt.date(2026, 2, 12)
USERS = 800
SCHEMAS = ("marts", "intermediate")
INCREMENTAL_MODELS = {
    "base_shop__orders",
    "base_shop__sessions",
    "int_user_days_aggregated",
    "int_stage_change_points_listed",
    "int_user_stages_evaluated",
    "fct_user_lifecycle_history",
    "fct_lifecycle_events",
    "int_users_last_platform",
    "fct_play_entries",
}


def day(index: int) -> dt.date:
    return START + dt.timedelta(days=index)


def modes(db: Path) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select model, mode, reason from strata_meta.incremental_state")
        return {model: (mode, reason) for model, mode, reason in rows.fetchall()}


def user_days_of(db: Path, user_id: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        query = "select count(*) from intermediate.int_user_days_aggregated where user_id = ?"
        return con.execute(query, [user_id]).fetchone()[0]


def first_day_of(db: Path, user_id: str) -> dt.date:
    with duckdb.connect(str(db), read_only=True) as con:
        query = (
            "select min(activity_date) from intermediate.int_user_days_aggregated where user_id = ?"
        )
        return con.execute(query, [user_id]).fetchone()[0]


def temporary_tables_left(shop: Shop) -> dict[str, list[str]]:
    """The temporary tables that the incremental build of each incremental model (and of the RFM
    snapshots) reads and does not drop, by the SQL the run wrote: dbt's table of the new rows and
    the pre-hook's list of users. Each would stay in memory until the dbt process ends; at 10M
    users they ran a later model out of memory."""
    run = shop.db.parent / ".strata" / shop.db.stem / "target" / "run"
    left = {}
    for model in (*INCREMENTAL_MODELS, "fct_user_rfm_snapshots"):
        (path,) = run.rglob(f"{model}.sql")
        sql = path.read_text()
        read = set(re.findall(r"\b(\w+__dbt_tmp\d+|strata_changed_users__\w+)", sql))
        dropped = set(re.findall(r'drop table (?:if exists )?"?(\w+)', sql))
        if not read:
            left[model] = ["none read: not an incremental build?"]
        elif read - dropped:
            left[model] = sorted(read - dropped)
    return left


def run_and_compare(shop: Shop, as_of: dt.date, *extra: str, dbt_vars: str | None = None) -> str:
    """`strata run` for `as_of` and, at the same time (two cores), a fresh full build of the same
    files; then every table of SCHEMAS must be equal. Returns the run's output."""
    command = [sys.executable, "-m", "strata.cli", "run", "--raw-dir", str(shop.raw),
               "--db", str(shop.db), "--as-of", str(as_of), "--no-publish", *extra]  # fmt: skip
    if dbt_vars:
        command += ["--vars", dbt_vars]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reference = shop.build_reference(str(as_of), dbt_vars, snapshot_schemas=SCHEMAS)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    snapshot = shop.root / "runs" / f"{as_of}-{shop.reference_count}.duckdb"
    snapshot.parent.mkdir(exist_ok=True)
    copy_schemas(shop.db, snapshot, SCHEMAS)
    problems = differences(snapshot, reference, SCHEMAS)
    assert problems == [], f"as of {as_of}: the incremental build differs: {problems}"
    return output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    shop = Shop(tmp_path_factory.mktemp("incremental"), START)
    generate(users=USERS, seed=5, end_date=END, out_dir=shop.full, dirty_share=0.01)
    return shop


def test_incremental_builds_equal_full_refreshes(shop: Shop) -> None:
    for table in ("orders", "sessions"):
        shop.deliver(table, "0000-history", f"event_day <= date '{day(0)}'")
    run_and_compare(shop, day(0))

    # 1. a new day: every incremental model builds incrementally
    for table in ("orders", "sessions"):
        shop.deliver(table, str(day(1)), f"event_day = date '{day(1)}'")
    run_and_compare(shop, day(1))
    assert {model: mode for model, (mode, _) in modes(shop.db).items()} == dict.fromkeys(
        INCREMENTAL_MODELS, "incremental"
    )
    assert temporary_tables_left(shop) == {}

    # 2. later versions of old orders, and old session ids delivered again
    for table in ("orders", "sessions"):
        shop.deliver(table, str(day(2)), f"event_day = date '{day(2)}'")
    history = shop.raw / "orders" / "0000-history.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * replace ('refunded' as status, '{day(2)}T09:00:00Z' as updated_at)"
            f" from read_parquet('{history}')"
            " where status = 'completed' and hash(order_id) % 40 = 0)"
            f" to '{shop.raw / 'orders' / 'corrections'}.parquet' (format parquet)"
        )
        sessions = shop.raw / "sessions" / "0000-history.parquet"
        con.execute(
            "copy (select * replace (case when hash(session_id) % 2 = 0 then page_views"
            " else '97' end as page_views)"
            f" from read_parquet('{sessions}') where hash(session_id) % 50 = 0)"
            f" to '{shop.raw / 'sessions' / 'resent'}.parquet' (format parquet)"
        )
        # a user without orders whose every session so far comes again with other content: all
        # the copies are quarantined, so the user has no rows left, and an incremental build must
        # remove the user's stored rows, not only replace them with new ones
        (lost,) = con.execute(
            f"select user_id from read_parquet('{shop.raw / 'sessions'}/*.parquet', filename=true)"
            " where user_id is not null group by user_id"
            " having bool_and(filename like '%0000-history%') and user_id not in"
            f" (select user_id from read_parquet('{shop.raw / 'orders'}/*.parquet')"
            "  where user_id is not null)"
            " order by user_id limit 1"
        ).fetchone()
        con.execute(
            "copy (select * replace (case when page_views = '96' then '95' else '96' end"
            f" as page_views) from read_parquet('{sessions}') where user_id = '{lost}')"
            f" to '{shop.raw / 'sessions' / 'forgotten'}.parquet' (format parquet)"
        )
        # a session delivered again with a start that cannot be parsed: both copies are
        # quarantined, so the user's first day goes, and only the stored copy has a day
        (moved, resent_id) = con.execute(
            "select user_id, session_id from (select user_id, session_id,"
            " left(started_at, 10) as started_day,"
            " count(*) over (partition by user_id, left(started_at, 10)) as that_day,"
            " min(left(started_at, 10)) over (partition by user_id) as first_day,"
            f" count(*) over (partition by user_id) as sessions from read_parquet('{sessions}')"
            f" where user_id is not null and user_id <> '{lost}' and user_id not in"
            f" (select user_id from read_parquet('{shop.raw / 'orders'}/*.parquet')"
            "  where user_id is not null))"
            " where started_day = first_day and that_day = 1 and sessions >= 3"
            " order by user_id limit 1"
        ).fetchone()
        con.execute(
            "copy (select * replace ('not a time' as started_at)"
            f" from read_parquet('{sessions}') where session_id = '{resent_id}')"
            f" to '{shop.raw / 'sessions' / 'unparsed'}.parquet' (format parquet)"
        )
    assert user_days_of(shop.db, lost) > 0
    first_day = first_day_of(shop.db, moved)
    run_and_compare(shop, day(2))
    assert user_days_of(shop.db, lost) == 0
    assert first_day_of(shop.db, moved) > first_day
    assert modes(shop.db)["base_shop__orders"][0] == "incremental"
    assert modes(shop.db)["base_shop__sessions"][0] == "incremental"

    # 3. an old file rewritten in place: the base models cannot trust what they read from it
    for table in ("orders", "sessions"):
        shop.deliver(table, str(day(3)), f"event_day = date '{day(3)}'")
    with duckdb.connect() as con:
        con.execute(
            "copy (select * replace (case when hash(order_id) % 30 = 0 then 'cancelled'"
            f" else status end as status) from read_parquet('{history}'))"
            f" to '{history}.new' (format parquet)"
        )
    os.replace(f"{history}.new", history)
    output = run_and_compare(shop, day(3))
    mode, reason = modes(shop.db)["base_shop__orders"]
    assert mode == "full" and "has changed" in reason and "0000-history" in reason
    assert "base_shop__orders rebuilt in full" in output

    # 4. a changed var: the lifecycle models are rebuilt, the base models are not
    run_and_compare(shop, day(3), dbt_vars="{dormant_after_days: 25}")
    state = modes(shop.db)
    assert state["int_stage_change_points_listed"][0] == "full"
    assert state["base_shop__orders"][0] == "incremental"

    # 5. an as-of date earlier than the last build's
    run_and_compare(shop, day(2))
    mode, reason = modes(shop.db)["int_user_days_aggregated"]
    assert mode == "full" and "earlier" in reason

    # 6. several days at once, after a gap
    for index in (4, 5, 6):
        for table in ("orders", "sessions"):
            shop.deliver(table, str(day(index)), f"event_day = date '{day(index)}'")
    run_and_compare(shop, day(6))
    assert {model: mode for model, (mode, _) in modes(shop.db).items()} == dict.fromkeys(
        INCREMENTAL_MODELS, "incremental"
    )

    # 7. a changed holdout var: the events (whose is_holdout it decides) are rebuilt, the
    # history they come from is not
    run_and_compare(shop, day(6), dbt_vars="{holdout_share: 0.25}")
    state = modes(shop.db)
    assert state["fct_lifecycle_events"] == (
        "full",
        "its code, vars or seeds changed since the last build",
    )
    assert state["fct_user_lifecycle_history"][0] == "incremental"
