"""The benchmark's own machinery (tools/bench, make bench), on small hand-made data: the figures it
prints are only as good as the deliveries it splits, the equality it checks before printing the
new-day share and the way it reports a difference. No time is asserted anywhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tools.baseline import run_baseline, run_floor
from tools.bench.checks import schema_differences
from tools.bench.cli import _sizes
from tools.bench.cli import main as bench_main
from tools.bench.deliveries import deliver, split_deliveries
from tools.bench.measure import (
    Step,
    StepFailed,
    run_measured,
    step_command,
    step_env,
    tree_rss_bytes,
)
from tools.bench.report import growth_table, render, write_docs
from tools.bench.run import Bench, NewDay, SizeResult, SparkBench
from tools.bench.step import main as step_main

PROJECT_DIR = Path(__file__).resolve().parent.parent
AS_OF = "2025-06-03"
DAY = dt.date(2026, 6, 30)


def write_parquet(path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"copy ({select}) to '{path}' (format parquet)")


def count(path: Path) -> int:
    with duckdb.connect() as con:
        return con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]


def test_split_puts_the_new_day_aside_and_deliver_lands_it(tmp_path: Path) -> None:
    source, raw, pending = tmp_path / "source", tmp_path / "raw", tmp_path / "pending"
    for table, column, later in (
        ("orders", "ordered_at", "updated_at"),
        ("sessions", "started_at", "ended_at"),
    ):
        write_parquet(
            source / f"{table}.parquet",
            f"select * from (values ('a', '2026-06-29T23:59:59Z', null),"
            f" ('b', '2026-06-30T00:00:00Z', null), ('c', '2026-06-30T01:00:00+02:00', ''),"
            f" ('d', 'not a time', 'nor this'), ('e', '2027-01-01', null),"
            f" ('f', '2026-06-29T23:00:00Z', '2026-06-30T00:00:01Z'))"
            f" as t(id, {column}, {later})",
        )
    counts = split_deliveries(source, raw, pending, DAY)
    # 01:00+02:00 on the 30th is the 29th in UTC; an unparseable time arrives with the history;
    # a future row arrives with the new day's file, and so does a row of the 29th whose latest
    # time (an update, an end) is on the 30th: the history could not have held it.
    assert counts == {
        "orders/history.parquet": 3,
        "orders/2026-06-30.parquet": 3,
        "sessions/history.parquet": 3,
        "sessions/2026-06-30.parquet": 3,
    }
    assert sorted(p.name for p in (raw / "orders").iterdir()) == ["history.parquet"]
    # Delivered when the data say, not when the benchmark wrote them: the history at the start
    # of the day, the new day at its end.
    start = dt.datetime(2026, 6, 30, tzinfo=dt.UTC).timestamp()
    assert (raw / "orders" / "history.parquet").stat().st_mtime == start
    assert (pending / "sessions" / "2026-06-30.parquet").stat().st_mtime == start + 86_400
    delivered = deliver(pending, raw)
    assert [p.relative_to(raw).as_posix() for p in delivered] == [
        "orders/2026-06-30.parquet",
        "sessions/2026-06-30.parquet",
    ]
    assert (raw / "orders" / "2026-06-30.parquet").stat().st_mtime == start + 86_400
    assert count(raw / "orders" / "*.parquet") == 6
    assert not list(pending.glob("*/*.parquet"))


def marts(path: Path, rows: str, extra: str = "") -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.dim_users as select * from (values {rows}) t(id, n)")
        if extra:
            con.execute(extra)
    return path


def test_marts_are_compared_row_for_row_both_ways(tmp_path: Path) -> None:
    left = marts(tmp_path / "l.duckdb", "('a', 1), ('a', 1), ('b', 2)")
    same = marts(tmp_path / "s.duckdb", "('b', 2), ('a', 1), ('a', 1)")
    assert schema_differences(left, same) == []
    # A duplicate row lost counts: EXCEPT ALL, not EXCEPT.
    fewer = marts(tmp_path / "f.duckdb", "('a', 1), ('b', 2)")
    assert schema_differences(left, fewer) == ["dim_users: 1 rows only incremental, 0 only fresh"]
    more = marts(
        tmp_path / "m.duckdb",
        "('a', 1), ('a', 1), ('b', 2)",
        "create table marts.fct_extra as select 1 as x",
    )
    assert schema_differences(left, more) == [
        "tables differ: only incremental [], only fresh ['fct_extra']"
    ]
    # Nothing to compare is not "equal".
    empty = tmp_path / "e.duckdb"
    duckdb.connect(str(empty)).close()
    assert schema_differences(empty, empty) == ["no tables in schema marts on either side"]


def test_the_baseline_reads_a_folder_of_deliveries_like_one_file(
    raw_dir: Path, tmp_path: Path
) -> None:
    """Same rows split over two delivery files give the baseline the same answer."""
    folder = tmp_path / "delivered"
    for table in ("orders", "sessions"):
        rows = f"read_csv('{raw_dir / table}.csv', header = true, all_varchar = true)"
        with duckdb.connect() as con:
            total = con.execute(f"select count(*) from {rows}").fetchone()[0]
        half = total // 2
        write_parquet(
            folder / table / "history.parquet",
            f"select * from {rows} limit {half}",
        )
        write_parquet(folder / table / "day.parquet", f"select * from {rows} offset {half}")
    expected, _ = run_baseline(raw_dir, AS_OF, project_dir=PROJECT_DIR)
    got, _ = run_baseline(folder, AS_OF, project_dir=PROJECT_DIR)
    assert sorted(got, key=repr) == sorted(expected, key=repr)


def test_the_baseline_judges_the_future_by_each_rows_own_delivery(tmp_path: Path) -> None:
    """An order updated after its own file was delivered is quarantined, as strata does
    (future_updated_at), even when a later delivery in the folder would cover it: judged against
    the folder's newest file, one user of 10M disagreed with strata on F. The same row in the
    later delivery counts."""
    sessions = (
        "select * from (values ('s1', 'u2', '2026-06-28T09:00:00Z', '2026-06-28T09:10:00Z',"
        " 'web', '3', 'false')) as t(session_id, user_id, started_at, ended_at, platform,"
        " page_views, added_to_cart)"
    )
    clean = "('o2', 'u2', '2026-06-28T10:00:00Z', 'completed', '20.00', 'USD', null)"
    # updated two hours after its delivery at the start of the 29th: beyond the hour's tolerance
    late = (
        "('o1', 'u1', '2026-06-28T10:00:00Z', 'completed', '30.00', 'USD', '2026-06-29T02:00:00Z')"
    )
    columns = "t(order_id, user_id, ordered_at, status, amount, currency, updated_at)"
    first = dt.datetime(2026, 6, 29, tzinfo=dt.UTC).timestamp()

    def users(late_in: str) -> set[str]:
        folder = tmp_path / late_in
        write_parquet(folder / "sessions" / "history.parquet", sessions)
        for name, rows in (("history", [clean]), ("day", [])):
            rows = rows + ([late] if name == late_in else [])
            values = ", ".join(rows) or clean.replace("'o2'", "'o3'")
            path = folder / "orders" / f"{name}.parquet"
            write_parquet(path, f"select * from (values {values}) as {columns}")
            stamp = first if name == "history" else first + 86_400
            os.utime(path, (stamp, stamp))
        rows, _ = run_baseline(folder, "2026-06-29", project_dir=PROJECT_DIR)
        return {row[0] for row in rows}

    assert users("history") == {"u2"}
    assert users("day") == {"u1", "u2"}


def test_the_floor_is_a_real_entry_point_with_stages_and_scores(
    raw_dir: Path, tmp_path: Path
) -> None:
    rows, seconds = run_floor(raw_dir, AS_OF, project_dir=PROJECT_DIR)
    assert rows and seconds >= 0
    assert len({row[0] for row in rows}) == len(rows)
    assert {row[1] for row in rows} <= {
        "churned", "dormant", "new", "reactivated", "at_risk", "loyal", "active"
    }  # fmt: skip
    assert any(row[2] is not None for row in rows)
    out = tmp_path / "floor.json"
    result = CliRunner().invoke(
        step_main,
        ["floor", "--raw-dir", str(raw_dir), "--as-of", AS_OF,
         "--project-dir", str(PROJECT_DIR), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["users"] == len(rows)


def test_a_measured_step_runs_in_a_process_of_its_own(tmp_path: Path) -> None:
    log = tmp_path / "bench.log"
    step = run_measured(step_command("generator-version"), step_env({"PATH": ""}), PROJECT_DIR, log)
    assert step.seconds > 0 and step.peak_rss_bytes > 10 * 1024**2
    assert log.read_text().strip().splitlines()[-1].isdigit()


def test_a_step_counts_the_memory_of_a_descendant_nobody_waits_for(tmp_path: Path) -> None:
    """As PySpark's JVM: a grandchild re-parented when its parent exits, never waited for by the
    step, escapes ru_maxrss; the sampled tree still counts it."""
    ready = tmp_path / "ready"
    hold = (
        "import pathlib, sys, time; block = bytearray(300 * 1024 ** 2);"
        " block[::4096] = b'x' * len(block[::4096]); pathlib.Path(sys.argv[1]).touch();"
        " time.sleep(3)"
    )
    # the parent outlives the grandchild's allocation by three samples, however slow the machine
    spawn = (
        "import pathlib, subprocess, sys, time;"
        " subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]]);"
        " ready = pathlib.Path(sys.argv[2])\n"
        "while not ready.exists(): time.sleep(0.05)\n"
        "time.sleep(1.5)"
    )
    command = [sys.executable, "-c", spawn, hold, str(ready)]
    step = run_measured(command, {}, tmp_path, tmp_path / "log")
    assert step.peak_rss_bytes > 300 * 1024**2
    assert tree_rss_bytes(os.getpid()) > 10 * 1024**2  # this process, at least
    assert tree_rss_bytes(2**22 + 1) == 0  # no such process


# A stand-in for dbt: `run` builds model a and fails model b with the message given, as dbt
# writes it into run_results.json; `retry` builds b.
FAKE_DBT = """\
import json, os, pathlib, sys
target = pathlib.Path(os.environ["DBT_TARGET_PATH"])
target.mkdir(parents=True, exist_ok=True)
def node(name, status, seconds, message=None):
    return {"unique_id": "model.strata." + name, "status": status, "execution_time": seconds,
            "message": message}
