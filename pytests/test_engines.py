"""The DuckDB/Spark comparison behind `make test-spark`, and the CLI's handling of Spark targets.

The comparison itself runs against Spark only in `make test-spark`; here its rules are checked on
hand-made rows and a small DuckDB file, so that a comparison that could never fail cannot land.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main
from strata.settings import Settings
from tools.engines import (
    Side,
    compare_builds,
    compare_sides,
    duckdb_sides,
    normalized,
    parquet_sides,
    report,
)


def sides(left_sql: str, right_sql: str) -> tuple[duckdb.DuckDBPyConnection, Side, Side]:
    """Two one-table builds in an in-memory DuckDB, as compare_sides() reads them."""
    con = duckdb.connect()
    found = {}
    for name, sql in (("left_build", left_sql), ("right_build", right_sql)):
        con.execute(f"create table {name} as {sql}")
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_name = ? order by ordinal_position",
            [name],
        ).fetchall()
        found[name] = Side(columns, name)
    return con, found["left_build"], found["right_build"]


def compared(left_sql: str, right_sql: str, table: str = "t"):
    con, left, right = sides(left_sql, right_sql)
    return compare_sides(con, "marts", table, left, right)


def test_decimal_scale_and_double_noise_are_not_differences() -> None:
    left = (
        "select 12.50::decimal(10, 2) as m, 3.000000::decimal(18, 6) as n,"
        " 4.066666666666666::double as d, 'nan'::double as x, -0.0::double as z"
    )
    right = (
        "select 12.5::double as m, 3::integer as n, 4.0666666666666664::double as d,"
        " 'nan'::double as x, 0::bigint as z"
    )
    assert compared(left, right).equal


def test_a_real_difference_in_a_double_is_kept() -> None:
    # 6 decimal places (a decimal division) against a double: the bug this comparison found.
    result = compared(
        "select 4.066667::decimal(18, 6) as d", "select 4.066666666666666::double as d"
    )
    assert result.differing_rows == 2
    assert result.only_left == [("n:4.066667",)] and result.only_right == [("n:4.06666667",)]


def test_aware_timestamps_compare_as_utc_instants() -> None:
    aware = normalized("timestamptz '2025-03-01 08:15:00+08'", "TIMESTAMP WITH TIME ZONE")
    plain = normalized("timestamp '2025-03-01 00:15:00'", "TIMESTAMP")
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        row = con.execute(f"select {aware}, {plain}").fetchone()
    assert row[0] == row[1]


def test_times_and_dates_compare_as_integers() -> None:
    """As the Spark export writes them: an instant in year 0 exists on both engines."""
    with duckdb.connect() as con:
        row = con.execute(
            "select "
            + ", ".join(
                normalized(value, kind)
                for value, kind in (
                    ("timestamp '1970-01-01 00:00:01'", "TIMESTAMP"),
                    ("date '1970-01-03'", "DATE"),
                    ("timestamp '0000-12-31 23:00:00'", "TIMESTAMP"),
                )
            )
        ).fetchone()
    assert row == ("n:1000000", "n:2", "n:-62135600400000000")


def test_equal_tables_in_another_row_order_agree() -> None:
    rows = "('u1', date '2025-06-03', 10.00, 1.5), ('u2', null, null, 0.0)"
    reversed_rows = "('u2', null, null, 0.0), ('u1', date '2025-06-03', 10.00, 1.5)"
    result = compared(
        f"select * from (values {rows}) as t(user_id, as_of_date, monetary, minutes)",
        f"select * from (values {reversed_rows}) as t(user_id, as_of_date, monetary, minutes)",
    )
    assert result.equal and result.differing_rows == 0 and result.left_rows == 2


def test_one_changed_value_is_two_differing_rows() -> None:
    result = compared(
        "select * from (values ('u1', 10.00), ('u2', 1.00)) as t(user_id, monetary)",
        "select * from (values ('u1', 10.01), ('u2', 1.00)) as t(user_id, monetary)",
    )
    assert not result.equal
    assert result.differing_rows == 2
    assert result.only_left == [("t:u1", "n:10")]


def test_duplicate_rows_count() -> None:
    result = compared(
        "select * from (values ('u1', 1), ('u1', 1)) as t(user_id, n)",
        "select * from (values ('u1', 1)) as t(user_id, n)",
    )
    assert result.differing_rows == 1


def test_text_never_equals_a_number() -> None:
    """A cast missing on one engine is a difference, not normalised away."""
    assert not compared("select '5' as n, 'true' as b", "select 5 as n, 'true' as b").equal
    assert not compared("select true as b", "select 'true' as b").equal
    assert compared("select 5::integer as n", "select 5::bigint as n").equal


def test_partition_column_moved_last_is_matched_by_name() -> None:
    result = compared(
        "select 'u1' as user_id, date '2025-06-30' as snapshot_date, 1 as n",
        "select 'u1' as user_id, 1 as n, date '2025-06-30' as snapshot_date",
        "fct_user_rfm_snapshots",
    )
    assert result.equal
    assert result.note and "column order" in result.note


def test_missing_tables_and_columns_fail() -> None:
    con, left, right = sides("select 1 as a, 2 as b", "select 1 as a, 2 as c")
    only_duckdb = compare_builds(con, {("marts", "dim_users"): left}, {})
    assert only_duckdb[0].problem == "missing on Spark"
    renamed = compare_sides(con, "marts", "t", left, right)
    assert renamed.problem and renamed.problem.startswith("columns differ")


def test_report_says_whether_everything_agrees(capsys) -> None:
    same = compared("select 'u1' as u, 1.0 as m", "select 'u1' as u, 1 as m")
    assert report([same])
    different = compared("select 'u1' as u, 1.0 as m", "select 'u1' as u, 1.0 as m limit 0")
    assert not report([same, different])
    out = capsys.readouterr().out
    assert "marts.t only on DuckDB: ('t:u1', 'n:1')" in out
    assert "1 differing rows" in out


def test_bookkeeping_columns_are_not_compared() -> None:
    """When a build wrote a row, and its file's fingerprint (DuckDB only), say nothing about it."""
    duckdb_rows = (
        "select 'o1' as order_id, 1 as _loaded_at, '12|2026-12-01|99' as source_file_fingerprint"
    )
    spark_rows = "select 'o1' as order_id, 2 as _loaded_at, null as source_file_fingerprint"
    assert compared(duckdb_rows, spark_rows).equal
    changed = "select 'o2' as order_id, 1 as _loaded_at, null as source_file_fingerprint"
    assert not compared(duckdb_rows, changed).equal


