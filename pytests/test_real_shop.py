"""strata on a shop that looks like real data rather than its own demo: orders only, history that
starts in the 1990s and runs across 2015, a past as-of date, a second warehouse beside the first,
and a warehouse a reader holds open.

One orders-only history is built once for the module; the tests share it, in file order (the
last one changes it).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from orders_csv import write_orders_csv

from strata.cli import main
from strata.runs import RunRecord, append_run, new_run_id
from strata.settings import load_settings

# one worker for the module: its tests share one warehouse, in file order
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("real_shop")]

FIRST_DAY = dt.date(1997, 1, 3)
LAST_DAY = dt.date(2016, 3, 14)
AS_OF = "2016-03-31"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def write_orders(folder: Path) -> int:
    """Twelve customers buying on their own rhythm from 1997 to 2016, some for a few months only,
    one across the whole range: orders only, no sessions file."""
    rows = []
    for customer in range(12):
        start = FIRST_DAY + dt.timedelta(days=customer * 97)
        step = 20 + customer * 41  # days between orders
        count = 3 + customer % 5
        day = start
        for number in range(count if customer else 10_000):
            if day > LAST_DAY:
                break
            rows.append(
                [f"o{customer:02d}-{number:04d}", f"c{customer:02d}", f"{day}T12:00:00Z",
                 "completed", f"{10 + customer}.50", "USD"]
            )  # fmt: skip
            day += dt.timedelta(days=step if customer else 120)
    return write_orders_csv(folder, rows)


@pytest.fixture(scope="module")
def nineties(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The raw folder, the built warehouse and what `strata run` printed."""
    root = tmp_path_factory.mktemp("nineties")
    raw = root / "raw"
    write_orders(raw)
    db = root / "warehouse" / "warehouse.duckdb"
    code, output = run_cli("run", "--raw-dir", str(raw), "--db", str(db), "--as-of", AS_OF)
    assert code == 0, output
    return raw, db, output


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_an_orders_only_shop_runs_and_says_sessions_are_not_provided(nineties) -> None:
    _, db, output = nineties
    assert "sessions: not provided" in output
    assert query(db, "select source_table from marts.rpt_source_reconciliation") == [("orders",)]
    # without sessions, session metrics are unknown, not zero; activity comes from orders
    assert query(
        db,
        "select count(*), count(sessions_30d), count(session_minutes_30d), count(page_views_30d),"
        " count(has_open_cart), count(active_days_30d) from marts.dim_users",
    ) == [(12, 0, 0, 0, 0, 12)]


def test_history_spans_the_data_from_the_1990s_across_2015(nineties) -> None:
    _, db, _ = nineties
    months = (LAST_DAY.year - FIRST_DAY.year) * 12 + 3  # 1997-01 .. 2016-03
    assert query(
        db,
        "select min(period_start), max(period_start), count(*) from marts.rpt_growth_accounting"
        " where grain = 'month'",
    ) == [(dt.date(1997, 1, 1), dt.date(2016, 3, 1), months)]
    assert query(
        db,
        "select min(snapshot_date), max(snapshot_date), count(distinct snapshot_date)"
        " from marts.fct_user_rfm_snapshots",
    ) == [(dt.date(1997, 1, 31), dt.date(2016, 3, 31), months)]
    assert query(
        db,
        "select min(period_end), max(period_end), count(distinct period_end)"
        " from marts.rpt_segment_transitions where segment_type = 'lifecycle_stage'",
    ) == [(dt.date(1997, 1, 31), dt.date(2016, 3, 31), months)]
    assert query(db, "select min(valid_from) from marts.fct_user_lifecycle_history") == [
        (FIRST_DAY,)
    ]


