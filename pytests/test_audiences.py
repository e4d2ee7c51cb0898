"""Audiences (issue #25, docs/audiences.md): definitions refused with their file and line, the
fixture's audiences against a count by hand, and the exports against the marts."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from conftest import FIXTURE_AUDIENCES, PROJECT_DIR

from strata.audiences.definitions import DefinitionError, load
from strata.cli import main

LIST_HEADER = "user_id\n"


def _write(folder: Path, text: str, name: str = "crm.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _problems(folder: Path, raw: Path | None = None) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load(folder, PROJECT_DIR, raw)
    return caught.value.problems


GOOD = """
audiences:
  - name: buyers
    owner: crm
    description: Bought twice in 90 days.
    rule: {behaviour: purchases, days: 90, at_least: 2}
"""


# ---- definitions: refused with the file and the line ---------------------------------------------


@pytest.mark.parametrize(
    ("rule", "line", "words"),
    [
        ("{column: lifecycle_stag, equals: dormant}", 5, "unknown column 'lifecycle_stag'"),
        ("{column: frequency, at_least: lots}", 5, "frequency is a number; 'lots' is not"),
        ("{column: lifecycle_stage, above: 3}", 5, "compares numbers or dates"),
        ("{column: lifecycle_stage, equals: dormnat}", 5, "lifecycle_stage is never 'dormnat'"),
        ("{column: has_open_cart, equals: 'yes'}", 5, "is true or false"),
        ("{column: first_seen_date, at_least: soon}", 5, "is a date (YYYY-MM-DD); 'soon' is not"),
        ("{column: first_seen_date, at_least: 2025-13-01}", 5, "is not a valid value"),
        (
            '{column: rfm_segment, equals: "x\'; drop table marts.dim_users; --"}',
            5,
            "looks like SQL",
        ),
        ("{column: rfm_segment, equals: '{{ run_query(1) }}'}", 5, "looks like SQL or Jinja"),
        ('{column: "frequency > 0 or 1", at_least: 1}', 5, "unknown column 'frequency > 0 or 1'"),
        ('{column: "frequency; drop table x", at_least: 1}', 5, "looks like SQL"),
        ("{behaviour: purchases, days: 0, at_least: 1}", 5, "days must be a whole number"),
        ("{behaviour: refunds, days: 30, at_least: 1}", 5, "unknown behaviour 'refunds'"),
        ("{column: frequency, at_least: 1, below: 3}", 5, "exactly one operator"),
        ("{sql: 'frequency > 1'}", 5, "names a `column`"),
        ("{column: frequency, between: [1]}", 5, "two values"),
    ],
)
def test_a_bad_rule_is_refused_with_its_file_and_line(tmp_path, rule, line, words):
    folder = tmp_path / "audiences"
    _write(
        folder,
        f"""
        audiences:
          - name: broken
            owner: crm
            description: A rule with a mistake.
            rule: {rule}
        """,
    )
    problems = _problems(folder)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{folder / 'crm.yml'}:{line}: "), problems
    assert words in problems[0], problems


def test_a_mistake_deep_in_a_rule_names_its_own_line(tmp_path):
    folder = tmp_path / "audiences"
    _write(
        folder,
        """
        audiences:
          - name: nested
            owner: crm
            description: Nested groups.
            rule:
              all:
                - {column: frequency, at_least: 2}
                - any:
                    - {column: value_tier, equals: vip}
                    - not: {column: churn_risk, equals: hihg}
        """,
    )
    (problem,) = _problems(folder)
    assert problem.startswith(f"{folder / 'crm.yml'}:10: churn_risk is never 'hihg'")


def test_combinations_refuse_cycles_and_unknown_audiences(tmp_path):
    folder = tmp_path / "audiences"
    _write(
        folder,
        """
        audiences:
          - name: a
            owner: crm
            description: reads b
            combine: {all: [{audience: b}]}
          - name: b
            owner: crm
            description: reads a
            combine: {any: [{audience: a}, {audience: c}]}
        """,
    )
    problems = _problems(folder)
    assert any(
        "combinations form a cycle: a -> b -> a" in p and "crm.yml:2:" in p for p in problems
    )
    assert any("reads unknown audience 'c'" in p and "crm.yml:6:" in p for p in problems)


def test_definitions_need_their_keys_and_unique_names(tmp_path):
    folder = tmp_path / "audiences"
    _write(
        folder,
        """
        audiences:
          - name: twice
            owner: crm
            description: first
            rule: {column: frequency, at_least: 1}
          - name: twice
            owner: crm
            description: second
            model: aud_first_order_refunded
          - name: Bad-Name
            owner: crm
            description: x
            rule: {column: frequency, at_least: 1}
          - name: nothing
            owner: crm
            description: no kind
          - name: unknown_model
            owner: crm
            description: a model not tagged audience
            model: dim_users
          - name: extra
            owner: crm
            description: a key too many
            where: "frequency > 1"
            rule: {column: frequency, at_least: 1}
        """,
    )
    problems = "\n".join(_problems(folder))
    shown = folder / "crm.yml"
    assert f"{shown}:6: audience 'twice' is already defined at {shown}:2" in problems
    assert f"{shown}:10: name 'Bad-Name' must be lower-case" in problems
    assert f"{shown}:14: an audience has exactly one of rule, list, combine, model" in problems
    assert f"{shown}:20: model 'dim_users' is not a model tagged `audience`" in problems
    assert f"{shown}:21: unknown key(s) ['where']" in problems


def test_yaml_that_does_not_parse_names_its_line(tmp_path):
    folder = tmp_path / "audiences"
    _write(folder, "audiences:\n  - name: a\n    rule: {column: frequency, at_least: 1\n")
    (problem,) = _problems(folder)
    assert problem.startswith(f"{folder / 'crm.yml'}:") and "not valid YAML" in problem


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "does not exist"),
        ("", "line 1: needs a column named exactly user_id"),
        ("id\nu001\n", "line 1: needs a column named exactly user_id"),
        (" user_id\nu001\n", "line 1: needs a column named exactly user_id"),
        (LIST_HEADER, "is empty: it has a header but no user ids"),
        (LIST_HEADER + "u001\n \n", "line 3: user_id is empty"),
    ],
)
def test_a_bad_list_is_refused_naming_the_file(tmp_path, content, words):
    folder, raw = tmp_path / "audiences", tmp_path / "raw"
    (raw / "lists").mkdir(parents=True)
    if content is not None:
        (raw / "lists" / "vips.csv").write_text(content)
    _write(
        folder,
        """
        audiences:
          - name: vips
            owner: events
            description: uploaded
            list: lists/vips.csv
        """,
    )
    (problem,) = _problems(folder, raw)
    assert problem.startswith(f"{folder / 'crm.yml'}:5: ") and words in problem, problem


def test_a_list_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark; the build's reader drops it,
    and so does the check."""
    folder, raw = tmp_path / "audiences", tmp_path / "raw"
    (raw / "lists").mkdir(parents=True)
    (raw / "lists" / "vips.csv").write_bytes(b"\xef\xbb\xbfuser_id\r\nu001\r\n")
    _write(
        folder,
        """
        audiences:
          - name: vips
            owner: events
            description: uploaded from Excel
            list: lists/vips.csv
        """,
    )
    assert [a.name for a in load(folder, PROJECT_DIR, raw)] == ["vips"]


