{#- Incremental base models (base_shop__orders, base_shop__sessions): every file of a raw table is
    a delivery (a folder `<table>/` holds any number; docs/scheduling.md). A build reads the files
    it has not read before, and with them every row already stored under a key (order id, session
    id) that the new rows carry, so that a key's rows are always judged together: a later version
    of an order supersedes the stored one, and a session id delivered again with other content
    quarantines its earlier copy. Rows stamped in the future are judged against their file's
    delivery (its `loaded_at=` marker or modification time), not the clock, so a stored judgement
    stays right and is never revisited. A file that was read before and has changed or gone,
    or an input that cannot be listed (a warehouse table), makes the build a full one. -#}


{#- The plan of a base model over raw table `table` keyed by `key_column`: incremental_plan()'s
    dict plus `new_files` (the files not read before) and `reread` (whether stored rows must be
    read again with them). -#}
{% macro raw_delivery_plan(table, key_column, announce=false) %}
    {% set plan = incremental_plan(announce=false) %}
    {% if plan.mode == 'full' %}
        {% if announce and is_incremental() and execute and target.type == 'duckdb' %}
            {% do log('strata incremental: ' ~ model.name ~ ' rebuilt in full: ' ~ plan.reason,
                info=true) %}
        {% endif %}
        {{ return(plan) }}
    {% endif %}
    {% set files_relation = var('raw_schema') ~ '.' ~ table ~ '__files' %}
    {% set current = {} %}
    {% for row in run_query(
        'select source_file, file_fingerprint from ' ~ files_relation).rows %}
        {% do current.update({row[0]: row[1]}) %}
    {% endfor %}
    {#- Jinja's `set` does not leave a loop: the reasons are collected in a list. -#}
    {% set reasons = [] %}
    {% for file, fingerprint in current.items() if fingerprint is none %}
        {% do reasons.append('its raw input ' ~ file ~ ' cannot be listed as files') %}
    {% endfor %}
    {% set stored = run_query(
        'select source_file, any_value(source_file_fingerprint) from ' ~ this
        ~ ' group by source_file order by source_file').rows %}
    {% for row in stored %}
        {% if row[0] not in current %}
            {% do reasons.append('the file ' ~ row[0] ~ ', read before, is gone') %}
        {% elif current[row[0]] != row[1] %}
            {% do reasons.append('the file ' ~ row[0] ~ ', read before, has changed') %}
        {% endif %}
    {% endfor %}
    {% set reason = reasons[0] if reasons else none %}
    {% if reason is not none %}
        {% if announce %}
            {% do log('strata incremental: ' ~ model.name ~ ' rebuilt in full: ' ~ reason,
                info=true) %}
        {% endif %}
        {{ return({'mode': 'full', 'reason': reason, 'previous': plan.previous}) }}
    {% endif %}
    {% set read = stored | map(attribute=0) | list %}
    {% set new_files = [] %}
    {% for file in current | sort if file not in read %}
        {% do new_files.append(file) %}
    {% endfor %}
    {% set reread_count = run_query(
        'select count(*) from ' ~ this ~ ' as stored where '
        ~ stored_rows_to_reread(table, key_column, new_files)
    ).rows[0][0] %}
    {{ return({
        'mode': 'incremental', 'reason': none, 'previous': plan.previous,
        'new_files': new_files, 'reread': reread_count > 0,
    }) }}
{% endmacro %}


{#- A condition on the stored rows (alias `stored`) that must be judged again with the new files:
    those under a key the new files carry. -#}
{% macro stored_rows_to_reread(table, key_column, new_files) %}
    {% set condition %}
        (
            {% if new_files -%}
                stored.{{ key_column }} in (
                    select {{ clean_text(key_column) }}
                    from {{ var('raw_schema') }}.{{ table }}
                    where _strata_source_file in ({{ quoted_list(new_files) }})
                )
            {%- else -%}
                false
            {%- endif %}
        )
    {% endset %}
    {{ return(condition) }}
{% endmacro %}


{#- The condition on raw rows (columns _strata_source_file, _strata_source_row and the key) that
    an incremental build reads: the new files' rows, and the rows stored under the keys to judge
    again. True for a full build. -#}
{% macro raw_rows_to_read(plan, table, key_column) %}
    {% if plan.mode == 'full' %}
        {{ return('true') }}
    {% endif %}
    {% set files = quoted_list(plan.new_files) %}
    {% set condition %}
        (
            {% if plan.new_files -%}
                _strata_source_file in ({{ files }})
            {%- else -%}
                false
            {%- endif %}
            {% if plan.reread -%}
                or exists (
                    select 1
                    from {{ this }} as stored
                    where
                        stored.source_file = _strata_source_file
                        and stored.source_row = _strata_source_row
                        and {{ stored_rows_to_reread(table, key_column, plan.new_files) }}
                )
            {%- endif %}
        )
    {% endset %}
    {{ return(condition) }}
{% endmacro %}


{#- The pre-hook of a base model: incremental_pre_hook() with the plan worked out again (it is
    the same: nothing it reads has changed since the model's SQL was compiled). -#}
{% macro raw_delivery_pre_hook(table, key_column) %}
    {{ return(incremental_pre_hook(raw_delivery_plan(table, key_column))) }}
{% endmacro %}


{#- Texts as a comma-separated list of SQL literals. -#}
{% macro quoted_list(values) %}
    {% set literals = [] %}
    {% for value in values %}
        {% do literals.append(strata_quote_literal(value)) %}
    {% endfor %}
    {{ return(literals | join(', ')) }}
{% endmacro %}


{#- The config of a base model over raw table `table` keyed by `key_column`, written once:
    incremental_materialization(), rows replaced by their position (file, row), and the vars and
    seeds whose change rebuilds the model in full. -#}
{% macro raw_delivery_config(table, key_column, incremental_vars, incremental_seeds) %}
    {% do config(
        materialized=incremental_materialization(),
        incremental_strategy='strata_replace',
        unique_key=['source_file', 'source_row'],
        on_schema_change='sync_all_columns',
        meta={'incremental_vars': incremental_vars, 'incremental_seeds': incremental_seeds},
        pre_hook="{{ raw_delivery_pre_hook('" ~ table ~ "', '" ~ key_column ~ "') }}",
    ) %}
{% endmacro %}
