"""Checks made before dbt starts, so that a wrong folder or a busy warehouse fails in a second
with a sentence, not after a minute with an engine's traceback.

The raw folder is checked against the project's own definitions, read from where dbt reads them:
the file layouts from var `raw_file_layouts` (dbt_project.yml) and the tables, and which of them
must be delivered, from the raw contract in the sources YAML. Column-level checks stay in the dbt
hook (macros/raw/), which plain `dbt build` users run too.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from strata.locking import process_command
from strata.project import project_vars
from strata.settings import ConfigError

SOURCES_YAML = Path("models") / "staging" / "shop" / "_shop__sources.yml"


class WarehouseBusy(Exception):
    """Another process holds the warehouse file open for writing."""


@dataclass(frozen=True)
class RawTable:
    name: str
    required: bool
    files: tuple[Path, ...]  # what the matching layout found; empty when not delivered
    kind: str | None  # csv or parquet
    layout: str | None = (
        None  # the raw_file_layouts entry that matched, such as `orders/**/*.parquet`
    )

    @property
    def spark_path(self) -> str | None:
        """The path Spark reads, relative to the raw folder (env STRATA_RAW_LAYOUT): the file, or
        for a folder of parts the folder with a trailing slash."""
        if self.layout is None:
            return None
        return self.layout.split("**")[0] if "**" in self.layout else self.layout

    @property
    def provided(self) -> bool:
        return bool(self.files)


def raw_contract_tables(project_dir: Path) -> dict[str, bool]:
    """The raw tables of the contract and whether each must be delivered, from the sources YAML."""
    document = yaml.safe_load((project_dir / SOURCES_YAML).read_text())
    tables = {}
    for source in document.get("sources", []):
        for table in source.get("tables", []):
            contract = table.get("config", {}).get("meta", {}).get("strata_contract")
            if contract:
                tables[table["name"]] = bool(contract.get("required", True))
    return tables


def raw_file_layouts(project_dir: Path) -> list[str]:
    """var raw_file_layouts from dbt_project.yml."""
    return list(project_vars(project_dir)["raw_file_layouts"])


def _matches(relative: str, pattern: str) -> bool:
    """Whether a path (relative to the raw folder) fits a layout; `**/` stands for any number of
    folders, none included, as in the engines' globs."""
    return fnmatch.fnmatch(relative, pattern) or (
        "**/" in pattern and fnmatch.fnmatch(relative, pattern.replace("**/", ""))
    )


def check_raw_dir(project_dir: Path, raw_dir: Path) -> dict[str, RawTable]:
    """Every contract table's files in `raw_dir`. Raises ConfigError (exit 2) for a required
    table with no file, a table matched by two layouts, or an empty CSV file."""
    if not raw_dir.is_dir():
        raise ConfigError(f"raw data folder {raw_dir} does not exist")
    layouts = raw_file_layouts(project_dir)
    found: dict[str, RawTable] = {}
    for table, required in raw_contract_tables(project_dir).items():
        matches = []
        for layout in layouts:
            pattern = layout.replace("{table}", table)
            files = sorted(
                path
                for path in raw_dir.glob(pattern)
                if path.is_file() and _matches(path.relative_to(raw_dir).as_posix(), pattern)
            )
            if files:
                matches.append((pattern, files))
        if len(matches) > 1:
            raise ConfigError(
                f"ambiguous raw input for {table}: found "
                + " and ".join(str(raw_dir / pattern) for pattern, _ in matches)
                + "; keep exactly one"
            )
        if not matches:
            if required:
                expected = ", ".join(layout.replace("{table}", table) for layout in layouts)
                raise ConfigError(f"raw file missing: no {expected} in {raw_dir}")
            found[table] = RawTable(table, required, (), None)
            continue
        pattern, files = matches[0]
        kind = "csv" if pattern.endswith((".csv", ".csv.gz")) else "parquet"
        if "**" in pattern:
            check_delivery_folder(raw_dir / pattern.split("**")[0])
        for path in files:
            if path.stat().st_size == 0:
                raise ConfigError(
                    f"file {path} is empty: a "
                    + ("CSV file needs a header line naming its columns (line 1)"
                       if kind == "csv" else "Parquet file cannot be empty")
                )  # fmt: skip
        found[table] = RawTable(table, required, tuple(files), kind, pattern)
    return found


def check_delivery_folder(folder: Path) -> None:
    """A folder of deliveries holds Parquet parts, in it or in folders below it, and nothing the
    engine would skip without a word: a file of another kind (a CSV part) or a folder reached
    through a symbolic link (DuckDB's `**` does not follow one) is refused by name. Names
    starting with `_` or `.` are writers' markers (`_SUCCESS`, `.crc` files) and are let be.
    The dbt hook refuses the other files too (macro check_delivery_folder), for plain dbt runs."""
    for current, folders, names in os.walk(folder):
        for name in sorted(folders):
            path = Path(current) / name
            if path.is_symlink():
                raise ConfigError(
                    f"folder {path} is a symbolic link, which the engine does not follow: its "
                    "deliveries would be skipped. Copy or move them into the raw folder instead"
                )
        for name in sorted(names):
            path = Path(current) / name
            if not name.lower().endswith(".parquet") and not name.startswith(("_", ".")):
                raise ConfigError(
                    f"file {path} is in the delivery folder {folder} but is not a Parquet part "
                    "(a folder of deliveries holds *.parquet files only; convert it to Parquet "
                    "or move it out)"
                )


_PID = re.compile(r"\(PID (\d+)\)")


def check_warehouse_free(db_path: Path, serving_db: Path, wait_seconds: float = 0.0) -> None:
    """Raise WarehouseBusy when another process holds the warehouse open (DuckDB allows one
    writer), naming the process and pointing readers to the published copy. Waits up to
    `wait_seconds` for it to let go."""
    if not db_path.exists():
        return
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            duckdb.connect(str(db_path)).close()
            return
        except duckdb.IOException as error:
            text = str(error)
            if "lock" not in text.lower():
                raise
            if time.monotonic() >= deadline:
                match = _PID.search(text)
                holder = "another process"
                if match:
                    pid = int(match.group(1))
                    command = process_command(pid)
                    holder = f"process {pid}" + (f" ({command})" if command else "")
                raise WarehouseBusy(
                    f"the warehouse {db_path} is held open by {holder}, and DuckDB lets only one "
                    f"process write to it. Dashboards and notebooks should read the published "
                    f"copy {serving_db} (strata replaces it without waiting for its readers); "
                    "close that connection and run again, or pass --wait SECONDS"
                ) from None
            time.sleep(0.5)
