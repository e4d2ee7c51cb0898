-- The one date everything is computed as of: var `as_of_date` when given, otherwise the latest UTC
-- date with a clean order or session. One row.
--
-- The strata CLI passes its --as-of through env STRATA_AS_OF_DATE instead of --vars: dbt re-parses
-- the whole project whenever a var changes, but only the files that read an environment variable
-- when that variable changes, so a daily run keeps dbt's parse cache. The var wins when both are
-- set.

{%- set given = var('as_of_date', none) or (env_var('STRATA_AS_OF_DATE', '') | trim) or none %}
{%- if given is not none and not modules.re.match('^\d{4}-\d{2}-\d{2}$', given | string) %}
    {{ exceptions.raise_compiler_error(
        "var as_of_date must be a date as YYYY-MM-DD, got '" ~ given ~ "'"
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
