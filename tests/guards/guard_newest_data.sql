-- Guard: in a schedule of builds, the data may not fall further behind D than var
-- guard_max_days_without_data (default 3) days and than the last published build did, and its
-- newest day may not be older than the published build's (a delivery that lost its recent days).
-- A build for D whose feed stopped a week earlier would present last week's picture as D's. It
-- applies once a build has been published (env STRATA_GUARD_BASELINE): a first build has nothing
-- to protect, and a data set that simply ends before D (a look at its history) stays as far
-- behind as its first publication was. A build without an explicit as-of date takes D from the
-- data, and the freshness check (against the clock) covers it. A returned row says how far behind.
{{ config(severity=guard_severity(), store_failures=true, tags=['guard']) }}
{%- set baseline = guard_baseline() %}
{%- set published_gap = none %}
{%- if baseline.get('as_of_date') and baseline.get('newest_data_date') %}
    {%- set published_gap = (
        modules.datetime.date.fromisoformat(baseline.as_of_date)
        - modules.datetime.date.fromisoformat(baseline.newest_data_date)
    ).days %}
{%- endif %}

with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
)

select
    {{ guard_row(
        'days without data before the as-of date',
        "'all sources'",
        days_between('latest_activity_date', 'as_of_date'),
        var('guard_max_days_without_data'),
        'null',
        "concat('newest clean data on ', coalesce(cast(latest_activity_date as "
            ~ dbt.type_string() ~ "), 'no day'), ', published build''s newest on ', "
            ~ strata_quote_literal(baseline.get('newest_data_date') or 'no day') ~ ")"
    ) }}
from as_of
where
    {% if baseline.get('as_of_date') -%}
        as_of_date >= cast({{ strata_quote_literal(baseline.as_of_date) }} as date)
        and (
            latest_activity_date is null
            or (
                {{ days_between('latest_activity_date', 'as_of_date') }}
                > {{ var('guard_max_days_without_data') }}
                {% if published_gap is not none -%}
                    and {{ days_between('latest_activity_date', 'as_of_date') }}
                    > {{ published_gap }}
                {%- endif %}
            )
            {% if baseline.get('newest_data_date') -%}
                or latest_activity_date
                < cast({{ strata_quote_literal(baseline.newest_data_date) }} as date)
            {%- endif %}
        )
    {%- else -%}
        1 = 0
    {%- endif %}
