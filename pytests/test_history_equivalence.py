"""The computed lifecycle history agrees with dim_users built for past as-of dates.

The history evaluates the rules only on each user's change points; dim_users evaluates them on one
date. Building dim_users for several past dates and reading the history on those dates must give
every user the same stage.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main

pytestmark = pytest.mark.slow


def build(raw: Path, db: Path, as_of: str | None = None) -> None:
    args = ["run", "--raw-dir", str(raw), "--db", str(db)]
    if as_of:
        args += ["--as-of", as_of]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def stages_on(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("select user_id, lifecycle_stage from marts.dim_users").fetchall())


def history_on(db: Path, day: str) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(
            con.execute(
                "select user_id, lifecycle_stage from marts.fct_user_lifecycle_history"
                " where valid_from <= cast(? as date)"
                " and (valid_to >= cast(? as date) or valid_to is null)",
                [day, day],
            ).fetchall()
        )


def late_version_users(db: Path, day: str) -> set[str]:
    """Users with an order version written after `day`: a past build sees the earlier version
    (dim_users), the history the latest one, which can move a purchase count."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select distinct user_id from staging.stg_shop__order_versions"
            " where ordered_date <= cast(? as date) and updated_at >= cast(? as date) + 1",
            [day, day],
        ).fetchall()
    return {row[0] for row in rows}


def assert_history_matches(raw: Path, tmp_path: Path, days: list[str]) -> int:
    final = tmp_path / "final.duckdb"
    build(raw, final)
    compared = 0
    for day in days:
        point_in_time = tmp_path / f"as_of_{day}.duckdb"
        build(raw, point_in_time, as_of=day)
        expected, actual = stages_on(point_in_time), history_on(final, day)
        assert set(actual) == set(expected), f"users differ on {day}"
        differing = {user for user in expected if expected[user] != actual[user]}
        assert differing <= late_version_users(final, day), f"{day}: {sorted(differing)[:10]}"
        compared += len(expected)
    return compared


def test_history_matches_point_in_time_on_the_fixture(raw_dir: Path, tmp_path: Path) -> None:
    days = ["2025-03-15", "2025-04-03", "2025-04-30", "2025-05-31"]
    assert assert_history_matches(raw_dir, tmp_path, days) > 10


def test_history_matches_point_in_time_on_generated_users(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    made = CliRunner().invoke(
        main,
        ["generate", "--users", "3000", "--seed", "11", "--end-date", "2026-06-30",
         "--out", str(raw)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    start = dt.date(2024, 9, 1)
    days = [(start + dt.timedelta(days=137 * i)).isoformat() for i in range(5)]
    assert assert_history_matches(raw, tmp_path, days) > 3000
