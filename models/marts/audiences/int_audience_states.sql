-- One row per user and evaluation day (int_audience_calendar) with what the audience rules read
-- (var audiences, compiled by macros/audiences): the dim_users columns a rule names, and the
-- behaviour windows (var-free: each rule names its metric and days) as sums over the user's
-- days up to the evaluation day. On D every column comes from dim_users. On an earlier day only
-- the columns known as of that day are filled: the lifecycle stage from the stage history, the
-- RFM columns from that day's RFM snapshot (a user with no purchase by then is a prospect), and
-- the behaviour windows; an audience reading another column is evaluated on D alone, and
-- strata.audiences.definitions.HISTORICAL_COLUMNS names the same list.

-- Downstream of the marts it reads (dim_users, the stage history, the RFM snapshots), so it
-- lives beside the audience marts; built into the intermediate schema, never published.
{{ config(schema='intermediate', access='protected') }}

-- Every input a rule may read is a parent whatever the definitions, so that the graph (and the
-- inputs of this model's unit tests) does not change with them:
-- depends_on: {{ ref('fct_user_rfm_snapshots') }}
-- depends_on: {{ ref('fct_user_lifecycle_history') }}
-- depends_on: {{ ref('int_user_days_aggregated') }}

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
} %}
{%- set max_days = inputs.behaviours | map(attribute='days') | max if inputs.behaviours else 0 %}
{%- set reads_snapshots = inputs.columns | select('in', historical)
    | reject('equalto', 'lifecycle_stage') | list | length > 0 %}
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
    where not calendar.is_as_of_date
),

states as (
    select * from current_states
    union all
    select * from past_states
)

{%- if inputs.behaviours %},

-- Every behaviour window a rule names, for every evaluation day, from the user's days in it.
behaviour as (
    select
        user_days.user_id,
        calendar.evaluated_on
        {%- for window in inputs.behaviours if window.metric != 'average_order_value' %},
            sum(
                case
                    when user_days.activity_date > cast({{ dbt.dateadd(
                        'day', -1 * window.days, 'calendar.evaluated_on'
                    ) }} as date)
                        then {{ behaviour_day_value(window.metric, 'user_days') }}
                    else 0
                end
            ) as {{ window.column }}
        {%- endfor %}
        {%- for window in inputs.behaviours if window.metric == 'average_order_value' %},
            sum(
                case
                    when user_days.activity_date > cast({{ dbt.dateadd(
                        'day', -1 * window.days, 'calendar.evaluated_on'
                    ) }} as date)
                        then cast(user_days.revenue as double)
                    else 0
                end
            ) / nullif(sum(
                case
                    when user_days.activity_date > cast({{ dbt.dateadd(
                        'day', -1 * window.days, 'calendar.evaluated_on'
                    ) }} as date)
                        then user_days.purchases
                    else 0
                end
            ), 0) as {{ window.column }}
        {%- endfor %}
    from calendar
    inner join user_days
        on
            user_days.activity_date <= calendar.evaluated_on
            and user_days.activity_date > cast({{ dbt.dateadd(
                'day', -1 * max_days, 'calendar.evaluated_on'
            ) }} as date)
    group by user_days.user_id, calendar.evaluated_on
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
