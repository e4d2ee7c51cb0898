{#- `value` as a SQL string literal, escaped for the engine. Every value that comes from data or a
    user's file (a path, a CSV header name) reaches SQL through this macro, never spliced raw. -#}
{% macro strata_quote_literal(value) %}
    {{ return(adapter.dispatch('strata_quote_literal', 'strata')(value)) }}
{% endmacro %}

{% macro default__strata_quote_literal(value) %}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}

{#- Spark reads '' inside a literal as two adjacent literals joined (so 'it''s' is "its"); it
    escapes with a backslash instead. -#}
{% macro spark__strata_quote_literal(value) %}
    {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
{% endmacro %}
