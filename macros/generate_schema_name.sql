{#
    Custom schemas are used as written (staging, intermediate, marts, reference) rather than
    prefixed with the target schema, so dashboards read `marts.dim_users` on every target.
    See docs/decisions.md.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
