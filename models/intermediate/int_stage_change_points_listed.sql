-- The days on which a user's lifecycle stage can change, up to D. Every rule looks at windows that
-- end on the evaluated day, so a stage can only change on a day when one of the user's activity
-- or purchase dates enters or leaves a window: the activity date itself and the days it crosses
-- each threshold (dormant, churned, out of the recent and baseline windows, out of the return
-- window), a purchase leaving the loyalty window, and the end of the new-user period. Evaluating
-- the rules on these days alone gives the full history without a user-by-calendar-day grid.

{%- set rules = lifecycle_rules() %}

{{ user_keyed_incremental_config(
    ['int_user_days_aggregated'], changed_from_column='evaluated_on'
) }}

{#- Incremental on DuckDB: the change points of the users whose activity changed, or who reach
    one of their change points since the last build's D, are listed again from the first day
    their activity changed (changed_from: D' + 1 for most), from their days that can reach it;
    their earlier points and every other user's are kept. -#}
{%- set plan = user_keyed_plan() %}
{#- The latest day after an activity day on which it can change a stage. -#}
{%- set reach = (rules.activity_offsets + [rules.purchase_offset]) | max %}

{{ changed_users_dependencies(stage_thresholds=true) }}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
    where {{ only_changed_users(plan) }}
),

-- The days whose offsets can fall on or after the user's first changed day.
reaching_days as (
    select activity_days.*
    from user_days as activity_days
    where {{ only_changed_rows(
        plan, 'activity_days.user_id', 'activity_days.activity_date', reach
    ) }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

activity_offsets as (
    {% for days in rules.activity_offsets %}
        select {{ days }} as offset_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

candidates as (
    select
        reaching_days.user_id,
        cast(
            {{ dbt.dateadd('day', 'activity_offsets.offset_days', 'reaching_days.activity_date') }}
            as date
        ) as evaluated_on
    from reaching_days
    cross join activity_offsets
    union all
    select
        user_id,
        cast({{ dbt.dateadd('day', rules.purchase_offset, 'activity_date') }} as date)
            as evaluated_on
    from reaching_days
    where purchases > 0
    union all
    select
        user_id,
        cast(
            {{ dbt.dateadd('day', rules.first_seen_offset, 'min(activity_date)') }} as date
        ) as evaluated_on
    from user_days
    group by user_id
),

final as (
    select distinct
        candidates.user_id,
        candidates.evaluated_on
    from candidates
    cross join as_of
    where
        candidates.evaluated_on <= as_of.as_of_date
        and {{ only_changed_rows(plan, 'candidates.user_id', 'candidates.evaluated_on') }}
)

select * from final
