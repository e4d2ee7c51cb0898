-- The one date everything is computed as of: env STRATA_AS_OF_DATE when given (what
-- `strata run --as-of` sets), otherwise the latest UTC date with a clean order or session. One row.
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

latest_dates as (
    select max(ordered_date) as latest_date from orders
    union all
    select max(started_date) as latest_date from sessions
),

latest as (
    select max(latest_date) as latest_activity_date
    from latest_dates
),

final as (
    select
        {% if given is not none -%}
            cast('{{ given }}' as date) as as_of_date,
        {%- else -%}
            latest_activity_date as as_of_date,
        {%- endif %}
        latest_activity_date,
        {{ 'true' if given is not none else 'false' }} as is_as_of_date_given
    from latest
)

select * from final