if "retry" in sys.argv:
    results, code = [node("b", "success", 3.0)], 0
else:
    results = [node("a", "success", 1.0), node("b", "error", 0.5, sys.argv[-1])]
    code = 1
(target / "run_results.json").write_text(json.dumps({"results": results}))
sys.exit(code)
"""


def test_a_phase_out_of_memory_is_retried_as_strata_run_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10M users a model ran out of memory in the intermediate phase's long dbt process and
    built alone in a new one: the bench retries as `strata run` does, counts both attempts and
    says so; a model that fails on its own terms still stops the bench."""
    script = tmp_path / "dbt"
    script.write_text(f"#!{sys.executable}\n{FAKE_DBT}")
    script.chmod(0o755)
    monkeypatch.setattr("tools.bench.run.dbt_executable", lambda: str(script))
    bench = Bench(tmp_path / "work", 1, "3GB")
    bench.work.mkdir()
    env = {"DBT_TARGET_PATH": str(bench.target), "PATH": os.environ["PATH"]}
    out_of_memory = "Out of Memory Error: failed to allocate data of size 512.0 MiB"
    step = bench.dbt(["run", "-s", "intermediate", out_of_memory], env, DAY)
    assert step.retries == 1
    assert step.node_seconds == {"model.strata.a": 1.0, "model.strata.b": 3.0}
    sized = result(1_000)
    sized.phases["intermediate"] = step
    text = render([sized], INFO, 1, "3GB", 1_000)
    assert "(the phase's seconds count both attempts): 1,000 users' intermediate" in text
    with pytest.raises(StepFailed):
        bench.dbt(["run", "-s", "intermediate", "Binder Error: no column x"], env, DAY)
    assert "Retried" not in render([result(1_000)], INFO, 1, "3GB", 1_000)


