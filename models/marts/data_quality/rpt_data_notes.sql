-- What an analyst must know to read this build's numbers, each worded once (one row per note):
-- the run summary prints these rows, the report shows them and dbt's warning tests (tests/notes)
-- select them, so the three never say different things. Notes:
--   partial_as_of_day            a given D is a partial day (int_as_of_dates_resolved)
--   churn_threshold_short/long   churn_after_days does not fit the purchase rhythm
--                                (rpt_purchase_gaps)
--   dormant_threshold_short/long the same for dormant_after_days
--   thresholds_auto_not_applied  lifecycle_thresholds: auto asked for, too few gaps to go by
--   rows_after_as_of_date        clean rows dated after D, read and ignored (a build for a past D)
--   predictions_contradict_stages churned or dormant users the chosen purchase model calls
--                                likely to buy or at low risk (dim_users); a warning above var
--                                prediction_conflict_warn_share of those stages, else info
-- Severity `warning` asks for a decision; `info` explains a figure.

{%- set text = dbt.type_string() %}

with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

gaps as (
    select * from {{ ref('rpt_purchase_gaps') }}
),

thresholds as (
    select * from {{ ref('int_lifecycle_thresholds_resolved') }}
),

reconciliation as (
    select * from {{ ref('rpt_source_reconciliation') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

conflicts as (
    select
        sum(case when lifecycle_stage = 'churned' then 1 else 0 end) as churned_users,
        sum(
            case when lifecycle_stage = 'churned' and is_prediction_in_conflict then 1 else 0 end
        ) as churned_in_conflict,
        sum(case when lifecycle_stage = 'dormant' then 1 else 0 end) as dormant_users,
        sum(
            case when lifecycle_stage = 'dormant' and is_prediction_in_conflict then 1 else 0 end
        ) as dormant_in_conflict,
        max(purchase_model) as purchase_model
    from users
),

partial_day as (
    select
        'partial_as_of_day' as note_code,
        'warning' as severity,
        'as_of_date' as subject,
        concat(
            'The as-of date ', cast(as_of_date as {{ text }}),
            ' is a partial day: the data ends at ',
            {{ time_of_day_text('latest_activity_at') }},
            ' UTC, before the time by which ',
            cast(cast(round({{ var('complete_day_share') }} * 100) as integer) as {{ text }}),
            '% of the activity of a usual day has happened (',
            {{ seconds_as_time_text('day_complete_after_seconds') }},
            '). Recency scores are taken against ', cast(recency_scored_on as {{ text }}),
            '; without --as-of, strata uses the last complete day.'
        ) as message
    from as_of
    where is_as_of_day_partial
),

{% for name, kind, share_var, stage in [
    ('churn', 'churn_after_days', 'churn_gap_warn_share', 'churned'),
    ('dormant', 'dormant_after_days', 'dormant_gap_share', 'dormant'),
] %}
    {{ name }}_notes as (
        select
            '{{ name }}_threshold_short' as note_code,
            'warning' as severity,
            '{{ kind }}' as subject,
            concat(
                '{{ kind }} = ', cast(gaps.{{ kind }} as {{ text }}),
                ' is too short for the purchase rhythm of this shop: ',
                cast(cast(round(gaps.share_over_{{ kind }} * 100) as integer) as {{ text }}),
                '% of repeat purchases came more than ', cast(gaps.{{ kind }} as {{ text }}),
                ' days after the one before, so customers between two purchases are',
                ' counted as {{ stage }}. The rhythm suggests ',
                cast(gaps.suggested_{{ kind }} as {{ text }}),
                ' days; set var {{ kind }}, or lifecycle_thresholds: auto.'
            ) as message
        from gaps
        where gaps.is_{{ name }}_threshold_short
        union all
        select
            '{{ name }}_threshold_long' as note_code,
            'warning' as severity,
            '{{ kind }}' as subject,
            concat(
                '{{ kind }} = ', cast(gaps.{{ kind }} as {{ text }}),
                ' is too long for the purchase rhythm of this shop: ',
                cast(cast(round((1 - {{ var(share_var) }}) * 100) as integer) as {{ text }}),
                '% of repeat purchases came within ',
                cast(cast(ceil(thresholds.{{ name }}_gap_days) as integer) as {{ text }}),
                ' days of the one before, so customers who stopped buying long ago are still ',
                'counted as live. The rhythm suggests ',
                cast(gaps.suggested_{{ kind }} as {{ text }}),
                ' days; set var {{ kind }}, or lifecycle_thresholds: auto.'
            ) as message
        from gaps
        cross join thresholds
        where gaps.is_{{ name }}_threshold_long
    ),

{% endfor %}

auto_not_applied as (
    select
        'thresholds_auto_not_applied' as note_code,
        'info' as severity,
        'lifecycle_thresholds' as subject,
        concat(
            'lifecycle_thresholds: auto was asked for, but there are only ',
            {{ count_text('repeat_gaps') }}, ' gaps between repeat purchases (at least ',
            '{{ var("threshold_min_repeat_gaps") }} are needed): the vars dormant_after_days = ',
            cast(dormant_after_days as {{ text }}), ' and churn_after_days = ',
            cast(churn_after_days as {{ text }}), ' are used.'
        ) as message
    from thresholds
    where thresholds_requested = 'auto' and thresholds_source = 'vars'
),

after_as_of as (
    select
        'rows_after_as_of_date' as note_code,
        'info' as severity,
        source_table as subject,
        concat(
            {{ count_text('clean_rows_after_as_of_date') }}, ' of the ',
            {{ count_text('clean_rows') }}, ' clean rows of ', source_table,
            ' are dated after the as-of date ', cast(as_of_date as {{ text }}),
            ': read, and left out of every figure as of that date.'
        ) as message
    from reconciliation
    where clean_rows_after_as_of_date > 0
),

predictions_notes as (
    select
        'predictions_contradict_stages' as note_code,
        case
            when
                churned_in_conflict + dormant_in_conflict
                > {{ var('prediction_conflict_warn_share') }} * (churned_users + dormant_users)
                then 'warning'
            else 'info'
        end as severity,
        'is_prediction_in_conflict' as subject,
        concat(
            {{ count_text('churned_in_conflict') }}, ' of ', {{ count_text('churned_users') }},
            ' churned and ', {{ count_text('dormant_in_conflict') }}, ' of ',
            {{ count_text('dormant_users') }},
            ' dormant users are likely to buy or at low churn risk by the purchase model (',
            purchase_model, '): the lifecycle rules and the model disagree on them.',
            ' dim_users.is_prediction_in_conflict marks them; their action follows the stage.',
            ' Check the thresholds (rpt_purchase_gaps) and the model choice',
            ' (fct_customer_model_fits).'
        ) as message
    from conflicts
    where churned_in_conflict + dormant_in_conflict > 0
),

notes as (
    select * from partial_day
    union all
    select * from churn_notes
    union all
    select * from dormant_notes
    union all
    select * from auto_not_applied
    union all
    select * from after_as_of
    union all
    select * from predictions_notes
),

final as (
    select
        as_of.as_of_date,
        notes.note_code,
        notes.severity,
        notes.subject,
        notes.message
    from notes
    cross join as_of
)

select * from final
