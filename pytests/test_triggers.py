"""Trigger audiences (docs/triggers.md): their definitions, the intraday run's refusals, its
publication beside the daily one, and the watcher's loop. The rules themselves are dbt unit
tests (models/triggers/_triggers__unit_tests.yml); a day of deliveries is the season tier's
(pytests/test_trigger_day.py)."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR

from strata.audiences.definitions import DefinitionError, load
from strata.cli import main
from strata.publish import current_version
from strata.triggers import current_trigger_manifest, delivery_listing, triggers_root, watch


def _problems(folder: Path, text: str) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crm.yml").write_text(textwrap.dedent(text).lstrip("\n"))
    with pytest.raises(DefinitionError) as caught:
        load(folder, PROJECT_DIR)
    return caught.value.problems


def test_a_trigger_audience_names_a_known_trigger(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path / "audiences",
        """
        audiences:
          - name: carts
            owner: crm
            description: left a cart
            trigger: cart_abandoned
          - name: typo
            owner: crm
            description: misspelt
            trigger: cart_abandonned
          - name: carts_and_more
            owner: crm
            description: a daily combination cannot read a trigger audience
            combine: {all: [{audience: carts}]}
        """,
    )
    assert len(problems) == 2, problems
    assert "crm.yml:9:" in problems[0] and "unknown trigger 'cart_abandonned'" in problems[0]
    assert "cart_abandoned" in problems[0]  # the triggers there are are listed
    assert "crm.yml:10:" in problems[1] and "reads trigger audience 'carts'" in problems[1]


def test_the_watcher_runs_when_a_delivery_lands(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "sessions").mkdir(parents=True)
    codes = iter([0, 3, 0, 1, 0])
    calls: list[tuple] = []
    sleeps: list[int] = []

    def run_once() -> int:
        calls.append(delivery_listing(raw))
        return next(codes)

    def sleep(_seconds: float) -> None:
        # each pause, a delivery lands (the third pause: none)
        sleeps.append(1)
        if len(sleeps) != 3:
            (raw / "sessions" / f"part-{len(sleeps)}.parquet").write_bytes(b"x" * len(sleeps))

    code = watch(run_once, raw, poll_seconds=0, max_runs=5, sleep=sleep)
    # a first run; the second (busy, exit 3) is tried again without a new delivery; then one
    # run per delivery, none for the pause without one; a failed run waits for the next one
    assert [len(listing) for listing in calls] == [0, 1, 1, 2, 3]
    assert code == 0 and len(sleeps) == 4


def test_the_intraday_run_needs_a_complete_daily_build(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "empty" / "w.duckdb"
    result = CliRunner().invoke(
        main, ["run", "--intraday", "--raw-dir", str(raw_dir), "--db", str(db)]
    )
    assert result.exit_code == 1
    assert "needs a complete daily build" in result.output and "strata run" in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    "flags",
    [["--intraday", "--as-of", "2025-06-01"], ["--watch"], ["--intraday", "--full-refresh"]],
)
def test_intraday_flags_that_do_not_go_together(raw_dir: Path, flags: list[str]) -> None:
    result = CliRunner().invoke(main, ["run", *flags, "--raw-dir", str(raw_dir)])
    assert result.exit_code == 2, result.output


def test_an_intraday_run_publishes_triggers_and_leaves_the_daily_publication(published_copy):
    """On the golden build's copy: the daily run published a trigger version too; an intraday
    run for a moment of the fixture's data publishes another, with u006's cart (08:00 on 1 June:
    the cart at 04:00 is two hours old at 06:00, the order comes at 10:00), and the daily
    publication and marts stay as they were."""
    serving = published_copy.db.parent / "serving" / published_copy.db.stem
    daily_version = current_version(serving)
    daily_trigger = current_trigger_manifest(serving)
    assert daily_trigger is not None and set(daily_trigger["audiences"]) == {
        "cart_reminder",
        "welcome_back",
    }
    with duckdb.connect(str(published_copy.db), read_only=True) as con:
        users_before = con.execute("select * from marts.dim_users order by user_id").fetchall()
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--intraday",
            "--at",
            "2025-06-01T08:00:00",
            "--raw-dir",
            str(published_copy.raw),
            "--db",
            str(published_copy.db),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trigger audiences as of 2025-06-01T08:00:00Z published" in result.output
    manifest = current_trigger_manifest(serving)
    assert manifest["version"] != daily_trigger["version"]
    assert manifest["previous_version"] == daily_trigger["version"]
    assert current_version(serving) == daily_version  # dashboards read the same version
    with duckdb.connect(str(published_copy.db), read_only=True) as con:
        assert con.execute("select * from marts.dim_users order by user_id").fetchall() == (
            users_before
        )
        members = con.execute(
            "select user_id, entered_at, evidence_id, is_holdout "
            "from triggers.fct_trigger_audience_members where audience_name = 'cart_reminder'"
        ).fetchall()
    [(user, entered, evidence, held_out)] = members
    assert (user, entered.isoformat(), evidence) == ("u006", "2025-06-01T06:00:00", "s025")
    folder = triggers_root(serving) / "current" / "cart_reminder"
    with (folder / "members.csv").open(newline="") as handle:
        exported = list(csv.reader(handle))
    assert exported[0] == [
        "user_id",
        "entered_at",
        "evidence_kind",
        "evidence_id",
        "lifecycle_stage",
    ]
    assert exported[1:] == (
        [] if held_out else [["u006", "2025-06-01T06:00:00Z", "session", "s025", exported[1][4]]]
    )
    assert json.loads((folder / "manifest.json").read_text())["counts"]["held_out"] == held_out