def result(users: int, new_day: NewDay | None = None, *, ten_m_slot: bool = False) -> SizeResult:
    phases = {
        phase: Step(1.0, 2 * 1024**3, {f"model.strata.m_{phase}": 1.0})
        for phase in ("parse", "staging", "intermediate", "marts", "tests", "publish")
    }
    return SizeResult(
        users=users,
        ten_m_slot=ten_m_slot,
        generate=Step(5.0, 1024**3),
        phases=phases,
        baseline_seconds=1.5,
        agreement="all 10 users agree",
        dim_users_models=frozenset({"model.strata.m_staging", "model.strata.m_marts"}),
        floor_seconds=0.5,
        floor_note="10 users, 4 scored",
        new_day=new_day,
    )


def day(differences: list[str]) -> NewDay:
    return NewDay(
        incremental=Step(2.0, 1024**3, {"model.strata.a": 1.0}),
        full_refresh=Step(8.0, 1024**3, {"model.strata.a": 4.0}),
        differences=differences,
        strata_run=Step(9.0, 1024**3),
    )


INFO = {
    "date": "now", "cores": "2", "memory": "24 GiB", "platform": "p", "python": "3.11",
    "duckdb": "1", "dbt-core": "1", "dbt-duckdb": "1",
}  # fmt: skip


