"""Every buyer's predictions from the fitted models (DuckDB): P(alive), expected purchase days
over each horizon (and over the holdout, for the calibration cut-off), the expected spend per
purchase day and the discounted value over the CLV horizon. Null where a model did not converge.
The maths is in strata.predict; on Spark the strata CLI computes the same (docs/predictions.md).
"""

from strata.predict.pipeline import score_buyers, settings_of


def model(dbt, session):
    dbt.config(materialized="table")
    buyers = dbt.ref("int_buyers_summarised").to_arrow_table()
    fits = dbt.ref("int_customer_models_fitted").to_arrow_table()
    # The settings the models were fitted with, recorded in the fits (one place to read the vars).
    return score_buyers(buyers, fits, settings_of(fits))
