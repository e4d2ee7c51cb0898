"""Where things are: the dbt project, the warehouse file, the raw data.

Every setting has an environment variable, so cron jobs and orchestrators configure strata the
same way the dbt profile does (the profile reads the same variables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_PATH = Path("warehouse") / "strata.duckdb"


class ConfigError(Exception):
    """A setting is missing or wrong; the CLI exits with code 2."""


def find_project_dir() -> Path:
    """The dbt project: $STRATA_PROJECT_DIR, else the checkout this package lives in, else cwd."""
    candidates = []
    if env := os.environ.get("STRATA_PROJECT_DIR"):
        candidates.append(Path(env))
    candidates += [Path(__file__).resolve().parent.parent, Path.cwd()]
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate.resolve()
    raise ConfigError(
        "cannot find the strata dbt project (dbt_project.yml): set STRATA_PROJECT_DIR"
    )


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    db_path: Path
    target: str

    @property
    def engine(self) -> str:
        """`spark` for the profile's Spark targets (named spark...), else `duckdb`."""
        return "spark" if self.target.startswith("spark") else "duckdb"

    @classmethod
    def load(cls, db_path: str | None = None, target: str | None = None) -> Settings:
        project_dir = find_project_dir()
        raw_db = db_path or os.environ.get("STRATA_DB_PATH")
        # A path given by the user is relative to where they are; the default lives in the project.
        resolved_db = Path(raw_db).resolve() if raw_db else project_dir / DEFAULT_DB_PATH
        return cls(
            project_dir=project_dir,
            db_path=resolved_db,
            target=target or os.environ.get("STRATA_TARGET", "duckdb"),
        )


def resolve_raw_dir(raw_dir: str | None) -> Path:
    """The folder with orders and sessions files: --raw-dir, else $STRATA_RAW_DIR."""
    value = raw_dir or os.environ.get("STRATA_RAW_DIR")
    if not value:
        raise ConfigError("no raw data: pass --raw-dir DIR or set STRATA_RAW_DIR")
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"raw data folder {path} does not exist")
    return path


def raw_file_format(raw_dir: Path) -> str:
    """The format of the raw files in a local folder, as STRATA_RAW_FORMAT names it for Spark
    (which cannot list a folder): csv when orders.csv is there, else parquet."""
    return "csv" if (raw_dir / "orders.csv").exists() else "parquet"
