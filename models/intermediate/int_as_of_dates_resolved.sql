-- The one date everything is computed as of: env STRATA_AS_OF_DATE when given (what
-- `strata run --as-of` sets), otherwise the last COMPLETE UTC day of the data. One row.
--
-- A day is complete when the data runs past the time of day by which, on the shop's own recent
-- days, nearly all of a day's activity has happened: the var complete_day_share (0.95) quantile
-- of the time of day of the clean orders and sessions of the var complete_day_lookback_days (28)
-- days before the latest one. Data that ends at 04:01 on a grocery's day, when 95% of a usual
-- day's baskets come later, leaves that day partial, and D is the day before: four hours must
-- not reshuffle the recency scores (docs/segments.md, "A partial last day"). A shop with too
-- little recent activity to tell (fewer than var complete_day_min_events orders and sessions in
-- those days: a furniture shop's few orders say nothing about the hour its day ends) has its
-- latest day counted complete. A given
-- D that is such a partial day is kept, flagged (is_as_of_day_partial) and named in the run's
-- warnings; its R scores are then taken against the day before (int_users_scored).
--
-- D travels in this one channel, like the raw folder (STRATA_RAW_DIR): inputs that pick the data
-- are environment variables, rules are vars. dbt re-parses the whole project whenever a var
-- changes, but only the files that read an environment variable when that variable changes, so a
-- daily run keeps dbt's parse cache. A var `as_of_date` is refused rather than silently ignored.

{%- if var('as_of_date', none) is not none %}
    {{ exceptions.raise_compiler_error(
        "the as-of date is not a var: set env STRATA_AS_OF_DATE=YYYY-MM-DD for dbt, or pass "
        ~ "--as-of to strata (docs/segments.md, section 8)"
    ) }}
{%- endif %}
{%- set share = var('complete_day_share') %}
{%- set lookback = var('complete_day_lookback_days') %}
{%- set min_events = var('complete_day_min_events') %}
{%- set given = env_var('STRATA_AS_OF_DATE', '') | trim or none %}
{%- if given is not none and not modules.re.match('^\d{4}-\d{2}-\d{2}$', given | string) %}
    {{ exceptions.raise_compiler_error(
        "env STRATA_AS_OF_DATE must be a date as YYYY-MM-DD, got '" ~ given ~ "'"
    ) }}
{%- endif %}

with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

events as (
    select
        ordered_date as event_date,
        ordered_at as event_at
    from orders
    union all
    select
        started_date as event_date,
        started_at as event_at
    from sessions
),

latest as (
    select
        max(event_date) as latest_activity_date,
        max(event_at) as latest_activity_at
    from events
),

-- Seconds after midnight (UTC) by which complete_day_share of a usual day's activity happened.
rhythm as (
    select
        {{ quantile_cont(
            'hour(events.event_at) * 3600 + minute(events.event_at) * 60'
            ~ ' + second(events.event_at)', share
        ) }} as day_complete_after_seconds,
        count(*) as recent_events
    from events
    cross join latest
    where
        events.event_date < latest.latest_activity_date
        and events.event_date >= {{ days_before('latest.latest_activity_date', lookback) }}
),

judged as (
    select
        latest.latest_activity_date,
        latest.latest_activity_at,
        case
            when rhythm.recent_events >= {{ min_events }} then rhythm.day_complete_after_seconds
        end as day_complete_after_seconds,
        rhythm.recent_events < {{ min_events }}
        or coalesce(
            hour(latest.latest_activity_at) * 3600 + minute(latest.latest_activity_at) * 60
            + second(latest.latest_activity_at)
            >= rhythm.day_complete_after_seconds,
            true
        ) as is_latest_day_complete
    from latest
    cross join rhythm
),

resolved as (
    select
        {% if given is not none -%}
            cast('{{ given }}' as date) as as_of_date,
        {%- else -%}
            case
                when is_latest_day_complete then latest_activity_date
                else {{ days_before('latest_activity_date', 1) }}
            end as as_of_date,
        {%- endif %}
        latest_activity_date,
        latest_activity_at,
        day_complete_after_seconds,
        is_latest_day_complete
    from judged
),

final as (
    select
        as_of_date,
        latest_activity_date,
        latest_activity_at,
        {{ 'true' if given is not none else 'false' }} as is_as_of_date_given,
        cast(day_complete_after_seconds as double) as day_complete_after_seconds,
        is_latest_day_complete,
        coalesce(as_of_date = latest_activity_date and not is_latest_day_complete, false)
            as is_as_of_day_partial,
        -- the day recency is scored against: the day before D when D is a partial day
        case
            when as_of_date = latest_activity_date and not is_latest_day_complete
                then {{ days_before('as_of_date', 1) }}
            else as_of_date
        end as recency_scored_on
    from resolved
)

select * from final
