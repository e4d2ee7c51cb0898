"""The BG/NBD and Gamma-Gamma models, fitted on every buyer's purchase history (DuckDB).

One row per cut-off (`current`: D; `calibration`: D minus the holdout) and model: the fitted
parameters (time in days), the log-likelihood, the buyers used and whether the fit converged,
with the reason when it did not. The maths is in strata.predict (tested against the published
CDNOW results); this model only hands it the warehouse's summaries. Spark cannot run dbt Python
models: there the strata CLI fits the same way and a SQL model of this name reads its result
(predictions/spark/, docs/predictions.md).
"""

from strata.predict.pipeline import PredictionSettings, fit_models


def model(dbt, session):
    dbt.config(materialized="table")
    settings = _settings(dbt)
    buyers = dbt.ref("int_buyers_summarised").to_arrow_table()
    return fit_models(buyers, settings)


def _settings(dbt):
    """The prediction vars, handed over as this model's config (a dbt Python model cannot call
    var(), and reads its config by literal names): rendered by dbt as text, read back as YAML."""
    import yaml

    given = {
        "prediction_horizon_days": dbt.config.get("prediction_horizon_days"),
        "prediction_holdout_days": dbt.config.get("prediction_holdout_days"),
        "clv_horizon_days": dbt.config.get("clv_horizon_days"),
        "clv_step_days": dbt.config.get("clv_step_days"),
        "clv_annual_discount_rate": dbt.config.get("clv_annual_discount_rate"),
        "prediction_min_repeat_buyers": dbt.config.get("prediction_min_repeat_buyers"),
    }
    return PredictionSettings.from_vars(
        lambda name: yaml.safe_load(given[name]) if isinstance(given[name], str) else given[name]
    )
