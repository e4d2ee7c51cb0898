-- Guard: users active in the last 30 days may fall by at most var guard_max_active_users_drop
-- (default 50%) and grow by at most var guard_max_active_users_growth (default 100%) against the
-- last published build (env STRATA_GUARD_BASELINE). Half the audience vanishing overnight is a
-- feed that lost a platform, not a business that lost half its users. Skipped for a build as of
-- an earlier date than the published one, and without a publication to compare with.
{{ config(severity=guard_severity(), store_failures=true, tags=['guard']) }}
{%- set baseline = guard_baseline() %}

with

users as (
    select * from {{ ref('dim_users') }}
),

current_audience as (
    select
        max(as_of_date) as as_of_date,
        sum(case when active_days_30d > 0 then 1 else 0 end) as active_users
    from users
)

select
    {{ guard_row(
        'users active in the last 30 days against the last published build',
        "'all sources'",
        'current_audience.active_users',
        'case when current_audience.active_users < ' ~ (baseline.get('active_users', 0) | int)
            ~ ' then ' ~ (1 - var('guard_max_active_users_drop')) ~ ' else '
            ~ (1 + var('guard_max_active_users_growth')) ~ ' end * '
            ~ (baseline.get('active_users', 0) | int),
        baseline.get('active_users', 0) | int,
        "concat('published build as of ', " ~ strata_quote_literal(baseline.get('as_of_date', ''))
            ~ ")"
    ) }}
from current_audience
where
    {% if baseline.get('as_of_date') and baseline.get('active_users') is not none -%}
        current_audience.as_of_date >= cast({{ strata_quote_literal(baseline.as_of_date) }} as date)
        and (
            current_audience.active_users
            < {{ baseline.active_users | int }} * {{ 1 - var('guard_max_active_users_drop') }}
            or current_audience.active_users
            > {{ baseline.active_users | int }} * {{ 1 + var('guard_max_active_users_growth') }}
        )
    {%- else -%}
        1 = 0
    {%- endif %}