def test_the_project_and_fixture_definitions_are_valid():
    project = load(PROJECT_DIR / "audiences", PROJECT_DIR, None)
    assert {a.name for a in project} >= {"lapsed_repeat_buyers", "win_back_not_vip"}
    fixture = load(FIXTURE_AUDIENCES, PROJECT_DIR, PROJECT_DIR / "tests" / "fixtures" / "raw")
    names = [a.name for a in fixture]
    # a combination comes after what it reads
    assert names.index("spring_fair_lapsed") > max(
        names.index("spring_fair"), names.index("lapsed")
    )
    history = {a.name: a.has_history for a in fixture}
    assert history == {
        "repeat_buyers_90d": True,
        "mobile_last_seen": True,  # the platform of the latest session, on every day
        "lapsed": True,
        "spring_fair": True,
        "spring_fair_lapsed": True,
        "refunded_first_order": False,
        "cart_reminder": False,  # trigger audiences: a moment within the day, no history
        "welcome_back": False,
    }


def test_a_bad_definition_stops_the_run_before_dbt(raw_dir, tmp_path, monkeypatch):
    folder = tmp_path / "audiences"
    _write(
        folder,
        """
        audiences:
          - name: broken
            owner: crm
            description: x
            rule: {column: nope, equals: 1}
        """,
    )
    monkeypatch.setenv("STRATA_AUDIENCES_DIR", str(folder))
    db = tmp_path / "warehouse" / "warehouse.duckdb"
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(raw_dir), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert f"{folder / 'crm.yml'}:5: unknown column 'nope'" in result.output
    assert not db.exists() and not (db.parent / "serving").exists()


