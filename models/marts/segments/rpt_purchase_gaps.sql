-- The business's purchase rhythm as of D, one row: the gaps, in days, between each customer's
-- consecutive purchase days, summarised by quantiles and set against the lifecycle thresholds in
-- use. A 90-day churn rule suits neither a grocery (a basket every 3 days) nor a furniture shop
-- (a sofa every 3 years). The thresholds the rhythm suggests, the ones in use and where they came
-- from (vars, or `auto`) are int_lifecycle_thresholds_resolved's; this report flags a threshold
-- that is too short (more than its share of the gaps is longer) or too long (more than var
-- threshold_too_long_factor times its suggestion). rpt_data_notes words the flags once, for the
-- run summary, the report and dbt's warning alike.

{%- set factor = var('threshold_too_long_factor') %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

thresholds as (
    select * from {{ ref('int_lifecycle_thresholds_resolved') }}
),

gaps as (
    select
        user_days.user_id,
        user_days.days_since_previous_purchase as gap_days
    from user_days
    cross join thresholds
    where
        user_days.purchases > 0
        and user_days.days_since_previous_purchase is not null
        and user_days.activity_date <= thresholds.as_of_date
),

summarised as (
    select
        count(*) as repeat_gaps,
        count(distinct gaps.user_id) as repeat_buyers,
        {% for fraction in [0.1, 0.25, 0.5, 0.75, 0.9, 0.95] %}
            {{ quantile_cont('gaps.gap_days', fraction) }}
                as gap_days_p{{ (fraction * 100) | int }},
        {% endfor %}
        sum(case when gaps.gap_days > thresholds.churn_after_days then 1 else 0 end)
            as gaps_over_churn_after_days,
        sum(case when gaps.gap_days > thresholds.dormant_after_days then 1 else 0 end)
            as gaps_over_dormant_after_days
    from gaps
    cross join thresholds
),

shares as (
    select
        summarised.*,
        cast(summarised.gaps_over_churn_after_days as double)
        / nullif(summarised.repeat_gaps, 0) as share_over_churn_after_days,
        cast(summarised.gaps_over_dormant_after_days as double)
        / nullif(summarised.repeat_gaps, 0) as share_over_dormant_after_days
    from summarised
),

final as (
    select
        thresholds.as_of_date,
        cast(shares.repeat_buyers as {{ dbt.type_bigint() }}) as repeat_buyers,
        cast(shares.repeat_gaps as {{ dbt.type_bigint() }}) as repeat_gaps,
        {% for percent in [10, 25, 50, 75, 90, 95] %}
            cast(shares.gap_days_p{{ percent }} as double) as gap_days_p{{ percent }},
        {% endfor %}
        thresholds.thresholds_source,
        thresholds.churn_after_days,
        cast(coalesce(shares.gaps_over_churn_after_days, 0) as {{ dbt.type_bigint() }})
            as gaps_over_churn_after_days,
        shares.share_over_churn_after_days,
        thresholds.dormant_after_days,
        shares.share_over_dormant_after_days,
        cast({{ var('churn_gap_warn_share') }} as double) as warn_share,
        cast({{ var('dormant_gap_share') }} as double) as dormant_gap_share,
        thresholds.has_enough_gaps,
        coalesce(
            thresholds.has_enough_gaps
            and shares.share_over_churn_after_days > {{ var('churn_gap_warn_share') }},
            false
        ) as is_churn_threshold_short,
        coalesce(
            thresholds.has_enough_gaps
            and thresholds.churn_after_days
            > {{ factor }} * thresholds.suggested_churn_after_days,
            false
        ) as is_churn_threshold_long,
        coalesce(
            thresholds.has_enough_gaps
            and shares.share_over_dormant_after_days > {{ var('dormant_gap_share') }},
            false
        ) as is_dormant_threshold_short,
        coalesce(
            thresholds.has_enough_gaps
            and thresholds.dormant_after_days
            > {{ factor }} * thresholds.suggested_dormant_after_days,
            false
        ) as is_dormant_threshold_long,
        thresholds.suggested_churn_after_days,
        thresholds.suggested_dormant_after_days
    from thresholds
    cross join shares
)

select * from final
