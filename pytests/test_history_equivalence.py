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
from builds import build
from click.testing import CliRunner

from strata.cli import main

pytestmark = pytest.mark.slow


# What the comparison reads: the history and snapshots of a whole build, dim_users of a point in
# time, and the order versions that tell a late correction from a disagreement.
HISTORY = "+fct_user_lifecycle_history +fct_user_rfm_snapshots +stg_shop__order_versions"
POINT_IN_TIME = "+dim_users"


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


def scores_on(db: Path, day: str | None = None) -> dict[str, tuple]:
    """RFM scores and segment per buyer: from dim_users, or from the snapshot of `day`."""
    with duckdb.connect(str(db), read_only=True) as con:
        if day is None:
            query = (
                "select user_id, r_score, f_score, m_score, rfm_segment, rfm_class, value_tier"
                " from marts.dim_users where r_score is not null"
            )
            rows = con.execute(query).fetchall()
        else:
            query = (
                "select user_id, r_score, f_score, m_score, rfm_segment, rfm_class, value_tier"
                " from marts.fct_user_rfm_snapshots where snapshot_date = cast(? as date)"
            )
            rows = con.execute(query, [day]).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def assert_history_matches(
    raw: Path, tmp_path: Path, days: list[str], final: Path | None = None
) -> tuple[int, int]:
    """Returns how many user stages and how many RFM snapshots were compared. `final` is the
    whole build of `raw` when one exists already; otherwise the history is built with its data
    tests. Each point in time builds dim_users and what it is built from, nothing else
    (docs/testing.md)."""
    if final is None:
        final = build(raw, tmp_path / "final", HISTORY, data_tests=True)
    compared = snapshots = 0
    for day in days:
        point_in_time = build(raw, tmp_path / f"as-of-{day}", POINT_IN_TIME, as_of=day)
        expected, actual = stages_on(point_in_time), history_on(final, day)
        assert set(actual) == set(expected), f"users differ on {day}"
        differing = {user for user in expected if expected[user] != actual[user]}
        assert differing <= late_version_users(final, day), f"{day}: {sorted(differing)[:10]}"
        compared += len(expected)
        if (dt.date.fromisoformat(day) + dt.timedelta(days=1)).day == 1 and not late_version_users(
            final, day
        ):
            # a month end: the RFM snapshot of that day is dim_users' scores as of that day
            assert scores_on(final, day) == scores_on(point_in_time), f"RFM snapshot of {day}"
            snapshots += 1
    return compared, snapshots


def test_history_matches_point_in_time_on_the_fixture(fixture_run, tmp_path: Path) -> None:
    days = ["2025-03-15", "2025-04-03", "2025-04-30", "2025-05-31"]
    stages, snapshots = assert_history_matches(fixture_run.raw, tmp_path, days, fixture_run.db)
    assert stages > 10
    assert snapshots == 2


# A sequence of six builds of a 3,000-user shop (about 100 s on one worker): the season tier, as
# the sequences of runs are (docs/testing.md). The fixture's case above stays in `make test`.
@pytest.mark.season
@pytest.mark.xdist_group("season")
def test_history_matches_point_in_time_on_generated_users(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    made = CliRunner().invoke(
        main,
        ["generate", "--users", "3000", "--seed", "11", "--end-date", "2026-06-30",
         "--out", str(raw)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    days = ["2024-09-30", "2025-01-16", "2025-05-31", "2025-10-17", "2026-03-31"]
    stages, snapshots = assert_history_matches(raw, tmp_path, days)
    assert stages > 3000
    assert snapshots >= 1  # a month end without late corrections was compared, not none
