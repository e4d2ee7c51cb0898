"""The benchmark's hand-written baseline agrees with strata, user for user (make bench relies on
this before it compares their times), and a disagreement is reported, not hidden."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tools.baseline import compare_with_strata, run_baseline

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parent.parent
AS_OF = "2025-06-03"


@pytest.fixture
def built(fixture_run) -> Path:
    """The session's fixture build: as of the fixture's latest day with data, AS_OF."""
    with duckdb.connect(str(fixture_run.db), read_only=True) as con:
        assert (
            str(con.execute("select max(as_of_date) from marts.dim_users").fetchone()[0]) == AS_OF
        )
    return fixture_run.db


@pytest.fixture
def raw_dir(fixture_run) -> Path:
    return fixture_run.raw


def test_baseline_agrees_with_strata_on_every_fixture_user(raw_dir: Path, built: Path) -> None:
    started = time.perf_counter()
    rows, seconds = run_baseline(raw_dir, AS_OF, project_dir=PROJECT_DIR)
    wall = time.perf_counter() - started
    assert compare_with_strata(built, rows) == []
    # One row per user of dim_users, each with a stage, and scores exactly for the buyers of the
    # RFM window (the lapsed and the prospects have none): the answer, not just its timing.
    with duckdb.connect(str(built), read_only=True) as con:
        users = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        scored = con.execute(
            "select count(*) from marts.dim_users where r_score is not null"
        ).fetchone()[0]
    assert len(rows) == users == len({row[0] for row in rows}) > 0
    assert {row[1] for row in rows} <= {
        "churned", "dormant", "new", "reactivated", "at_risk", "loyal", "active"
    }  # fmt: skip
    assert sum(row[2] is not None for row in rows) == scored
    # the time reported is the query's own: positive, and within the call that ran it
    assert 0 < seconds <= wall


def test_a_wrong_stage_or_score_or_user_is_reported(raw_dir: Path, built: Path) -> None:
    rows, _ = run_baseline(raw_dir, AS_OF, project_dir=PROJECT_DIR)
    user, stage, r_score, f_score, m_score = rows[0]
    wrong_stage = "churned" if stage != "churned" else "active"
    altered = [(user, wrong_stage, r_score, f_score, m_score), *rows[1:], ("ghost", "new", 1, 1, 1)]
    problems = compare_with_strata(built, altered)
    assert any(problem.startswith(f"{user}: strata") for problem in problems)
    assert "ghost: only in the baseline" in problems
    assert compare_with_strata(built, rows[1:]) == [f"{user}: only in strata"]
