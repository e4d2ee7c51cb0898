{#
    Makes the raw data readable as the source views of schema var('raw_schema'), whatever it
    arrives as:
      - files in the folder named by env STRATA_RAW_DIR (CSV or Parquet, detected by extension), or
      - existing warehouse tables named by vars raw_orders_table and raw_sessions_table.
    Each view has every column of the raw contract (macro raw_tables(), read from the sources
    YAML) as text - an optional column that is absent arrives as null - plus `_strata_source_file`
    and `_strata_source_row`, which trace a row to where it came from, and `_strata_event_at`, the
    row's event time parsed to UTC (null when unparseable), which source freshness reads. Beside
    each, the view `<table>__files` lists its files with a fingerprint of each (raw_inputs.sql),
    from which the incremental base models tell new files from those already read, and
    `<table>__deliveries` lists them with when each was delivered only (no file is read). Columns
    outside the contract are never selected. A table the contract marks optional (sessions) may be
    absent: its view is then empty. The view `inputs` says which tables were delivered.

    Before a view is made, the input is checked (macros/raw/raw_checks.sql): a missing required
    file, a missing required column, a column of an unusable type or an unreadable header stops
    the build with the file and column named, before any model is built and before anything
    already published is touched.

    Runs as an on-run-start hook of `dbt run`, `dbt build` and `dbt source freshness`, and on its
    own with `dbt run-operation register_raw_sources` (e.g. before querying the sources by hand).
#}
{% macro register_raw_sources() %}
    {% if not execute or flags.WHICH not in ('run', 'build', 'freshness', 'source', 'run-operation') %}
        {{ return('') }}
    {% endif %}
    {% set raw_dir = env_var('STRATA_RAW_DIR', '') | trim %}
    {% set tables = raw_tables() %}
    {% if not tables %}
        {{ exceptions.raise_compiler_error(
            "strata: the raw contract is empty: models/staging/shop/_shop__sources.yml must give "
            ~ "each raw table a meta.strata_contract"
        ) }}
    {% endif %}
    {% do run_query('create schema if not exists ' ~ var('raw_schema')) %}
    {% set delivered = [] %}
    {% for table, contract in tables.items() %}
        {% if raw_dir %}
            {% set input = raw_file_input(raw_dir, table) %}
        {% else %}
            {% set input = raw_table_input(table) %}
        {% endif %}
        {% if not input.found and contract.required %}
            {{ exceptions.raise_compiler_error("strata: " ~ input.missing_message) }}
        {% endif %}
        {% if input.found %}
            {% set view_sql = raw_view_sql(input, contract) %}
            {% set files_sql = input.files_sql %}
            {% do delivered.append({
                'table': table, 'kind': input.kind, 'described_as': input.described_as,
            }) %}
        {% else %}
            {% set view_sql = empty_raw_view_sql(contract) %}
            {% set files_sql = unlisted_files_sql("''") ~ ' where 1 = 0' %}
        {% endif %}
        {% do run_query(
            adapter.dispatch('create_raw_view', 'strata')(var('raw_schema') ~ '.' ~ table, view_sql)
        ) %}
        {#- When each file was delivered, without reading it: what the triggers' moment needs
            (a view over the digest below would read every row for it). -#}
        {% do run_query(adapter.dispatch('create_raw_view', 'strata')(
            var('raw_schema') ~ '.' ~ table ~ '__deliveries',
            'select source_file, delivered_at from (' ~ files_sql ~ ') as listed'
        )) %}
        {% if input.content_digest | default(false) %}
            {% set files_sql = raw_content_digest_sql(
                files_sql, var('raw_schema') ~ '.' ~ table, contract
            ) %}
        {% endif %}
        {% do run_query(adapter.dispatch('create_raw_view', 'strata')(
            var('raw_schema') ~ '.' ~ table ~ '__files', files_sql
        )) %}
    {% endfor %}
    {% do run_query(adapter.dispatch('create_raw_view', 'strata')(
        var('raw_schema') ~ '.inputs', raw_inputs_sql(tables, delivered)
    )) %}
    {{ return('') }}
{% endmacro %}


{#- The source view over a delivered input: the contract's columns as text, then strata's own. -#}
{% macro raw_view_sql(input, contract) %}
    {% set present = validate_raw_input(input, contract) %}
    {% set view_sql %}
        select
            {%- for column in contract.columns %}
            {% if column.name in present -%}
                cast(input.{{ column.name }} as {{ dbt.type_string() }}) as {{ column.name }},
            {%- else -%}
                cast(null as {{ dbt.type_string() }}) as {{ column.name }},
            {%- endif %}
            {%- endfor %}
            {{ input.file_expression }} as _strata_source_file,
            {{ input.row_expression }} as _strata_source_row,
            {#- For `dbt source freshness`, whose YAML cannot call the parsing macro. -#}
            {{ parse_utc_timestamp(
                'cast(input.' ~ contract.event_time_column ~ ' as ' ~ dbt.type_string() ~ ')'
            ) }} as _strata_event_at
        from {{ input.relation_sql }} as input
    {% endset %}
    {{ return(view_sql) }}
{% endmacro %}


{#- The source view of an optional table that was not delivered: its columns, no rows. -#}
{% macro empty_raw_view_sql(contract) %}
    {% set view_sql %}
        select
            {%- for column in contract.columns %}
            cast(null as {{ dbt.type_string() }}) as {{ column.name }},
            {%- endfor %}
            cast(null as {{ dbt.type_string() }}) as _strata_source_file,
            cast(null as {{ dbt.type_bigint() }}) as _strata_source_row,
            cast(null as {{ dbt.type_timestamp() }}) as _strata_event_at
        where 1 = 0
    {% endset %}
    {{ return(view_sql) }}
{% endmacro %}


{#- One row per contract table: delivered or not, and from what. -#}
{% macro raw_inputs_sql(tables, delivered) %}
    {% set by_table = {} %}
    {% for item in delivered %}
        {% do by_table.update({item.table: item}) %}
    {% endfor %}
    {% set rows = [] %}
    {% for table in tables %}
        {% set item = by_table.get(table) %}
        {% do rows.append(
            'select ' ~ strata_quote_literal(table) ~ ' as source_table, '
            ~ ('true' if item else 'false') ~ ' as is_provided, '
            ~ strata_quote_literal(item.kind if item else 'none') ~ ' as input_kind, '
            ~ (strata_quote_literal(item.described_as) if item
                else 'cast(null as ' ~ dbt.type_string() ~ ')') ~ ' as described_as'
        ) %}
    {% endfor %}
    {{ return(rows | join(' union all ')) }}
{% endmacro %}


{% macro default__create_raw_view(name, sql) %}
    {{ return('create or replace view ' ~ name ~ ' as ' ~ sql) }}
{% endmacro %}
