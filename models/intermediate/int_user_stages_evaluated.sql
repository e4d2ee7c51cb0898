-- Each user's lifecycle stage on each of their change points (int_user_stage_change_points),
-- from the same metrics and the same rule (macro lifecycle_stage) as dim_users uses on D.

{%- set recent = var('engagement_recent_days') %}
{%- set baseline = var('engagement_baseline_days') %}
{#- The longest look-back any rule needs: activity older than this cannot change a stage. -#}
{%- set lookback = [
    var('loyal_window_days'),
    var('churn_after_days'),
    recent + baseline,
    var('return_window_days'),
] | max %}

with

points as (
    select * from {{ ref('int_user_stage_change_points') }}
),

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

first_seen as (
    select
        user_id,
        min(activity_date) as first_seen_date
    from user_days
    group by user_id
),

windowed as (
    select
        points.user_id,
        points.evaluated_on,
        user_days.activity_date,
        user_days.purchases,
        user_days.days_since_previous_activity
    from points
    left join user_days
        on
            points.user_id = user_days.user_id
            and points.evaluated_on >= user_days.activity_date
            and {{ days_before('points.evaluated_on', lookback) }} < user_days.activity_date
),

measured as (
    select
        user_id,
        evaluated_on,
        max(activity_date) as last_active_date,
        sum(
            case when {{ in_last_days('activity_date', recent, 'evaluated_on') }} then 1 else 0 end
        ) as active_days_recent,
        sum(
            case
                when
                    {{ in_last_days(
                        'activity_date', baseline, days_before('evaluated_on', recent)
                    ) }}
                    then 1
                else 0
            end
        ) as baseline_active_days,
        max(
            case
                when {{ in_last_days('activity_date', var('return_window_days'), 'evaluated_on') }}
                    then days_since_previous_activity
            end
        ) as last_gap_days,
        sum(
            case
                when {{ in_last_days('activity_date', var('loyal_window_days'), 'evaluated_on') }}
                    then purchases
                else 0
            end
        ) as loyalty_purchases
    from windowed
    group by user_id, evaluated_on
),

metrics as (
    select
        measured.user_id,
        measured.evaluated_on,
        -- No activity within the look-back means at least that many days inactive, which is
        -- past every inactivity threshold.
        coalesce(
            {{ days_between('measured.last_active_date', 'measured.evaluated_on') }}, {{ lookback }}
        ) as days_inactive,
        {{ days_between('first_seen.first_seen_date', 'measured.evaluated_on') }}
            as days_since_first_seen,
        measured.last_gap_days,
        {{ engagement_baseline('measured.baseline_active_days') }} as engagement_baseline,
        {{ engagement_ratio('measured.active_days_recent', 'measured.baseline_active_days') }}
            as engagement_ratio,
        measured.loyalty_purchases
    from measured
    inner join first_seen
        on measured.user_id = first_seen.user_id
),

final as (
    select
        user_id,
        evaluated_on,
        {{ lifecycle_stage() }} as lifecycle_stage
    from metrics
)

select * from final
