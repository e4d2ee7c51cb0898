-- One row per user per spell in a lifecycle stage, from the first day the user was seen up to D:
-- the stage on every change point (int_user_stages_evaluated), with equal neighbours merged.
-- A spell runs from valid_from to valid_to inclusive; the current spell has no valid_to.

{{ user_keyed_incremental_config(
    ['int_user_stages_evaluated'], on_schema_change='append_new_columns'
) }}

{#- Incremental on DuckDB: the spells of the users whose stages were evaluated again are merged
    again; the others' spells are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies(stage_thresholds=true) }}

with

stages as (
    select * from {{ ref('int_user_stages_evaluated') }}
    where {{ only_changed_users(plan) }}
),

compared as (
    select
        user_id,
        evaluated_on,
        lifecycle_stage,
        lag(lifecycle_stage) over (
            partition by user_id order by evaluated_on asc nulls last
        ) as previous_stage
    from stages
),

entries as (
    select
        user_id,
        lifecycle_stage,
        previous_stage,
        evaluated_on as valid_from
    from compared
    where previous_stage is null or previous_stage <> lifecycle_stage
),

final as (
    select
        {{ generate_surrogate_key(['user_id', 'valid_from']) }} as spell_id,
        user_id,
        lifecycle_stage,
        previous_stage,
        valid_from,
        cast(
            {{ dbt.dateadd(
                'day',
                -1,
                'lead(valid_from) over (partition by user_id order by valid_from asc nulls last)'
            ) }} as date
        ) as valid_to,
        lead(valid_from) over (
            partition by user_id order by valid_from asc nulls last
        ) is null as is_current
    from entries
)

select * from final
