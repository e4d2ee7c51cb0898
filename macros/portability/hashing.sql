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