# ---- the fixture's audiences against a count by hand -------------------------------------------

# Read from tests/fixtures/raw (D = 2025-06-03; evaluation days: the month ends 03-31, 04-30,
# 05-31 and D). Purchases are completed orders that pass the quarantine:
#   u001: o001 and o002, both on 03-01 (UTC)        u002: o003 on 03-02, o004 refunded
#   u003: o005 on 04-10, o007 on 04-12 (o006 ends cancelled)
#   u005: o020 on 05-20 (o021 shipped, o025/o026 quarantined)   u006: o027 on 06-01
# repeat_buyers_90d (2+ purchases in the 90 days up to the day, the day itself counted, the day
# 90 days before not): u001 on 03-31 and 04-30 (03-01 > 01-30, 01-31), gone by 05-31 (03-01 is
# 91 days before); u003 from 04-30 (2 in April) to D.
# lapsed (dormant or churned): u001 (last active 03-02) on every day, u002 (03-05) from 04-30, u003
# (04-12) from 05-31 - the stage history with the 30 and 90 day thresholds.
# mobile_last_seen: u001 on every day, whose latest session (s002, 03-02) was in the iOS app;
# u002's latest (s004, 03-05) was on a smart TV (`other`), the others' on the web.
# spring_fair: the list, delivered 2025-05-20 (its loaded_at= folder), names u001, u004 and u999;
# u004 and u999 are not users of dim_users. Counted from 05-31 on.
# spring_fair_lapsed: both, so u001 from 05-31.
HAND_COUNT = {
    ("repeat_buyers_90d", "2025-03-31"): {"u001"},
    ("repeat_buyers_90d", "2025-04-30"): {"u001", "u003"},
    ("repeat_buyers_90d", "2025-05-31"): {"u003"},
    ("repeat_buyers_90d", "2025-06-03"): {"u003"},
    ("lapsed", "2025-03-31"): {"u001"},
    ("lapsed", "2025-04-30"): {"u001", "u002"},
    ("lapsed", "2025-05-31"): {"u001", "u002", "u003"},
    ("lapsed", "2025-06-03"): {"u001", "u002", "u003"},
    ("mobile_last_seen", "2025-03-31"): {"u001"},
    ("mobile_last_seen", "2025-04-30"): {"u001"},
    ("mobile_last_seen", "2025-05-31"): {"u001"},
    ("mobile_last_seen", "2025-06-03"): {"u001"},
    ("spring_fair", "2025-05-31"): {"u001"},
    ("spring_fair", "2025-06-03"): {"u001"},
    ("spring_fair_lapsed", "2025-05-31"): {"u001"},
    ("spring_fair_lapsed", "2025-06-03"): {"u001"},
}


