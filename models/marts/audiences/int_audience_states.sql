-- One row per user and evaluation day (int_audience_calendar) with what the audience rules read
-- (var audiences, compiled by macros/audiences): the dim_users columns a rule names, and the
-- behaviour windows (var-free: each rule names its metric and days) as sums over the user's
-- days up to the evaluation day. On D every column comes from dim_users. On an earlier day only
-- the columns known as of that day are filled: the lifecycle stage from the stage history, the
-- RFM columns from that day's RFM snapshot (a user with no purchase by then is a prospect), the
-- platform of the latest session by then, and the behaviour windows; an audience reading another
-- column is evaluated on D alone, and strata.audiences.definitions.HISTORICAL_COLUMNS names the
-- same list.

-- Downstream of the marts it reads (dim_users, the stage history, the RFM snapshots), so it
-- lives beside the audience marts; in the intermediate schema, never published. On DuckDB a view:
-- the one model that reads it (int_audience_members_evaluated) computes it in the same pass,
-- instead of writing and reading a row per user and evaluation day. On Spark a table: the Hive
-- metastore cannot hold a view's text this long (it stops at 32,700 characters).
{{ config(
    schema='intermediate', access='protected',
    materialized='view' if target.type == 'duckdb' else 'table'
) }}

-- Every input a rule may read is a parent whatever the definitions, so that the graph (and the
-- inputs of this model's unit tests) does not change with them:
-- depends_on: {{ ref('fct_user_rfm_snapshots') }}
-- depends_on: {{ ref('fct_user_lifecycle_history') }}
-- depends_on: {{ ref('int_user_days_aggregated') }}
-- depends_on: {{ ref('stg_shop__sessions') }}

{%- set definitions = audience_definitions() %}
{%- set inputs = audience_inputs(definitions) %}
{%- set historical = {
    'lifecycle_stage': 'stages.lifecycle_stage',
    'recency_days': 'snapshots.recency_days',
    'frequency': 'coalesce(snapshots.frequency, 0)',
    'monetary': 'coalesce(snapshots.monetary, 0)',
    'r_score': 'snapshots.r_score',
    'f_score': 'snapshots.f_score',
    'm_score': 'snapshots.m_score',
    'rfm_segment': "coalesce(snapshots.rfm_segment, 'prospect')",
    'rfm_class': 'snapshots.rfm_class',
    'value_tier': "coalesce(snapshots.value_tier, 'none')",
    'monetary_decile': 'snapshots.monetary_decile',
    'last_platform': "coalesce(platforms.last_platform, 'none')",
} %}
{%- set grain = var('rfm_snapshot_grain') %}
{%- set max_days = inputs.behaviours | map(attribute='days') | max if inputs.behaviours else 0 %}
{#- The sums the behaviour windows need (an average order value needs two), and the days. -#}
{%- set window_sums = [] %}
{%- for window in inputs.behaviours %}
    {%- if window.metric == 'average_order_value' %}
        {%- do window_sums.append({'column': window.column ~ '__revenue', 'days': window.days,
            'value': 'cast(user_days.revenue as double)'}) %}
        {%- do window_sums.append({'column': window.column ~ '__purchases', 'days': window.days,
            'value': 'user_days.purchases'}) %}
    {%- else %}
        {%- do window_sums.append({'column': window.column, 'days': window.days,
            'value': behaviour_day_value(window.metric, 'user_days')}) %}
    {%- endif %}
{%- endfor %}
{%- set window_days = window_sums | map(attribute='days') | unique | list %}
{%- set points_max = (var('audience_history_periods') | int) + 1 if inputs.history else 1 %}
{%- set reads_snapshots = inputs.columns | select('in', historical)
    | reject('in', ['lifecycle_stage', 'last_platform']) | list | length > 0 %}
{%- set reads_platforms = 'last_platform' in inputs.columns %}
{%- set reads_stages = 'lifecycle_stage' in inputs.columns %}

with

calendar as (
    select * from {{ ref('int_audience_calendar') }}
    where {{ 'true' if inputs.history else 'is_as_of_date' }}
),

users as (
    select * from {{ ref('dim_users') }}
),

{%- if reads_snapshots %}

snapshots as (
    select * from {{ ref('fct_user_rfm_snapshots') }}
),
{%- endif %}
{%- if reads_stages %}

spells as (
    select * from {{ ref('fct_user_lifecycle_history') }}
),

-- The stage of every user on every earlier evaluation day: the spell that covers the day (joined
-- to the few days first, so that the users are then matched by equality alone).
stages as (
    select
        spells.user_id,
        calendar.evaluated_on,
        spells.lifecycle_stage
    from calendar
    inner join spells
        on
            calendar.evaluated_on >= spells.valid_from
            and calendar.evaluated_on <= coalesce(spells.valid_to, calendar.evaluated_on)
    where not calendar.is_as_of_date
),
{%- endif %}
{%- if reads_platforms %}

sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

-- The platform of each user's latest session on or before every earlier evaluation day, as
-- dim_users.last_platform is on D. The earlier days are period ends (var rfm_snapshot_grain), so
-- each session's period end is arithmetic, not a join (the periods before the first earlier day
-- count as that day's); the latest session of each user and period is found with two
-- aggregations (ties: the larger session_id), and a day takes the latest period on or before it
-- that has one.
past_range as (
    select
        min(evaluated_on) as first_on,
        max(evaluated_on) as last_on
    from calendar
    where not is_as_of_date
),

sessions_placed as (
    select
        sessions.user_id,
        sessions.started_at,
        sessions.session_id,
        sessions.platform,
        greatest(
            cast({{ dbt.dateadd(
                'day', -1,
                dbt.dateadd(grain, 1, dbt.date_trunc(grain, 'sessions.started_date'))
            ) }} as date),
            past_range.first_on
        ) as period_end
    from sessions
    cross join past_range
    where sessions.started_date <= past_range.last_on
),

period_latest as (
    select
        user_id,
        period_end,
        max(started_at) as started_at
    from sessions_placed
    group by user_id, period_end
),

period_platforms as (
    select
        sessions_placed.user_id,
        sessions_placed.period_end,
        max(sessions_placed.session_id) as session_id
    from sessions_placed
    inner join period_latest
        on
            sessions_placed.user_id = period_latest.user_id
            and sessions_placed.period_end = period_latest.period_end
            and sessions_placed.started_at = period_latest.started_at
    group by sessions_placed.user_id, sessions_placed.period_end
),

platform_intervals as (
    select
        period_platforms.user_id,
        calendar.evaluated_on,
        sessions_placed.platform,
        row_number() over (
            partition by period_platforms.user_id, calendar.evaluated_on
            order by period_platforms.period_end desc
        ) as interval_rank
    from period_platforms
    inner join sessions_placed
        on
            period_platforms.user_id = sessions_placed.user_id
            and period_platforms.period_end = sessions_placed.period_end
            and period_platforms.session_id = sessions_placed.session_id
    inner join calendar
        on period_platforms.period_end <= calendar.evaluated_on
    where not calendar.is_as_of_date
),

platforms as (
    select
        user_id,
        evaluated_on,
        platform as last_platform
    from platform_intervals
    where interval_rank = 1
),
{%- endif %}
{%- if inputs.behaviours %}

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),
{%- endif %}

current_states as (
    select
        {% for column in inputs.columns -%}
            users.{{ column }},
        {% endfor -%}
        users.user_id,
        calendar.evaluated_on,
        calendar.is_as_of_date
    from users
    cross join calendar
    where calendar.is_as_of_date
),

past_states as (
    select
        {% for column in inputs.columns -%}
            {% if column in historical -%}
                {{ historical[column] }}
            {%- else -%}
                case when false then users.{{ column }} end
            {%- endif %} as {{ column }},
        {% endfor -%}
        users.user_id,
        calendar.evaluated_on,
        calendar.is_as_of_date
    from calendar
    inner join users
        on calendar.evaluated_on >= users.first_seen_date
    {%- if reads_snapshots %}
    left join snapshots
        on
            users.user_id = snapshots.user_id
            and calendar.evaluated_on = snapshots.snapshot_date
    {%- endif %}
    {%- if reads_stages %}
    left join stages
        on
            users.user_id = stages.user_id
            and calendar.evaluated_on = stages.evaluated_on
    {%- endif %}
    {%- if reads_platforms %}
    left join platforms
        on
            users.user_id = platforms.user_id
            and calendar.evaluated_on = platforms.evaluated_on
    {%- endif %}
    where not calendar.is_as_of_date
),

states as (
    select * from current_states
    union all
    select * from past_states
)

{%- if inputs.behaviours %},

-- Every behaviour window a rule names, for every evaluation day, from the user's days in it:
-- the evaluation days are laid out as the columns of one row (there are at most var
-- audience_history_periods + 1), so that one pass over the user days sums every window of
-- every day, without joining each day to every day (a year's window over seven days would
-- multiply the rows seven times); the sums are then turned back into a row per day.
points as (
    select
        {% for k in range(points_max) -%}
            max(case when point_rank = {{ k }} then evaluated_on end) as on_{{ k }},
            {% for days in window_days -%}
                cast({{ dbt.dateadd(
                    'day', -1 * days,
                    "coalesce(max(case when point_rank = " ~ k ~ " then evaluated_on end), "
                    ~ "cast('1900-01-01' as date))"
                ) }} as date) as after_{{ k }}_{{ days }},
            {% endfor -%}
        {% endfor -%}
        cast({{ dbt.dateadd('day', -1 * max_days, 'min(evaluated_on)') }} as date)
            as earliest_after
    from (
        select
            evaluated_on,
            row_number() over (order by evaluated_on desc) - 1 as point_rank
        from calendar
    ) as ranked
),

behaviour_wide as (
    select
        {% for k in range(points_max) -%}
            {% for window in window_sums -%}
                sum(
                    case
                        when
                            user_days.activity_date <= points.on_{{ k }}
                            and user_days.activity_date > points.after_{{ k }}_{{ window.days }}
                            then {{ window.value }}
                        else 0
                    end
                ) as p{{ k }}__{{ window.column }},
            {% endfor -%}
        {% endfor -%}
        user_days.user_id
    from user_days
    cross join points
    where user_days.activity_date > points.earliest_after
    group by user_days.user_id
),

behaviour as (
    {% for k in range(points_max) -%}
        select
            {% for window in inputs.behaviours -%}
                {% if window.metric == 'average_order_value' -%}
                    p{{ k }}__{{ window.column }}__revenue
                    / nullif(p{{ k }}__{{ window.column }}__purchases, 0)
                {%- else -%}
                    p{{ k }}__{{ window.column }}
                {%- endif %} as {{ window.column }},
            {% endfor -%}
            behaviour_wide.user_id,
            points.on_{{ k }} as evaluated_on
        from behaviour_wide
        cross join points
        where points.on_{{ k }} is not null
        {% if not loop.last -%}
            union all
        {% endif -%}
    {% endfor -%}
)
{%- endif %}

select
    {% for column in inputs.columns -%}
        states.{{ column }},
    {% endfor -%}
    {% for window in inputs.behaviours -%}
        {% if window.metric == 'average_order_value' -%}
            behaviour.{{ window.column }}
        {%- else -%}
            coalesce(behaviour.{{ window.column }}, 0)
        {%- endif %} as {{ window.column }},
    {% endfor -%}
    states.user_id,
    states.evaluated_on,
    states.is_as_of_date
from states
{% if inputs.behaviours -%}
    left join behaviour
        on
            states.user_id = behaviour.user_id
            and states.evaluated_on = behaviour.evaluated_on
{% endif -%}
