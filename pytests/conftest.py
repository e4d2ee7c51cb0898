"""Shared fixtures: the committed raw fixture, copied so that tests can break it safely."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURE_RAW = PROJECT_DIR / "tests" / "fixtures" / "raw"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read a developer's strata.toml or STRATA_* settings. The fixture data is from
    2025, so the freshness check (tested on its own) is off unless a test turns it on."""
    for name in [name for name in os.environ if name.startswith("STRATA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("STRATA_CONFIG", str(tmp_path / "no-strata.toml"))
    monkeypatch.setenv("STRATA_FRESHNESS_CHECK", "0")
    monkeypatch.setenv("STRATA_RETRY_BACKOFF_SECONDS", "0.1")


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A private copy of the committed fixture's raw CSV files."""
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE_RAW, target)
    return target
