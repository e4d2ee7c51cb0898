{#- Writes a model's table as Parquet files into the folder `path` (replacing it), for a program
    outside dbt to read: how the strata CLI hands int_buyers_summarised to the prediction code on
    Spark, which cannot run dbt Python models (strata/spark_predictions.py). Run with
    `dbt run-operation export_relation_to_parquet --args '{model: ..., path: ...}'`. -#}
{% macro export_relation_to_parquet(model, path) %}
    {% do run_query(adapter.dispatch('export_relation_to_parquet', 'strata')(ref(model), path)) %}
{% endmacro %}

{% macro default__export_relation_to_parquet(relation, path) %}
    {{ return(
        'insert overwrite directory ' ~ strata_quote_literal(path)
        ~ ' using parquet select * from ' ~ relation
    ) }}
{% endmacro %}

{% macro duckdb__export_relation_to_parquet(relation, path) %}
    {{ return(
        'copy (select * from ' ~ relation ~ ') to ' ~ strata_quote_literal(path)
        ~ " (format parquet, per_thread_output true, overwrite_or_ignore true)"
    ) }}
{% endmacro %}
