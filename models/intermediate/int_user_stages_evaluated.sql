-- Each user's lifecycle stage on each of their change points (int_stage_change_points_listed),
-- from the same metrics and the same rule (macro lifecycle_stage) as dim_users uses on D.

{%- set recent = var('engagement_recent_days') %}
{%- set baseline = var('engagement_baseline_days') %}
{#- The longest look-back any rule needs: activity older than this cannot change a stage. -#}
{%- set lookback = lifecycle_rules().lookback_days %}

{{ user_keyed_incremental_config(
    ['int_user_days_aggregated', 'int_stage_change_points_listed'],
    changed_from_column='evaluated_on',
) }}

{#- Incremental on DuckDB: the stages of the users whose change points were listed again are
    evaluated again on their points from the first day their activity changed (changed_from:
    D' + 1 for most), from their activity days in the look-back before it; their earlier stages
    and every other user's are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies(stage_thresholds=true) }}

with

points as (
    select points.*
    from {{ ref('int_stage_change_points_listed') }} as points
    where {{ only_changed_rows(plan, 'points.user_id', 'points.evaluated_on') }}
),

all_user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
    where {{ only_changed_users(plan) }}
),

-- The days any rule can see from the points evaluated: older ones change nothing.
user_days as (
    select activity_days.*
    from all_user_days as activity_days
    where {{ only_changed_rows(
        plan, 'activity_days.user_id', 'activity_days.activity_date', lookback
    ) }}
),

first_seen as (
    select
        user_id,
        min(activity_date) as first_seen_date
    from all_user_days
    group by user_id
),

-- Activity days and change points in one stream per user. Every rule counts activity in a window
-- of days ending on (or before) the evaluated day, so each is a window function over a range of
-- day numbers: one sort per user instead of joining every change point to every activity day in
-- its look-back (which grew with points x active days).
events as (
    select
        user_id,
        activity_date as event_date,
        1 as is_activity,
        0 as is_point,
        coalesce(purchases, 0) as purchases,
        days_since_previous_activity
    from user_days
    union all
    select
        user_id,
        evaluated_on as event_date,
        0 as is_activity,
        1 as is_point,
        0 as purchases,
        cast(null as integer) as days_since_previous_activity
    from points
),

numbered as (
    select
        *,
        {{ days_between("cast('1970-01-01' as date)", 'event_date') }} as day_number
    from events
),

measured as (
    select
        user_id,
        event_date as evaluated_on,
        is_point,
        max(case when is_activity = 1 then event_date end) {{ days_window_over(lookback) }}
            as last_active_date,
        sum(is_activity) {{ days_window_over(recent) }} as active_days_recent,
        sum(is_activity) {{ days_window_over(baseline, recent) }} as baseline_active_days,
        max(
            case when is_activity = 1 then days_since_previous_activity end
        ) {{ days_window_over(var('return_window_days')) }} as last_gap_days,
        sum(purchases) {{ days_window_over(var('loyal_window_days')) }} as loyalty_purchases
    from numbered
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
        {{ engagement_baseline('coalesce(measured.baseline_active_days, 0)') }}
            as engagement_baseline,
        {{ engagement_ratio(
            'coalesce(measured.active_days_recent, 0)',
            'coalesce(measured.baseline_active_days, 0)'
        ) }} as engagement_ratio,
        coalesce(measured.loyalty_purchases, 0) as loyalty_purchases
    from measured
    inner join first_seen
        on measured.user_id = first_seen.user_id
    where measured.is_point = 1
),

final as (
    select
        user_id,
        evaluated_on,
        {{ lifecycle_stage() }} as lifecycle_stage
    from metrics
)

select * from final
