"""A shop with a fast rhythm and a partial last day (issue 24), proven end to end.

`strata generate --rhythm 3 --end-hour 4`: 600 customers of a grocery-like shop who buy every 3
days on average, orders only, the data stopping at 04:00 UTC on 2026-03-02. One `strata run`
(default D) and two narrowed builds (a given partial D, and the last day of a month) prove:
  - D defaults to the last complete day (03-01), and rows after it are counted as such;
  - the month so far is set against the same days of the month before, on the 1st (03-01), the
    2nd (03-02) and the last day (02-28), equal to a count by hand from the orders;
  - a given partial day barely moves the champions;
  - the suggested thresholds are at least the 90th (dormant) and 95th (churn) percentile of the
    gaps, the 90-day churn default is flagged too long, and every note reads the same in the run
    summary, the report and dbt's warning;
  - `lifecycle_thresholds: auto` uses the suggestions and the run history records them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from builds import build, rows
from click.testing import CliRunner

from strata.cli import main
from strata.generate.rhythm import generate_rhythm_shop
from strata.report import build_report
from strata.report.data import Serving
from strata.report.sections import collect
from strata.runs import read_runs
from strata.settings import load_settings
from strata.summary import growth_lines

# one worker for the module: its tests share the module's shop and build
pytestmark = pytest.mark.xdist_group("rhythm")

END = dt.date(2026, 3, 2)  # the data stops at 04:00 on this day
RUN = ["--no-publish", "--no-freshness-check"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("rhythm")
    raw = root / "raw"
    generate_rhythm_shop(600, 7, END, raw, mean_gap_days=3.0, end_hour=4)
    db = root / "run" / "warehouse.duckdb"
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(raw), "--db", str(db), *RUN])
    assert result.exit_code == 0, result.output
    table = pq.read_table(raw / "orders.parquet", columns=["user_id", "ordered_at"]).to_pylist()
    days: dict[str, set[dt.date]] = defaultdict(set)
    for order in table:  # written as UTC with a Z: the day is the text's date
        days[order["user_id"]].add(dt.date.fromisoformat(order["ordered_at"][:10]))
    return {"root": root, "raw": raw, "db": db, "output": result.output, "days": days}


def one(db: Path, query: str) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(query)
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def notes(db: Path) -> dict[str, str]:
    return dict(rows(db, "select note_code, message from marts.rpt_data_notes"))


def test_the_default_as_of_date_is_the_last_complete_day(shop: dict) -> None:
    resolved = one(shop["db"], "select * from intermediate.int_as_of_dates_resolved")
    assert resolved["latest_activity_date"] == END
    assert not resolved["is_latest_day_complete"]
    assert resolved["as_of_date"] == END - dt.timedelta(days=1)
    assert not resolved["is_as_of_day_partial"]
    assert "as of 2026-03-01 (UTC)" in shop["output"]
    assert "partial_as_of_day" not in notes(shop["db"])


def test_rows_after_the_as_of_date_are_counted_as_such(shop: dict) -> None:
    after = sum(1 for days in shop["days"].values() for day in days if day == END)
    reconciled = one(shop["db"], "select * from marts.rpt_source_reconciliation")
    on_last_day = sum(
        1
        for user, day in rows(
            shop["db"], "select user_id, ordered_date from staging.stg_shop__orders"
        )
        if day == END
    )
    assert after > 0 and reconciled["clean_rows_after_as_of_date"] == on_last_day
    message = notes(shop["db"])["rows_after_as_of_date"]
    assert f"{on_last_day:,} of the {reconciled['clean_rows']:,} clean rows" in message
    assert f"note: {message}" in shop["output"]


def hand_count(days: dict[str, set[dt.date]], start: dt.date, end: dt.date) -> dict[str, int]:
    """Growth accounting of the window [start, end] by hand: new (first activity in the month of
    `start`), retained (active in the month before), resurrected, and churned (active in the
    month before, not in the window)."""
    before = (start - dt.timedelta(days=1)).replace(day=1)
    month_end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    counts = dict.fromkeys(("active", "new", "retained", "resurrected", "churned"), 0)
    for user_days in days.values():
        active = any(start <= day <= end for day in user_days)
        earlier = any(before <= day < start for day in user_days)
        if active:
            counts["active"] += 1
            first = min(user_days)
            if start <= first < month_end:
                counts["new"] += 1
            elif earlier:
                counts["retained"] += 1
            else:
                counts["resurrected"] += 1
        elif earlier:
            counts["churned"] += 1
    return counts


def check_month_of(db: Path, days: dict, as_of: dt.date) -> dict:
    month = one(
        db,
        "select * from marts.rpt_growth_accounting where grain = 'month'"
        " order by period_start desc limit 1",
    )
    start = as_of.replace(day=1)
    previous = (start - dt.timedelta(days=1)).replace(day=1)
    complete = month["is_complete"]
    elapsed = (as_of - start).days
    cut = (start - dt.timedelta(days=1)) if complete else previous + dt.timedelta(days=elapsed)
    cut = min(cut, start - dt.timedelta(days=1))
    assert month["comparison_period_start"] == previous
    assert month["comparison_measured_on"] == cut
    assert month["days_measured"] == elapsed + 1
    now, then = hand_count(days, start, as_of), hand_count(days, previous, cut)
    for key, value in now.items():
        assert month[f"{key}_users"] == value, key
    for key, value in then.items():
        assert month[f"comparison_{key}_users"] == value, key
    return month


def test_the_1st_of_a_month_is_compared_with_the_1st_before(shop: dict) -> None:
    month = check_month_of(shop["db"], shop["days"], END - dt.timedelta(days=1))
    assert (month["days_measured"], month["is_complete"]) == (1, False)
    # the report's headline cards and the run summary set the same two figures side by side
    with Serving.open(shop["db"]) as db:
        report = collect(db, {"as_of_date": "2026-03-01"})
    cards = {row["key"]: row for row in report.datasets["headline"]}
    for key in ("new_users", "churned_users"):
        assert cards[key]["value"] == month[key]
        assert cards[key]["previous"] == month[f"comparison_{key}"]
        assert cards[key]["is_running"]
    assert "the same days before: 1 Feb 2026 to 1 Feb 2026" in cards["new_users"]["previous_period"]
    assert (
        f"churned {month['churned_users']:,} vs {month['comparison_churned_users']:,}"
        in shop["output"]
    )


def test_a_given_partial_2nd_is_compared_and_barely_moves_the_champions(shop: dict) -> None:
    db = build(
        shop["raw"],
        shop["root"] / "second",
        "+int_users_scored +rpt_growth_accounting +rpt_data_notes",
        as_of=END.isoformat(),
    )
    month = check_month_of(db, shop["days"], END)
    assert month["comparison_measured_on"] == dt.date(2026, 2, 2)
    note = notes(db)["partial_as_of_day"]
    assert note.startswith("The as-of date 2026-03-02 is a partial day: the data ends at 03:")
    resolved = one(db, "select * from intermediate.int_as_of_dates_resolved")
    assert resolved["recency_scored_on"] == END - dt.timedelta(days=1)

    def champions(warehouse: Path) -> int:
        return rows(
            warehouse,
            "select count(*) from intermediate.int_users_scored where rfm_segment = 'champions'",
        )[0][0]

    before, after = champions(shop["db"]), champions(db)
    assert before > 50
    assert abs(after - before) <= 0.1 * before, (before, after)


def test_the_last_day_of_a_month_is_a_complete_month(shop: dict) -> None:
    db = build(shop["raw"], shop["root"] / "last", "+rpt_growth_accounting", as_of="2026-02-28")
    month = check_month_of(db, shop["days"], dt.date(2026, 2, 28))
    assert month["is_complete"] and month["comparison_measured_on"] == dt.date(2026, 1, 31)


def test_thresholds_are_suggested_from_the_rhythm_and_flagged(shop: dict) -> None:
    gaps = one(shop["db"], "select * from marts.rpt_purchase_gaps")
    assert gaps["repeat_gaps"] > 1000
    assert gaps["suggested_dormant_after_days"] >= gaps["gap_days_p90"]
    assert gaps["suggested_churn_after_days"] >= gaps["gap_days_p95"] >= gaps["gap_days_p90"]
    assert gaps["suggested_churn_after_days"] > gaps["suggested_dormant_after_days"]
    assert gaps["churn_after_days"] == 90 and gaps["is_churn_threshold_long"]
    assert not gaps["is_churn_threshold_short"]
    message = notes(shop["db"])["churn_threshold_long"]
    assert message.startswith("churn_after_days = 90 is too long for the purchase rhythm")
    # the same words in the run summary, dbt's warning test and the report
    assert f"warning: {message}" in shop["output"]
    assert "warn_thresholds_fit_the_rhythm" in shop["output"]
    report = build_report(shop["db"], shop["root"] / "report.html", as_of="2026-03-01")
    assert message in report.path.read_text()


def test_auto_thresholds_are_used_and_recorded(shop: dict) -> None:
    db = shop["root"] / "auto" / "warehouse.duckdb"
    result = CliRunner().invoke(
        main,
        ["run", "--raw-dir", str(shop["raw"]), "--db", str(db), *RUN,
         "--vars", json.dumps({"lifecycle_thresholds": "auto"}),
         "--select", "+rpt_purchase_gaps +dim_users +rpt_data_notes"],
        env={"DBT_INDIRECT_SELECTION": "cautious"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    gaps = one(db, "select * from marts.rpt_purchase_gaps")
    assert gaps["thresholds_source"] == "auto"
    assert gaps["churn_after_days"] == gaps["suggested_churn_after_days"] < 90
    assert gaps["dormant_after_days"] == gaps["suggested_dormant_after_days"]
    assert not any(code.endswith(("_short", "_long")) for code in notes(db))
    # the stages follow the thresholds in use
    churned, wrong = rows(
        db,
        "select count(*) filter (where lifecycle_stage = 'churned'),"
        " count(*) filter (where (lifecycle_stage = 'churned') <> (days_inactive >= ?))"
        " from marts.dim_users",
        [gaps["churn_after_days"]],
    )[0]
    assert churned > 0 and wrong == 0
    record = read_runs(load_settings(db_path=str(db)).history_file)[-1]
    assert record.thresholds == {
        "thresholds_source": "auto",
        "dormant_after_days": gaps["dormant_after_days"],
        "churn_after_days": gaps["churn_after_days"],
    }


def test_predictions_that_contradict_the_stages_are_marked_and_counted(shop: dict) -> None:
    (chosen,) = rows(
        shop["db"],
        "select model from marts.fct_customer_model_fits where purpose = 'current' and is_chosen",
    )[0]
    stages = dict(
        (stage, (users, conflicts))
        for stage, users, conflicts in rows(
            shop["db"],
            "select lifecycle_stage, count(*), count(*) filter (where is_prediction_in_conflict)"
            " from marts.dim_users group by 1",
        )
    )
    wrong = rows(
        shop["db"],
        "select count(*) from marts.dim_users where is_prediction_in_conflict <> coalesce("
        " lifecycle_stage in ('churned', 'dormant')"
        " and (intent_segment = 'likely_to_buy' or churn_risk = 'low'), false)",
    )[0][0]
    assert wrong == 0
    churned, dormant = stages["churned"], stages["dormant"]
    if churned[1] + dormant[1]:
        message = notes(shop["db"])["predictions_contradict_stages"]
        assert message.startswith(
            f"{churned[1]:,} of {churned[0]:,} churned and {dormant[1]:,} of {dormant[0]:,}"
            " dormant users are likely to buy or at low churn risk by the purchase model"
            f" ({chosen})"
        )
        assert message in shop["output"]


FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "raw"


@pytest.mark.parametrize("as_of", ["2025-05-31", "2025-06-01", "2025-06-02"])
def test_the_fixture_compares_like_with_like(tmp_path: Path, as_of: str) -> None:
    """The committed fixture on the last day of a month, the 1st and the 2nd: the month's row of
    growth accounting and its comparison equal a count by hand from the user-days it is built
    from, and the run summary's month line says the same."""
    db = build(FIXTURE, tmp_path, "+rpt_growth_accounting", as_of=as_of)
    days: dict[str, set[dt.date]] = defaultdict(set)
    for user, day in rows(
        db, "select user_id, activity_date from intermediate.int_user_days_aggregated"
    ):
        days[user].add(day)
    month = check_month_of(db, days, dt.date.fromisoformat(as_of))
    line = growth_lines(month)[1]
    assert line.startswith(f"  new {month['new_users']:,} vs {month['comparison_new_users']:,};")


def test_a_furniture_shop_builds_with_its_few_orders(tmp_path: Path) -> None:
    """A shop whose customers buy every 1,000 days: its last day with an order is the as-of date
    (too few orders to judge the hour a day ends), and with too few repeat buyers for a
    back-test the first model that fitted as of D is chosen, its data tests passing."""
    generate_rhythm_shop(600, 3, dt.date(2026, 12, 4), tmp_path / "raw", mean_gap_days=1000.0)
    db = build(
        tmp_path / "raw",
        tmp_path,
        "+fct_customer_model_fits +rpt_purchase_gaps +int_as_of_dates_resolved",
        data_tests=True,
    )
    resolved = one(db, "select * from intermediate.int_as_of_dates_resolved")
    assert resolved["as_of_date"] == resolved["latest_activity_date"]
    assert resolved["day_complete_after_seconds"] is None
    gaps = one(db, "select * from marts.rpt_purchase_gaps")
    assert not gaps["has_enough_gaps"] and gaps["thresholds_source"] == "vars"
    chosen = rows(
        db,
        "select purpose, is_converged from marts.fct_customer_model_fits where is_chosen",
    )
    assert ("current", True) in chosen
