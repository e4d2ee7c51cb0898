{#- The users whose rows an incremental build of a user-keyed model (user-days, stage change
    points, stages, history, events) must compute again, as a select of `user_id` and
    `changed_from`, the first day from which their rows can have changed (null: every day; a
    user can appear more than once, changed_users_list takes the earliest): every user whose raw
    rows a base model wrote since the model's last build (new deliveries, rows judged again), from
    each row's own day; and every user whose activity or orders the move of D from the last
    build's D (D') to this one brings in: sessions and orders dated after D' up to D, and order
    versions that became known then (from the order's day). With `stage_thresholds`, also the
    users for whom a day after D' up to D is one of their stage change points (lifecycle_rules()'s
    offsets), from D' + 1: a user with no new activity can still turn dormant or churned. The
    previous state's values are written into the SQL as literals: the pre-hook runs it before it
    records the new state. -#}
{% macro changed_users_sql(plan, as_of_date, stage_thresholds=false) %}
    {% set previous_as_of = "cast('" ~ plan.previous.as_of_date ~ "' as date)" %}
    {% set as_of = "cast('" ~ as_of_date ~ "' as date)" %}
    {% set after_previous = days_before(previous_as_of, -1) %}
    {% set known_from = dbt.dateadd('day', 1, 'cast(' ~ previous_as_of ~ ' as timestamp)') %}
    {% set known_to = dbt.dateadd('day', 1, 'cast(' ~ as_of ~ ' as timestamp)') %}
    {% set sql %}
        select
            user_id,
            activity_date as changed_from
        from {{ ref('stg_shop__row_loads') }}
        where
            _loaded_at > cast('{{ plan.previous.built_at }}' as timestamp)
            and user_id is not null
        union
        select
            user_id,
            started_date as changed_from
        from {{ ref('stg_shop__sessions') }}
        where started_date > {{ previous_as_of }} and started_date <= {{ as_of }}
        union
        select
            user_id,
            ordered_date as changed_from
        from {{ ref('stg_shop__order_versions') }}
        where
            (ordered_date > {{ previous_as_of }} and ordered_date <= {{ as_of }})
            or (
                coalesce(updated_at, ordered_at) >= {{ known_from }}
                and coalesce(updated_at, ordered_at) < {{ known_to }}
            )
        {% if stage_thresholds %}
            {% set rules = lifecycle_rules() %}
            {% for offset in rules.activity_offsets %}
                union
                select
                    user_id,
                    {{ after_previous }} as changed_from
                from {{ ref('int_user_days_aggregated') }}
                where
                    activity_date > {{ days_before(previous_as_of, offset) }}
                    and activity_date <= {{ days_before(as_of, offset) }}
            {% endfor %}
            union
            select
                user_id,
                {{ after_previous }} as changed_from
            from {{ ref('int_user_days_aggregated') }}
            where
                purchases > 0
                and activity_date > {{ days_before(previous_as_of, rules.purchase_offset) }}
                and activity_date <= {{ days_before(as_of, rules.purchase_offset) }}
            union
            select
                user_id,
                {{ after_previous }} as changed_from
            from {{ ref('int_user_days_aggregated') }}
            group by user_id
            having
                min(activity_date) > {{ days_before(previous_as_of, rules.first_seen_offset) }}
                and min(activity_date) <= {{ days_before(as_of, rules.first_seen_offset) }}
        {% endif %}
    {% endset %}
    {{ return(sql) }}
{% endmacro %}


