-- The moment M the triggers are computed for (one row), and the window of time they keep.
--
-- M travels in env STRATA_TRIGGER_AS_OF (an ISO timestamp in UTC), like D in STRATA_AS_OF_DATE:
-- an input that picks the data is an environment variable, so a new M every fifteen minutes
-- keeps dbt's parse cache. `strata run --intraday` sets it to the newest delivery it read.
-- Without it, M is the newest delivery of the raw files (their `loaded_at=` marker or
-- modification time) that is not after the build's start (a marker in the future waits), or the
-- build's start when the raw input cannot be listed as files.
--
-- Spells that ended before M minus var trigger_lookback_days (30) are not kept.

{%- set given = env_var('STRATA_TRIGGER_AS_OF', '') | trim or none %}
{%- if given is not none and not modules.re.match(
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?Z?$', given) %}
    {{ exceptions.raise_compiler_error(
        "env STRATA_TRIGGER_AS_OF must be a UTC timestamp as YYYY-MM-DDTHH:MM[:SS], got '"
        ~ given ~ "'"
    ) }}
{%- endif %}
{%- set windows = trigger_windows() %}

with

deliveries as (
    select delivered_at from {{ source('shop', 'orders__deliveries') }}
    union all
    select delivered_at from {{ source('shop', 'sessions__deliveries') }}
),

daily as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

newest as (
    select max(delivered_at) as newest_delivered_at
    from deliveries
    where delivered_at <= {{ build_started_at_literal() }}
),

resolved as (
    select
        {% if given is not none -%}
            cast({{ strata_quote_literal(given | replace('T', ' ') | replace('Z', '')) }}
                as {{ dbt.type_timestamp() }})
        {%- else -%}
            coalesce(newest.newest_delivered_at, {{ build_started_at_literal() }})
        {%- endif %} as trigger_as_of,
        {{ 'true' if given is not none else 'false' }} as is_trigger_as_of_given,
        daily.as_of_date as daily_as_of_date
    from newest
    cross join daily
),

final as (
    select
        trigger_as_of,
        is_trigger_as_of_given,
        daily_as_of_date,
        {{ add_seconds('trigger_as_of', -windows.lookback) }} as lookback_start,
        {{ add_seconds('trigger_as_of', -(windows.lookback + windows.read_margin)) }} as read_from
    from resolved
)

select * from final