def test_backfill_recomputes_the_range_and_says_which_dates(nineties) -> None:
    raw, db, _ = nineties
    code, output = run_cli(
        "backfill", "--start", "1998-01-01", "--end", "1998-12-31", "--as-of", AS_OF,
        "--raw-dir", str(raw), "--db", str(db),
    )  # fmt: skip
    assert code == 0, output
    assert "marts.fct_user_rfm_snapshots: 12 dates computed (1998-01-31..1998-12-31)" in output


def test_backfill_without_raw_data_is_a_usage_error(tmp_path: Path) -> None:
    code, output = run_cli(
        "backfill", "--start", "2025-01-01", "--end", "2025-06-30",
        "--db", str(tmp_path / "w.duckdb"),
    )  # fmt: skip
    assert code == 2
    assert "no raw data: pass --raw-dir" in output


def test_a_past_date_run_does_not_replace_what_dashboards_show(nineties) -> None:
    """A run for an earlier date builds (here with its own threshold) but leaves the published
    copy alone, unless asked. (Last of the tests on the module's warehouse: it changes it.)"""
    raw, db, _ = nineties
    settings = load_settings(db_path=str(db))
    published = (settings.serving / "CURRENT").read_text().strip()

    code, output = run_cli(
        "run", "--raw-dir", str(raw), "--db", str(db), "--as-of", "2000-12-31",
        "--vars", "{churn_after_days: 36500, dormant_after_days: 36499}",
    )  # fmt: skip
    assert code == 0, output
    assert "not published: this build is as of 2000-12-31, older than" in output
    assert (settings.serving / "CURRENT").read_text().strip() == published
    assert query(db, "select distinct as_of_date from marts.dim_users") == [
        (dt.date(2000, 12, 31),)
    ]
    # the thresholds given with --vars applied: nobody inactive long enough to churn
    assert query(
        db, "select count(*) from marts.dim_users where lifecycle_stage in ('churned', 'dormant')"
    ) == [(0,)]
    serving = settings.serving / "strata.duckdb"
    assert query(serving, "select distinct as_of_date from marts.dim_users") == [
        (dt.date(2016, 3, 31),)
    ]

    code, output = run_cli("publish", "--db", str(db), "--publish-older")
    assert code == 0, output
    assert query(serving, "select distinct as_of_date from marts.dim_users") == [
        (dt.date(2000, 12, 31),)
    ]


def test_vars_set_by_their_own_flags_are_refused(tmp_path: Path, raw_dir: Path) -> None:
    code, output = run_cli(
        "run", "--raw-dir", str(raw_dir), "--db", str(tmp_path / "w.duckdb"),
        "--vars", "{as_of_date: 2025-01-01}",
    )  # fmt: skip
    assert code == 2
    assert "set as_of_date with --as-of" in output


def test_two_warehouses_in_one_folder_keep_their_own_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    for db, command in ((first, "run"), (second, "backfill")):
        settings = load_settings(db_path=str(db))
        append_run(
            settings.history_file,
            RunRecord(run_id=new_run_id(), command=command, started_at="2026-11-30T06:00:00",
                      status="success", exit_code=0, as_of_date="2026-11-29",
                      warehouse=str(db), raw_dir=f"/data/{db.stem}"),
        )  # fmt: skip
    code, output = run_cli("status", "--db", str(first))
    assert code == 0
    assert f"warehouse {first}" in output and "raw data /data/a" in output
    assert "backfill" not in output and "/data/b" not in output
    assert load_settings(db_path=str(first)).serving != load_settings(db_path=str(second)).serving


def test_a_warehouse_held_open_by_a_reader_names_the_process(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time, duckdb
            con = duckdb.connect({str(db)!r})
            print("open", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        started = time.monotonic()
        code, output = run_cli("run", "--raw-dir", str(raw_dir), "--db", str(db))
        assert code == 3
        assert f"process {reader.pid}" in output
        assert "published copy" in output and str(load_settings(db_path=str(db)).serving) in output
        assert time.monotonic() - started < 5
        assert len(output.splitlines()) < 5  # a sentence, not a traceback
    finally:
        reader.kill()
        reader.wait()
