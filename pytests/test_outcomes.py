"""Holdouts and outcomes (docs/outcomes.md), proven on data rather than on the arithmetic alone.

* The retention triangle of the committed fixture equals a count made by hand from its clean
  activity (listed below), and on a generated shop a recount in plain Python.
* `is_holdout` agrees with the Python reference (`strata.generate.is_holdout`) for every event.
* On a generated shop of 10,000 users with a known treatment effect for the dormant play, strata
  counts the generator's entries and conversions exactly, holds out the configured share of every
  play within a bound that fits its size (four standard errors of a share), and its measured
  lift's interval covers the planted lift. (It ran on 100,000 users before; the bounds scale with
  the size, so 10,000 proves the same in a tenth of the time: docs/testing.md.)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main
from strata.generate import generate, is_holdout

# one worker for the module: its tests share a module-scoped build
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("outcomes")]

TREATMENT_USERS = 10_000
HOLDOUT_SHARE = 0.10  # var holdout_share
TREATMENT_EFFECT = 0.2
TREATMENT_END = dt.date(2026, 6, 30)
DORMANT_PLAY = "lifecycle_stage:dormant"


def run_strata(raw: Path, db: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw), "--db", str(db), "--no-publish", *extra]
    )
    assert result.exit_code == 0, result.output


def rows(db: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query).fetchall()


# ---- the committed fixture -------------------------------------------------------------------


@pytest.fixture
def fixture_db(fixture_warehouse: Path) -> Path:
    return fixture_warehouse


# The fixture's clean activity after quarantine, by user: u001 on 2025-03-01 (two purchases,
# 46.06); u002 on 03-02 (a purchase, 19.74) and 03-05 (a cancelled order); u003 on 04-10 (16.21),
# 04-11 (not a purchase) and 04-12 (15.00); u005 on 05-20 (48.59); u006 on 06-01 (30.00) and
# orders not purchased on 06-02 and 06-03. D is 2025-06-03. Every user buys in the month first
# seen and never comes back in a later month, so both cohort types give the same triangle:
# cohort -> (cohort users, revenue of month 0); every later month is 0 active, 0 buying, 0.00.
HAND_COUNT = {
    dt.date(2025, 3, 1): (2, Decimal("65.80")),
    dt.date(2025, 4, 1): (1, Decimal("31.21")),
    dt.date(2025, 5, 1): (1, Decimal("48.59")),
    dt.date(2025, 6, 1): (1, Decimal("30.00")),
}


def test_fixture_retention_triangle_matches_the_hand_count(fixture_db: Path) -> None:
    cells = rows(
        fixture_db,
        "select cohort_type, cohort_month, activity_month, months_since_cohort, cohort_users,"
        " active_users, buying_users, revenue, is_complete_month"
        " from marts.rpt_cohort_retention",
    )
    expected = set()
    for cohort_type in ("first_activity", "first_purchase"):
        for cohort, (users, revenue) in HAND_COUNT.items():
            for since in range(6 - cohort.month + 1):  # to June, D's month
                month = dt.date(2025, cohort.month + since, 1)
                active = users if since == 0 else 0
                expected.add((
                    cohort_type, cohort, month, since, users, active, active,
                    revenue if since == 0 else Decimal("0.00"), month.month < 6,
                ))  # fmt: skip
    assert set(cells) == expected
    assert len(cells) == len(expected) == 20


def test_holdout_flags_match_the_python_reference(fixture_db: Path) -> None:
    events = rows(fixture_db, "select user_id, play_id, is_holdout from marts.fct_lifecycle_events")
    assert events
    for user_id, play_id, flag in events:
        assert bool(is_holdout([user_id], play_id)[0]) == flag, (user_id, play_id)
    users = rows(fixture_db, "select user_id, play_id, is_holdout from marts.dim_users")
    for user_id, play_id, flag in users:
        assert bool(is_holdout([user_id], play_id)[0]) == flag, (user_id, play_id)


# ---- a generated shop with a planted effect --------------------------------------------------


@pytest.fixture(scope="module")
def treated_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """10,000 users, no dirty rows (so that counts are exact), a lift of 0.2 planted for the
    dormant play, and strata run over it."""
    work = tmp_path_factory.mktemp("treatment")
    raw = work / "raw"
    result = generate(
        users=TREATMENT_USERS, seed=11, end_date=TREATMENT_END, out_dir=raw,
        dirty_share=0.0, treatment_effect=TREATMENT_EFFECT,
    )  # fmt: skip
    assert result.treatment_path is not None
    planted = json.loads(result.treatment_path.read_text())
    db = work / "warehouse.duckdb"
    run_strata(raw, db, "--as-of", TREATMENT_END.isoformat())
    return db, planted


def test_strata_counts_the_generators_entries_and_conversions(treated_shop) -> None:
    db, planted = treated_shop
    assert planted["exact"]
    counted = dict(
        ((holdout, "entries"), entries)
        for holdout, entries in rows(
            db,
            "select is_holdout, count(*) from marts.fct_play_entries"
            f" where play_id = '{DORMANT_PLAY}' and is_window_closed group by is_holdout",
        )
    )
    conversions = dict(
        rows(
            db,
            "select is_holdout, sum(conversions) from marts.fct_play_entries"
            f" where play_id = '{DORMANT_PLAY}' and is_window_closed group by is_holdout",
        )
    )
    assert counted[(False, "entries")] == planted["treated"]["entries"]
    assert counted[(True, "entries")] == planted["holdout"]["entries"]
    assert conversions[False] == planted["treated"]["conversions"]
    assert conversions[True] == planted["holdout"]["conversions"]


def share_bound(n: int) -> float:
    """How far a realised holdout share of n independent users may stray from the configured one:
    four standard errors (a miss by chance once in about 16,000 plays)."""
    return 4 * math.sqrt(HOLDOUT_SHARE * (1 - HOLDOUT_SHARE) / n)


def test_realised_holdout_share_fits_the_size_of_every_play(treated_shop) -> None:
    db, _ = treated_shop
    # By user: a play holds out users, not entries. (By entry the planted play's share is lower,
    # and rightly: treated users who come back can turn dormant again, held-out ones less often.)
    plays = rows(
        db,
        "select play_id, count(*), avg(case when is_holdout then 1.0 else 0.0 end) from"
        " (select distinct user_id, play_id, is_holdout from marts.fct_lifecycle_events)"
        " group by play_id",
    )
    large = [(play, n, share) for play, n, share in plays if n > 300]
    assert all(
        flags == 1
        for _, flags in rows(  # a user is in one group of a play, always
            db,
            "select user_id || play_id, count(distinct is_holdout) from marts.fct_lifecycle_events"
            " group by 1 order by 2 desc limit 1",
        )
    )
    assert len(large) >= 5, plays  # every stage's play has hundreds of users at this size
    for play, n, share in large:
        assert abs(share - HOLDOUT_SHARE) <= share_bound(n), (play, n, share, share_bound(n))
    # the current plays of dim_users too
    [(n, share)] = rows(
        db, "select count(*), avg(case when is_holdout then 1.0 else 0.0 end) from marts.dim_users"
    )
    assert n >= TREATMENT_USERS * 0.9
    assert abs(share - HOLDOUT_SHARE) <= share_bound(n), (n, share)


def test_measured_lift_recovers_the_planted_effect(treated_shop) -> None:
    db, planted = treated_shop
    [(users, holdout_users, lift, low, high, too_small)] = rows(
        db,
        "select treated.entry_count, holdout.entry_count, treated.lift_pp, treated.lift_ci_low_pp,"
        " treated.lift_ci_high_pp, treated.is_too_small"
        " from marts.rpt_play_outcomes as treated"
        " inner join marts.rpt_play_outcomes as holdout"
        "   on treated.play_id = holdout.play_id and holdout.cohort_grain = 'all'"
        "   and holdout.group_name = 'holdout'"
        f" where treated.play_id = '{DORMANT_PLAY}' and treated.cohort_grain = 'all'"
        "   and treated.group_name = 'treated'",
    )
    assert not too_small and users > 1_000 and holdout_users > 100
    true_lift = 100 * planted["true_lift"]
    expected_lift = 100 * planted["expected_lift"]
    assert low <= true_lift <= high, (low, true_lift, high)
    assert low <= expected_lift <= high, (low, expected_lift, high)
    assert low < lift < high and abs(lift - expected_lift) < (high - low) / 2
    assert low > 0  # the play visibly worked
    # and the plays without a planted effect show none: their intervals cover 0 at this size
    untouched = rows(
        db,
        "select play_id, lift_ci_low_pp, lift_ci_high_pp from marts.rpt_play_outcomes"
        f" where cohort_grain = 'all' and group_name = 'treated' and play_id <> '{DORMANT_PLAY}'"
        " and not is_too_small",
    )
    assert untouched
    misses = [(play, lo, hi) for play, lo, hi in untouched if not lo <= 0 <= hi]
    # at 95%, one play in twenty may miss 0 by chance; more than one of six would be a bias
    assert len(misses) <= 1, misses


def test_generated_retention_triangle_matches_a_recount(treated_shop) -> None:
    """The triangle against a recount in plain Python from the activity days."""
    db, _ = treated_shop
    days = rows(
        db,
        "select user_id, activity_date, purchases, revenue"
        " from intermediate.int_user_days_aggregated",
    )
    first_seen: dict[str, dt.date] = {}
    first_bought: dict[str, dt.date] = {}
    by_month: dict[tuple[str, dt.date], list] = defaultdict(lambda: [False, Decimal(0)])
    for user, day, purchases, revenue in days:
        month = day.replace(day=1)
        first_seen[user] = min(first_seen.get(user, month), month)
        if purchases:
            first_bought[user] = min(first_bought.get(user, month), month)
        cell = by_month[(user, month)]
        cell[0] = cell[0] or purchases > 0
        cell[1] += revenue
    expected: dict[tuple[str, dt.date, dt.date], list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for cohort_type, firsts in (("first_activity", first_seen), ("first_purchase", first_bought)):
        for (user, month), (bought, revenue) in by_month.items():
            if user in firsts and month >= firsts[user]:
                cell = expected[(cohort_type, firsts[user], month)]
                cell[0] += 1
                cell[1] += int(bought)
                cell[2] += revenue
    cells = rows(
        db,
        "select cohort_type, cohort_month, activity_month, active_users, buying_users, revenue"
        " from marts.rpt_cohort_retention where active_users > 0",
    )
    assert {(t, c, m): [a, b, r] for t, c, m, a, b, r in cells} == dict(expected)
    sizes = rows(
        db,
        "select cohort_type, count(distinct cohort_month), sum(case when months_since_cohort = 0"
        " then cohort_users end) from marts.rpt_cohort_retention group by cohort_type",
    )
    assert {t: users for t, _, users in sizes} == {
        "first_activity": len(first_seen),
        "first_purchase": len(first_bought),
    }


def test_summary_line_of_the_largest_play() -> None:
    from strata.summary import play_lines

    play = ("lifecycle_stage:dormant", 9000, 0.25, 1000, 0.2, 5.0, 2.1, 7.9, False)
    assert play_lines(play) == [
        "largest play: lifecycle_stage:dormant, 9,000 treated entries (25.0% converted)"
        " vs 1,000 held out (20.0%): lift +5.0 pp (95% CI +2.1 to +7.9)"
    ]
    small = ("lifecycle_stage:new", 40, 0.5, 4, 0.25, 25.0, -20.0, 70.0, True)
    assert play_lines(small)[0].endswith("; too few users to read (docs/outcomes.md)")
    nobody = ("lifecycle_stage:new", 40, 0.5, None, None, None, None, None, True)
    assert "nobody held out" in play_lines(nobody)[0]
    assert "no entry" in play_lines(None)[0]


# ---- a changed holdout rule -------------------------------------------------------------------


def test_a_new_salt_is_refused_unless_past_entries_keep_their_groups(published_copy) -> None:
    """A new holdout_salt would draw every past entry afresh: refused (exit 2) while the
    published rule is not kept in var holdout_history. Kept there, the run publishes, entries up
    to its last day keep their groups, later ones are drawn by the new salt, and status and the
    report say so."""
    raw, db, _ = published_copy
    base = ["run", "--raw-dir", str(raw), "--db", str(db)]
    before = dict(
        ((user, day), flag)
        for user, day, flag in rows(
            db, "select user_id, event_date, is_holdout from marts.fct_lifecycle_events"
        )
    )
    refused = CliRunner().invoke(main, [*base, "--vars", "{holdout_salt: spring-2026}"])
    assert refused.exit_code == 2, refused.output
    assert "the holdout rule changed" in refused.output and "holdout_history" in refused.output

    kept = (
        "{holdout_salt: spring-2026, guard_max_quarantined_share: 1,"
        " guard_max_new_quarantined_share: 1,"
        " holdout_history: [{until: '2025-04-30', salt: strata, share: 0.1}]}"
    )
    result = CliRunner().invoke(main, [*base, "--vars", kept])
    assert result.exit_code == 0, result.output
    after = rows(
        db, "select user_id, event_date, play_id, is_holdout from marts.fct_lifecycle_events"
    )
    cutoff = dt.date(2025, 4, 30)
    for user, day, play, flag in after:
        expected_salt = "strata" if day <= cutoff else "spring-2026"
        assert flag == bool(is_holdout([user], play, expected_salt, 0.1)[0]), (user, day)
        if day <= cutoff:
            assert flag == before[(user, day)]
    assert any(day > cutoff for _, day, _, _ in after)

    status = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert "holdout rule: salt 'spring-2026', share 0.1" in status.output
    assert "entries up to 2025-04-30: salt 'strata', share 0.1" in status.output
    from strata.settings import load_settings

    report = (load_settings(db_path=str(db)).serving / "report.html").read_text()
    assert "The holdout rule changed" in report