{#- The list of changed_users_sql, one row per user with the earliest day their rows can have
    changed (`changed_from`; null when any of their changes has no day, which means every day). -#}
{% macro changed_users_list(plan, as_of_date, stage_thresholds=false) %}
    {% set sql %}
        select
            user_id,
            case when count(changed_from) = count(*) then min(changed_from) end as changed_from
        from ({{ changed_users_sql(plan, as_of_date, stage_thresholds) }}) as changes
        group by user_id
    {% endset %}
    {{ return(sql) }}
{% endmacro %}


{#- The pre-hook of a user-keyed incremental model: incremental_pre_hook(), and in an incremental
    build the list of the users to compute again, into a temporary table (changed_users_relation)
    from which the strategy strata_replace removes their stored rows once their new rows are
    computed. The model's own filter (only_changed_users) reads the same table: it is listed once,
    here, before the state is recorded. -#}
{% macro user_rows_pre_hook(stage_thresholds=false) %}
    {% if target.type != 'duckdb' or not execute %}
        {{ return('select 1') }}
    {% endif %}
    {% set as_of_date = resolved_as_of_date() %}
    {% set plan = incremental_plan(as_of_date) %}
    {% set sql = incremental_pre_hook(plan, as_of_date) %}
    {% if plan.mode == 'incremental' %}
        {% set sql = 'create or replace temporary table ' ~ changed_users_relation() ~ ' as '
            ~ changed_users_list(plan, as_of_date, stage_thresholds) ~ '; ' ~ sql %}
    {% endif %}
    {{ return(sql) }}
{% endmacro %}


{#- The temporary table of the users an incremental build of the current user-keyed model
    computes again (user_rows_pre_hook writes it, the strategy strata_replace reads and drops it,
    all in the model's transaction and connection). -#}
{% macro changed_users_relation() %}
    {{ return(adapter.quote('strata_changed_users__' ~ model.name)) }}
{% endmacro %}


{#- The plan of a user-keyed model (incremental_plan(), announced), with the as-of date it is for
    (`as_of_date`: D as this build resolved it; none when the table is built in full anyway). -#}
{% macro user_keyed_plan() %}
    {% set as_of_date = resolved_as_of_date() if is_incremental() else none %}
    {% set plan = incremental_plan(as_of_date, announce=true) %}
    {% do plan.update({'as_of_date': as_of_date}) %}
    {{ return(plan) }}
{% endmacro %}


{#- In a user-keyed model, the condition that keeps the rows of the users to compute: true in a
    full build. `user_column` is the qualified user id of the filtered relation. In an incremental
    build it reads the list the model's pre-hook wrote (changed_users_relation), which exists by
    the time the model's query runs, in the same connection: the users are listed once per model,
    not once per filter (at 10M users a list took 9.2 s, and the stages model filters twice), and
    the rows computed and the rows the strategy replaces come from one list by construction. -#}
{% macro only_changed_users(plan, user_column='user_id') %}
    {% if plan.mode == 'full' %}
        {{ return('true') }}
    {% endif %}
    {{ return(user_column ~ ' in (select user_id from ' ~ changed_users_relation() ~ ')') }}
{% endmacro %}


{#- In a user-keyed model whose rows are dated (the stage change points and stages), the condition
    that keeps the rows of the users to compute from the day their rows can have changed on:
    `date_column` on or after the user's `changed_from`, less `days_earlier` (the look-back of a
    rule that reads earlier days to evaluate a later one); every row of a user whose changes have
    no day. Both columns are qualified (`points.user_id`): inside the condition's subquery a bare
    `user_id` would name the list's own. True in a full build. The strategy strata_replace
    replaces the same rows (config meta `changed_from_column`), so a user's stored rows before
    that day are kept: on an ordinary day that is all but the last few of each user's rows. -#}
{% macro only_changed_rows(plan, user_column, date_column, days_earlier=0) %}
    {% if plan.mode == 'full' %}
        {{ return('true') }}
    {% endif %}
    {{ return(date_column ~ ' >= ' ~ changed_from_of(user_column, days_earlier)) }}
{% endmacro %}


{#- The first day of `user_column`'s rows that an incremental build computes again, less
    `days_earlier`, as a scalar subquery of the pre-hook's list (changed_users_relation): the
    earliest date when the list gives no day, null when the user is not listed (so a comparison
    with it keeps no row). A scalar subquery, not `exists` with the comparison inside: DuckDB
    plans that as a join per user, and it took 5.6 s against 0.45 s to filter the stage change
    points of a new day at 1M users. -#}
{% macro changed_from_of(user_column, days_earlier=0) %}
    {{ return(
        '(select coalesce(' ~ days_before('changed.changed_from', days_earlier)
        ~ ", cast('0001-01-01' as date)) from " ~ changed_users_relation()
        ~ ' as changed where changed.user_id = ' ~ user_column ~ ')'
    ) }}
{% endmacro %}


{#- The `-- depends_on:` lines of a user-keyed model for the models changed_users_sql reads, which
    its own SQL only refs in an incremental build: dbt must order them before the model. -#}
{% macro changed_users_dependencies(stage_thresholds=false) %}
    {%- set models = ['stg_shop__row_loads', 'stg_shop__order_versions'] %}
    {%- if stage_thresholds %}
        {%- set models = models + [
            'int_as_of_dates_resolved', 'stg_shop__sessions', 'int_user_days_aggregated'
        ] %}
    {%- endif %}
    {%- for model in models %}
-- depends_on: {{ ref(model) }}
    {%- endfor %}
{% endmacro %}


{#- The config of a user-keyed incremental model (user-days, stage change points, stages,
    history, lifecycle events, last platform, play entries): built on DuckDB by computing the rows
    of the users to compute again, then replacing their stored rows with them (the strategy
    strata_replace). A dated model names its date column (`changed_from_column`) and how many
    days before a user's first changed day its rows can change (`changed_from_days_earlier`: a
    play entry's outcome window reaches N days after it). `also_replaced` is a condition on the
    stored rows (alias `stored`, `{as_of_date}` for D as a date) that this build replaces
    whoever their user: rows that change with D alone, or rows of an input rebuilt every run;
    the model's own filter must compute the same rows again. -#}
{% macro user_keyed_incremental_config(
    inputs,
    stage_thresholds=true,
    on_schema_change='sync_all_columns',
    other_vars=[],
    changed_from_column=none,
    changed_from_days_earlier=0,
    also_replaced=none
) %}
    {% do config(
        materialized=incremental_materialization(),
        incremental_strategy='strata_replace',
        on_schema_change=on_schema_change,
        meta={
            'incremental_inputs': inputs,
            'incremental_vars': (lifecycle_rules().vars if stage_thresholds else []) + other_vars,
            'changed_from_column': changed_from_column,
            'changed_from_days_earlier': changed_from_days_earlier,
            'also_replaced': also_replaced,
        },
        pre_hook='{{ user_rows_pre_hook(stage_thresholds=' ~ stage_thresholds ~ ') }}',
    ) %}
{% endmacro %}
