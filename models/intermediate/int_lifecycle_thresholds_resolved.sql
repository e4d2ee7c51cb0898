-- The lifecycle thresholds this build uses, and the ones the shop's own purchase rhythm suggests
-- (one row). The rhythm is the gaps, in days, between each customer's consecutive purchase days
-- on or before D. The suggestions (docs/segments.md, "Thresholds that fit the business"):
--   dormant_after_days  the gap that 1 - var dormant_gap_share (90%) of the gaps stay within
--   churn_after_days    the gap that 1 - var churn_gap_warn_share (95%) of the gaps stay within
-- each rounded UP to the next step of a ladder of familiar lengths (a week, two, three, a month,
-- 45 days, ...), so a suggestion is at least its percentile and stays put from one day to the
-- next; churn is at least one step above dormant. With var lifecycle_thresholds: auto (and at
-- least var threshold_min_repeat_gaps gaps to go by), the stages use the suggestions; otherwise
-- the vars dormant_after_days and churn_after_days. Macro lifecycle_threshold() reads this row.
--
-- A threshold is flagged too short when more than its share of the gaps is longer than it
-- (customers between two purchases would be called dormant or churned), and too long when it is
-- more than var threshold_too_long_factor (3) times its suggestion (customers gone for weeks
-- would still be called live). rpt_data_notes words both.

{%- set shares = {'dormant': var('dormant_gap_share'), 'churn': var('churn_gap_warn_share')} %}
{%- set chosen = var('lifecycle_thresholds') %}
{%- if chosen not in ('vars', 'auto') %}
    {{ exceptions.raise_compiler_error(
        "var lifecycle_thresholds must be 'vars' or 'auto', got '" ~ chosen ~ "'"
    ) }}
{%- endif %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

gaps as (
    select user_days.days_since_previous_purchase as gap_days
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
        {{ quantile_cont('gap_days', 1 - shares.dormant) }} as dormant_gap_days,
        {{ quantile_cont('gap_days', 1 - shares.churn) }} as churn_gap_days
    from gaps
),

suggested as (
    select
        repeat_gaps,
        dormant_gap_days,
        churn_gap_days,
        {{ days_up_the_ladder('dormant_gap_days') }} as suggested_dormant_after_days,
        {{ days_up_the_ladder('churn_gap_days') }} as churn_on_the_ladder
    from summarised
),

final as (
    select
        as_of.as_of_date,
        cast(suggested.repeat_gaps as {{ dbt.type_bigint() }}) as repeat_gaps,
        cast(suggested.dormant_gap_days as double) as dormant_gap_days,
        cast(suggested.churn_gap_days as double) as churn_gap_days,
        cast(suggested.suggested_dormant_after_days as integer) as suggested_dormant_after_days,
        -- churn at least one ladder step above dormant (dormant comes before churned)
        cast(
            case
                when suggested.churn_on_the_ladder > suggested.suggested_dormant_after_days
                    then suggested.churn_on_the_ladder
                else {{ days_up_the_ladder('suggested.suggested_dormant_after_days + 1') }}
            end as integer
        ) as suggested_churn_after_days,
        suggested.repeat_gaps >= {{ var('threshold_min_repeat_gaps') }} as has_enough_gaps,
        {{ strata_quote_literal(chosen) }} as thresholds_requested
    from suggested
    cross join as_of
),

resolved as (
    select
        final.*,
        case
            when final.thresholds_requested = 'auto' and final.has_enough_gaps then 'auto'
            else 'vars'
        end as thresholds_source,
        case
            when final.thresholds_requested = 'auto' and final.has_enough_gaps
                then final.suggested_dormant_after_days
            else {{ var('dormant_after_days') }}
        end as dormant_after_days,
        case
            when final.thresholds_requested = 'auto' and final.has_enough_gaps
                then final.suggested_churn_after_days
            else {{ var('churn_after_days') }}
        end as churn_after_days
    from final
)

select
    as_of_date,
    repeat_gaps,
    dormant_gap_days,
    churn_gap_days,
    suggested_dormant_after_days,
    suggested_churn_after_days,
    has_enough_gaps,
    thresholds_requested,
    thresholds_source,
    cast(dormant_after_days as integer) as dormant_after_days,
    cast(churn_after_days as integer) as churn_after_days
from resolved
