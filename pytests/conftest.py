"""Shared fixtures: the committed raw fixture, copied so that tests can break it safely."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURE_RAW = PROJECT_DIR / "tests" / "fixtures" / "raw"


# The committed fixture is dirt by design (most of its rows exercise a quarantine reason), so the
# quarantined-share guard would stop every build of it; the guard tests set their own thresholds.
FIXTURE_VARS = '{"guard_max_quarantined_share": 1.0}'


@pytest.fixture(autouse=True, scope="session")
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read a developer's strata.toml or STRATA_* settings. The fixture data is from
    2025, so the freshness check (tested on its own) is off unless a test turns it on. Set for the
    whole session, so that module- and session-scoped builds see the same settings as tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("STRATA_")]:
            patch.delenv(name)
        patch.setenv("STRATA_CONFIG", str(tmp_path_factory.mktemp("settings") / "none.toml"))
        patch.setenv("STRATA_FRESHNESS_CHECK", "0")
        patch.setenv("STRATA_RETRY_BACKOFF_SECONDS", "0.1")
        patch.setenv("STRATA_DBT_VARS", FIXTURE_VARS)
        yield


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A private copy of the committed fixture's raw CSV files."""
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE_RAW, target)
    return target


class FixtureRun(NamedTuple):
    raw: Path  # the raw folder it read (a copy of the committed fixture)
    db: Path  # the warehouse it built
    output: str  # what `strata run` printed


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory: pytest.TempPathFactory, _isolated_settings: None) -> FixtureRun:
    """The committed fixture built once by `strata run` for the whole session: for tests that
    only read the marts or the summary. Tests that change data or warehouse build their own."""
    from click.testing import CliRunner

    from strata.cli import main

    work = tmp_path_factory.mktemp("fixture-warehouse")
    shutil.copytree(FIXTURE_RAW, work / "raw")
    db = work / "fixture.duckdb"
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(work / "raw"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return FixtureRun(work / "raw", db, result.output)


@pytest.fixture(scope="session")
def fixture_warehouse(fixture_run: FixtureRun) -> Path:
    """The warehouse of fixture_run, for tests that only read it."""
    return fixture_run.db
