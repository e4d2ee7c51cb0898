"""The prediction step on Spark, run as a Spark job so that it grows with the cluster: no process
holds every buyer.

`strata run --target spark` exports `int_buyers_summarised` as Parquet into the exchange folder
(strata/spark_predictions.py); this job then, in a Spark session of its own:

1. groups the buyers by the values the fits read (purpose, cut-off, x, t_x, T and the holdout's
   purchase days for the repeat models; purpose, x and mean repeat spend for Gamma-Gamma) and
   fits on those rows, each weighted by the buyers it stands for (strata.predict.pipeline's
   `fit_inputs`: the same fits, bit for bit, as on one row per buyer). The repeat models' rows
   are bounded by the distinct values of x, t_x and T, not by the number of buyers; Gamma-Gamma's
   by the distinct (x, spend) pairs of repeat buyers;
2. scores every buyer with `mapInArrow`: each Python worker scores the Arrow batches of its
   partition with `score_buyers`, the function the DuckDB Python model calls on the whole table
   (every figure is a function of the buyer's own row);
3. writes `fits/` and `predictions/` as Parquet into the exchange folder, where the Spark models
   `int_customer_models_fitted` and `int_buyer_predictions_scored` read them.

The job runs in a process of its own (`run_job`): its JVM ends with it, so the dbt build that
follows does not share the machine with an idle Spark driver, and any failure (no Java, a worker
that dies, memory) is a failed step with its message, not an exception in the run.

The session's master is the setting `spark_master` (env STRATA_SPARK_MASTER): `local[*]` for the
local `spark` target, whose Python workers run this interpreter; a cluster's master (`yarn`,
`spark://...`, `k8s://...`) for a cluster, whose executors then need strata installed (their
Python named by `PYSPARK_PYTHON`) and whose exchange folder must be a path this machine and the
cluster both reach (docs/spark.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from strata.predict.pipeline import (
    PredictionSettings,
    fit_inputs,
    fit_models_on,
    prediction_schema,
    score_buyers,
)

# What each fit reads; grouping by these loses nothing the fits use.
REPEAT_KEYS = (
    "purpose",
    "cutoff_date",
    "repeat_purchase_days",
    "days_first_to_last",
    "days_first_to_cutoff",
    "holdout_purchase_days",
)
SPEND_KEYS = ("purpose", "repeat_purchase_days", "mean_repeat_spend")

_SPARK_TYPES = {pa.string(): "string", pa.float64(): "double"}


def spark_schema(schema: pa.Schema) -> str:
    """An Arrow schema of strings and doubles as a Spark DDL string."""
    return ", ".join(f"`{field.name}` {_SPARK_TYPES[field.type]}" for field in schema)


class Scorer:
    """What each Python worker runs on its partition's Arrow batches (picklable)."""

    def __init__(self, fits: pa.Table, settings: PredictionSettings) -> None:
        self.fits = fits
        self.settings = settings

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            scored = score_buyers(pa.Table.from_batches([batch]), self.fits, self.settings)
            yield from scored.to_batches()


def predict(folder: Path, settings: PredictionSettings, master: str, driver_memory: str) -> None:
    """Fit and score the buyers exported to `folder`/buyers; write `folder`/fits and
    `folder`/predictions."""
    from pyspark.sql import SparkSession  # only the Spark path needs pyspark

    if master.startswith("local"):
        # The workers run this interpreter (and so import this strata and its pinned packages)
        # unless the user named another.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("strata predictions")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        buyers = spark.read.parquet(str(folder / "buyers"))
        grouped = folder / "fit_inputs"
        for name, keys in (("repeat", REPEAT_KEYS), ("spend", SPEND_KEYS)):
            (
                buyers.groupBy(*keys)
                .count()
                .withColumnRenamed("count", "buyers")
                .coalesce(1)
                .write.mode("overwrite")
                .parquet(str(grouped / name))
            )
        inputs = fit_inputs(pq.read_table(grouped / "repeat"), pq.read_table(grouped / "spend"))
        fits = fit_models_on(inputs, settings)
        (folder / "fits").mkdir(exist_ok=True)
        pq.write_table(fits, folder / "fits" / "part-0.parquet")
        schema = spark_schema(prediction_schema(settings))
        scored = buyers.mapInArrow(Scorer(fits, settings), schema)
        scored.write.mode("overwrite").parquet(str(folder / "predictions"))
    finally:
        spark.stop()


# The last lines of a failed job's output that a failed run shows.
ERROR_LINES = 12


def run_job(
    folder: Path, settings: PredictionSettings, master: str, driver_memory: str
) -> str | None:
    """`predict` in a child process; None when it succeeded, else what went wrong (the end of
    its output)."""
    command = [sys.executable, "-m", "strata.spark_scoring", str(folder), settings.to_json(),
               master, driver_memory]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode == 0:
        return None
    lines = [line for line in (finished.stdout + finished.stderr).splitlines() if line.strip()]
    return f"the prediction job on Spark failed (exit {finished.returncode}): " + " | ".join(
        lines[-ERROR_LINES:]
    )


if __name__ == "__main__":
    predict(
        Path(sys.argv[1]),
        PredictionSettings.from_json(sys.argv[2]),
        master=sys.argv[3],
        driver_memory=sys.argv[4],
    )
