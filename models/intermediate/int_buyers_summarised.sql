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

cutoffs as (
    select
        'current' as purpose,
        as_of_date as cutoff_date,
        as_of_date
    from as_of
    union all
    select
        'calibration' as purpose,
        {{ days_before('as_of_date', holdout) }} as cutoff_date,
        as_of_date
    from as_of
),

purchase_days as (
    select
        user_id,
        activity_date,
        revenue
    from user_days
    where purchases > 0
),

-- Each buyer's purchase days up to each cut-off, numbered from the first.
histories as (
    select
        cutoffs.purpose,
        cutoffs.cutoff_date,
        purchase_days.user_id,
        purchase_days.activity_date,
        purchase_days.revenue,
        row_number() over (
            partition by cutoffs.purpose, purchase_days.user_id
            order by purchase_days.activity_date asc
        ) as day_number
    from cutoffs
    inner join purchase_days
        on purchase_days.activity_date <= cutoffs.cutoff_date
),

summarised as (
    select
        purpose,
        cutoff_date,
        user_id,
        min(activity_date) as first_purchase_date,
        max(activity_date) as last_purchase_date,
        count(*) - 1 as repeat_purchase_days,
        sum(case when day_number > 1 then revenue end) as repeat_revenue
    from histories
    group by purpose, cutoff_date, user_id
),

-- What happened after the calibration cut-off, up to D.
holdout as (
    select
        purchase_days.user_id,
        count(*) as holdout_purchase_days,
        sum(purchase_days.revenue) as holdout_revenue
    from purchase_days
    cross join as_of
    where
        purchase_days.activity_date > {{ days_before('as_of.as_of_date', holdout) }}
        and purchase_days.activity_date <= as_of.as_of_date
    group by purchase_days.user_id
),

final as (
    select
        summarised.purpose,
        summarised.cutoff_date,
        summarised.user_id,
        summarised.first_purchase_date,
        cast(summarised.repeat_purchase_days as integer) as repeat_purchase_days,
        cast({{ days_between('summarised.first_purchase_date', 'summarised.last_purchase_date') }}
            as integer) as days_first_to_last,
        cast({{ days_between('summarised.first_purchase_date', 'summarised.cutoff_date') }}
            as integer) as days_first_to_cutoff,
        case
            when summarised.repeat_purchase_days > 0
                then cast(summarised.repeat_revenue as double) / summarised.repeat_purchase_days
        end as mean_repeat_spend,
        case
            when summarised.purpose = 'calibration'
                then cast(coalesce(holdout.holdout_purchase_days, 0) as integer)
        end as holdout_purchase_days,
        case
            when summarised.purpose = 'calibration'
                then cast(coalesce(holdout.holdout_revenue, 0) as decimal(38, 2))
        end as holdout_revenue
    from summarised
    left join holdout
        on
            summarised.purpose = 'calibration'
            and summarised.user_id = holdout.user_id
)

select * from final
