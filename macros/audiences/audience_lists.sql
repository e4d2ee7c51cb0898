{#- Uploaded id lists (docs/audiences.md). A list audience names a CSV file in the raw folder
    (env STRATA_RAW_DIR) with a column `user_id`; this on-run-start hook makes a view over each,
    `<raw_schema>.audience_list__<audience>` (user_id, delivered_at, delivered_on), before any
    model is built. The file's delivery is read like a raw file's (macro delivery_marker_at: a
    `loaded_at=` marker in its path, else its modification time): a list counts from the day it
    was delivered, so a run for an earlier D ignores it. A missing file, a file without user_id
    or without a single id stops the build naming the file; the strata CLI says the same with
    the definition's line before dbt starts. -#}
{% macro register_audience_lists() %}
    {% if not execute or flags.WHICH not in ('run', 'build', 'run-operation') %}
        {{ return('') }}
    {% endif %}
    {% set lists = [] %}
    {% for audience in audience_definitions() if audience.kind == 'list' %}
        {% do lists.append(audience) %}
    {% endfor %}
    {% if not lists %}
        {{ return('') }}
    {% endif %}
    {% set raw_dir = env_var('STRATA_RAW_DIR', '') | trim %}
    {% if not raw_dir %}
        {{ exceptions.raise_compiler_error(
            "strata: audience " ~ lists[0].name ~ " reads the list " ~ lists[0].spec
            ~ " from the raw folder, and env STRATA_RAW_DIR names none"
        ) }}
    {% endif %}
    {% for audience in lists %}
        {% if audience.spec is not string or audience.spec.startswith('/') or '..' in audience.spec
            or not audience.spec.endswith('.csv') %}
            {{ exceptions.raise_compiler_error(
                "strata: audience " ~ audience.name ~ ": list must be a .csv path inside the raw "
                ~ "folder, got " ~ audience.spec
            ) }}
        {% endif %}
        {% set path = raw_dir.rstrip('/') ~ '/' ~ audience.spec %}
        {% set relation = audience_list_relation(audience) %}
        {% set view_sql = adapter.dispatch('audience_list_view_sql', 'strata')(path, relation) %}
        {% do run_query(adapter.dispatch('create_raw_view', 'strata')(relation, view_sql)) %}
        {% set counted = run_query(
            'select count(*) from ' ~ relation ~ " where user_id is not null and user_id <> ''"
        ) %}
        {% if counted.rows[0][0] == 0 %}
            {{ exceptions.raise_compiler_error(
                "strata: file " ~ path ~ " is empty: audience " ~ audience.name
                ~ " needs at least one user id in column user_id"
            ) }}
        {% endif %}
    {% endfor %}
    {{ return('') }}
{% endmacro %}


{#- The list's rows: the id as text, trimmed, and when the file was delivered. -#}
{% macro audience_list_select(input_alias, delivered_at) %}
    {% set select_sql %}
        select
            trim(cast({{ input_alias }}.user_id as {{ dbt.type_string() }})) as user_id,
            {{ delivered_at }} as delivered_at,
            cast({{ dbt.dateadd('second', -1, delivered_at) }} as date) as delivered_on
    {% endset %}
    {{ return(select_sql) }}
{% endmacro %}


{% macro duckdb__audience_list_view_sql(path, relation) %}
    {% set input = duckdb_csv_input(path) %}
    {% if 'user_id' not in input.columns | map(attribute='name') | list %}
        {{ exceptions.raise_compiler_error(
            "strata: file " ~ path ~ ", line 1: an audience list needs a column user_id"
        ) }}
    {% endif %}
    {{ return(
        audience_list_select('input', 'files.delivered_at')
        ~ ' from ' ~ input.relation_sql ~ ' as input cross join (' ~ input.files_sql ~ ') as files'
    ) }}
{% endmacro %}


{% macro spark__audience_list_view_sql(path, relation) %}
    {% set file_table = relation ~ '__csv' %}
    {% do run_query('drop table if exists ' ~ file_table) %}
    {% do run_query(
        'create table ' ~ file_table ~ " using csv options (path " ~ strata_quote_literal(path)
        ~ ", header 'true', inferSchema 'false', mode 'FAILFAST', quote '\"', escape '\"')"
    ) %}
    {% set names = [] %}
    {% for row in run_query('describe query select * from ' ~ file_table).rows %}
        {% do names.append(row[0]) %}
    {% endfor %}
    {% if 'user_id' not in names %}
        {{ exceptions.raise_compiler_error(
            "strata: file " ~ path ~ ", line 1: an audience list needs a column user_id"
        ) }}
    {% endif %}
    {% set delivered_at %}
        coalesce(
            {{ delivery_marker_at('input._strata_file') }},
            date_trunc('second', input._strata_modified_at)
        )
    {% endset %}
    {{ return(
        audience_list_select('input', delivered_at)
        ~ ' from (select files.*, ' ~ spark_input_file() ~ ' as _strata_file, '
        ~ '_metadata.file_modification_time as _strata_modified_at from ' ~ file_table
        ~ ' as files) as input'
    ) }}
{% endmacro %}
