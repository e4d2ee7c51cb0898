{#- The partition_by config a microbatch model needs on this engine. dbt-spark runs microbatch as
    insert_overwrite of partitions, so each batch must write its own partitions (here: the
    snapshot dates it computed); DuckDB deletes and re-inserts a batch's rows by event time and
    needs none (it warns on partition_by outside DuckLake). -#}
{% macro microbatch_partition_by(column) %}
    {{ return(adapter.dispatch('microbatch_partition_by', 'strata')(column)) }}
{% endmacro %}

{% macro default__microbatch_partition_by(column) %}
    {{ return(none) }}
{% endmacro %}

{% macro spark__microbatch_partition_by(column) %}
    {{ return([column]) }}
{% endmacro %}
