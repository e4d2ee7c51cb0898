"""A season of daily runs: what a scheduler does to strata for weeks, on generated data.

A shop's data arrives as one Parquet part per day (`orders/<day>.parquet`, `sessions/...`), and
`strata run --as-of <day>` runs after each delivery, as a scheduler would. Along the way: a
ten-day outage and one catch-up run, late rows for a month already snapshotted, a re-delivered
file that corrects old orders, a day of bad data (refused, then accepted on purpose), a run
killed mid-build, and backfills (one for an earlier date). After every run the exit code is the
one expected, the published copy equals a fresh full build of the data it was built from, for
the same as-of date, in every mart, row for row, and the reconciliation accounts for every raw
row delivered.

Slow (about 25 runs, each beside its fresh reference build): `make test-season`, which CI runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from deliveries import Shop, differences

from strata.generate import generate
from strata.runs import read_runs

pytestmark = [pytest.mark.season, pytest.mark.xdist_group("season")]

SEED = 3
USERS = 250
# Every event keeps its date; plain days are few (four before the outage, four after the
# backfills): another plain day proves what the one before it did, at a pair of builds each.
START = dt.date(2026, 2, 7)  # the first run; everything before arrives in one first delivery
END = dt.date(2026, 3, 20)  # the generated data ends here
LATE_MONTH = "2026-01"  # 5% of this month's orders arrive late, on the day below
LATE_DAY = 18  # 2026-02-24
CORRECTED_DAY = 19  # 2026-02-25: the first delivery is re-sent with some orders refunded
BAD_DAY = 21  # 2026-02-27
KILLED_DAY = 23  # 2026-03-01, the first day of a month
OUTAGE = range(5, 15)  # no runs on these ten days (02-11..02-20); day 15 catches up
BACKFILL_DAY = 25  # 2026-03-03: a backfill of January and February; the next day, an earlier one
LAST_DAY = 30  # 2026-03-08: four plain days after the backfills


def day(index: int) -> dt.date:
    return START + dt.timedelta(days=index - 1)


def strata(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", *args], capture_output=True, text=True, timeout=600
    )


def run_day(shop: Shop, index: int, *extra: str) -> subprocess.CompletedProcess:
    return strata(
        "run", "--raw-dir", str(shop.raw), "--db", str(shop.db), "--as-of", str(day(index)),
        *extra,
    )  # fmt: skip


def build_reference(shop: Shop, as_of: str, accept: bool = False) -> Path:
    """A fresh full build of the raw folder as it is now, for `as_of` (deliveries.Shop)."""
    return shop.build_reference(as_of, '{"accept_anomalies": true}' if accept else None)


def published(shop: Shop) -> str:
    return (shop.settings.serving / "CURRENT").read_text().strip()


def check(shop: Shop, result: subprocess.CompletedProcess, expected_exit: int, label: str) -> None:
    assert result.returncode == expected_exit, f"{label}: {result.stdout}\n{result.stderr}"
    version = published(shop)
    reference = shop.references[version]
    problems = differences(shop.settings.serving / "strata.duckdb", reference)
    assert problems == [], f"{label}: published {version} differs from a fresh build: {problems}"
    with duckdb.connect(str(shop.settings.serving / "strata.duckdb"), read_only=True) as con:
        for source, raw, *parts in con.execute(
            "select source_table, raw_rows, clean_rows, superseded_rows, excluded_rows,"
            " quarantined_rows from marts.rpt_source_reconciliation"
        ).fetchall():
            assert raw == sum(parts), f"{label}: {source} does not reconcile"


def publish_expected(
    shop: Shop, command: list[str], index: int, label: str, accept: bool = False
) -> subprocess.CompletedProcess:
    """Run a strata command that must publish and, at the same time (two cores), a fresh
    reference build of the same data for the same date; then compare what was published with it.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "strata.cli", *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    reference = build_reference(shop, str(day(index)), accept)
    stdout, stderr = process.communicate(timeout=600)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, f"{label}: {result.stdout}\n{result.stderr}"
    shop.references[published(shop)] = reference
    check(shop, result, 0, label)
    with duckdb.connect(str(shop.settings.serving / "strata.duckdb"), read_only=True) as con:
        for source, raw in con.execute(
            "select source_table, raw_rows from marts.rpt_source_reconciliation"
        ).fetchall():
            assert raw == shop.delivered_rows(source), f"{label}: {source} raw rows"
    return result


def day_args(shop: Shop, index: int, *extra: str) -> list[str]:
    return [
        "run", "--raw-dir", str(shop.raw), "--db", str(shop.db), "--as-of", str(day(index)),
        *extra,
    ]  # fmt: skip


