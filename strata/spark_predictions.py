"""Predictions on Spark, which cannot run dbt Python models (dbt-spark submits those only to
Databricks clusters).

`strata run --target spark` therefore builds in two steps around the same Python code the DuckDB
Python models run (strata.predict.pipeline):

1. it builds `int_buyers_summarised` and everything it needs, then exports that table as Parquet
   into the exchange folder (macro `export_relation_to_parquet`);
2. a Spark job of its own fits on the buyers grouped by the values the fits read and scores
   every buyer in Spark's Python workers (strata/spark_scoring.py: no process holds every
   buyer), writes `fits/` and `predictions/` as Parquet into the same folder, and the build
   runs with env STRATA_PREDICTIONS_DIR naming it: the Spark versions of
   `int_customer_models_fitted` and `int_buyer_predictions_scored` read them.

The build that follows a whole-project run (no `--select`) leaves out the models and seeds step 1
built (`SECOND_STEP_EXCLUDE`) and runs every data test, theirs included: no model is built twice.
dbt's indirect selection is turned off for it (`SECOND_STEP_ENV`), because by default excluding a
model also excludes its tests. A run with `--select` builds its selection as asked.

The exchange folder must be readable by Spark and by this process: the warehouse's state folder
for the local `spark` target; for a cluster (`spark_thrift`), storage both reach (setting
`predictions_dir`). `make test-spark` checks that the predictions equal DuckDB's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from strata import dbt_runner, spark_scoring
from strata.dbt_runner import DbtResult
from strata.predict.pipeline import PredictionSettings
from strata.project import project_vars
from strata.settings import Settings

SUMMARY_MODEL = "int_buyers_summarised"
# What the build after step 1 leaves out: the nodes step 1 built, not their tests.
SECOND_STEP_EXCLUDE = [
    "--exclude",
    *(f"+{SUMMARY_MODEL},resource_type:{kind}" for kind in ("model", "seed", "snapshot")),
]
# Select exactly what is named: everything, but for the nodes above, with every test
SECOND_STEP_ENV = {"DBT_INDIRECT_SELECTION": "empty"}


def exchange_dir(settings: Settings) -> Path:
    if settings.predictions_dir:
        return Path(settings.predictions_dir)
    return settings.state_dir / "predictions"


def prediction_settings(project_dir: Path, overrides: Mapping[str, Any]) -> PredictionSettings:
    """The prediction vars as dbt resolves them: dbt_project.yml's, then the run's own."""
    values = {**project_vars(project_dir), **overrides}
    return PredictionSettings.from_vars(values.__getitem__)


def prepare(
    settings: Settings,
    vars_args: list[str],
    env: dict[str, str],
    dbt_vars: Mapping[str, Any],
    run: Callable[[list[str], dict[str, str]], DbtResult],
    *,
    full_refresh: bool = False,
) -> DbtResult | None:
    """Steps 1 and 2. Returns the failed dbt result if step 1 failed, else None; on success
    `env` names the exchange folder for the build that follows."""
    folder = exchange_dir(settings)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = run(
        # the models and seeds only: the build that follows runs every test
        ["build", "--select", f"+{SUMMARY_MODEL}", "--exclude-resource-type", "unit_test",
         "--exclude-resource-type", "test", *(["--full-refresh"] if full_refresh else []),
         *vars_args],
        env,
    )  # fmt: skip
    if not first.ok:
        return first
    exported = run(
        ["run-operation", "export_relation_to_parquet", "--args",
         yaml.safe_dump({"model": SUMMARY_MODEL, "path": str(folder / "buyers")}),
         *vars_args],
        env,
    )  # fmt: skip
    if not exported.ok:
        return exported
    failure = spark_scoring.run_job(
        folder,
        prediction_settings(settings.project_dir, dbt_vars),
        master=settings.spark_master,
        driver_memory=os.environ.get("STRATA_SPARK_DRIVER_MEMORY", "4g"),
    )
    if failure is not None:
        return DbtResult(command=["strata.spark_scoring"], return_code=1, errors=[failure])
    env["STRATA_PREDICTIONS_DIR"] = str(folder)
    return None


def run_step(settings: Settings) -> Callable[[list[str], dict[str, str]], DbtResult]:
    """A dbt invocation for the steps above (no retries: a failure here fails the run)."""

    def run(args: list[str], env: dict[str, str]) -> DbtResult:
        return dbt_runner.run_dbt(settings, args, env=env)

    return run