def test_the_report_prints_every_issue_figure() -> None:
    text = render([result(1_000, day([])), result(5_000, ten_m_slot=True)], INFO, 1, "3GB", 1_000)
    assert "Issue #19 figures at 1,000 users:" in text
    assert "equal; `dbt run` 2.0 s against `dbt run --full-refresh` 8.0 s: **25%**" in text
    assert "3.0 s against 0.5 s: **6.0x**" in text  # every model against the floor
    assert "2.0 s against 1.5 s: **1.3x**" in text  # dim_users and upstream against the baseline
    assert "5,000 users (the 10M step): generate 5.0 s, peak RSS 1.00 GB" in text
    assert "peak RSS **2.00 GB**" in text
    assert "predictions" not in text  # no prediction model ran in this build
    # issue #27: every phase and the slowest models at both sizes, with their growth
    assert "Growth from 1,000 to 5,000 users (5x the users; allowed 6x" in text
    assert "| staging | 1.0 | 1.0 | 1.0x | within |" in text
    assert "| `m_marts` | 1.0 | 1.0 | 1.0x | within |" in text


def test_growth_beyond_the_allowance_is_marked_over() -> None:
    small, big = result(1_000_000), result(10_000_000, ten_m_slot=True)
    big.phases["staging"] = Step(13.0, 20 * 1024**3, {"model.strata.m_staging": 12.5})
    text = render([small, big], INFO, 1, "3GB")
    assert "| staging | 1.0 | 13.0 | 13.0x | **over** |" in text
    assert "| `m_staging` | 1.0 | 12.5 | 12.5x | **over** |" in text
    assert "| `m_marts` | 1.0 | 1.0 | 1.0x | within |" in text
    assert "| 2.00 | 20.00 | 10.0x | **over the target** |" in text
    assert growth_table([small]) == []  # nothing to compare without the 10M step