def test_a_season_of_daily_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real guards, not the fixture's relaxed ones: the bad day must be refused.
    monkeypatch.delenv("STRATA_DBT_VARS", raising=False)
    shop = Shop(tmp_path, START)
    generate(users=USERS, seed=SEED, end_date=END, out_dir=shop.full, dirty_share=0.005)
    # 5% of the late month's orders, held back until LATE_DAY
    late = f"strftime(event_day, '%Y-%m') = '{LATE_MONTH}' and row_key % 20 = 0"
    shop.deliver("orders", "0000-first", f"event_day <= date '{START}' and not ({late})")
    shop.deliver("sessions", "0000-first", f"event_day <= date '{START}'")

    def deliver_day(index: int) -> None:
        for table in ("orders", "sessions"):
            shop.deliver(table, str(day(index)), f"event_day = date '{day(index)}'")

    publish_expected(shop, day_args(shop, 1), 1, "day 1: first run")
    for index in range(2, LAST_DAY + 1):
        deliver_day(index)
        label = f"day {index} ({day(index)})"
        if index in OUTAGE:
            continue
        if index == LATE_DAY:
            shop.deliver("orders", "late", late)
        if index == CORRECTED_DAY:
            # The first delivery again, with one completed order in fifty refunded.
            first = shop.raw / "orders" / "0000-first.parquet"
            with duckdb.connect() as con:
                con.execute(
                    f"copy (select * replace (case when status = 'completed'"
                    f" and hash(order_id) % 50 = 0 then 'refunded' else status end as status,"
                    f" case when status = 'completed' and hash(order_id) % 50 = 0"
                    f" then '{day(index)}T08:00:00Z' else updated_at end as updated_at)"
                    f" from read_parquet('{first}')) to '{first}.new' (format parquet)"
                )
            os.replace(f"{first}.new", first)
        if index == BAD_DAY:
            # A flood of broken orders: far more than the guard's share is quarantined.
            bad = shop.raw / "orders" / "bad.parquet"
            with duckdb.connect() as con:
                con.execute(
                    "copy (select 'bad-' || range as order_id, 'u' || range as user_id,"
                    f" '{day(index)}T10:00:00Z' as ordered_at, 'completed' as status,"
                    " 'twelve' as amount, 'USD' as currency from range(2000))"
                    f" to '{bad}' (format parquet)"
                )
            before = published(shop)
            result = run_day(shop, index)
            assert result.returncode == 1, result.stdout + result.stderr
            # either guard may stop it first (the build stops at its first failure): the whole
            # history's share, or the new delivery's (issue #23); both name the orders
            assert re.search(r"quarantined share (of new rows )?for orders", result.stderr)
            assert published(shop) == before
            check(shop, result, 1, f"{label}: bad data refused")
            publish_expected(
                shop,
                day_args(shop, index, "--accept-anomaly"),
                index,
                f"{label}: accepted",
                accept=True,
            )
            assert read_runs(shop.settings.history_file)[-1].accepted_anomalies
            bad.unlink()  # the source fixes its feed for the next day
            continue
        if index == KILLED_DAY:
            before = published(shop)
            process = subprocess.Popen(
                [sys.executable, "-m", "strata.cli", "run", "--raw-dir", str(shop.raw),
                 "--db", str(shop.db), "--as-of", str(day(index))],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            child = wait_for_dbt(process.pid)
            time.sleep(3)  # well into the build
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert wait_gone(child), "dbt kept running after strata was killed"
            assert published(shop) == before
            assert read_runs(shop.settings.history_file)[-1].status == "killed"
            continue
        if index == BACKFILL_DAY:
            result = publish_expected(
                shop,
                ["backfill", "--start", "2026-01-01", "--end", "2026-02-28", "--raw-dir",
                 str(shop.raw), "--db", str(shop.db), "--as-of", str(day(index))],
                index,
                f"{label}: backfill",
            )  # fmt: skip
            assert "fct_user_rfm_snapshots: 2 dates computed (2026-01-31..2026-02-28)" in (
                result.stdout
            ), result.stdout
            continue
        if index == BACKFILL_DAY + 1:
            # A backfill for an earlier date builds it but leaves the published copy alone.
            before = published(shop)
            result = strata("backfill", "--start", "2026-02-01", "--end", "2026-02-28",
                            "--raw-dir", str(shop.raw), "--db", str(shop.db),
                            "--as-of", str(day(3)))  # fmt: skip
            assert "not published" in result.stdout, result.stdout + result.stderr
            assert published(shop) == before
            check(shop, result, 0, f"{label}: backfill for an earlier date")
            continue
        publish_expected(shop, day_args(shop, index), index, label)
    runs = read_runs(shop.settings.history_file)
    assert [run.status for run in runs].count("killed") == 1


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def wait_for_dbt(pid: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(pid):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"dbt" in command and b"build" in command:
                return child
        time.sleep(0.1)
    raise AssertionError("strata never started dbt")


def wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        try:
            if (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True  # a zombie: it exited, its (killed) parent will never reap it
        except OSError:
            return True
        time.sleep(0.1)
    return False
