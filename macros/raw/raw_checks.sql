{#- Checks on a raw input before any view is made over it. Each failure stops the build with the
    file (or table), the column and what is wrong, before any model is built and before anything
    already published is touched (docs/data_quality.md). -#}

{#- Fails when the input's column names cannot be read safely: a name that is blank, a name with a
    line break (DuckDB's CSV reader can then misjudge where the header ends and read no rows at
    all), two names that differ only in case (engines match names without regard to case), or a
    name in the `_strata` namespace, which strata keeps for the columns it adds. Names are
    otherwise free:
    quotes, semicolons, braces and very long names are fine, because a name only ever reaches SQL
    as an escaped literal, and columns outside the contract are never selected. -#}
{% macro check_raw_column_names(described_as, names) %}
    {% set seen = {} %}
    {% for name in names %}
        {% set position = loop.index %}
        {% if name is none or (name | trim) == '' %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ described_as ~ ": column " ~ position ~ " has no name; give every "
                ~ "column a name in the header"
            ) }}
        {% endif %}
        {% if '\n' in name or '\r' in name %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ described_as ~ ": column " ~ position ~ " ("
                ~ strata_describe_name(name | replace('\n', ' ') | replace('\r', ' '))
                ~ ") has a line break in its name; rename it on one line"
            ) }}
        {% endif %}
        {% set key = name | lower %}
        {% if key in seen %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ described_as ~ ": columns " ~ strata_describe_name(seen[key]) ~ " and "
                ~ strata_describe_name(name) ~ " differ only in case; strata reads names without "
                ~ "regard to case, so rename or drop one of them"
            ) }}
        {% endif %}
        {% do seen.update({key: name}) %}
        {% if key.startswith('_strata') %}
            {{ exceptions.raise_compiler_error(
                "strata: " ~ described_as ~ ": column " ~ strata_describe_name(name)
                ~ " uses the prefix _strata, which strata keeps for the columns it adds "
                ~ "(_strata_source_file, _strata_source_row, ...); rename it"
            ) }}
        {% endif %}
    {% endfor %}
{% endmacro %}


{#- A column name as an error message shows it: quoted, and cut short when very long. -#}
{% macro strata_describe_name(name) %}
    {% set text = name | string %}
    {{ return("'" ~ (text[:60] ~ '...' if text | length > 60 else text) ~ "'") }}
{% endmacro %}


{#- Fails with the file (or table) and column named when a required column is missing or a
    contract column arrives with a type strata cannot read as what it means (a list, struct or map
    among them: strata reads one value per cell). Returns the names of the contract's columns that
    are present. -#}
{% macro validate_raw_input(input, contract) %}
    {% do check_raw_column_names(input.described_as, input.columns | map(attribute='name') | list) %}
    {% set actual = {} %}
    {% for column in input.columns %}
        {% do actual.update({column.name | lower: column.dtype}) %}
    {% endfor %}
    {% set present = [] %}
    {% for spec in contract.columns %}
        {% if spec.name not in actual %}
            {% if spec.required %}
                {{ exceptions.raise_compiler_error(
                    "strata: " ~ input.described_as ~ ": required column '" ~ spec.name
                    ~ "' is missing (columns found: " ~ (actual.keys() | sort | join(', ')) ~ ")"
                ) }}
            {% endif %}
        {% else %}
            {% set family = strata_type_family(actual[spec.name]) %}
            {% if family == 'nested' %}
                {{ exceptions.raise_compiler_error(
                    "strata: " ~ input.described_as ~ ": column '" ~ spec.name ~ "' has type "
                    ~ actual[spec.name] ~ ", a nested type (list, struct or map); strata reads one "
                    ~ "value per cell: expected " ~ (spec.types | join(' or '))
                ) }}
            {% elif family not in spec.types and family != 'text' %}
                {{ exceptions.raise_compiler_error(
                    "strata: " ~ input.described_as ~ ": column '" ~ spec.name ~ "' has type "
                    ~ (actual[spec.name] | lower) ~ "; expected " ~ (spec.types | join(' or '))
                ) }}
            {% endif %}
            {% do present.append(spec.name) %}
        {% endif %}
    {% endfor %}
    {{ return(present) }}
{% endmacro %}


{#- Maps an engine's column type name to the families the contract speaks of; `nested` for lists,
    arrays, structs, maps and unions, whatever their element type. -#}
{% macro strata_type_family(dtype) %}
    {% set dtype = dtype | lower | trim %}
    {% if '[' in dtype or dtype.startswith(('struct', 'map', 'union', 'list', 'array', 'row('))
        or '<' in dtype %}
        {{ return('nested') }}
    {% elif dtype in ('varchar', 'text', 'string', 'char', 'bpchar') or dtype.startswith('varchar')
        or dtype.startswith('char') %}
        {{ return('text') }}
    {% elif dtype in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint',
        'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'long', 'short', 'byte', 'int64',
        'int32') %}
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
