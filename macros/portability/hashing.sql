{#- A deterministic key from several columns: md5 over the values joined with a separator that
    cannot be confused with a null (nulls and empty strings hash differently). Same text on every
    engine, so keys agree between DuckDB and Spark builds. -#}
{% macro generate_surrogate_key(columns) -%}
    md5(concat_ws('|'
        {%- for column in columns %},
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '<null>')
        {%- endfor %}
    ))
{%- endmacro %}


{#- A fingerprint of a row's content, for telling copies apart by equality only (never shown,
    never compared across engines). On DuckDB its native 64-bit hash() of the values, several
    times faster than md5 over joined text on ten million sessions (docs/benchmarks.md), and
    null-aware by position; elsewhere the surrogate key. -#}
{% macro content_hash(columns) %}
    {{ return(adapter.dispatch('content_hash', 'strata')(columns)) }}
{% endmacro %}

{% macro default__content_hash(columns) -%}
    {{ generate_surrogate_key(columns) }}
{%- endmacro %}

{% macro duckdb__content_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}


{#- A hexadecimal text (at most 15 digits, so the value fits a signed 64-bit integer) as a
    bigint, alike on every engine. -#}
{% macro hex_to_bigint(hex_expression) %}
    {{ return(adapter.dispatch('hex_to_bigint', 'strata')(hex_expression)) }}
{% endmacro %}

{% macro default__hex_to_bigint(hex_expression) -%}
    cast(conv({{ hex_expression }}, 16, 10) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__hex_to_bigint(hex_expression) -%}
    cast(('0x' || {{ hex_expression }}) as {{ dbt.type_bigint() }})
{%- endmacro %}


{#- A row's content as a whole number below 2^60, the same on every engine: the first 15 hex
    digits of md5 over the values (generate_surrogate_key). Summed over a set of rows (as
    decimal(38, 0), which cannot overflow), it fingerprints the set without regard to row order:
    what the incremental models compare to learn whether their inputs changed. -#}
{% macro row_fingerprint(columns) -%}
    cast({{ hex_to_bigint('substr(' ~ generate_surrogate_key(columns) ~ ', 1, 15)') }}
        as decimal(38, 0))
{%- endmacro %}
