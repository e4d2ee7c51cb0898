{#- Fails for every period between the first day with data and D that the model has no row for:
    a history that should have rows and has none (or has a gap) fails the build instead of
    passing silently. The first day is the first activity date (`since='activity'`) or the first
    purchase date (`since='purchase'`), from int_user_days_aggregated, and never before
    `not_before` (a date text, or none). Periods are weeks (Monday to Sunday) or months; the model
    lists each by its first day (`position='start'`: every period that has begun by D) or its last
    day (`position='end'`: every period that has ended by D). dbt's `where` config narrows the
    model's rows (one grain or segment type of a report). A returned row is a missing period. -#}
{% test covers_every_period(
    model, column_name, grain, since='activity', position='end', not_before=none
) %}
    {%- if grain not in ('week', 'month') %}
        {{ exceptions.raise_compiler_error("covers_every_period: grain must be week or month") }}
    {%- endif %}
    {#- A var rendered into the YAML arrives as text: 'None' is no bound. -#}
    {%- set not_before = none if (not_before | string) in ('', 'None', 'none') else not_before %}
    with

    user_days as (
        select * from {{ ref('int_user_days_aggregated') }}
    ),

    as_of as (
        select * from {{ ref('int_as_of_dates_resolved') }}
    ),

    bounds as (
        select
            cast({{ dbt.date_trunc(grain, 'min(user_days.activity_date)') }} as date)
                as first_period_start,
            max(as_of.as_of_date) as as_of_date
        from user_days
        cross join as_of
        {% if since == 'purchase' -%}
            where user_days.purchases > 0
        {%- endif %}
        {% if not_before is not none -%}
            {{ 'and' if since == 'purchase' else 'where' }}
            user_days.activity_date >= cast('{{ not_before }}' as date)
        {%- endif %}
    ),

    period_starts as (
        {{ date_series('bounds', 'first_period_start', 'as_of_date', grain, 'period_start') }}
    ),

    expected as (
        select
            {% if position == 'start' -%}
                period_starts.period_start as period_date
            {%- else -%}
                {{ period_end(grain, 'period_starts.period_start') }} as period_date
            {%- endif %}
        from period_starts
        cross join as_of
        {% if position == 'end' -%}
            where {{ period_end(grain, 'period_starts.period_start') }} <= as_of.as_of_date
        {%- endif %}
    ),

    present as (
        select distinct {{ column_name }} as period_date
        from {{ model }}
    )

    select expected.period_date as missing_period
    from expected
    left join present
        on expected.period_date = present.period_date
    where present.period_date is null
{% endtest %}
