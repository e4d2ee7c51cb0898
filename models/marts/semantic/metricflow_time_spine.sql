-- One row per day from 2015-01-01 for about 27 years: the calendar the semantic layer joins
-- metrics to. Built from digits rather than an engine's series function, so it runs anywhere.

with

digits as (
    {% for digit in range(10) %}
        select {{ digit }} as n
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

day_numbers as (
    select thousands.n * 1000 + hundreds.n * 100 + tens.n * 10 + ones.n as day_number
    from digits as thousands
    cross join digits as hundreds
    cross join digits as tens
    cross join digits as ones
),

final as (
    select
        cast({{ dbt.dateadd('day', 'day_number', "cast('2015-01-01' as date)") }} as date)
            as date_day
    from day_numbers
)

select * from final
