-- The prediction models as fitted for this build, one row per cut-off and model: what the
-- predictions in dim_users (cut-off `current`, D) and the back-test in rpt_prediction_calibration
-- (cut-off `calibration`, D minus the holdout) come from. A model the data cannot support (too
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
        fits.p,
        fits.q,
        fits.v,
        fits.log_likelihood,
        fits.customers_used,
        fits.repeat_buyers_used,
        fits.time_unit,
        fits.is_converged,
        fits.message
    from fits
    cross join as_of
)

select * from final
