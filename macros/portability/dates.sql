{#- `date_expr` minus `days` days, as a date, on every engine. -#}
{% macro days_before(date_expr, days) -%}
    cast({{ dbt.dateadd('day', -1 * days, date_expr) }} as date)
{%- endmacro %}


{#- True when `date_expr` falls in the `days` calendar days ending on `as_of_expr`, inclusive:
    as_of - days < date <= as_of. -#}
{% macro in_last_days(date_expr, days, as_of_expr='as_of_date') -%}
    ({{ date_expr }} > {{ days_before(as_of_expr, days) }} and {{ date_expr }} <= {{ as_of_expr }})
{%- endmacro %}


{#- The median of a numeric expression (the mean of the middle two for an even count). -#}
{% macro median(expression) %}
    {{ return(adapter.dispatch('median', 'strata')(expression)) }}
{% endmacro %}

{% macro default__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}


{#- Whole calendar days from date `start` to date `end` (negative when `end` is earlier). -#}
{% macro days_between(start, end) %}
    {{ return(adapter.dispatch('days_between', 'strata')(start, end)) }}
{% endmacro %}

{% macro default__days_between(start, end) -%}
    datediff({{ end }}, {{ start }})
{%- endmacro %}

{% macro duckdb__days_between(start, end) -%}
    date_diff('day', {{ start }}, {{ end }})
{%- endmacro %}


{#- The last day of the `grain` (week: Monday to Sunday, or month) that contains `date_expr`. -#}
{% macro period_end(grain, date_expr) -%}
    cast(
        {{ dbt.dateadd('day', -1, dbt.dateadd(grain, 1, dbt.date_trunc(grain, date_expr))) }}
        as date
    )
{%- endmacro %}


{#- A window over the `days` calendar days ending `end_offset` days before each row's day, per
    user: the window-function form of in_last_days(date, days, day - end_offset). Rows must carry
    `day_number` (whole days since an epoch) and `user_id`. Rows of the same day are peers, so a
    day's own activity counts in a window ending on it. An empty frame gives null to sum(). -#}
{% macro days_window_over(days, end_offset=0) -%}
    over (
        partition by user_id
        order by day_number asc nulls last
        range between {{ days + end_offset - 1 }} preceding and
        {{ end_offset ~ ' preceding' if end_offset else 'current row' }}
    )
{%- endmacro %}


{#- The sum of `value` over the rows whose `date_column` falls in the `days` calendar days ending
    on `as_of_expr` (in_last_days); over every row when `days` is none (a var set to null means
    "all history"). The one spelling of the windowed sums of int_users_measured and the RFM
    snapshots. -#}
{% macro windowed_sum(value, date_column, days, as_of_expr='as_of_date') -%}
    {%- if days is none -%}
        sum({{ value }})
    {%- else -%}
        sum(case when {{ in_last_days(date_column, days, as_of_expr) }} then {{ value }} else 0 end)
    {%- endif -%}
{%- endmacro %}


{#- The `fraction` quantile (0-1) of a numeric expression, interpolated linearly between the two
    nearest values (the same definition on every engine). -#}
{% macro quantile_cont(expression, fraction) %}
    {{ return(adapter.dispatch('quantile_cont', 'strata')(expression, fraction)) }}
{% endmacro %}

{% macro default__quantile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro duckdb__quantile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}


{#- A number of seconds after midnight as the text HH:MM (whole minutes, rounded down). -#}
{% macro seconds_as_time_text(seconds) -%}
    concat(
        lpad(cast(cast(floor(({{ seconds }}) / 3600) as integer) as {{ dbt.type_string() }}), 2, '0'),
        ':',
        lpad(
            cast(cast(floor(({{ seconds }}) % 3600 / 60) as integer) as {{ dbt.type_string() }}),
            2, '0'
        )
    )
{%- endmacro %}


{#- The time of day of a timestamp as the text HH:MM. -#}
{% macro time_of_day_text(timestamp) -%}
    {{ seconds_as_time_text(
        'hour(' ~ timestamp ~ ') * 3600 + minute(' ~ timestamp ~ ') * 60 + second('
        ~ timestamp ~ ')'
    ) }}
{%- endmacro %}


{#- A whole number as text with thousands separators (14,846), as the run summary prints it. -#}
{% macro count_text(expression) %}
    {{ return(adapter.dispatch('count_text', 'strata')(expression)) }}
{% endmacro %}

{% macro default__count_text(expression) -%}
    format_number({{ expression }}, 0)
{%- endmacro %}

{% macro duckdb__count_text(expression) -%}
    format('{:,}', {{ expression }})
{%- endmacro %}
