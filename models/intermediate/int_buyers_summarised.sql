-- What the prediction models need of every buyer, as of two cut-off dates: D (`current`, for the
-- predictions dim_users shows) and D minus var prediction_holdout_days (`calibration`, for the
-- back-test in rpt_prediction_calibration). As in the published models (Fader, Hardie and Lee),
-- a purchase is a purchase DAY: x is the number of purchase days after the first, t_x the days
-- from the first purchase day to the last, t_age (the paper's T) the days from the first to the
-- cut-off, and mean_repeat_spend the mean of the repeat days' totals (the first day excluded),
-- in the reporting currency. For the calibration cut-off, the purchase days and revenue of the
-- holdout that follows it are counted too: what the back-test compares its predictions with.

{%- set holdout = var('prediction_holdout_days') %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

purchase_days as (
    select
        user_days.user_id,
        user_days.activity_date,
        user_days.revenue,
        -- the revenue of the buyer's first purchase day, on that day's row only
        case
            when
                user_days.activity_date
                = min(user_days.activity_date) over (partition by user_days.user_id)
                then user_days.revenue
        end as first_day_revenue,
        {{ days_before('as_of.as_of_date', holdout) }} as calibration_date,
        as_of.as_of_date
    from user_days
    cross join as_of
    where user_days.purchases > 0
),

-- One pass over each buyer's purchase days gives both cut-offs (the first purchase day is the
-- same for both when the buyer had bought by the earlier one) and the holdout that follows it.
per_buyer as (
    select
        user_id,
        max(as_of_date) as as_of_date,
        max(calibration_date) as calibration_date,
        min(activity_date) as first_purchase_date,
        max(activity_date) as last_purchase_date,
        count(*) - 1 as repeat_purchase_days,
        sum(revenue) - sum(first_day_revenue) as repeat_revenue,
        max(case when activity_date <= calibration_date then activity_date end)
            as calibration_last_purchase_date,
        sum(case when activity_date <= calibration_date then 1 else 0 end) - 1
            as calibration_repeat_purchase_days,
        sum(case when activity_date <= calibration_date then revenue end)
        - sum(first_day_revenue) as calibration_repeat_revenue,
        sum(case when activity_date > calibration_date then 1 else 0 end)
            as holdout_purchase_days,
        coalesce(sum(case when activity_date > calibration_date then revenue end), 0)
            as holdout_revenue
    from purchase_days
    group by user_id
),

summarised as (
    select
        'current' as purpose,
        as_of_date as cutoff_date,
        user_id,
        first_purchase_date,
        last_purchase_date,
        repeat_purchase_days,
        repeat_revenue,
        cast(null as {{ dbt.type_bigint() }}) as holdout_purchase_days,
        cast(null as decimal(38, 2)) as holdout_revenue
    from per_buyer
    union all
    select
        'calibration' as purpose,
        calibration_date as cutoff_date,
        user_id,
        first_purchase_date,
        calibration_last_purchase_date as last_purchase_date,
        calibration_repeat_purchase_days as repeat_purchase_days,
        calibration_repeat_revenue as repeat_revenue,
        holdout_purchase_days,
        holdout_revenue
    from per_buyer
    where first_purchase_date <= calibration_date
),

final as (
    select
        summarised.purpose,
        summarised.cutoff_date,
        summarised.user_id,
        summarised.first_purchase_date,
        cast(summarised.repeat_purchase_days as integer) as repeat_purchase_days,
        cast(
            {{ days_between('summarised.first_purchase_date', 'summarised.last_purchase_date') }}
            as integer
        ) as days_first_to_last,
        cast(
            {{ days_between('summarised.first_purchase_date', 'summarised.cutoff_date') }}
            as integer
        ) as days_first_to_cutoff,
        case
            when summarised.repeat_purchase_days > 0
                then cast(summarised.repeat_revenue as double) / summarised.repeat_purchase_days
        end as mean_repeat_spend,
        cast(summarised.holdout_purchase_days as integer) as holdout_purchase_days,
        cast(summarised.holdout_revenue as decimal(38, 2)) as holdout_revenue
    from summarised
)

select * from final
