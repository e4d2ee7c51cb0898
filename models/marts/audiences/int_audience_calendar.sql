-- The days audiences are evaluated on: D, and the ends of the last var audience_history_periods
-- periods of var rfm_snapshot_grain before it (the days fct_user_rfm_snapshots scores every buyer
-- on), so that an audience's history is computed from the data as of each day, like a fresh
-- build, whatever the sequence of runs. Numbered in date order, each with the day before it.

-- Downstream of the marts it reads (dim_users, the stage history, the RFM snapshots), so it
-- lives beside the audience marts; built into the intermediate schema, never published.
{{ config(schema='intermediate', access='protected') }}

{%- set grain = var('rfm_snapshot_grain') %}
{%- set periods = var('audience_history_periods') %}
{%- if periods is not number or periods < 0 %}
    {{ exceptions.raise_compiler_error(
        "var audience_history_periods must be a whole number of periods (0 or more), got '"
        ~ periods ~ "'"
    ) }}
{%- endif %}

with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

snapshots as (
    select * from {{ ref('fct_user_rfm_snapshots') }}
),

days as (
    select
        as_of_date as evaluated_on,
        true as is_as_of_date
    from as_of
    union all
    select distinct
        snapshots.snapshot_date as evaluated_on,
        false as is_as_of_date
    from snapshots
    cross join as_of
    where
        snapshots.snapshot_date < as_of.as_of_date
        and snapshots.snapshot_date
        >= cast({{ dbt.dateadd(grain, -1 * (periods | int), 'as_of.as_of_date') }} as date)
),

final as (
    select
        evaluated_on,
        is_as_of_date,
        cast(row_number() over (order by evaluated_on asc) as integer) as point_number,
        lag(evaluated_on) over (order by evaluated_on asc) as previous_on
    from days
)

select * from final
