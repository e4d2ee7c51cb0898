{#- Incremental daily builds (docs/decisions.md, "One new day is a small build"). On DuckDB the
    models that grow with the raw history (the base models, the user-days and the lifecycle
    history) are incremental: a run re-reads only the files delivered since the last build and
    re-evaluates only the keys and users those files or the move of D can change. Everything else,
    and every model on Spark (whose Parquet tables cannot delete rows), is rebuilt in full.

    Each incremental model asks incremental_plan() what to do. The answer is `full` (rebuild the
    whole table) unless the table exists and its recorded state can be trusted: the state table
    strata_meta.incremental_state holds, per model, a key of everything besides the data that the
    model's rows depend on (its code, the vars and seeds it reads), the as-of date and the time of
    its last build. A changed key, an as-of date earlier than the last build's, a rewritten or
    removed raw file, or an input rebuilt in full since, each gives `full`, with the reason logged
    ("strata incremental: ..."), which the strata CLI repeats in its run summary. -#}


{#- `incremental` on DuckDB, where the incremental models delete and insert rows by key; `table`
    elsewhere. -#}
{% macro incremental_materialization() %}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{% endmacro %}


{#- The schema-qualified state table (created on first use). -#}
{% macro incremental_state_relation() %}
    {{ return(adapter.quote('strata_meta') ~ '.' ~ adapter.quote('incremental_state')) }}
{% endmacro %}


{#- A key of what the current model's rows depend on besides the data: its own code, the vars and
    the seeds (their checksums) named in its config meta `incremental_vars` and
    `incremental_seeds`, and the version of the shared incremental logic. -#}
{% macro incremental_state_key() %}
    {% set meta = config.get('meta') or {} %}
    {% set parts = ['logic=1', 'code=' ~ local_md5(model.raw_code)] %}
    {% for name in meta.get('incremental_vars', []) %}
        {#- a threshold counts by the value in use (var lifecycle_thresholds: auto moves it) -#}
        {% do parts.append(name ~ '=' ~ (lifecycle_threshold(name) | tojson)) %}
    {% endfor %}
    {% for name in meta.get('incremental_seeds', []) %}
        {% set seed = graph.nodes.get('seed.' ~ project_name ~ '.' ~ name, {}) %}
        {% do parts.append(name ~ '=' ~ seed.get('checksum', {}).get('checksum', '')) %}
    {% endfor %}
    {{ return(local_md5(parts | join(';'))) }}
{% endmacro %}


{#- The time this dbt invocation started, to the microsecond, as a timestamp literal: what rows
    written by this build are stamped with (`_loaded_at`) and what the state records. -#}
{% macro build_started_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- The state table, made by an on-run-start hook before any model runs (models running at the
    same time must not race to create it). -#}
{% macro ensure_incremental_state() %}
    {% if not execute or target.type != 'duckdb' %}
        {{ return('') }}
    {% endif %}
    {% do run_query(
        'create schema if not exists strata_meta; create table if not exists '
        ~ incremental_state_relation() ~ ' (model varchar, state_key varchar, as_of_date date,'
        ~ ' built_at timestamp, last_full_at timestamp, mode varchar, reason varchar)'
    ) %}
    {{ return('') }}
{% endmacro %}


{#- The recorded state of `model_name` (a dict of texts), or none. -#}
{% macro recorded_incremental_state(model_name) %}
    {% set rows = run_query(
        'select state_key, cast(as_of_date as varchar), cast(built_at as varchar),'
        ~ ' cast(last_full_at as varchar), mode from ' ~ incremental_state_relation()
        ~ ' where model = ' ~ strata_quote_literal(model_name)
    ).rows %}
    {% if rows | length == 0 %}
        {{ return(none) }}
    {% endif %}
    {{ return({
        'state_key': rows[0][0], 'as_of_date': rows[0][1], 'built_at': rows[0][2],
        'last_full_at': rows[0][3], 'mode': rows[0][4],
    }) }}
{% endmacro %}


{#- Why the current model cannot build incrementally, or none: no stored table, no recorded
    state, a changed state key, an as-of date (`as_of_date`, a 'YYYY-MM-DD' text; none for models
    that do not depend on D) earlier than the last build's, or an input model (config meta
    `incremental_inputs`) rebuilt in full since the last build. -#}
{% macro incremental_full_reason(previous, as_of_date=none) %}
    {% if not is_incremental() %}
        {{ return('no stored table, or --full-refresh') }}
    {% endif %}
    {% if previous is none %}
        {{ return('no recorded state') }}
    {% endif %}
    {% if previous.state_key != incremental_state_key() %}
        {{ return('its code, vars or seeds changed since the last build') }}
    {% endif %}
    {% if as_of_date is not none and previous.as_of_date is not none
        and as_of_date < previous.as_of_date %}
        {{ return('the as-of date ' ~ as_of_date ~ ' is earlier than the last build\'s ('
            ~ previous.as_of_date ~ ')') }}
    {% endif %}
    {% for input in (config.get('meta') or {}).get('incremental_inputs', []) %}
        {% set upstream = recorded_incremental_state(input) %}
        {% if upstream is none or upstream.last_full_at > previous.built_at %}
            {{ return(input ~ ' was rebuilt in full since the last build') }}
        {% endif %}
    {% endfor %}
    {{ return(none) }}
{% endmacro %}


{#- What this build of the current model does: a dict with `mode` ('full' or 'incremental'),
    `reason` (why full) and `previous` (the recorded state, from which an incremental build works
    out what changed: its as_of_date and built_at). Logged when `announce`. -#}
{% macro incremental_plan(as_of_date=none, announce=false) %}
    {% if not execute or target.type != 'duckdb' %}
        {{ return({'mode': 'full', 'reason': 'not incremental on ' ~ target.type, 'previous': none}) }}
    {% endif %}
    {% set previous = recorded_incremental_state(model.name) if is_incremental() else none %}
    {% set reason = incremental_full_reason(previous, as_of_date) %}
    {% if reason is not none %}
        {% if announce and is_incremental() %}
            {% do log('strata incremental: ' ~ model.name ~ ' rebuilt in full: ' ~ reason,
                info=true) %}
        {% endif %}
        {{ return({'mode': 'full', 'reason': reason, 'previous': previous}) }}
    {% endif %}
    {{ return({'mode': 'incremental', 'reason': none, 'previous': previous}) }}
{% endmacro %}


{#- The pre-hook of every incremental model, run in the build's transaction before its rows are
    written: the state this build will leave is recorded (rolled back with the build if it fails).
    It deletes nothing: the strategy strata_replace removes the rows to replace once the new rows
    are computed. -#}
{% macro incremental_pre_hook(plan, as_of_date=none) %}
    {% if target.type != 'duckdb' or not execute %}
        {{ return('select 1') }}
    {% endif %}
    {% set relation = incremental_state_relation() %}
    {% set last_full_at = build_started_at_literal() if plan.mode == 'full' else (
        'cast(' ~ strata_quote_literal(plan.previous.last_full_at) ~ ' as timestamp)') %}
    {% set sql %}
        delete from {{ relation }} where model = {{ strata_quote_literal(model.name) }};
        insert into {{ relation }} values (
            {{ strata_quote_literal(model.name) }},
            {{ strata_quote_literal(incremental_state_key()) }},
            {{ 'cast(' ~ strata_quote_literal(as_of_date) ~ ' as date)' if as_of_date
                else 'cast(null as date)' }},
            {{ build_started_at_literal() }},
            {{ last_full_at }},
            {{ strata_quote_literal(plan.mode) }},
            {{ strata_quote_literal(plan.reason or '') }}
        )
    {% endset %}
    {{ return(sql) }}
{% endmacro %}


{#- D as this build resolved it (int_as_of_dates_resolved, built before any model that reads it),
    as 'YYYY-MM-DD'; none when not executing. -#}
{% macro resolved_as_of_date() %}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {% set rows = run_query(
        'select cast(as_of_date as varchar) from ' ~ ref('int_as_of_dates_resolved')
    ).rows %}
    {{ return(rows[0][0]) }}
{% endmacro %}


{#- The incremental strategy of strata's incremental models on DuckDB (`strata_replace`), called
    by the materialization once the model's new rows are in a temporary table: it deletes the rows
    they replace, then inserts them. Deleting after the new rows are computed, not in the pre-hook
    before, is what lets a new day at 10M users fit the memory limit: a delete of millions of rows
    held open in the transaction left too little memory for the model's own query (issue #27,
    docs/decisions.md "Delete after the new rows are computed"). The rows replaced are, by this
    build's recorded mode (incremental_pre_hook): every stored row in a full build of a stored
    table; otherwise, with a `unique_key`, the stored rows under the new rows' keys (dbt's
    delete+insert), and without one the stored rows of the users the pre-hook listed
    (user_rows_pre_hook, changed_users_relation), so that a user left with no rows is gone too;
    in a model whose rows are dated (config meta `changed_from_column`), only their rows dated on
    or after the day the list gives, less `changed_from_days_earlier` (only_changed_rows computes
    the same rows again); and, whoever their user, the stored rows of config meta
    `also_replaced` (user_keyed_incremental_config). -#}
{% macro get_incremental_strata_replace_sql(arg_dict) %}
    {% set target = arg_dict['target_relation'] %}
    {% if recorded_incremental_state(model.name).mode == 'full' %}
        {% set sql = 'delete from ' ~ target ~ ';\n' ~ get_incremental_append_sql(arg_dict) %}
    {% elif arg_dict['unique_key'] %}
        {% set sql = get_incremental_delete_insert_sql(arg_dict) %}
    {% else %}
        {% set changed = changed_users_relation() %}
        {% set meta = config.get('meta') or {} %}
        {% set dated = meta.get('changed_from_column') %}
        {% if dated %}
            {% set condition = 'stored.' ~ adapter.quote(dated) ~ ' >= '
                ~ changed_from_of('stored.user_id', meta.get('changed_from_days_earlier') or 0) %}
        {% else %}
            {% set condition = 'stored.user_id in (select user_id from ' ~ changed ~ ')' %}
        {% endif %}
        {% if meta.get('also_replaced') %}
            {% set as_of = 'cast(' ~ strata_quote_literal(resolved_as_of_date()) ~ ' as date)' %}
            {% set condition = '(' ~ condition ~ ') or ('
                ~ meta.get('also_replaced') | replace('{as_of_date}', as_of) ~ ')' %}
        {% endif %}
        {% set sql = 'delete from ' ~ target ~ ' as stored where ' ~ condition ~ ';\n'
            ~ get_incremental_append_sql(arg_dict) ~ ';\ndrop table ' ~ changed %}
    {% endif %}
    {{ return(sql ~ ';\n' ~ drop_strategy_temp_sql(arg_dict)) }}
{% endmacro %}


{#- The incremental strategy `strata_append` (fct_user_rfm_snapshots, whose pre-hook deletes the
    stale snapshot dates): dbt's append, then the temporary table dropped. -#}
{% macro get_incremental_strata_append_sql(arg_dict) %}
    {{ return(get_incremental_append_sql(arg_dict) ~ ';\n' ~ drop_strategy_temp_sql(arg_dict)) }}
{% endmacro %}


{#- The drop of the strategy's temporary table, once its rows are inserted. dbt-duckdb leaves a
    local temporary table of an incremental build in place until the dbt process ends (it drops
    only the tables it makes in a schema), so each incremental model's new rows stayed in memory
    for the rest of the build: at 10M users tens of millions of rows (issue #27). -#}
{% macro drop_strategy_temp_sql(arg_dict) %}
    {{ return('drop table if exists ' ~ arg_dict['temp_relation']) }}
{% endmacro %}
