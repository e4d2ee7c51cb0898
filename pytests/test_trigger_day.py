"""A simulated day of deliveries every fifteen minutes, each followed by an intraday run
(docs/triggers.md): after every run the published trigger audiences equal a fresh computation
for that moment, and after the day the daily run computes what a fresh daily build computes.

The runs go through the watcher (`strata run --intraday --watch`: strata.triggers.watch with dbt
warm in this process), whose sleep lands the next delivery; the first run of the day goes
through the CLI as cron would start it, dbt a subprocess. The fresh computation for a moment is
a copy of the warehouse whose base and trigger models are rebuilt from scratch
(`--full-refresh`) from the raw files as they are, for the same moment M. The day has a late
delivery, one delivered twice, one with broken rows and one that lands unreadable
(pytests/trigger_day.py).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from deliveries import differences
from trigger_day import (
    CORRUPT_MARKER,
    LATE_ARRIVES,
    REPEATED_AGAIN,
    DayShop,
)

from strata import dbt_runner
from strata.audiences.definitions import vars_for
from strata.cli import main
from strata.orchestrate import RunOptions, execute
from strata.settings import load_settings
from strata.triggers import (
    INTRADAY_SELECT,
    current_trigger_manifest,
    intraday_dbt_args,
    triggers_root,
    watch,
)
from tools.bench.checks import trigger_differences

# with test_incremental.py and the README walk-through, beside test_season.py (docs/testing.md)
pytestmark = [pytest.mark.season, pytest.mark.xdist_group("sequences")]

AUDIENCES = """
audiences:
  - name: cart_reminder
    owner: crm@example.com
    description: Left a cart two hours ago.
    attributes: [lifecycle_stage]
    trigger: cart_abandoned
  - name: still_thinking
    owner: crm@example.com
    description: Three visits in a week without buying.
    trigger: browsing_without_purchase
  - name: welcome_back
    owner: crm@example.com
    description: Came back after going quiet.
    trigger: came_back
  - name: onboarding
    owner: crm@example.com
    description: Made a first purchase.
    trigger: first_purchase
  - name: second_order_nudge
    owner: crm@example.com
    description: The second purchase is late.
    trigger: second_purchase_overdue
"""


def _at(text: str) -> dt.datetime:
    return dt.datetime.combine(dt.date(2025, 7, 1), dt.time.fromisoformat(text))


def _members(db: Path) -> dict[str, dict[str, dt.datetime]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select audience_name, user_id, entered_at from triggers.fct_trigger_audience_members"
        ).fetchall()
    found: dict[str, dict[str, dt.datetime]] = {}
    for audience, user, entered in rows:
        found.setdefault(audience, {})[user] = entered
    return found


def _held_out(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            row[0]
            for row in con.execute(
                "select user_id from triggers.fct_trigger_audience_members "
                "where audience_name = 'cart_reminder' and is_holdout"
            ).fetchall()
        }


def _published(serving: Path) -> tuple[dict, list[tuple], dict[str, list[tuple]]]:
    """The current trigger version: its manifest, its spells and each audience's members."""
    root = triggers_root(serving)
    folder = (root / "current").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    with duckdb.connect() as con:
        spells = con.execute(
            f"select * from read_parquet('{folder / 'spells.parquet'}') order by all"
        ).fetchall()
        members = {
            name: con.execute(
                f"select user_id, entered_at, evidence_id "
                f"from read_parquet('{folder / name / 'members.parquet'}') order by all"
            ).fetchall()
            for name in manifest["audiences"]
        }
    return manifest, spells, members


