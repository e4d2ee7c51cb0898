{#- How the base staging models record the checks on a raw row and where the row ends up
    (docs/data_quality.md). -#}

{#- Builds a list of reason codes as one comma-separated text, in the order given; null when no
    condition holds. `checks` is a list of (condition, code) pairs. -#}
{% macro reason_list(checks) -%}
    nullif(concat_ws(', '
        {%- for condition, code in checks %},
        case when {{ condition }} then '{{ code }}' end
        {%- endfor %}
    ), '')
{%- endmacro %}


{#- Where a raw row ends up, from its checks and its rank among the copies or versions of its key:
    excluded, else quarantined, else clean (rank 1), else superseded. -#}
{% macro row_disposition(rank_column) -%}
    case
        when exclusion_reason is not null then 'excluded'
        when reject_reasons is not null then 'quarantined'
        when {{ rank_column }} = 1 then 'clean'
        else 'superseded'
    end
{%- endmacro %}
