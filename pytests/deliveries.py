"""A shop whose generated data arrives in deliveries, and the row-for-row comparison of two builds.

Shared by the season of daily runs (test_season.py) and the incremental-build tests
(test_incremental.py): a generated population is split by the UTC day each row happened into one
Parquet file per delivery (`raw/orders/<part>.parquet`, `raw/sessions/...`), as a shop's exports
would arrive.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from strata import dbt_runner
from strata.audiences.definitions import vars_for
from strata.incremental import BOOKKEEPING_COLUMNS
from strata.settings import load_settings
from tools.bench.checks import schema_differences


@dataclass
class Shop:
    """The generated data (`full/`), the raw folder strata reads (`raw/`), the warehouse strata
    runs on and the warehouse fresh reference builds go to."""

    root: Path
    start: dt.date  # unparseable times are given a day within 30 days of this one
    full: Path = field(init=False)
    raw: Path = field(init=False)
    db: Path = field(init=False)
    reference: Path = field(init=False)
    references: dict[str, Path] = field(default_factory=dict)  # published version -> snapshot
    reference_count: int = 0

    def __post_init__(self) -> None:
        self.full = self.root / "full"
        self.raw = self.root / "raw"
        self.db = self.root / "shop" / "w.duckdb"
        self.reference = self.root / "reference" / "w.duckdb"

    @property
    def settings(self):
        return load_settings(db_path=str(self.db))

    def deliver(self, table: str, part: str, where: str) -> int:
        """Write the rows of the generated table matching `where` as raw/<table>/<part>.parquet."""
        folder = self.raw / table
        folder.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as con:
            con.execute(f"create view rows as {self.dated(table)}")
            count = con.execute(f"select count(*) from rows where {where}").fetchone()[0]
            con.execute(
                f"copy (select * exclude (event_day, row_key) from rows where {where}"
                f" order by row_key) to '{folder / part}.parquet' (format parquet)"
            )
        return count

    def dated(self, table: str) -> str:
        """The generated rows with the UTC day they happened (unparseable times get a day from
        their position, so that they too arrive some day) and their position."""
        column = "ordered_at" if table == "orders" else "started_at"
        return (
            f"select *, coalesce(cast(timezone('UTC', try_cast({column} as timestamptz)) as date),"
            f" date '{self.start}' + cast(row_key % 30 as integer)) as event_day"
            f" from (select *, row_number() over () as row_key"
            f" from read_parquet('{self.full / table}.parquet'))"
        )

    def delivered_rows(self, table: str) -> int:
        with duckdb.connect() as con:
            return con.execute(
                f"select count(*) from read_parquet('{self.raw / table}/*.parquet')"
            ).fetchone()[0]

    def build_reference(
        self,
        as_of: str,
        dbt_vars: str | None = None,
        snapshot_schemas: tuple[str, ...] = ("marts",),
    ) -> Path:
        """A fresh full build of the raw folder as it is now, for `as_of`: every model rebuilt
        from scratch (--full-refresh, no tests; the trigger models only when their schema is
        compared), its `snapshot_schemas` kept as a snapshot file for later comparisons."""
        settings = load_settings(db_path=str(self.reference))
        args = ["build", "--full-refresh", "--exclude-resource-type", "test",
                "--exclude-resource-type", "unit_test"]  # fmt: skip
        if "triggers" not in snapshot_schemas:
            # nothing the comparison reads depends on the trigger models (tag trigger)
            args += ["--exclude", "tag:trigger"]
        # the audiences `strata run` reads (the project's, or STRATA_AUDIENCES_DIR's)
        merged = {
            **vars_for(settings.audiences_folder, settings.project_dir, self.raw),
            **(yaml.safe_load(dbt_vars) if dbt_vars else {}),
        }
        args += ["--vars", json.dumps(merged)]
        result = dbt_runner.run_dbt(
            settings, args, env={"STRATA_RAW_DIR": str(self.raw), "STRATA_AS_OF_DATE": as_of}
        )
        assert result.ok, result.errors[-5:]
        snapshot = self.root / "references" / f"{as_of}-{self.reference_count}.duckdb"
        self.reference_count += 1
        snapshot.parent.mkdir(exist_ok=True)
        copy_schemas(self.reference, snapshot, snapshot_schemas)
        return snapshot


def copy_schemas(source: Path, target: Path, schemas: tuple[str, ...]) -> None:
    """The base tables of `schemas` of warehouse `source`, copied into a new file `target`."""
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{source}' as src (read_only)")
        for schema in schemas:
            con.execute(f"create schema {schema}")
            for (table,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'src'"
                " and table_schema = ? and table_type = 'BASE TABLE'",
                [schema],
            ).fetchall():
                con.execute(f"create table {schema}.{table} as select * from src.{schema}.{table}")


def differences(actual: Path, reference: Path, schemas: tuple[str, ...] = ("marts",)) -> list[str]:
    """Every table of `schemas` whose rows differ between two warehouses, both ways (bookkeeping
    columns aside), and any table that only one of them has."""
    return [
        f"{schema}.{problem}"
        for schema in schemas
        for problem in schema_differences(actual, reference, schema, BOOKKEEPING_COLUMNS)
    ]
