{#- The guards before publishing (tests/guards, docs/data_quality.md): what they share. -#}

{#- `error` stops the build (so nothing is published); `warn` when var accept_anomalies is true
    (`strata run --accept-anomaly`), for one run whose anomaly someone has checked. -#}
{% macro guard_severity() %}
    {{ return('warn' if var('accept_anomalies', false) else 'error') }}
{% endmacro %}


{#- The figures of the last published build, handed over by the strata CLI in env
    STRATA_GUARD_BASELINE (JSON: as_of_date, clean_rows per source, active_users), so that a build
    can be compared with what readers see now. Empty without a publication (a first build, or
    plain `dbt build`): the comparisons then have nothing to compare with and pass. An environment
    variable rather than a var, so that a new baseline every day does not make dbt re-parse the
    project. -#}
{% macro guard_baseline() %}
    {% set text = env_var('STRATA_GUARD_BASELINE', '') | trim %}
    {{ return(fromjson(text) if text else {}) }}
{% endmacro %}


{#- A failing guard's row: what it measured, the figure, the threshold, and what it was compared
    with, in the same columns for every guard, so that the CLI can say it in one sentence. -#}
{% macro guard_row(guard, source_table, figure, threshold, compared_with, detail) -%}
    {{ strata_quote_literal(guard) }} as guard,
    {{ source_table }} as source_table,
    cast({{ figure }} as double) as figure,
    cast({{ threshold }} as double) as threshold,
    cast({{ compared_with }} as double) as compared_with,
    cast({{ detail }} as {{ dbt.type_string() }}) as detail
{%- endmacro %}
