{#
    Makes the raw data readable as the source views `orders` and `sessions` in schema
    var('raw_schema'), whatever it arrives as:
      - files in the folder named by env STRATA_RAW_DIR (CSV or Parquet, detected by extension), or
      - existing warehouse tables named by vars raw_orders_table and raw_sessions_table.
    Each view has every column of the raw contract as text (an optional column that is absent
    arrives as null), the input's other columns as they are, plus `_strata_source_file` and
    `_strata_source_row`, which trace a row to where it came from, and `_strata_event_at`, the
    row's event time parsed to UTC (null when unparseable), which source freshness reads. Before the view is made, the input is checked: a missing file, a missing required column
    or a column of an unusable type stops the build with the file and column named, before any model
    is built and before anything already published is touched.

    Runs as an on-run-start hook of `dbt run`, `dbt build` and `dbt source freshness`, and on its
    own with `dbt run-operation register_raw_sources` (e.g. before querying the sources by hand).
#}
{% macro register_raw_sources() %}
    {% if not execute or flags.WHICH not in ('run', 'build', 'freshness', 'source', 'run-operation') %}
        {{ return('') }}
    {% endif %}
    {% set raw_dir = env_var('STRATA_RAW_DIR', '') | trim %}
    {% do run_query('create schema if not exists ' ~ var('raw_schema')) %}
    {% for table, columns in raw_tables().items() %}
        {% if raw_dir %}
            {% set input = adapter.dispatch('raw_file_input', 'strata')(raw_dir, table) %}
        {% else %}
            {% set input = raw_table_input(table) %}
        {% endif %}
        {% set present = validate_raw_input(input, columns) %}
        {% set contract = columns | map(attribute='name') | list %}
        {#- Contract columns arrive as text whatever the file typed them as: staging parses them
            all the same way, and a bad value becomes a quarantine row, not a failed cast. -#}
        {% set view_sql %}
            select
                {%- for column in columns %}
                {% if column.name in present -%}
                    cast(input.{{ column.name }} as {{ dbt.type_string() }}) as {{ column.name }},
                {%- else -%}
                    cast(null as {{ dbt.type_string() }}) as {{ column.name }},
                {%- endif %}
                {%- endfor %}
                {%- for column in input.columns if column.name | lower not in contract %}
                input.{{ adapter.quote(column.name) }},
                {%- endfor %}
                {{ input.file_expression }} as _strata_source_file,
                {{ input.row_expression }} as _strata_source_row,
                {#- For `dbt source freshness`, whose YAML cannot call the parsing macro. -#}
                {{ parse_utc_timestamp(
                    'cast(input.' ~ raw_event_time_columns()[table] ~ ' as ' ~ dbt.type_string() ~ ')'
                ) }} as _strata_event_at
            from {{ input.relation_sql }} as input
        {% endset %}
        {% do run_query(
            adapter.dispatch('create_raw_view', 'strata')(var('raw_schema') ~ '.' ~ table, view_sql)
        ) %}
    {% endfor %}
    {{ return('') }}
{% endmacro %}


{% macro default__create_raw_view(name, sql) %}
    {{ return('create or replace view ' ~ name ~ ' as ' ~ sql) }}
{% endmacro %}


{#- An existing warehouse table as raw input. -#}
{% macro raw_table_input(table) %}
    {% set name = var('raw_' ~ table ~ '_table') %}
    {% set parts = name.split('.') %}
    {% set relation = adapter.get_relation(
        database=(parts[-3] if parts | length > 2 else target.database),
        schema=(parts[-2] if parts | length > 1 else target.schema),
        identifier=parts[-1]
    ) %}
    {% if relation is none %}
        {{ exceptions.raise_compiler_error(
            "strata: no raw " ~ table ~ " found: set STRATA_RAW_DIR to a folder holding "
            ~ table ~ ".parquet or " ~ table ~ ".csv, or load the warehouse table " ~ name
            ~ " (var raw_" ~ table ~ "_table)"
        ) }}
    {% endif %}
    {{ return({
        'described_as': 'table ' ~ name,
        'relation_sql': relation,
        'columns': adapter.get_columns_in_relation(relation),
        'file_expression': strata_quote_literal(name),
        'row_expression': 'cast(null as ' ~ dbt.type_bigint() ~ ')',
    }) }}
{% endmacro %}


{#- The column that says when a raw row happened, per raw table: what freshness measures. -#}
{% macro raw_event_time_columns() %}
    {{ return({'orders': 'ordered_at', 'sessions': 'started_at'}) }}
{% endmacro %}


{#- The raw tables strata reads and the columns each must or may have.
    `types` lists the type families a column may arrive as; everything is cast to text in
    staging and parsed there, so text is always accepted. -#}
{% macro raw_tables() %}
    {{ return({
        'orders': [
            {'name': 'order_id', 'required': true, 'types': ['text', 'integer']},
            {'name': 'user_id', 'required': true, 'types': ['text', 'integer']},
            {'name': 'ordered_at', 'required': true, 'types': ['text', 'timestamp', 'date']},
            {'name': 'status', 'required': true, 'types': ['text']},
            {'name': 'amount', 'required': true, 'types': ['text', 'number', 'integer']},
            {'name': 'currency', 'required': true, 'types': ['text']},
            {'name': 'updated_at', 'required': false, 'types': ['text', 'timestamp', 'date']},
        ],
        'sessions': [
            {'name': 'session_id', 'required': true, 'types': ['text', 'integer']},
            {'name': 'user_id', 'required': true, 'types': ['text', 'integer']},
            {'name': 'started_at', 'required': true, 'types': ['text', 'timestamp', 'date']},
            {'name': 'ended_at', 'required': false, 'types': ['text', 'timestamp', 'date']},
            {'name': 'platform', 'required': true, 'types': ['text']},
            {'name': 'page_views', 'required': false, 'types': ['text', 'integer']},
            {'name': 'added_to_cart', 'required': false, 'types': ['text', 'boolean', 'integer']},
        ],
    }) }}
{% endmacro %}


{% macro default__raw_file_input(raw_dir, table) %}
    {{ exceptions.raise_compiler_error(
        "strata: reading raw files from STRATA_RAW_DIR is not supported on the '" ~ target.type
        ~ "' adapter; load warehouse tables and name them with vars raw_orders_table and "
        ~ "raw_sessions_table"
    ) }}
{% endmacro %}


{#- DuckDB reads the files in place: no copy, and the files stay the source of truth.
    Accepted layouts, detected by extension: <table>.parquet, <table>.csv, <table>.csv.gz, or a
    folder <table>/ of Parquet parts. CSV is read as text so that a bad value becomes a quarantine
    row in staging instead of a failed read; a malformed line fails the read with its line number. -#}
{% macro duckdb__raw_file_input(raw_dir, table) %}
    {% set base = raw_dir.rstrip('/') ~ '/' ~ table %}
    {% set candidates = [
        ('csv', base ~ '.csv'),
        ('csv', base ~ '.csv.gz'),
        ('parquet', base ~ '.parquet'),
        ('parquet', base ~ '/*.parquet'),
    ] %}
    {% set found = [] %}
    {% for kind, pattern in candidates %}
        {% set hits = run_query("select count(*) from glob(" ~ strata_quote_literal(pattern) ~ ")") %}
        {% if hits.columns[0].values()[0] > 0 %}
            {% do found.append((kind, pattern)) %}
        {% endif %}
    {% endfor %}
    {% if found | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "strata: raw file missing: no " ~ table ~ ".parquet, " ~ table ~ ".csv, " ~ table
            ~ ".csv.gz or " ~ table ~ "/*.parquet in STRATA_RAW_DIR=" ~ raw_dir
        ) }}
    {% elif found | length > 1 %}
        {{ exceptions.raise_compiler_error(
            "strata: ambiguous raw input for " ~ table ~ ": found "
            ~ (found | map(attribute=1) | join(' and ')) ~ "; keep exactly one"
        ) }}
    {% endif %}
    {% set kind, pattern = found[0] %}
    {% if kind == 'csv' %}
        {#- The header is read on its own and the file is then parsed strictly against it: left to
            itself, DuckDB's sniffer takes the widest row for the header when a row has too many
            fields, whereas a strict read fails naming the file and the line. -#}
        {% set dialect = "delim = ',', quote = '\"', escape = '\"'" %}
        {% set header = run_query(
            'select * from read_csv(' ~ strata_quote_literal(pattern) ~ ', header = false, '
            ~ 'all_varchar = true, null_padding = true, ' ~ dialect ~ ') limit 1'
        ) %}
        {% set names = [] %}
        {% for value in header.rows[0] if value is not none %}
            {% do names.append(strata_quote_literal(value) ~ ": 'VARCHAR'") %}
        {% endfor %}
        {% set relation_sql %}
            read_csv(
                {{ strata_quote_literal(pattern) }},
                auto_detect = false,
                header = true,
                {{ dialect }},
                columns = { {{- names | join(', ') -}} }
            )
        {% endset %}
        {#- DuckDB's CSV reader preserves insertion order, so row_number() over () is the data
            row's position in the file (1 = the first row after the header). -#}
        {% set row_expression = 'row_number() over ()' %}
        {% set file_expression = strata_quote_literal(pattern) %}
    {% else %}
        {% set relation_sql %}
            (
                select
                    * exclude (filename, file_row_number),
                    filename as _strata_file,
                    file_row_number + 1 as _strata_row
                from read_parquet(
                    {{ strata_quote_literal(pattern) }}, filename = true, file_row_number = true
                )
            )
        {% endset %}
        {% set row_expression = '_strata_row' %}
        {% set file_expression = '_strata_file' %}
    {% endif %}
    {% set described = run_query('describe select * from ' ~ relation_sql) %}
    {% set columns = [] %}
    {% for row in described.rows if row[0] not in ('_strata_file', '_strata_row') %}
        {% do columns.append(api.Column(row[0], row[1])) %}
    {% endfor %}
    {{ return({
        'described_as': 'file ' ~ pattern,
        'relation_sql': relation_sql,
        'columns': columns,
        'file_expression': file_expression,
        'row_expression': row_expression,
    }) }}
{% endmacro %}


{#- Fails with the file (or table) and column named when a required column is missing or a
    column arrives with a type strata cannot read as what it means. Returns the names of the
    contract's columns that are present. -#}
{% macro validate_raw_input(input, columns) %}
    {% set actual = {} %}
    {% for column in input.columns %}
        {% do actual.update({column.name | lower: column.dtype | lower}) %}
    {% endfor %}
    {% set present = [] %}
    {% for spec in columns %}
        {% if spec.name not in actual %}
            {% if spec.required %}
                {{ exceptions.raise_compiler_error(
                    "strata: " ~ input.described_as ~ ": required column '" ~ spec.name
                    ~ "' is missing (columns found: " ~ (actual.keys() | sort | join(', ')) ~ ")"
                ) }}
            {% endif %}
        {% elif strata_type_family(actual[spec.name]) not in spec.types %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ input.described_as ~ ": column '" ~ spec.name ~ "' has type "
                ~ actual[spec.name] ~ "; expected " ~ (spec.types | join(' or '))
            ) }}
        {% else %}
            {% do present.append(spec.name) %}
        {% endif %}
    {% endfor %}
    {{ return(present) }}
{% endmacro %}
{#- Maps an engine's column type name to the families raw_tables() speaks of. -#}
{% macro strata_type_family(dtype) %}
    {% set dtype = dtype | lower %}
    {% if dtype in ('varchar', 'text', 'string', 'char') or dtype.startswith('varchar')
        or dtype.startswith('char') %}
        {{ return('text') }}
    {% elif dtype in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint',
        'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'long', 'short', 'byte') %}
        {{ return('integer') }}
    {% elif dtype.startswith('decimal') or dtype.startswith('numeric')
        or dtype in ('double', 'float', 'real') %}
        {{ return('number') }}
    {% elif dtype.startswith('timestamp') %}
        {{ return('timestamp') }}
    {% elif dtype == 'date' %}
        {{ return('date') }}
    {% elif dtype in ('boolean', 'bool') %}
        {{ return('boolean') }}
    {% else %}
        {{ return(dtype) }}
    {% endif %}
{% endmacro %}


{#- `value` as a SQL string literal. -#}
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


{#- The contract's columns of a raw table, each renamed raw_<column>: the values exactly as
    delivered (the raw views hand them over as text). Nothing else of the raw row is selected. -#}
{% macro raw_contract_columns(table) -%}
    {%- for column in raw_tables()[table] %}
        {{ column.name }} as raw_{{ column.name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
