"""Narrowed builds for tests that only read values (docs/testing.md).

A test that proves something about a few models builds those models and what they are built
from, and nothing else: no publish, no report and, unless it asks, no data tests. dbt is started
the way `strata run` starts it (strata.dbt_runner: the project's profile, the warehouse's own
target folder and parse cache), with the as-of date and the raw folder in their environment
variables, exactly as the CLI passes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from strata import dbt_runner
from strata.audiences.definitions import vars_for
from strata.settings import load_settings

WAREHOUSE = "warehouse.duckdb"


def build(
    raw: Path,
    folder: Path,
    select: str,
    *,
    as_of: str | None = None,
    dbt_vars: dict | None = None,
    data_tests: bool = False,
) -> Path:
    """Build `select` (a dbt selection, e.g. "+dim_users") of the raw folder `raw` into a new
    warehouse in `folder`, and return the warehouse file. With `data_tests`, the data tests of
    the selected models run too (indirect selection `cautious`: none that reads a model outside
    the selection); unit tests never run here, `make dbt-test` runs them."""
    settings = load_settings(db_path=str(folder / WAREHOUSE))
    args = ["build", "--select", select, "--exclude-resource-type", "unit_test"]
    if not data_tests:
        args += ["--exclude-resource-type", "test"]
    relaxed = {"guard_max_quarantined_share": 1.0, "guard_max_new_quarantined_share": 1.0}
    # the audiences `strata run` would read (the project's, or STRATA_AUDIENCES_DIR's)
    audiences = vars_for(settings.audiences_folder, settings.project_dir, raw)
    args += ["--vars", json.dumps({**relaxed, **audiences, **(dbt_vars or {})})]
    env = {"STRATA_RAW_DIR": str(raw), "STRATA_AS_OF_DATE": as_of or ""}
    if data_tests:
        env["DBT_INDIRECT_SELECTION"] = "cautious"
    result = dbt_runner.run_dbt(settings, args, env=env)
    assert result.ok, "\n".join(result.errors[-10:])
    return settings.db


def rows(db: Path, query: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query, parameters or []).fetchall()


def table(db: Path, name: str, order_by: str) -> list[dict]:
    """Every row of `name` as a dict of column name to value, in a fixed order: tables compared
    by column name, so that a column added or moved is a difference, not a shift."""
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(f"select * from {name} order by {order_by}")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
