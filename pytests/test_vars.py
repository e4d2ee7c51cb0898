"""Every dbt var is checked before dbt starts and every var set for a run is recorded (issue
#23): a typo, a threshold out of range, text meant to break out of SQL or a non-number is refused
with exit 2 and the var's name; a guard relaxed through --vars is recorded like
--accept-anomaly, in the run history, the build record, the publication and `strata status`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from strata.cli import main
from strata.project import project_vars
from strata.runs import read_runs
from strata.settings import load_settings
from strata.var_rules import RULES, var_problems


def test_every_var_has_a_rule_and_every_default_passes_it() -> None:
    assert set(RULES) == set(project_vars())
    assert var_problems(project_vars()) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"chrun_after_days": 1}, "unknown var chrun_after_days (did you mean churn_after_days?)"),
        ({"churn_after_days": 0}, "var churn_after_days = 0 must be at least 1"),
        ({"dormant_after_days": -5}, "var dormant_after_days = -5 must be at least 1"),
        ({"rfm_window_days": -30}, "var rfm_window_days = -30 must be at least 1"),
        ({"reporting_currency": "USD' or 'a'='a"}, "var reporting_currency"),
        ({"loyal_min_purchases": "4x"}, "var loyal_min_purchases = '4x' must be a whole number"),
        ({"holdout_share": 1.5}, "var holdout_share = 1.5 must be at most 1"),
        ({"rfm_scoring": "deciles"}, "must be one of quantile, thresholds"),
        ({"activity_windows": [7, 0]}, "var activity_windows = [7, 0] must be at least 1"),
        ({"dormant_after_days": 120}, "dormant_after_days must be below churn_after_days"),
        ({"raw_orders_table": "x; drop table y"}, "var raw_orders_table"),
    ],
)
def test_bad_vars_are_named(given: dict, expected: str) -> None:
    assert any(expected in problem for problem in var_problems(given)), var_problems(given)


def test_edges_of_a_range_are_allowed() -> None:
    assert var_problems({"holdout_share": 0, "at_risk_ratio": 1, "rfm_window_days": None}) == []
    assert var_problems({"dormant_after_days": 89}) == []  # just below churn_after_days (90)
    assert var_problems({"dormant_after_days": 90}) != []


def test_the_cli_refuses_bad_vars_before_dbt_starts(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    started = time.monotonic()
    result = CliRunner().invoke(
        main,
        ["run", "--raw-dir", str(raw_dir), "--db", str(db),
         "--vars", "{reporting_currency: \"USD' or 'a'='a\", chrun_after_days: 1}"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "vars refused, nothing was built" in result.output
    assert "reporting_currency" in result.output and "chrun_after_days" in result.output
    assert time.monotonic() - started < 10
    assert not db.exists()


@pytest.mark.slow
def test_a_guard_relaxed_through_vars_is_recorded_like_an_accepted_anomaly(
    published_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, db, _ = published_copy
    monkeypatch.delenv("STRATA_DBT_VARS")  # only what this run sets
    result = CliRunner().invoke(
        main,
        ["run", "--raw-dir", str(raw), "--db", str(db),
         "--vars", "{guard_max_quarantined_share: 1, guard_max_new_quarantined_share: 1,"
         " churn_after_days: 120}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "guards relaxed for this run by var(s): guard_max_new_quarantined_share," in (
        result.output
    )
    settings = load_settings(db_path=str(db))
    run = read_runs(settings.history_file)[-1]
    expected = {
        "guard_max_quarantined_share": 1,
        "guard_max_new_quarantined_share": 1,
        "churn_after_days": 120,
    }
    assert run.accepted_anomalies and run.vars == expected
    build = json.loads((settings.state_dir / "build.json").read_text())
    assert build["vars"] == expected and build["accepted_anomalies"]
    version = (settings.serving / "CURRENT").read_text().strip()
    manifest = json.loads((settings.serving / "versions" / version / "manifest.json").read_text())
    assert manifest["vars"] == expected and manifest["accepted_anomalies"]
    status = CliRunner().invoke(main, ["status", "--db", str(db), "--limit", "1"])
    assert "guards overridden" in status.output
    assert "vars churn_after_days=120, guard_max_new_quarantined_share=1" in status.output
