-- One row per day from var min_event_date (the earliest date any row may carry, default
-- 1980-01-01) to a year after D: the calendar the semantic layer joins metrics to. It covers
-- every date the data can hold, whatever its range.

with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

bounds as (
    select
        cast({{ strata_quote_literal(var("min_event_date")) }} as date) as first_day,
        cast({{ dbt.dateadd('day', 366, 'as_of_date') }} as date) as last_day
    from as_of
),

days as (
    {{ date_series('bounds', 'first_day', 'last_day', 'day', 'date_day') }}
),

final as (
    select date_day from days
)

select * from final
