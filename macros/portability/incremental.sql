{#- Removes from an incremental table `relation` every slice of `partition_column` that the
    CTE-free query `keep_sql` does not return with the same `fingerprint_column` value: the slices
    whose inputs changed (to be computed again) and those that should no longer exist (a run for
    an earlier date). Used as a pre-hook; the model then appends what is missing.
    DuckDB deletes the rows; Spark drops the table's partitions (tables partitioned by
    `partition_column`), since it cannot delete from a Parquet table. -#}
{% macro delete_stale_slices(relation, keep_sql, partition_column, fingerprint_column) %}
    {% if execute %}
        {% set stored = adapter.get_columns_in_relation(relation) | map(attribute='name')
            | map('lower') | list %}
        {% if fingerprint_column not in stored or partition_column not in stored %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ relation ~ " was built by an earlier version of strata (it has no "
                ~ fingerprint_column ~ " column), so its stored slices cannot be checked; rebuild "
                ~ "it once: dbt build --full-refresh --select " ~ relation.identifier
                ~ " (the strata CLI does this on its own)"
            ) }}
        {% endif %}
    {% endif %}
    {{ return(adapter.dispatch('delete_stale_slices', 'strata')(
        relation, keep_sql, partition_column, fingerprint_column
    )) }}
{% endmacro %}

{% macro default__delete_stale_slices(relation, keep_sql, partition_column, fingerprint_column) %}
    {% set sql %}
        delete from {{ relation }}
        where not exists (
            select 1
            from ({{ keep_sql }}) as keep
            where
                keep.{{ partition_column }} = {{ relation }}.{{ partition_column }}
                and keep.{{ fingerprint_column }} = {{ relation }}.{{ fingerprint_column }}
        )
    {% endset %}
    {{ return(sql) }}
{% endmacro %}

{% macro spark__delete_stale_slices(relation, keep_sql, partition_column, fingerprint_column) %}
    {% set stale_sql %}
        select distinct stored.{{ partition_column }}
        from (
            select distinct {{ partition_column }}, {{ fingerprint_column }} from {{ relation }}
        ) as stored
        left join ({{ keep_sql }}) as keep
            on
                stored.{{ partition_column }} = keep.{{ partition_column }}
                and stored.{{ fingerprint_column }} = keep.{{ fingerprint_column }}
        where keep.{{ partition_column }} is null
    {% endset %}
    {% set statements = [] %}
    {% if execute %}
        {% for row in run_query(stale_sql).rows %}
            {% do statements.append(
                'alter table ' ~ relation ~ ' drop if exists partition ('
                ~ partition_column ~ ' = ' ~ strata_quote_literal(row[0]) ~ ')'
            ) %}
        {% endfor %}
    {% endif %}
    {#- A hook runs one statement: each drop is run here, and the hook itself is a no-op. -#}
    {% for statement in statements %}
        {% do run_query(statement) %}
    {% endfor %}
    {{ return('select 1') }}
{% endmacro %}


{#- The partition_by config of a table whose slices delete_stale_slices() replaces: on Spark the
    slices are the table's partitions; DuckDB deletes rows and needs none (it warns on
    partition_by outside DuckLake). -#}
{% macro slice_partition_by(column) %}
    {{ return(adapter.dispatch('slice_partition_by', 'strata')(column)) }}
{% endmacro %}

{% macro default__slice_partition_by(column) %}
    {{ return(none) }}
{% endmacro %}

{% macro spark__slice_partition_by(column) %}
    {{ return([column]) }}
{% endmacro %}


{#- The stored RFM snapshots that may stay: those a fresh build for D would hold with the same
    inputs (int_rfm_snapshot_inputs_fingerprinted), minus the range var rfm_snapshot_recompute
    ({start: YYYY-MM-DD, end: YYYY-MM-DD}) names for recomputation. -#}
{% macro rfm_snapshots_to_keep() %}
    {% set recompute = var('rfm_snapshot_recompute', none) %}
    {% set keep_sql %}
        select snapshot_date, inputs_fingerprint
        from {{ ref('int_rfm_snapshot_inputs_fingerprinted') }}
        {% if recompute -%}
            where not (
                snapshot_date >= cast({{ strata_quote_literal(recompute.start) }} as date)
                and snapshot_date <= cast({{ strata_quote_literal(recompute.end) }} as date)
            )
        {%- endif %}
    {% endset %}
    {{ return(keep_sql) }}
{% endmacro %}
