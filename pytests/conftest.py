"""Shared fixtures: the committed raw fixture, copied so that tests can break it safely, and one
golden build of it for the whole session, shared by every pytest worker (docs/testing.md)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from strata.locking import FileLock

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURE_RAW = PROJECT_DIR / "tests" / "fixtures" / "raw"
# The fixture's audiences (one of each kind, counted by hand in pytests/test_audiences.py); other
# builds read the project's audiences/, which need no file beside orders.
FIXTURE_AUDIENCES = PROJECT_DIR / "tests" / "fixtures" / "audiences"
# Every warehouse a test builds has this file name, in a folder of its own: dbt's parse cache is
# kept per warehouse file name (strata/dbt_runner.py), so every build after the first starts
# from a parsed project instead of parsing it again.
WAREHOUSE = "warehouse.duckdb"


# The committed fixture is dirt by design (most of its rows exercise a quarantine reason), so the
# quarantined-share guards would stop every build of it; the guard tests set their own thresholds.
FIXTURE_VARS = '{"guard_max_quarantined_share": 1.0, "guard_max_new_quarantined_share": 1.0}'


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
        # One dbt thread: the two xdist workers already keep both cores busy, and four threads
        # per build only add contention (the fixture's build took 15% more CPU with four). The
        # golden build below keeps the profile's default of four, as `make dbt-test` does, so
        # that threads building side by side stay proven.
        patch.setenv("STRATA_THREADS", "1")
        yield


@pytest.fixture
def raw_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the committed fixture's raw CSV files (and the fixture's audiences, whose
    uploaded list is one of those files)."""
    monkeypatch.setenv("STRATA_AUDIENCES_DIR", str(FIXTURE_AUDIENCES))
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE_RAW, target)
    return target


class FixtureRun(NamedTuple):
    raw: Path  # the raw folder it read (a copy of the committed fixture)
    db: Path  # the warehouse it built
    output: str  # what `strata run` printed


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest worker of this session sees (the session's base temp folder; under
    pytest-xdist each worker has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory: pytest.TempPathFactory, _isolated_settings: None) -> FixtureRun:
    """The golden build: the committed fixture built and published once by `strata run` for the
    whole session, by whichever worker needs it first (the others wait on a file lock and reuse
    it). Read it, never write to it: a test that changes a warehouse starts from
    `published_copy`, or builds its own."""
    from click.testing import CliRunner

    from strata.cli import main

    work = _shared_root(tmp_path_factory) / "golden-fixture"
    done = work / "run.json"
    with FileLock(_shared_root(tmp_path_factory) / "golden-fixture.lock", wait_seconds=600):
        if not done.exists():
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(FIXTURE_RAW, work / "raw")
            db = work / "warehouse" / WAREHOUSE
            result = CliRunner().invoke(
                main,
                ["run", "--raw-dir", str(work / "raw"), "--db", str(db)],
                env={"STRATA_AUDIENCES_DIR": str(FIXTURE_AUDIENCES), "STRATA_THREADS": "4"},
            )
            assert result.exit_code == 0, result.output
            done.write_text(json.dumps({"db": str(db), "output": result.output}))
    recorded = json.loads(done.read_text())
    return FixtureRun(work / "raw", Path(recorded["db"]), recorded["output"])


@pytest.fixture(scope="session")
def fixture_warehouse(fixture_run: FixtureRun) -> Path:
    """The warehouse of fixture_run, for tests that only read it."""
    return fixture_run.db


@pytest.fixture
def published_copy(
    fixture_run: FixtureRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FixtureRun:
    """A private copy of the golden build, copied by file: its raw folder, its warehouse, the
    warehouse's state (lock, run history, build record, dbt's artifacts) and its serving folder
    with the published version. For tests that start from a built and published warehouse and
    change it: refusals, publish, status, waiting for the lock. Runs read the fixture's
    audiences, as the golden build did."""
    monkeypatch.setenv("STRATA_AUDIENCES_DIR", str(FIXTURE_AUDIENCES))
    raw = tmp_path / "raw"
    shutil.copytree(fixture_run.raw, raw)
    shutil.copytree(fixture_run.db.parent, tmp_path / "warehouse", symlinks=True)
    return FixtureRun(raw, tmp_path / "warehouse" / WAREHOUSE, fixture_run.output)
