{#- Finding a raw table's input: files in STRATA_RAW_DIR (per engine), or a warehouse table. Each
    returns a dict:
      found          false when the table was not delivered (the caller decides whether it must be)
      kind           csv, parquet or table
      described_as   what error messages name: "file <pattern>" or "table <name>"
      relation_sql   what to select from; its columns are the input's own plus `_strata_file` and
                     `_strata_row` where the input needs them
      columns        the input's own columns (api.Column), for the contract checks
      file_expression, row_expression: SQL for the file and the row's position in it
      files_sql      a select of the input's files, one row each (source_file, delivered_at: when
                     the file arrived, its `loaded_at=` marker or modification time, and
                     file_fingerprint: what tells a rewritten file from the one read before;
                     null where the input cannot be listed, which makes every build a full one)
      content_digest true where register_raw_sources appends a digest of each file's rows to its
                     fingerprint (raw_content_digest_sql; DuckDB files) -#}

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
        {{ return({
            'found': false,
            'missing_message': "no raw " ~ table ~ " found: set STRATA_RAW_DIR to a folder holding "
                ~ table ~ ".parquet or " ~ table ~ ".csv, or load the warehouse table " ~ name
                ~ " (var raw_" ~ table ~ "_table)",
        }) }}
    {% endif %}
    {{ return({
        'found': true,
        'kind': 'table',
        'described_as': 'table ' ~ name,
        'relation_sql': relation,
        'columns': adapter.get_columns_in_relation(relation),
        'file_expression': strata_quote_literal(name),
        'row_expression': 'cast(null as ' ~ dbt.type_bigint() ~ ')',
        'files_sql': unlisted_files_sql(strata_quote_literal(name)),
    }) }}
{% endmacro %}


{% macro raw_file_input(raw_dir, table) %}
    {{ return(adapter.dispatch('raw_file_input', 'strata')(raw_dir, table)) }}
{% endmacro %}

{% macro default__raw_file_input(raw_dir, table) %}
    {{ exceptions.raise_compiler_error(
        "strata: reading raw files from STRATA_RAW_DIR is not supported on the '" ~ target.type
        ~ "' adapter; load warehouse tables and name them with vars raw_orders_table and "
        ~ "raw_sessions_table"
    ) }}
{% endmacro %}


