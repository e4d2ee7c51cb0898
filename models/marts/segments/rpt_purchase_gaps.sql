-- The business's purchase rhythm as of D: the gaps, in days, between each customer's consecutive
-- purchase days, summarised by quantiles, set against the churn and dormancy thresholds. When many
-- gaps between two real purchases are longer than `churn_after_days`, the threshold calls live
-- customers churned while they are only between purchases; this report says so and suggests a
-- value (the gap that all but var churn_gap_warn_share of gaps stay within). Nothing changes on its
-- own: the thresholds stay the user's choice, and a build stays reproducible. One row.

{%- set warn_share = var('churn_gap_warn_share') %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

gaps as (
    select
        user_days.user_id,
        user_days.days_since_previous_purchase as gap_days
    from user_days
    cross join as_of
    where
        user_days.purchases > 0
        and user_days.days_since_previous_purchase is not null
        and user_days.activity_date <= as_of.as_of_date
),

summarised as (
    select
        count(*) as repeat_gaps,
        count(distinct user_id) as repeat_buyers,
        {% for fraction in [0.1, 0.25, 0.5, 0.75, 0.9, 0.95] %}
            {{ quantile_cont('gap_days', fraction) }} as gap_days_p{{ (fraction * 100) | int }},
        {% endfor %}
        {{ quantile_cont('gap_days', 1 - warn_share) }} as gap_days_at_warn_share,
        sum(case when gap_days > {{ var('churn_after_days') }} then 1 else 0 end)
            as gaps_over_churn_after_days,
        sum(case when gap_days > {{ var('dormant_after_days') }} then 1 else 0 end)
            as gaps_over_dormant_after_days
    from gaps
),

final as (
    select
        as_of.as_of_date,
        cast(summarised.repeat_buyers as {{ dbt.type_bigint() }}) as repeat_buyers,
        cast(summarised.repeat_gaps as {{ dbt.type_bigint() }}) as repeat_gaps,
        {% for percent in [10, 25, 50, 75, 90, 95] %}
            cast(summarised.gap_days_p{{ percent }} as double) as gap_days_p{{ percent }},
        {% endfor %}
        cast({{ var('churn_after_days') }} as integer) as churn_after_days,
        cast(coalesce(summarised.gaps_over_churn_after_days, 0) as {{ dbt.type_bigint() }})
            as gaps_over_churn_after_days,
        cast(summarised.gaps_over_churn_after_days as double)
        / nullif(summarised.repeat_gaps, 0) as share_over_churn_after_days,
        cast({{ var('dormant_after_days') }} as integer) as dormant_after_days,
        cast(summarised.gaps_over_dormant_after_days as double)
        / nullif(summarised.repeat_gaps, 0) as share_over_dormant_after_days,
        cast({{ warn_share }} as double) as warn_share,
        coalesce(
            cast(summarised.gaps_over_churn_after_days as double)
            / nullif(summarised.repeat_gaps, 0) > {{ warn_share }},
            false
        ) as is_churn_threshold_short,
        cast(ceil(summarised.gap_days_at_warn_share) as integer) as suggested_churn_after_days
    from as_of
    cross join summarised
)

select * from final
