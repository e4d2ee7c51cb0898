"""The DuckDB/Spark comparison behind `make test-spark`, and the CLI's handling of Spark targets.

The comparison itself runs against Spark only in `make test-spark`; here its rules are checked on
hand-made rows and a small DuckDB file, so that a comparison that could never fail cannot land.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
from click.testing import CliRunner

from strata.cli import main
from strata.settings import Settings
from tools.engines import compare_builds, compare_table, normalize_value, read_duckdb, report

COLUMNS = ["user_id", "as_of_date", "monetary", "session_minutes"]


def table(rows, columns=COLUMNS):
    return (list(columns), [tuple(row) for row in rows])


def test_decimal_scale_and_double_noise_are_not_differences() -> None:
    assert normalize_value(Decimal("12.50")) == normalize_value(12.5)
    assert normalize_value(Decimal("3.000000")) == normalize_value(3)
    assert normalize_value(4.066666666666666) == normalize_value(4.0666666666666664)
    assert normalize_value(float("nan")) == normalize_value(float("nan"))


def test_a_real_difference_in_a_double_is_kept() -> None:
    # 6 decimal places (a decimal division) against a double: the bug this comparison found.
    assert normalize_value(Decimal("4.066667")) != normalize_value(4.066666666666666)


def test_aware_timestamps_compare_as_utc() -> None:
    aware = dt.datetime(2025, 3, 1, 8, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert normalize_value(aware) == dt.datetime(2025, 3, 1, 0, 15)


def test_equal_tables_in_another_row_order_agree() -> None:
    rows = [("u1", dt.date(2025, 6, 3), Decimal("10.00"), 1.5), ("u2", None, None, 0.0)]
    result = compare_table("marts", "dim_users", table(rows), table(list(reversed(rows))))
    assert result.equal and result.differing_rows == 0


def test_one_changed_value_is_two_differing_rows() -> None:
    left = [("u1", dt.date(2025, 6, 3), Decimal("10.00"), 1.5), ("u2", None, None, 0.0)]
    right = [("u1", dt.date(2025, 6, 3), Decimal("10.01"), 1.5), ("u2", None, None, 0.0)]
    result = compare_table("marts", "dim_users", table(left), table(right))
    assert not result.equal
    assert result.differing_rows == 2
    assert result.only_left == [("u1", dt.date(2025, 6, 3), 10, 1.5)]


def test_duplicate_rows_count() -> None:
    row = ("u1", dt.date(2025, 6, 3), 1, 1.0)
    result = compare_table("marts", "t", table([row, row]), table([row]))
    assert result.differing_rows == 1


def test_partition_column_moved_last_is_matched_by_name() -> None:
    left = table([("u1", dt.date(2025, 6, 30), 1, 2.0)])
    moved = ["as_of_date", "monetary", "session_minutes", "user_id"]
    right = table([(dt.date(2025, 6, 30), 1, 2.0, "u1")], columns=moved)
    result = compare_table("marts", "fct_user_rfm_snapshots", left, right)
    assert result.equal
    assert result.note and "column order" in result.note


def test_missing_tables_and_columns_fail() -> None:
    only_duckdb = compare_builds({("marts", "dim_users"): table([])}, {})
    assert only_duckdb[0].problem == "missing on Spark"
    renamed = compare_table("marts", "t", table([]), table([], columns=[*COLUMNS[:-1], "minutes"]))
    assert renamed.problem and renamed.problem.startswith("columns differ")


def test_report_says_whether_everything_agrees(capsys) -> None:
    same = compare_table("marts", "a", table([("u1", None, 1, 1.0)]), table([("u1", None, 1, 1.0)]))
    assert report([same])
    different = compare_table("marts", "b", table([("u1", None, 1, 1.0)]), table([]))
    assert not report([same, different])
    out = capsys.readouterr().out
    assert "marts.b only on DuckDB: ('u1', None, 1, 1)" in out
    assert "1 differing rows" in out


def test_read_duckdb_reads_every_table_of_the_schemas(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema strata_raw")
        con.execute("create table marts.dim_users as select 'u1' as user_id, 2.5 as monetary")
        con.execute("create table strata_raw.orders as select 1 as order_id")
    tables = read_duckdb(path, ["marts"])
    assert tables == {("marts", "dim_users"): (["user_id", "monetary"], [("u1", Decimal("2.5"))])}


def test_read_duckdb_reads_times_and_dates_as_integers(tmp_path: Path) -> None:
    """As read_spark() reads them: Python's datetime cannot hold a time in year 0."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.t as select timestamp '1970-01-01 00:00:01' as at,"
            " date '1970-01-03' as on_day, timestamp '0000-12-31 23:00:00' as ancient"
        )
    [(columns, rows)] = read_duckdb(path, ["staging"]).values()
    assert columns == ["at", "on_day", "ancient"]
    assert rows == [(1_000_000, 2, -62_135_600_400_000_000)]


def test_bookkeeping_columns_are_not_compared() -> None:
    """When a build wrote a row, and its file's fingerprint (DuckDB only), say nothing about it."""
    columns = ["order_id", "_loaded_at", "source_file_fingerprint"]
    duckdb_rows = table([("o1", 1, "12|2026-12-01|99")], columns)
    spark_rows = table([("o1", 2, None)], columns)
    assert compare_table("staging", "base_shop__orders", duckdb_rows, spark_rows).equal
    changed = table([("o2", 1, None)], columns)
    assert not compare_table("staging", "base_shop__orders", duckdb_rows, changed).equal


def test_spark_targets_are_recognised() -> None:
    assert Settings(target="spark").engine == "spark"
    assert Settings(target="spark_thrift").engine == "spark"
    assert Settings(target="duckdb").engine == "duckdb"


def test_spark_is_told_the_format_and_which_tables_were_delivered(tmp_path: Path) -> None:
    """Spark SQL cannot list a folder: the CLI reads it and names the format and the tables."""
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
    assert (env["STRATA_RAW_FORMAT"], env["STRATA_RAW_TABLES"]) == ("csv", "orders")
    (tmp_path / "orders.csv").unlink()
    (tmp_path / "orders.parquet").write_bytes(b"PAR1")
    (tmp_path / "sessions.parquet").write_bytes(b"PAR1")
    env = dbt_env()
    assert (env["STRATA_RAW_FORMAT"], env["STRATA_RAW_TABLES"]) == ("parquet", "orders,sessions")


def test_publish_refuses_a_spark_target() -> None:
    result = CliRunner().invoke(main, ["publish", "--target", "spark"])
    assert result.exit_code == 2
    assert "publish copies a DuckDB warehouse" in result.output