class Day:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.shop = DayShop(root / "raw")
        self.settings = load_settings(
            db_path=str(root / "shop" / "w.duckdb"), raw_dir=str(root / "raw")
        )
        self.fresh = load_settings(
            db_path=str(root / "fresh" / "w.duckdb"), raw_dir=str(root / "raw")
        )
        self.serving = self.settings.serving
        self.runs: list[dict] = []
        self.held_out: set[str] = set()  # cart_reminder's held-out members after the last run
        self.rhythm: tuple | None = None  # the median gap and whether it is trusted, as of D

    def vars(self, options: RunOptions) -> str:
        """The vars as `strata run` hands them to dbt (the same text keeps dbt's parse)."""
        merged = dict(options.dbt_vars)
        merged.update(
            vars_for(self.settings.audiences_folder, self.settings.project_dir, self.shop.raw)
        )
        return json.dumps(merged)

    def fresh_computation(self, options: RunOptions, trigger_as_of: str) -> Path:
        """The warehouse copied, its base and trigger models rebuilt from scratch for M."""
        self.fresh.db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.settings.db, self.fresh.db)
        result = dbt_runner.run_dbt(
            self.fresh,
            ["run", "--full-refresh", "--select", INTRADAY_SELECT, "--vars", self.vars(options)],
            env={
                "STRATA_RAW_DIR": str(self.shop.raw),
                "STRATA_TRIGGER_AS_OF": trigger_as_of.removesuffix("Z"),
                "STRATA_AS_OF_DATE": "",
            },
        )
        assert result.ok, result.errors[-5:]
        return self.fresh.db


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    root = tmp_path_factory.mktemp("trigger_day")
    (root / "audiences").mkdir()
    (root / "audiences" / "triggers.yml").write_text(AUDIENCES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRATA_AUDIENCES_DIR", str(root / "audiences"))
        day = Day(root)
        day.shop.land_history()
        # the daily run of 30 June, then the day's first delivery and run as cron starts them
        daily = CliRunner().invoke(
            main, ["run", "--raw-dir", str(day.shop.raw), "--db", str(day.settings.db)]
        )
        assert daily.exit_code == 0, daily.output
        with duckdb.connect(str(day.settings.db), read_only=True) as con:
            day.rhythm = con.execute(
                "select gap_days_p50, has_enough_gaps from marts.rpt_purchase_gaps"
            ).fetchone()
        plan = day.shop.runs()
        for quarter, marker, _ in plan[0]["landing"]:
            day.shop.land(quarter, marker)
        first = CliRunner().invoke(
            main,
            ["run", "--intraday", "--raw-dir", str(day.shop.raw), "--db", str(day.settings.db)],
        )
        assert first.exit_code == 0, first.output
        assert "trigger audiences as of 2025-07-01T07:00:00Z published" in first.output
        day.runs.append(
            {"run_at": plan[0]["run_at"], "code": 0, "members": _members(day.settings.db),
             "version": current_trigger_manifest(day.serving)["version"]}
        )  # fmt: skip
        _drive_the_day(day, plan[1:])
        yield day


def _drive_the_day(day: Day, plan: list[dict]) -> None:
    """Every other delivery through the watcher, each run checked against a fresh computation."""
    options = RunOptions.from_settings(
        day.settings, command="intraday", raw_dir=day.shop.raw, dbt_args=intraday_dbt_args(),
        dbt_vars=day.settings.dbt_vars, intraday=True,
    )  # fmt: skip
    pending = list(plan)
    current = {"step": None}

    def land_next(_seconds: float) -> None:
        step = pending.pop(0)
        current["step"] = step
        for quarter, marker, kind in step["landing"]:
            if kind == "corrupt":
                day.shop.land_corrupt(quarter)
            else:
                day.shop.land(quarter, marker)

    def run_once() -> int:
        outcome = execute(day.settings, options, log=lambda line: None)
        manifest, spells, members = _published(day.serving)
        record = {
            "run_at": current["step"]["run_at"], "code": outcome.exit_code,
            "message": outcome.record.message, "failures": outcome.record.failures,
            "version": manifest["version"], "members": _members(day.settings.db),
        }  # fmt: skip
        day.runs.append(record)
        folder = (triggers_root(day.serving) / "current" / "cart_reminder").resolve()
        record["cart_based_on"] = json.loads((folder / "manifest.json").read_text())[
            "changes_since_version"
        ]
        with duckdb.connect() as con:
            record["cart_changes"] = [
                list(row)
                for row in con.execute(
                    f"select change, user_id from read_parquet('{folder / 'changes.parquet'}')"
                ).fetchall()
            ]
        record["held_out_before"] = day.held_out
        day.held_out = _held_out(day.settings.db)
        if outcome.exit_code == 0:
            # the published version is this moment's, and equals a fresh computation of it
            assert manifest["trigger_as_of"] == record["run_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
            fresh = day.fresh_computation(options, manifest["trigger_as_of"])
            assert trigger_differences(day.settings.db, fresh) == [], record["run_at"]
            with duckdb.connect(str(fresh), read_only=True) as con:
                fresh_spells = con.execute(
                    "select * from triggers.fct_trigger_spells order by all"
                ).fetchall()
                for name, rows in members.items():
                    expected = con.execute(
                        "select user_id, entered_at, evidence_id "
                        "from triggers.fct_trigger_audience_members "
                        "where audience_name = ? and not is_holdout order by all",
                        [name],
                    ).fetchall()
                    assert rows == expected, (record["run_at"], name)
            assert spells == fresh_spells, record["run_at"]
        return outcome.exit_code

    dbt_runner.WARM = dbt_runner.WarmDbt()
    try:
        land_next(0)
        watch(
            run_once,
            day.shop.raw,
            poll_seconds=0,
            stopped=lambda: not pending and _ran(day, current),
            sleep=land_next,
        )
    finally:
        dbt_runner.WARM = None


def _ran(day: Day, current: dict) -> bool:
    return bool(day.runs) and day.runs[-1]["run_at"] == current["step"]["run_at"]


def _run(day: Day, clock: str) -> dict:
    [found] = [run for run in day.runs if run["run_at"] == _at(clock)]
    return found


def _members_of(day: Day, clock: str, audience: str) -> dict[str, dt.datetime]:
    return _run(day, clock)["members"].get(audience, {})


def test_every_run_of_the_day_equals_a_fresh_computation(day: Day) -> None:
    # (each run was compared as it happened, in _drive_the_day); one run per delivery, none
    # at 10:00, when the late delivery did not come
    delivered = [step["run_at"] for step in day.shop.runs() if step["landing"]]
    assert [run["run_at"] for run in day.runs] == delivered
    assert _at("10:00") not in delivered and len(delivered) == 48
    assert sum(run["code"] != 0 for run in day.runs) == 1


def test_a_cart_left_two_hours_enters_when_the_two_hours_are_known(day: Day) -> None:
    assert "u_cart" not in _run(day, "09:45")["members"].get("cart_reminder", {})
    assert _members_of(day, "10:15", "cart_reminder")["u_cart"] == _at("10:05")
    # in from 09:00 until the purchase at 12:20, delivered at 12:30
    assert _members_of(day, "09:00", "cart_reminder")["u_cart_buys"] == _at("09:00")
    assert "u_cart_buys" in _members_of(day, "12:15", "cart_reminder")
    assert "u_cart_buys" not in _members_of(day, "12:30", "cart_reminder")


def test_a_late_delivery_takes_back_what_it_disproves(day: Day) -> None:
    """The order at 09:50 comes with the 10:00 delivery, which lands after the 10:30 run."""
    for clock in ("10:15", "10:30"):
        assert _members_of(day, clock, "cart_reminder")["u_late"] == _at("09:50")
    late = _run(day, LATE_ARRIVES.strftime("%H:%M"))
    assert "u_late" not in late["members"].get("cart_reminder", {})
    # the sync delta of that version takes the user back out, unless they were held out
    assert late["cart_based_on"] == _run(day, "10:30")["version"]
    held_out = "u_late" in late["held_out_before"]
    assert (["remove", "u_late"] in late["cart_changes"]) != held_out


def test_every_trigger_enters_at_its_moment(day: Day) -> None:
    assert _members_of(day, "09:30", "still_thinking")["u_browse"] == _at("09:20")
    assert "u_browse" not in _members_of(day, "09:15", "still_thinking")
    assert _members_of(day, "11:15", "welcome_back")["u_back"] == _at("11:05")
    assert "u_back" not in _members_of(day, "11:00", "welcome_back")
    # the wait is the shop's rhythm as of D: a median gap of 8 days, from the first purchase at
    # 12:00 on 23 June
    assert day.rhythm == (8.0, True)
    assert _members_of(day, "12:00", "second_order_nudge")["u_second"] == _at("12:00")
    assert "u_second" not in _members_of(day, "11:45", "second_order_nudge")
    assert _members_of(day, "14:00", "onboarding")["u_first"] == _at("13:50")


def test_a_delivery_sent_twice_counts_once(day: Day) -> None:
    again = _members_of(day, REPEATED_AGAIN.strftime("%H:%M"), "onboarding")
    assert again["u_first"] == _members_of(day, "14:15", "onboarding")["u_first"]
    with duckdb.connect(str(day.settings.db), read_only=True) as con:
        dispositions = dict(
            con.execute(
                "select row_disposition, count(*) from staging.base_shop__orders "
                "where order_id in (select order_id from staging.stg_shop__orders "
                "where user_id = 'u_first') group by all"
            ).fetchall()
        )
        spells = con.execute(
            "select count(*) from triggers.fct_trigger_spells "
            "where user_id = 'u_first' and trigger_name = 'first_purchase'"
        ).fetchone()[0]
    assert dispositions == {"clean": 1, "superseded": 1}
    assert spells == 1


def test_broken_rows_are_quarantined_with_reasons(day: Day) -> None:
    with duckdb.connect(str(day.settings.db), read_only=True) as con:
        reasons = dict(
            con.execute(
                "select session_id, reject_reasons from staging.base_shop__sessions "
                "where raw_session_id in ('s_bad_time', 's_future')"
            ).fetchall()
        )
    assert reasons == {"s_bad_time": "unparseable_started_at", "s_future": "future_started_at"}


def test_an_unreadable_delivery_stops_the_run_and_keeps_what_was_published(day: Day) -> None:
    broken = _run(day, CORRUPT_MARKER.strftime("%H:%M"))
    before = _run(day, "16:45")
    assert broken["code"] == 1
    assert broken["version"] == before["version"]  # readers keep the 16:45 version
    text = json.dumps(broken["failures"]) + (broken["message"] or "")
    assert "part-0.parquet" in text or "loaded_at=2025-07-01T17:00:00" in text, text
    after = _run(day, "17:15")
    assert after["code"] == 0 and after["version"] != before["version"]


def test_the_daily_run_after_the_day_equals_a_fresh_daily_build(day: Day) -> None:
    """Intraday runs between two daily runs never change what the daily run computes."""
    runner = CliRunner()
    daily = runner.invoke(
        main,
        [
            "run",
            "--raw-dir",
            str(day.shop.raw),
            "--db",
            str(day.settings.db),
            "--as-of",
            "2025-07-01",
        ],
    )
    assert daily.exit_code == 0, daily.output
    reference = load_settings(db_path=str(day.root / "reference" / "w.duckdb"))
    options = RunOptions.from_settings(
        day.settings,
        command="run",
        raw_dir=day.shop.raw,
        dbt_args=[],
        dbt_vars=day.settings.dbt_vars,
    )
    result = dbt_runner.run_dbt(
        reference,
        [
            "build",
            "--full-refresh",
            "--exclude-resource-type",
            "test",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            day.vars(options),
        ],
        env={"STRATA_RAW_DIR": str(day.shop.raw), "STRATA_AS_OF_DATE": "2025-07-01"},
    )
    assert result.ok, result.errors[-5:]
    assert differences(day.settings.db, reference.db, ("marts",)) == []