def test_the_builds_are_read_by_schema_from_a_file_and_an_export(tmp_path: Path) -> None:
    """The DuckDB build's tables of the compared schemas only; the Spark export's tables from
    its list, an empty one (no Parquet part) included, compared without collecting rows."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema strata_raw")
        con.execute("create table marts.dim_users as select 'u1' as user_id, 2.5 as monetary")
        con.execute("create table marts.empty as select 1 as n limit 0")
        # dbt-duckdb's views name their catalog: the comparison must attach it under that name
        con.execute("create view marts.users_view as select * from w.marts.dim_users")
        con.execute("create table strata_raw.orders as select 1 as order_id")
    export = tmp_path / "export"
    (export / "marts" / "dim_users").mkdir(parents=True)
    (export / "marts" / "empty").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'u1' as user_id, 2.5::double as monetary)"
            f" to '{export / 'marts' / 'dim_users' / 'part-0.parquet'}' (format parquet)"
        )
    (export / "tables.json").write_text(
        '[{"schema": "marts", "table": "dim_users", "columns": ["user_id", "monetary"]},'
        ' {"schema": "marts", "table": "empty", "columns": ["n"]}]'
    )
    con = duckdb.connect()
    con.execute(f"attach '{path}' (read_only)")
    left = duckdb_sides(con, "w", ["marts"])
    right = parquet_sides(con, export)
    assert set(left) == {("marts", "dim_users"), ("marts", "empty"), ("marts", "users_view")}
    results = compare_builds(con, left, right)
    by_name = {result.table: result for result in results}
    assert by_name["dim_users"].equal and by_name["empty"].equal
    assert by_name["users_view"].problem == "missing on Spark"  # not in this export, but
    view = left[("marts", "users_view")].relation  # readable where the build attached
    assert con.execute(f"select count(*) from {view}").fetchone() == (1,)


def test_spark_targets_are_recognised() -> None:
    assert Settings(target="spark").engine == "spark"
    assert Settings(target="spark_thrift").engine == "spark"
    assert Settings(target="duckdb").engine == "duckdb"


def test_spark_is_told_each_layout_and_which_tables_were_delivered(tmp_path: Path) -> None:
    """Spark SQL cannot list a folder: the CLI reads it and names each table's path."""
    from strata.orchestrate import RunOptions, _check_inputs, _prepare_dbt, _Run
    from strata.runs import RunRecord

    settings = Settings(target="spark")
    options = RunOptions.from_settings(settings, command="run", raw_dir=tmp_path, dbt_args=[])

    def dbt_env() -> dict[str, str]:
        record = RunRecord(run_id="r", command="run", started_at="2026-12-05T06:00:00")
        run = _Run(settings, options, record=record, progress=print, log=print)
        _check_inputs(run)
        _prepare_dbt(run)
        return run.env

    (tmp_path / "orders.csv").write_text("order_id\n")
    env = dbt_env()
    assert (env["STRATA_RAW_LAYOUT"], env["STRATA_RAW_TABLES"]) == ("orders=orders.csv", "orders")
    (tmp_path / "orders.csv").unlink()
    (tmp_path / "orders.parquet").write_bytes(b"PAR1")
    (tmp_path / "sessions.parquet").write_bytes(b"PAR1")
    env = dbt_env()
    assert env["STRATA_RAW_LAYOUT"] == "orders=orders.parquet,sessions=sessions.parquet"
    assert env["STRATA_RAW_TABLES"] == "orders,sessions"
    # Every layout DuckDB reads, each table its own (a gzipped CSV of orders beside a folder of
    # sessions delivered day by day): Spark is told each path, since it cannot list a folder.
    (tmp_path / "orders.parquet").unlink()
    (tmp_path / "sessions.parquet").unlink()
    (tmp_path / "orders.csv.gz").write_bytes(gzip.compress(b"order_id\n1\n"))
    day = tmp_path / "sessions" / "loaded_at=2026-06-29"
    day.mkdir(parents=True)
    (day / "part-0.parquet").write_bytes(b"PAR1")
    env = dbt_env()
    assert env["STRATA_RAW_LAYOUT"] == "orders=orders.csv.gz,sessions=sessions/"


