"""Shared fixtures: the committed raw fixture, copied so that tests can break it safely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURE_RAW = PROJECT_DIR / "tests" / "fixtures" / "raw"


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A private copy of the committed fixture's raw CSV files."""
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE_RAW, target)
    return target
