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
