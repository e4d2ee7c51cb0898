{#- One row per date from `start_column` to `end_column` (inclusive) in steps of one `step` (day,
    week or month), for every row of `bounds` (a relation or CTE name), as a complete select
    statement with the dates in column `alias`. Rows whose bounds are null or reversed give no
    dates. The series is generated from the data's own bounds, so a calendar never runs out:
    history spans the data whatever its dates. -#}
{% macro date_series(bounds, start_column, end_column, step='day', alias='series_date') %}
    {% if step not in ('day', 'week', 'month') %}
        {{ exceptions.raise_compiler_error("date_series: step must be day, week or month") }}
    {% endif %}
    {{ return(adapter.dispatch('date_series', 'strata')(
        bounds, start_column, end_column, step, alias
    )) }}
{% endmacro %}

{% macro default__date_series(bounds, start_column, end_column, step, alias) -%}
    {%- set interval = 'interval 7 day' if step == 'week' else 'interval 1 ' ~ step -%}
    select cast(generated as date) as {{ alias }}
    from (
        select explode(sequence(
            cast({{ start_column }} as date), cast({{ end_column }} as date), {{ interval }}
        )) as generated
        from {{ bounds }}
        where
            {{ start_column }} is not null
            and {{ end_column }} is not null
            and {{ start_column }} <= {{ end_column }}
    ) as series
{%- endmacro %}

{% macro duckdb__date_series(bounds, start_column, end_column, step, alias) -%}
    {%- set interval = 'interval 7 day' if step == 'week' else 'interval 1 ' ~ step -%}
    select cast(generated as date) as {{ alias }}
    from (
        select unnest(generate_series(
            cast({{ start_column }} as timestamp),
            cast({{ end_column }} as timestamp),
            {{ interval }}
        )) as generated
        from {{ bounds }}
        where
            {{ start_column }} is not null
            and {{ end_column }} is not null
            and {{ start_column }} <= {{ end_column }}
    ) as series
{%- endmacro %}
