{#- A cast that yields null instead of failing, on every engine. -#}
{% macro try_cast(expression, data_type) %}
    {{ return(adapter.dispatch('try_cast', 'strata')(expression, data_type)) }}
{% endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}


{#- Text (ISO-8601, optional offset; no offset means UTC) to a timestamp without time zone that
    holds the UTC instant; null when the text is not a timestamp. -#}
{% macro parse_utc_timestamp(expression) %}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'strata')(expression)) }}
{% endmacro %}

{#- The profile pins DuckDB's TimeZone to UTC, which makes text without an offset UTC; timezone()
    then drops the zone without shifting the instant. -#}
{% macro duckdb__parse_utc_timestamp(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}

{% macro default__parse_utc_timestamp(expression) -%}
    try_cast({{ expression }} as timestamp)
{%- endmacro %}


{#- Any value as trimmed text; blank text becomes null. -#}
{% macro clean_text(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{#- A timestamp literal for the moment this dbt invocation started (UTC). -#}
{% macro run_started_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- True when `expression` matches the regular expression `pattern` (a Jinja string). -#}
{% macro regex_matches(expression, pattern) %}
    {{ return(adapter.dispatch('regex_matches', 'strata')(expression, pattern)) }}
{% endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike {{ strata_quote_literal(pattern) }})
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ strata_quote_literal(pattern) }})
{%- endmacro %}


{#- Text to boolean: true/false, t/f, yes/no, y/n, 1/0 in any case; anything else is null. -#}
{% macro parse_boolean(expression) -%}
    case
        when lower({{ expression }}) in ('true', 't', 'yes', 'y', '1') then true
        when lower({{ expression }}) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}


{#- Timestamps later than this are quarantined as being in the future: when the row's file was
    delivered (`delivered_at`: its `loaded_at=` marker or modification time) plus
    var('future_tolerance_minutes') for clock skew between systems. The data carries that time, so
    a rebuild at any later hour judges every row the same way (docs/decisions.md). Only an input
    without one (a warehouse table) falls back to the build's start. -#}
{% macro future_limit(delivered_at=none) -%}
    {%- set reference = (
        'coalesce(' ~ delivered_at ~ ', ' ~ run_started_at_literal() ~ ')'
        if delivered_at else run_started_at_literal()
    ) -%}
    {{ dbt.dateadd('minute', var('future_tolerance_minutes'), reference) }}
{%- endmacro %}


{#- Whole seconds from `start` to `end` (negative when `end` is earlier); null if either is null. -#}
{% macro seconds_between(start, end) %}
    {{ return(adapter.dispatch('seconds_between', 'strata')(start, end)) }}
{% endmacro %}

{% macro default__seconds_between(start, end) -%}
    (unix_timestamp({{ end }}) - unix_timestamp({{ start }}))
{%- endmacro %}

{% macro duckdb__seconds_between(start, end) -%}
    date_diff('second', {{ start }}, {{ end }})
{%- endmacro %}


{#- Whole-number division of non-negative integers (the floor), on every engine. -#}
{% macro int_divide(numerator, denominator) %}
    {{ return(adapter.dispatch('int_divide', 'strata')(numerator, denominator)) }}
{% endmacro %}

{% macro default__int_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{% macro duckdb__int_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}


{#- A money amount computed as a double (a currency conversion), rounded to whole cents as
    decimal(18, 2), with the same result on every engine: floor(x * 100 + 0.5) is IEEE arithmetic
    that both do alike, whereas their round() functions differ (DuckDB rounds the binary value,
    Spark its shortest decimal form). A half cent is rounded up as the double holds it. -#}
{% macro round_money(double_expression) -%}
    cast(floor(({{ double_expression }}) * 100 + 0.5) / 100 as decimal(18, 2))
{%- endmacro %}


{#- A non-negative money amount (a decimal with cents, possibly a large sum) divided by a whole
    count, rounded half up to whole cents, exactly and alike on every engine: the division is done
    on whole cents held in a 128-bit integer type, which no sum of money can overflow. Null when
    the count is zero or null. -#}
{% macro divide_money(amount, count) -%}
    {%- set cents = 'cast(' ~ amount ~ ' * 100 as ' ~ wide_integer_type() ~ ')' -%}
    {%- set divisor = 'cast(nullif(' ~ count ~ ', 0) as ' ~ wide_integer_type() ~ ')' -%}
    cast(
        cast({{ int_divide('2 * ' ~ cents ~ ' + ' ~ divisor, '2 * ' ~ divisor) }} as double) / 100
        as decimal(18, 2)
    )
{%- endmacro %}


{#- A whole-number type that holds at least 38 digits: DuckDB's hugeint, a decimal elsewhere. -#}
{% macro wide_integer_type() %}
    {{ return(adapter.dispatch('wide_integer_type', 'strata')()) }}
{% endmacro %}

{% macro default__wide_integer_type() %}
    {{ return('decimal(38, 0)') }}
{% endmacro %}

{% macro duckdb__wide_integer_type() %}
    {{ return('hugeint') }}
{% endmacro %}


{#- Timestamps earlier than this are quarantined as too early: the start of var min_event_date
    (UTC). A placeholder date (0001-01-01, 1970-01-01) is not an event. -#}
{% macro past_limit() -%}
    {%- set given = var('min_event_date') | string -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', given) -%}
        {{ exceptions.raise_compiler_error(
            "var min_event_date must be a date as YYYY-MM-DD, got '" ~ given ~ "'"
        ) }}
    {%- endif -%}
    cast('{{ given }} 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- var max_order_amount, checked: an amount below it must fit decimal(18, 2) with room to spare,
    so that no clean order can overflow a cast. -#}
{% macro max_order_amount() -%}
    {%- set ceiling = var('max_order_amount') -%}
    {%- if ceiling is none or ceiling is string or ceiling <= 0 or ceiling >= 1e15 -%}
        {{ exceptions.raise_compiler_error(
            "var max_order_amount must be a number above 0 and below 1e15, got '" ~ ceiling ~ "'"
        ) }}
    {%- endif -%}
    {{ ceiling }}
{%- endmacro %}