def test_spark_builds_each_model_once_and_runs_every_test(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Step 1 builds the predictions' inputs; the build after the Spark job leaves those models
    and seeds out but keeps every test (indirect selection off, since by default excluding a
    model excludes its tests), and the run counts both steps' nodes. `make test-spark` checks
    the counts against DuckDB's build; here, what dbt is asked."""
    from strata import orchestrate, spark_predictions
    from strata.dbt_runner import DbtResult, NodeResult
    from strata.orchestrate import RunOptions, _build, _prepare_spark, _Run
    from strata.runs import RunRecord

    def node(kind: str, name: str, status: str) -> NodeResult:
        return NodeResult(f"{kind}.strata.{name}", kind, name, status, None, 0.1)

    first = DbtResult(["dbt"], 0, [node("model", "int_buyers_summarised", "success")])
    second = DbtResult(
        ["dbt"], 0, [node("model", "dim_users", "success"), node("test", "t", "pass")]
    )
    monkeypatch.setattr(spark_predictions, "run_step", lambda settings: lambda args, env: first)
    monkeypatch.setattr(spark_predictions.spark_scoring, "run_job", lambda *a, **k: None)
    monkeypatch.setattr(orchestrate, "_write_build_record", lambda *a, **k: None)
    asked: list[tuple[list[str], dict[str, str]]] = []

    def build(settings, args, *, retries, backoff_seconds, env, on_event):
        asked.append((list(args), dict(env)))
        return second, 1

    monkeypatch.setattr(orchestrate.dbt_runner, "run_dbt_with_retries", build)
    settings = Settings(target="spark", db_path=str(tmp_path / "state.duckdb"))

    def run_with(dbt_args: list[str]) -> RunRecord:
        options = RunOptions.from_settings(settings, command="run", raw_dir=None, dbt_args=dbt_args)
        record = RunRecord(run_id="r", command="run", started_at="2026-12-05T06:00:00")
        run = _Run(settings, options, record=record, progress=print, log=print)
        run.dbt_args = list(dbt_args)
        assert _prepare_spark(run) is None and _build(run) is None
        return record

    record = run_with(["build", "--exclude-resource-type", "unit_test"])
    args, env = asked[-1]
    assert args[args.index("--exclude") + 1 :][:3] == [
        "+int_buyers_summarised,resource_type:model",
        "+int_buyers_summarised,resource_type:seed",
        "+int_buyers_summarised,resource_type:snapshot",
    ]
    assert env["DBT_INDIRECT_SELECTION"] == "empty" and "STRATA_PREDICTIONS_DIR" in env
    assert (record.models_passed, record.tests_passed) == (2, 1)
    # a run of a selection builds it as asked, tests selected the usual way
    record = run_with(["build", "--select", "dim_users", "--exclude-resource-type", "unit_test"])
    args, env = asked[-1]
    assert "--exclude" not in args and "DBT_INDIRECT_SELECTION" not in env
    assert (record.models_passed, record.tests_passed) == (1, 1)


def test_publish_refuses_a_spark_target() -> None:
    result = CliRunner().invoke(main, ["publish", "--target", "spark"])
    assert result.exit_code == 2
    assert "publish copies a DuckDB warehouse" in result.output