def test_fixture_audiences_equal_a_count_by_hand(fixture_warehouse):
    with duckdb.connect(str(fixture_warehouse), read_only=True) as con:
        rows = con.execute(
            "select audience_name, cast(evaluated_on as varchar), user_id "
            "from intermediate.int_audience_members_evaluated"
        ).fetchall()
        spells = con.execute(
            "select audience_name, user_id, cast(entered_at as varchar), "
            "cast(exited_at as varchar), is_current from marts.fct_audience_memberships "
            "where audience_name in ('repeat_buyers_90d', 'spring_fair')"
        ).fetchall()
        sizes = dict(
            ((name, str(day)), count)
            for name, day, count in con.execute(
                "select audience_name, evaluated_on, member_count from marts.rpt_audience_sizes"
            ).fetchall()
        )
    found: dict[tuple[str, str], set[str]] = {}
    for name, day, user in rows:
        found.setdefault((name, day), set()).add(user)
    assert found == HAND_COUNT
    assert {key: value for key, value in sizes.items() if value} == {
        key: len(users) for key, users in HAND_COUNT.items()
    }
    # u001 was in repeat_buyers_90d on the first day (entry unknown) and left after 04-30;
    # u003 entered after 03-31; the list counts from its delivery day.
    assert sorted(spells) == [
        ("repeat_buyers_90d", "u001", None, "2025-05-01 00:00:00", False),
        ("repeat_buyers_90d", "u003", "2025-04-01 00:00:00", None, True),
        ("spring_fair", "u001", "2025-05-20 00:00:00", None, True),
    ]


def test_reasons_name_the_terms_that_hold(fixture_warehouse):
    with duckdb.connect(str(fixture_warehouse), read_only=True) as con:
        reasons = dict(
            ((name, user), reason)
            for name, user, reason in con.execute(
                "select audience_name, user_id, reason from marts.fct_audience_memberships "
                "where is_current"
            ).fetchall()
        )
    assert reasons[("lapsed", "u003")] == "lifecycle_stage = 'dormant'"  # only the branch that held
    assert reasons[("lapsed", "u002")] == "lifecycle_stage = 'churned'"
    assert reasons[("spring_fair", "u001")] == (
        "on list audience_lists/loaded_at=2025-05-20/spring_vips.csv delivered 2025-05-20"
    )
    assert reasons[("spring_fair_lapsed", "u001")] == "spring_fair and lapsed"


# ---- exports: equal to the marts, sync deltas, no holdout --------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _current_export(serving: Path) -> Path:
    return (serving / "current").resolve() / "audiences"


def test_exports_equal_the_marts_and_leave_holdouts_out(fixture_run):
    serving = fixture_run.db.parent / "serving" / fixture_run.db.stem
    exports = _current_export(serving)
    with duckdb.connect(str(serving / "strata.duckdb"), read_only=True) as con:
        names = [
            r[0] for r in con.execute("select audience_name from marts.dim_audiences").fetchall()
        ]
        assert sorted(p.name for p in exports.iterdir()) == sorted(names)
        for name in names:
            expected = con.execute(
                "select m.user_id, strftime(m.entered_at, '%Y-%m-%dT%H:%M:%SZ') "
                "from marts.fct_audience_memberships as m where m.audience_name = ? "
                "and m.is_current and not m.is_holdout order by m.user_id",
                [name],
            ).fetchall()
            members = _read_csv(exports / name / "members.csv")
            assert [(r["user_id"], r["entered_at"] or None) for r in members] == expected
            parquet = con.execute(
                f"select user_id from read_parquet('{exports / name / 'members.parquet'}')"
            ).fetchall()
            assert [r[0] for r in parquet] == [r[0] for r in expected]
            held_out = {
                r[0]
                for r in con.execute(
                    "select user_id from marts.fct_audience_memberships where audience_name = ? "
                    "and is_holdout",
                    [name],
                ).fetchall()
            }
            assert not held_out & {r["user_id"] for r in members}
            manifest = json.loads((exports / name / "manifest.json").read_text())
            assert manifest["counts"]["members"] == len(members)
            for entry in manifest["files"]:
                data = (exports / name / entry["file"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    # the fixture's combination has a held-out member, so the rule is exercised
    assert json.loads((exports / "spring_fair_lapsed" / "manifest.json").read_text())["counts"] == {
        "members": 0,
        "adds": 0,
        "removes": 0,
        "held_out": 1,
    }
    # the attributes the definition lists follow user_id and entered_at, every field quoted
    header = (exports / "repeat_buyers_90d" / "members.csv").read_text().splitlines()[0]
    assert header == '"user_id","entered_at","lifecycle_stage","value_tier"'


def test_changes_applied_to_the_previous_export_give_the_new_one(published_copy):
    serving = published_copy.db.parent / "serving" / published_copy.db.stem
    before = _current_export(serving)
    kept = published_copy.db.parent / "previous-exports"
    shutil.copytree(before, kept)
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--raw-dir",
            str(published_copy.raw),
            "--db",
            str(published_copy.db),
            "--as-of",
            "2025-04-30",
            "--publish-older",
        ],
    )
    assert result.exit_code == 0, result.output
    after = _current_export(serving)
    assert after != before
    changed = 0
    for folder in after.iterdir():
        old = {r["user_id"]: r for r in _read_csv(kept / folder.name / "members.csv")}
        new = {r["user_id"]: r for r in _read_csv(folder / "members.csv")}
        changes = _read_csv(folder / "changes.csv")
        applied = dict(old)
        for row in changes:
            if row["change"] == "add":
                applied[row["user_id"]] = {k: v for k, v in row.items() if k != "change"}
            else:
                assert row["change"] == "remove"
                del applied[row["user_id"]]
        assert set(applied) == set(new), folder.name
        changed += len(changes)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert (
            manifest["changes_since_version"] == kept.parent.name
            or manifest["changes_since_version"]
        )
    assert changed > 0  # 04-30 differs from 06-03: the proof is not empty


