{#- Spark reads the raw files where they lie, through an external table that carries the
    reader's options (dropping it never touches the files). The source view is made over it, like
    the DuckDB one.

    Layouts, as on DuckDB (var raw_file_layouts): <table>.csv, <table>.csv.gz, <table>.parquet (a
    file or a folder of parts) or a folder <table>/ of Parquet parts at any depth, in
    STRATA_RAW_DIR, which may be any path the engine can read (a local folder for the session
    target; hdfs://, s3a://, abfss:// on a cluster). Spark SQL cannot list a folder, so which
    layout each table has is named by env STRATA_RAW_LAYOUT, comma-separated `<table>=<path>`
    relative to the raw folder (`orders=orders.csv.gz,sessions=sessions/`; the strata CLI sets it
    from the folder's listing, the format following the path: .csv and .csv.gz are CSV, anything
    else Parquet). A table it does not name is read as <table>.<STRATA_RAW_FORMAT>, parquet (the
    default) or csv. A path that does not exist fails the build with Spark's message naming it.

    CSV is read with every column as text and in FAILFAST mode: a line with more fields than the
    header fails the build, naming the record, instead of being silently cut short.

    Which tables were delivered is named by env STRATA_RAW_TABLES (comma-separated; the strata CLI
    sets it from the folder's listing), by default every table of the contract: an optional table
    left out of it (sessions) is then treated as not delivered. -#}
{% macro spark__raw_file_input(raw_dir, table) %}
    {% set delivered = env_var('STRATA_RAW_TABLES', '') | trim %}
    {% if delivered and table not in delivered.split(',') | map('trim') | list %}
        {{ return({
            'found': false,
            'missing_message': "raw " ~ table ~ " not delivered: STRATA_RAW_TABLES=" ~ delivered
                ~ " does not name it",
        }) }}
    {% endif %}
    {% set relative = spark_raw_layout(table) %}
    {% set file_format = 'csv' if relative.endswith('.csv') or relative.endswith('.csv.gz')
        else 'parquet' %}
    {% if not (raw_dir.startswith('/') or ':/' in raw_dir) %}
        {{ exceptions.raise_compiler_error(
            "strata: on Spark, STRATA_RAW_DIR must be an absolute path or a URI (Spark would read a "
            ~ "relative path against its warehouse folder), not '" ~ raw_dir ~ "'"
        ) }}
    {% endif %}
    {% set path = raw_dir.rstrip('/') ~ '/' ~ relative %}
    {#- The reader's options need a table to carry them: CSV's header and strict parsing, and for
        both formats recursiveFileLookup, which reads the parts at any depth and turns partition
        discovery off: a folder name such as `currency=USD/` is a path, never a column
        (docs/scheduling.md, "Deliveries"). Dropping the table never touches the files. -#}
    {% set file_table = var('raw_schema') ~ '.' ~ table ~ '__' ~ file_format ~ '_files' %}
    {% set settings = {'path': path, 'recursiveFileLookup': 'true'} %}
    {% if relative.endswith('/') %}
        {#- The folder layout reads Parquet parts only. The CLI's listing refuses a folder that
            holds anything else (check_delivery_folder), as DuckDB's hook does; with plain dbt,
            Spark skips such files, and its own `_` and `.` files. -#}
        {% do settings.update({'pathGlobFilter': '*.parquet'}) %}
    {% endif %}
    {% if file_format == 'parquet' %}
        {#- Parts written on different days may not share every column: merged by name, a column
            missing from a part reads as null, as DuckDB's union_by_name does. -#}
        {% do settings.update({'mergeSchema': 'true'}) %}
    {% endif %}
    {% if file_format == 'csv' %}
        {% do settings.update({
            'header': 'true', 'inferSchema': 'false', 'mode': 'FAILFAST',
            'quote': '"', 'escape': '"', 'multiLine': 'true',
        }) %}
    {% endif %}
    {% set options = [] %}
    {% for key, value in settings.items() %}
        {% do options.append(key ~ ' ' ~ strata_quote_literal(value)) %}
    {% endfor %}
    {% do run_query('drop table if exists ' ~ file_table) %}
    {% do run_query(
        'create table ' ~ file_table ~ ' using ' ~ file_format ~ ' options ('
        ~ options | join(', ') ~ ')'
    ) %}
    {% set source_sql = file_table %}
    {% set columns = [] %}
    {% for row in run_query('describe query select * from ' ~ source_sql).rows
        if row[0] and not row[0].startswith('#') %}
        {% do columns.append(api.Column(row[0], row[1])) %}
    {% endfor %}
    {% do check_raw_column_names('file ' ~ path, columns | map(attribute='name') | list) %}
    {#- Spark's file splits keep the file's order, and monotonically_increasing_id() grows along
        them, so numbering by it within each file gives the data row's position in the file. -#}
    {% set relation_sql %}
        (
            select
                files.*,
                {{ spark_input_file() }} as _strata_file,
                monotonically_increasing_id() as _strata_read_order
            from {{ source_sql }} as files
        )
    {% endset %}
    {#- A single file is named as STRATA_RAW_DIR spells it, like on DuckDB; parts of a folder by
        their own path, without the file: scheme. -#}
    {% set file_expression %}
        case
            when {{ 'false' if relative.endswith('/') else 'input._strata_file like '
                ~ strata_quote_literal('%/' ~ relative) }}
                then {{ strata_quote_literal(path) }}
            else regexp_replace(input._strata_file, '^file:(//)?', '')
        end
    {% endset %}
    {% set row_expression %}
        row_number() over (
            partition by input._strata_file order by input._strata_read_order asc nulls last
        )
    {% endset %}
    {#- a folder is named by the pattern DuckDB globs, so both engines describe it alike -#}
    {{ return({
        'found': true,
        'kind': file_format,
        'described_as': 'file ' ~ path ~ ('**/*.parquet' if relative.endswith('/') else ''),
        'relation_sql': relation_sql,
        'columns': columns,
        'file_expression': file_expression,
        'row_expression': row_expression,
        'files_sql': spark_listed_files_sql(file_table, file_expression),
    }) }}
{% endmacro %}


{#- The files of a Spark raw table, one row each, with when each was delivered (its `loaded_at=`
    marker, else the modification time Spark's file source reports, to the second as DuckDB's)
    and no fingerprint: Spark builds are full ones, and a null fingerprint says the files are not
    compared with those read before. -#}
{% macro spark_listed_files_sql(file_table, file_expression) %}
    {% set files_sql %}
        select
            source_file,
            cast(null as string) as file_fingerprint,
            max(delivered_at) as delivered_at
        from (
            select
                {{ file_expression }} as source_file,
                coalesce(
                    {{ delivery_marker_at('input._strata_file') }},
                    date_trunc('second', input._strata_modified_at)
                ) as delivered_at
            from (
                select
                    {{ spark_input_file() }} as _strata_file,
                    _metadata.file_modification_time as _strata_modified_at
                from {{ file_table }}
            ) as input
        ) as listed
        group by source_file
    {% endset %}
    {{ return(files_sql) }}
{% endmacro %}


{#- The path of a raw table relative to the raw folder: its entry in env STRATA_RAW_LAYOUT
    (`<table>=<path>`, comma-separated), else <table>.<STRATA_RAW_FORMAT>. -#}
{% macro spark_raw_layout(table) %}
    {% set layouts = {} %}
    {% set known = raw_tables().keys() | list %}
    {% for entry in (env_var('STRATA_RAW_LAYOUT', '') | trim).split(',') if entry | trim %}
        {% set parts = entry.split('=', 1) %}
        {% set name = parts[0] | trim %}
        {% set relative = parts[1] | trim if parts | length == 2 else '' %}
        {% set segments = relative.rstrip('/').split('/') %}
        {% if name not in known or name in layouts or not relative or relative.startswith('/')
            or '..' in segments or '.' in segments or '' in segments
            or modules.re.match('^[A-Za-z][A-Za-z0-9+.-]*:', relative) %}
            {{ exceptions.raise_compiler_error(
                "strata: STRATA_RAW_LAYOUT entries are <table>=<path inside the raw folder>, each "
                ~ "table of the contract (" ~ known | join(', ') ~ ") at most once; not '"
                ~ entry | trim ~ "'"
            ) }}
        {% endif %}
        {% do layouts.update({name: relative}) %}
    {% endfor %}
    {% if table in layouts %}
        {{ return(layouts[table]) }}
    {% endif %}
    {% set file_format = env_var('STRATA_RAW_FORMAT', 'parquet') | trim | lower %}
    {% if file_format not in ('parquet', 'csv') %}
        {{ exceptions.raise_compiler_error(
            "strata: STRATA_RAW_FORMAT must be parquet or csv on Spark, not '" ~ file_format ~ "'"
        ) }}
    {% endif %}
    {{ return(table ~ '.' ~ file_format) }}
{% endmacro %}


{#- The file a Spark row was read from, as a path: input_file_name() gives a URI with its special
    characters escaped (a space as %20), which would name the file differently from DuckDB and
    hide a `loaded_at=` marker's time; decoded once here (a literal + kept as +). -#}
{% macro spark_input_file() -%}
    url_decode(replace(input_file_name(), '+', '%2B'))
{%- endmacro %}
