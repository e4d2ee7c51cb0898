"""The demo population shows every lifecycle stage, RFM segment and quarantine reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
STAGES = {"new", "active", "loyal", "at_risk", "dormant", "churned", "reactivated"}


def test_demo_has_members_in_every_stage_segment_and_reason(tmp_path: Path) -> None:
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    runner = CliRunner()
    made = runner.invoke(
        main, ["generate", "--users", "30000", "--seed", "42", "--end-date", yesterday,
               "--out", str(raw)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    built = runner.invoke(main, ["run", "--raw-dir", str(raw), "--db", str(db), "--json"])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.output.strip().splitlines()[-1])

    with duckdb.connect(str(db), read_only=True) as con:
        segments = {
            row[0]
            for row in con.execute("select rfm_segment from reference.rfm_segment_map").fetchall()
        }
        reasons = con.execute(
            "select source_table || '.' || reason_code from marts.rpt_row_reasons"
            " where row_disposition = 'quarantined' and row_count = 0"
        ).fetchall()
    stages = {row[0] for row in summary["breakdowns"]["lifecycle stage"]}
    seen_segments = {row[0] for row in summary["breakdowns"]["RFM segment"]}
    assert stages == STAGES
    assert seen_segments == segments | {"prospect", "lapsed"}
    # The generator's dirt exercises every reason code the quarantine knows.
    assert reasons == []