def test_audiences_list_show_and_export(fixture_run, tmp_path):
    args = ["--db", str(fixture_run.db)]
    listed = CliRunner().invoke(main, ["audiences", "list", *args])
    assert listed.exit_code == 0, listed.output
    assert "repeat_buyers_90d" in listed.output and "purchases in 90d >= 2" in listed.output
    # the trigger audiences, from the trigger version the daily run published beside it
    assert "trigger audiences as of" in listed.output and "cart_reminder" in listed.output
    shown = CliRunner().invoke(main, ["audiences", "show", "lapsed", *args])
    assert shown.exit_code == 0, shown.output
    for words in ("lifecycle_stage = 'dormant' or", "size over time", "portrait", "u002"):
        assert words in shown.output
    out = tmp_path / "lapsed.csv"
    exported = CliRunner().invoke(main, ["audiences", "export", "lapsed", "--out", str(out), *args])
    assert exported.exit_code == 0, exported.output
    serving = fixture_run.db.parent / "serving" / fixture_run.db.stem
    assert out.read_bytes() == (_current_export(serving) / "lapsed" / "members.csv").read_bytes()
    missing = CliRunner().invoke(main, ["audiences", "show", "nobody", *args])
    assert missing.exit_code == 2 and "no audience 'nobody'" in missing.output


def test_the_history_columns_are_the_ones_the_states_model_fills():
    """definitions.HISTORICAL_COLUMNS decides which audiences have a history; the states model
    fills those columns on earlier evaluation days. The two lists must agree."""
    import re

    from strata.audiences.definitions import HISTORICAL_COLUMNS

    sql = (PROJECT_DIR / "models" / "marts" / "audiences" / "int_audience_states.sql").read_text()
    block = sql.split("{%- set historical = {", 1)[1].split("} %}", 1)[0]
    assert set(re.findall(r"'(\w+)':", block)) == set(HISTORICAL_COLUMNS)


def test_measure_from_must_be_a_date(tmp_path):
    folder = tmp_path / "audiences"
    _write(
        folder,
        """
        audiences:
          - name: sent
            owner: crm
            description: Sent from December.
            measure_from: next monday
            rule: {column: frequency, at_least: 1}
        """,
    )
    (problem,) = _problems(folder)
    assert problem.startswith(f"{folder / 'crm.yml'}:5: measure_from is a date (YYYY-MM-DD)")
    _write(folder, GOOD.replace("    rule:", "    measure_from: 2026-12-01\n    rule:"))
    (audience,) = load(folder, PROJECT_DIR, None)
    assert audience.as_var()["measure_from"] == "2026-12-01"
