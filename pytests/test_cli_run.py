"""`strata run` end to end on the committed fixture, and its handling of bad input.

These tests start dbt for real: they check what a user sees, not mocks. The whole run is the
session's golden build (conftest.fixture_run); the others build only what they read
(`--select ... --no-publish`, docs/testing.md) or stop before dbt builds anything.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> tuple[int, str]:
    # cautious: a narrowed run (--select) leaves out data tests that read unselected models
    result = CliRunner().invoke(main, list(args), env={"DBT_INDIRECT_SELECTION": "cautious"})
    return result.exit_code, result.output


def run_into(raw: Path, folder: Path) -> tuple[int, str]:
    """`strata run` of `raw` into a new warehouse in `folder`."""
    return run_cli("run", "--raw-dir", str(raw), "--db", str(folder / "warehouse.duckdb"))


RECONCILIATION = "+rpt_source_reconciliation"


def reconciliation(db_path: Path) -> dict[str, tuple[int, ...]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            "select source_table, raw_rows, clean_rows, superseded_rows, excluded_rows,"
            " quarantined_rows from marts.rpt_source_reconciliation"
        ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def rewrite_csv(path: Path, transform) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows = transform(rows)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def csv_data_rows(path: Path) -> int:
    with path.open(newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_run_builds_and_summarises_the_fixture(fixture_run) -> None:
    raw_dir, db, output = fixture_run
    counts = reconciliation(db)
    # Every raw row is accounted for: the reconciliation matches the files themselves.
    assert counts["orders"][0] == csv_data_rows(raw_dir / "orders.csv")
    assert counts["sessions"][0] == csv_data_rows(raw_dir / "sessions.csv")
    for raw, *parts in counts.values():
        assert raw == sum(parts)
    assert "rows read" in output
    assert f"{counts['orders'][0]:>11,}" in output
    assert str(db) in output
    # The breakdowns are read from dim_users, as of the latest day with data.
    with duckdb.connect(str(db), read_only=True) as con:
        stages = con.execute(
            "select lifecycle_stage, count(*) from marts.dim_users group by 1"
        ).fetchall()
        as_of = con.execute("select max(as_of_date) from marts.dim_users").fetchone()[0]
    assert f"as of {as_of}" in output
    assert "users per lifecycle stage" in output
    for stage, users in stages:
        assert f"  {stage:<22}{users:>10,}" in output


def test_summary_reports_missing_marts_as_not_built(tmp_path: Path) -> None:
    from strata.summary import format_summary, read_summary

    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    text = format_summary(read_summary(db))
    assert "users per lifecycle stage: not built" in text
    assert "the reconciliation report was not built" in text


def test_fixture_has_a_row_for_every_reason_code(fixture_warehouse: Path) -> None:
    with duckdb.connect(str(fixture_warehouse), read_only=True) as con:
        missing = con.execute(
            "select source_table, row_disposition, reason_code from marts.rpt_row_reasons"
            " where row_count = 0"
        ).fetchall()
        listed = con.execute("select count(*) from marts.rpt_row_reasons").fetchone()[0]
    assert listed > 30
    assert missing == []


def test_run_json_summary(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    code, output = run_cli(
        "run", "--raw-dir", str(raw_dir), "--db", str(db), "--json",
        "--select", RECONCILIATION, "--no-publish",
    )  # fmt: skip
    assert code == 0, output
    payload = json.loads(output.strip().splitlines()[-1])
    assert payload["reconciliation"]["orders"]["raw"] == csv_data_rows(raw_dir / "orders.csv")
    assert payload["tests_passed"] > 0


def test_parquet_input_gives_the_same_result_as_csv(fixture_run, tmp_path: Path) -> None:
    raw_dir, csv_db, _ = fixture_run
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    with duckdb.connect() as con:
        for table in ("orders", "sessions"):
            con.execute(
                f"copy (select * from read_csv('{raw_dir / table}.csv', all_varchar = true))"
                f" to '{parquet_dir / table}.parquet' (format parquet)"
            )
    parquet_db = tmp_path / "parquet" / "warehouse.duckdb"
    code, output = run_cli(
        "run", "--raw-dir", str(parquet_dir), "--db", str(parquet_db),
        "--select", f"{RECONCILIATION} +dim_users", "--no-publish",
    )  # fmt: skip
    assert code == 0, output
    assert reconciliation(csv_db) == reconciliation(parquet_db)
    users = "select * exclude (as_of_date) from marts.dim_users order by user_id"
    with (
        duckdb.connect(str(csv_db), read_only=True) as csv_con,
        duckdb.connect(str(parquet_db), read_only=True) as parquet_con,
    ):
        assert csv_con.execute(users).fetchall() == parquet_con.execute(users).fetchall()


def test_missing_raw_dir_is_a_usage_error(tmp_path: Path) -> None:
    code, output = run_cli("run", "--raw-dir", str(tmp_path / "nope"), "--db", str(tmp_path / "w"))
    assert code == 2
    assert "does not exist" in output


def test_missing_orders_is_a_usage_error_before_dbt_starts(raw_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "orders.csv").unlink()
    started = time.monotonic()
    code, output = run_into(raw_dir, tmp_path)
    assert code == 2
    assert "raw file missing" in output
    assert "orders.parquet" in output
    assert str(raw_dir) in output
    assert time.monotonic() - started < 5  # checked before dbt starts, not after a build
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_an_empty_csv_file_is_named(raw_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "sessions.csv").write_text("")
    code, output = run_into(raw_dir, tmp_path)
    assert code == 2
    assert f"file {raw_dir / 'sessions.csv'} is empty" in output
    assert "header line" in output


def test_an_unterminated_quote_names_the_file_and_line(raw_dir: Path, tmp_path: Path) -> None:
    with (raw_dir / "orders.csv").open("a") as handle:
        handle.write('o998,u1,2025-01-01,completed,"1,USD,,,\n')
        handle.write("o999,u1,2025-01-01,completed,1,USD,,,\n")
    code, output = run_into(raw_dir, tmp_path)
    assert code == 1
    assert "orders.csv" in output
    assert "CSV Error on Line: 39" in output
    assert "unterminated quote" in output


def test_missing_required_column_names_file_and_column(raw_dir: Path, tmp_path: Path) -> None:
    def drop_amount(rows: list[list[str]]) -> list[list[str]]:
        index = rows[0].index("amount")
        return [row[:index] + row[index + 1 :] for row in rows]

    rewrite_csv(raw_dir / "orders.csv", drop_amount)
    code, output = run_into(raw_dir, tmp_path)
    assert code == 1
    assert f"{raw_dir / 'orders.csv'}" in output
    assert "required column 'amount' is missing" in output


def test_optional_columns_may_be_absent(raw_dir: Path, tmp_path: Path) -> None:
    def drop_optional(rows: list[list[str]]) -> list[list[str]]:
        keep = [i for i, name in enumerate(rows[0]) if name not in ("page_views", "ended_at")]
        return [[row[i] for i in keep] for row in rows]

    rewrite_csv(raw_dir / "sessions.csv", drop_optional)
    db = tmp_path / "warehouse.duckdb"
    # everything downstream of the sessions, up to the marts that read them
    code, output = run_cli(
        "run", "--raw-dir", str(raw_dir), "--db", str(db), "--no-publish",
        "--select", "+dim_users +rpt_growth_accounting",
    )  # fmt: skip
    assert code == 0, output
    with duckdb.connect(str(db), read_only=True) as con:
        views, durations = con.execute(
            "select min(page_views), count(duration_seconds) from staging.stg_shop__sessions"
        ).fetchone()
    assert views == 1  # the documented default for an absent count
    assert durations == 0


def test_wrong_column_type_names_file_and_column(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'o1' as order_id, 'u1' as user_id, '2025-01-01' as ordered_at,"
            " 'completed' as status, true as amount, 'USD' as currency)"
            f" to '{raw / 'orders.parquet'}' (format parquet)"
        )
        con.execute(
            "copy (select 's1' as session_id, 'u1' as user_id, '2025-01-01' as started_at,"
            f" 'web' as platform) to '{raw / 'sessions.parquet'}' (format parquet)"
        )
    code, output = run_into(raw, tmp_path)
    assert code == 1
    assert f"{raw / 'orders.parquet'}" in output
    assert "column 'amount' has type boolean" in output


def test_malformed_csv_line_names_the_file_and_line(raw_dir: Path, tmp_path: Path) -> None:
    with (raw_dir / "orders.csv").open("a") as handle:
        handle.write("o999,u1,2025-01-01,completed,1,USD,,,,too,many,fields\n")
    code, output = run_into(raw_dir, tmp_path)
    assert code == 1
    assert "orders.csv" in output
    assert "CSV Error on Line" in output


def test_bad_input_leaves_the_previous_build_untouched(published_copy) -> None:
    raw_dir, db, _ = published_copy
    before = reconciliation(db)

    (raw_dir / "orders.csv").write_text("order_id,user_id\nx,y\n")
    code, _ = run_cli("run", "--raw-dir", str(raw_dir), "--db", str(db))
    assert code == 1
    assert reconciliation(db) == before


def test_the_incremental_models_are_read_from_the_build_itself(fixture_run) -> None:
    """One list of incremental models: the build's manifest, where each model declares itself
    (strata/incremental.py); the dated slices are the snapshots' own config."""
    from strata import dbt_runner
    from strata.incremental import IncrementalModel, incremental_models, slice_states
    from strata.settings import load_settings

    settings = load_settings(db_path=str(fixture_run.db))
    models = incremental_models(dbt_runner.target_path(settings) / "manifest.json")
    assert {(model.schema, model.table) for model in models} == {
        ("staging", "base_shop__orders"),
        ("staging", "base_shop__sessions"),
        ("intermediate", "int_user_days_aggregated"),
        ("intermediate", "int_stage_change_points_listed"),
        ("intermediate", "int_user_stages_evaluated"),
        ("intermediate", "int_users_last_platform"),
        ("marts", "fct_user_lifecycle_history"),
        ("marts", "fct_lifecycle_events"),
        ("marts", "fct_play_entries"),
        ("marts", "fct_user_rfm_snapshots"),
    }
    assert [model for model in models if model.sliced] == [
        IncrementalModel("marts", "fct_user_rfm_snapshots", "snapshot_date", "inputs_fingerprint")
    ]
    with duckdb.connect(str(fixture_run.db), read_only=True) as con:
        dates = con.execute(
            "select count(distinct snapshot_date) from marts.fct_user_rfm_snapshots"
        ).fetchone()[0]
    assert len(slice_states(fixture_run.db, models)["marts.fct_user_rfm_snapshots"]) == dates > 0
    assert incremental_models(settings.state_dir / "no-such-manifest.json") == []
