-- The prediction models as fitted for this build, one row per cut-off and model: what the
-- predictions in dim_users (cut-off `current`, D) and the back-test in rpt_prediction_calibration
-- (cut-off `calibration`, D minus the holdout) come from. Three repeat-purchase models are fitted
-- (BG/NBD, Pareto/NBD, modified BG/NBD); each is back-tested on the holdout, and the one with the
-- smallest error is chosen (is_chosen) for every prediction. A model the data cannot support (too
-- few repeat buyers, no convergence) has no parameters and says why; the build goes on with its
-- predictions null.

with

fits as (
    select * from {{ ref('int_customer_models_fitted') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

final as (
    select
        as_of.as_of_date,
        fits.purpose,
        fits.cutoff_date,
        fits.model,
        fits.r,
        fits.alpha,
        fits.a,
        fits.b,
        fits.s,
        fits.beta,
        fits.p,
        fits.q,
        fits.v,
        fits.log_likelihood,
        fits.holdout_mean_absolute_error,
        fits.holdout_predicted_purchase_days,
        fits.holdout_actual_purchase_days,
        fits.is_chosen,
        fits.choice,
        fits.customers_used,
        fits.repeat_buyers_used,
        fits.time_unit,
        fits.is_converged,
        fits.message
    from fits
    cross join as_of
)

select * from final