def test_the_10m_step_prints_its_strata_run_and_its_growth() -> None:
    """Issue #27: the 10M `strata run` (build, tests, publish) completes and its time is printed,
    grown from the smaller size's new-day `strata run`; its memory counts against the target."""
    small, big = result(1_000_000, day([])), result(10_000_000, ten_m_slot=True)
    text = render([small, big], INFO, 1, "3GB")
    assert "`strata run` for the new day: not run (--no-strata-run)" in text
    big.daily_run = Step(
        99.0,
        17 * 1024**3,
        {"model.strata.m_marts": 60.0, "test.strata.unique_m_marts_id.9fc55eacf5": 5.0},
    )
    text = render([small, big], INFO, 1, "3GB")
    assert (
        "(the new day's build, tests and publish, one command) **99.0 s**, peak RSS 17.00" in text
    )
    assert (
        "| `strata run`, the new day (build, tests, publish) | 9.0 | 99.0 | 11.0x | within |"
        in text
    )
    assert "peak RSS **17.00 GB** (strata run; target: under 16 GB)" in text
    assert "| 2.00 | 17.00 | 8.5x | **over the target** |" in text
    # its slowest nodes, a data test by its name, not its hash
    assert "- 10,000,000 users: m_marts 60.0 s, unique_m_marts_id 5.0 s" in text
    big.daily_run, big.daily_run_error = None, "strata run --raw-dir x failed (exit 1)"
    assert "`strata run` for the new day **failed** (strata run --raw-dir" in render(
        [small, big], INFO, 1, "3GB"
    )


def test_the_report_prints_the_prediction_models_time() -> None:
    sized = result(1_000)
    sized.phases["intermediate"].node_seconds.update(
        {
            "model.strata.int_customer_models_fitted": 2.5,
            "model.strata.int_buyer_predictions_scored": 1.0,
        }
    )
    text = render([sized], INFO, 1, "3GB", 1_000)
    assert "every buyer scored): 3.5 s (issue #16 target: at most 20 s)" in text


def test_a_new_day_that_differs_from_a_fresh_build_has_no_share() -> None:
    text = render([result(1_000, day(["dim_users: 1 rows only incremental, 0 only fresh"]))],
                  INFO, 1, "3GB")  # fmt: skip
    assert "(1,000,000 not measured in this run)" in text
    assert "n/a (marts differ)" in text
    assert "**25%**" not in text
    assert "dim_users: 1 rows only incremental, 0 only fresh" in text


def test_the_spark_row_prints_its_time_with_the_comparison() -> None:
    """Issue #27: the Spark row's time comes with its comparison with DuckDB, never alone."""
    sized = result(1_000, day([]))
    assert "- Spark: not run (make bench BENCH_SPARK=1)" in render([sized], INFO, 1, "3GB", 1_000)
    sized.spark = SparkBench(
        duckdb_run=Step(30.0, 1024**3), spark_run=Step(300.0, 6 * 1024**3),
        compare=Step(20.0, 1024**3), tables=22, rows=12_345, differing_rows=0,
    )  # fmt: skip
    text = render([sized], INFO, 1, "3GB", 1_000)
    assert "Spark at 1,000 users: `strata run --target spark` (build and tests on local " in text
    assert "**300.0 s**, peak RSS 6.00 GB" in text
    assert "every mart equal (22 tables, 12,345 rows)" in text
    sized.spark.differing_rows = 3
    assert "**3 rows differ** in 22 tables" in render([sized], INFO, 1, "3GB", 1_000)
    sized.spark = SparkBench(error="strata run --target spark failed (exit 1)")
    assert "Spark at 1,000 users: failed (strata run --target spark failed" in render(
        [sized], INFO, 1, "3GB", 1_000
    )


def test_docs_are_written_between_the_markers_only(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\noutro\n")
    write_docs(page, "new")
    assert page.read_text() == "intro\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\noutro\n"


def test_sizes_may_be_repeated_or_listed() -> None:
    assert _sizes(None, None, ("100000 1000000", "20_000,5")) == [100_000, 1_000_000, 20_000, 5]
    result = CliRunner().invoke(bench_main, ["--users", "0"])
    assert result.exit_code == 2 and "must be at least 1" in result.output
    # the Spark row is measured on one of the sizes, never silently skipped
    result = CliRunner().invoke(bench_main, ["--users", "1000", "--spark-users", "2000"])
    assert result.exit_code == 2 and "2,000 is not one of the sizes measured" in result.output