{#- DuckDB reads the files in place: no copy, and the files stay the source of truth. The
    accepted layouts are var raw_file_layouts (<table>.csv, <table>.csv.gz, <table>.parquet, or a
    folder <table>/ of Parquet parts), the format detected by extension. -#}
{% macro duckdb__raw_file_input(raw_dir, table) %}
    {% set candidates = [] %}
    {% for layout in var('raw_file_layouts') %}
        {% set pattern = raw_dir.rstrip('/') ~ '/' ~ layout.replace('{table}', table) %}
        {% do candidates.append((
            'csv' if pattern.endswith('.csv') or pattern.endswith('.csv.gz') else 'parquet',
            pattern
        )) %}
    {% endfor %}
    {% set found = [] %}
    {% for kind, pattern in candidates %}
        {% set hits = run_query("select count(*) from glob(" ~ strata_quote_literal(pattern) ~ ")") %}
        {% if hits.columns[0].values()[0] > 0 %}
            {% do found.append((kind, pattern)) %}
        {% endif %}
    {% endfor %}
    {% if found | length == 0 %}
        {{ return({
            'found': false,
            'missing_message': "raw file missing: no "
                ~ (var('raw_file_layouts') | map('replace', '{table}', table) | join(', '))
                ~ " in STRATA_RAW_DIR=" ~ raw_dir,
        }) }}
    {% elif found | length > 1 %}
        {{ exceptions.raise_compiler_error(
            "strata: ambiguous raw input for " ~ table ~ ": found "
            ~ (found | map(attribute=1) | join(' and ')) ~ "; keep exactly one"
        ) }}
    {% endif %}
    {% set kind, pattern = found[0] %}
    {% if '**' in pattern %}
        {% do check_delivery_folder(pattern.split('**')[0]) %}
    {% endif %}
    {% if kind == 'csv' %}
        {{ return(duckdb_csv_input(pattern)) }}
    {% else %}
        {{ return(duckdb_parquet_input(pattern)) }}
    {% endif %}
{% endmacro %}


{#- A folder of deliveries holds Parquet parts only: any other file in it (a CSV part, a stray
    export) would otherwise be skipped without a word, so the build stops naming it. Names that
    start with `_` or `.` are the markers writers leave (`_SUCCESS`, `.part-0.parquet.crc`). -#}
{% macro check_delivery_folder(folder) %}
    {% set others = run_query(
        'select file from glob(' ~ strata_quote_literal(folder ~ '**') ~ ') where not ('
        ~ "lower(file) like '%.parquet' or regexp_matches(file, '(^|/)[._][^/]*$')) order by file"
    ) %}
    {% if others.rows | length > 0 %}
        {{ exceptions.raise_compiler_error(
            "strata: file " ~ others.rows[0][0] ~ " is in the delivery folder " ~ folder
            ~ " but is not a Parquet part (a folder of deliveries holds *.parquet files only; "
            ~ "convert it to Parquet or move it out)"
            ~ (" and " ~ (others.rows | length - 1) ~ " more" if others.rows | length > 1 else "")
        ) }}
    {% endif %}
{% endmacro %}


{#- A CSV file, read as text. Its header is parsed on its own, with the dialect given rather than
    sniffed (a sniffer gives up on a malformed body without saying where), and the body is then
    read strictly against it, so a malformed line fails naming the file and the line instead of
    being guessed around. -#}
{% macro duckdb_csv_input(pattern) %}
    {% set path = strata_quote_literal(pattern) %}
    {% set dialect = "delim = ',', quote = '\"', escape = '\"'" %}
    {#- The first physical lines, whole, to learn how many fields the header can have at most: a
        quoted name may hold a comma or even a line break, so every comma of the first lines
        counts (the slots left over are dropped below). -#}
    {% set first_lines = run_query(
        'select * from read_csv(' ~ path ~ ", columns = {'line': 'VARCHAR'}, header = false, "
        ~ "auto_detect = false, delim = chr(30), quote = '', escape = '', strict_mode = false, "
        ~ "hive_partitioning = false) "
        ~ "limit 50"
    ) %}
    {% if first_lines.rows | length == 0 or first_lines.rows[0][0] is none %}
        {{ exceptions.raise_compiler_error(
            "strata: file " ~ pattern ~ " is empty: a CSV file needs a header line naming its "
            ~ "columns (line 1)"
        ) }}
    {% endif %}
    {% set width = [1] %}
    {% for row in first_lines.rows %}
        {% do width.append(width[-1] + ((row[0] or '') | string).count(',')) %}
    {% endfor %}
    {% set width = width[-1] + first_lines.rows | length %}
    {% set slots = [] %}
    {% for position in range(width) %}
        {% do slots.append("'c" ~ position ~ "': 'VARCHAR'") %}
    {% endfor %}
    {% set header = run_query(
        'select * from read_csv(' ~ path ~ ', columns = {' ~ slots | join(', ') ~ '}, '
        ~ 'header = false, auto_detect = false, null_padding = true, strict_mode = false, '
        ~ 'hive_partitioning = false, '
        ~ dialect ~ ') limit 1'
    ) %}
    {% set names = [] %}
    {% for value in header.rows[0] %}
        {% do names.append(value) %}
    {% endfor %}
    {#- Trailing empty slots are the over-count from commas inside quoted names. -#}
    {% for _ in range(names | length) if names and names[-1] is none %}
        {% do names.pop() %}
    {% endfor %}
    {% do check_raw_column_names('file ' ~ pattern, names) %}
    {% set columns_spec = [] %}
    {% set columns = [] %}
    {% for name in names %}
        {% do columns_spec.append(strata_quote_literal(name) ~ ": 'VARCHAR'") %}
        {% do columns.append(api.Column(name, 'varchar')) %}
    {% endfor %}
    {% set relation_sql %}
        read_csv(
            {{ path }},
            auto_detect = false,
            header = true,
            hive_partitioning = false,
            {{ dialect }},
            columns = { {{- columns_spec | join(', ') -}} }
        )
    {% endset %}
    {#- DuckDB's CSV reader preserves insertion order, so row_number() over () is the data row's
        position in the file (1 = the first row after the header). -#}
    {{ return({
        'found': true,
        'kind': 'csv',
        'described_as': 'file ' ~ pattern,
        'relation_sql': relation_sql,
        'columns': columns,
        'file_expression': path,
        'row_expression': 'row_number() over ()',
        'files_sql': duckdb_listed_files_sql(pattern),
        'content_digest': true,
    }) }}
{% endmacro %}


{#- One Parquet file or a folder of parts (columns matched by name across parts). The file and
    the row's position come from the reader: `filename` under a name of strata's own (a column
    called `filename` in the data is then just data), and the `file_row_number` virtual column -
    unless the data has a column of that name, which hides it; then the row's position in the scan
    (DuckDB scans a file in order) stands in. -#}
{% macro duckdb_parquet_input(pattern) %}
    {#- hive_partitioning off: a folder name such as `currency=USD/` or `loaded_at=2026-06-30/` is
        part of the path, never a column (DuckDB would otherwise read it as one and let it
        replace the file's own column of that name, or not, depending on the other folders). -#}
    {% set reader = 'read_parquet(' ~ strata_quote_literal(pattern)
        ~ ", filename = '_strata_file', union_by_name = true, hive_partitioning = false)" %}
    {% set described = run_query('describe select * from ' ~ reader) %}
    {% set columns = [] %}
    {% for row in described.rows if row[0] != '_strata_file' %}
        {% do columns.append(api.Column(row[0], row[1])) %}
    {% endfor %}
    {% do check_raw_column_names('file ' ~ pattern, columns | map(attribute='name') | list) %}
    {% set lowered = columns | map(attribute='name') | map('lower') | list %}
    {% if 'file_row_number' in lowered %}
        {#- Rows are numbered in scan order, files one after another, then from 1 in each file. -#}
        {% set relation_sql %}
            (
                select
                    *,
                    _strata_scan_row
                    - min(_strata_scan_row) over (partition by _strata_file)
                    + 1 as _strata_row
                from (select *, row_number() over () as _strata_scan_row from {{ reader }}) as scanned
            )
        {% endset %}
        {% set row_expression = 'input._strata_row' %}
    {% else %}
        {% set row_expression = 'input._strata_row' %}
        {% set relation_sql = '(select *, file_row_number + 1 as _strata_row from ' ~ reader ~ ')' %}
    {% endif %}
    {{ return({
        'found': true,
        'kind': 'parquet',
        'described_as': 'file ' ~ pattern,
        'relation_sql': relation_sql,
        'columns': columns,
        'file_expression': 'input._strata_file',
        'row_expression': row_expression,
        'files_sql': duckdb_listed_files_sql(pattern),
        'content_digest': true,
    }) }}
{% endmacro %}


{#- The files matching `pattern`, one row each, with its size and modification time as the start
    of its fingerprint. The content part is added by register_raw_sources (raw_content_digest_sql):
    a digest of what strata reads from the file, computed by streaming the rows, since reading a
    file as one value (`read_blob`'s content) fails on any file larger than DuckDB's memory
    limit. -#}
{% macro duckdb_listed_files_sql(pattern) %}
    {% set files_sql %}
        select
            filename as source_file,
            concat_ws('|', cast(size as varchar), cast(last_modified as varchar)) as file_fingerprint,
            coalesce(
                {{ delivery_marker_at('filename') }},
                timezone('UTC', last_modified)
            ) as delivered_at
        from read_blob({{ strata_quote_literal(pattern) }})
    {% endset %}
    {{ return(files_sql) }}
{% endmacro %}


{#- The listed files `files_sql` with a digest of each file's content appended to its
    fingerprint: the sum of one hash per row, over every contract column as the raw view `raw_view`
    reads it (text) and the row's position in its file. A rewrite that changes a value, swaps two
    rows or adds or drops one changes it; so do the size and modification time, which come first
    (Parquet footer statistics alone were not enough: a rewrite that swaps two values within a
    column chunk's minimum and maximum kept them, the size and the second-precise modification time
    as they were). Columns strata does not read are not part of it: changing them changes nothing
    strata computes. The rows are streamed, so a file of any size is digested within the memory
    limit. DuckDB only: elsewhere files are not compared (every build is a full one). -#}
{% macro raw_content_digest_sql(files_sql, raw_view, contract) %}
    {% set digested_sql %}
        select
            listed.source_file,
            concat_ws('|', listed.file_fingerprint, digests.content_digest) as file_fingerprint,
            listed.delivered_at
        from ({{ files_sql }}) as listed
        left join (
            select
                _strata_source_file as source_file,
                cast(sum(hash(
                    {%- for column in contract.columns %}
                    {{ column.name }},
                    {%- endfor %}
                    _strata_source_row
                )) as varchar) as content_digest
            from {{ raw_view }}
            group by _strata_source_file
        ) as digests
            on listed.source_file = digests.source_file
    {% endset %}
    {{ return(digested_sql) }}
{% endmacro %}


{#- An input that cannot be listed: one row, no fingerprint. -#}
{% macro unlisted_files_sql(name_literal) %}
    {{ return(
        'select ' ~ name_literal ~ ' as source_file, cast(null as ' ~ dbt.type_string()
        ~ ') as file_fingerprint, cast(null as ' ~ dbt.type_timestamp() ~ ') as delivered_at'
    ) }}
{% endmacro %}


{#- When a file was delivered, as its path says: a folder or name part `loaded_at=<time>` (UTC,
    e.g. `sessions/loaded_at=2026-12-05T03:45:00/part-0.parquet`); a date alone
    (`loaded_at=2026-06-29`) says only the day, so it stands for that day's end. Null when the
    path has none, and the file's modification time stands in (docs/scheduling.md). Rows stamped
    after the delivery plus var future_tolerance_minutes are quarantined as in the future. -#}
{% macro delivery_marker_at(path_expr) -%}
    {%- set marker = "regexp_extract(" ~ path_expr ~ ", 'loaded_at=([0-9][0-9:T .-]*[0-9])', 1)" -%}
    case
        when length({{ marker }}) = 10
            then {{ dbt.dateadd('day', 1, try_cast(marker, dbt.type_timestamp())) }}
        when length({{ marker }}) > 10
            then {{ try_cast(marker, dbt.type_timestamp()) }}
    end
{%- endmacro %}
